"""Why the four-tower pretext sat at log 2: train one variant per suspect on the same generated pairs and
record the loss and the pair accuracy (training batches and held-out objects). Results:
studies/probes/spare3d_plateau.json.

    python -m bench.spare3d_pretext_probe [--variants a,b] [--steps 300]

Each finished variant is stored at once; a re-run skips it (delete the JSON entry to redo one).
"""
from __future__ import annotations
import math, time
from pathlib import Path

import numpy as np
import torch

from bench import probe_args, probe_machine, run_probes
from ssl_workbench.spare3d.models import (FourTowerNet, fit_spare3d, pretext_accuracy, task_accuracy,
                                          twin_accuracy)
from ssl_workbench.spare3d.study import cached_task

BASE = dict(pool="flatten", init="paper", head="mlp", lr=1e-3, size=32, n_pairs=1000, hidden_dim=512,
            different_objects=0.0, negatives="pairs", encode="separate", lr_schedule="constant")
VARIANTS = {  # one suspect changed per variant, against `flatten` (the official layout, similar pairs only)
    "flatten": {},
    "avg_pool": dict(pool="avg"),  # the towers before this change
    "avg_pool_default_init": dict(pool="avg", init="default"),
    "flatten_default_init": dict(init="default"),
    "flatten_paper_lr": dict(lr=5e-5),  # Self-Supervised-SPARE3D's pretext lr
    "linear_head": dict(head="linear"),  # the official ResNet variant's additive score
    "flatten_100_objects": dict(n_pairs=100),
    "flatten_64px": dict(size=64),
    "flatten_default_init_64px": dict(size=64, init="default"),
    "avg_pool_default_init_64px": dict(size=64, pool="avg", init="default"),
    "different_objects_half": dict(different_objects=0.5),  # half the pairs: two different objects
    # longer runs (`steps` overrides --steps): does the plateau end, and does what is learnt generalise?
    "flatten_default_init_1200_steps": dict(init="default", steps=1200),
    "in_batch_negatives": dict(negatives="batch", init="default", steps=600),  # + InfoNCE over the batch
    # the spare3d study's cpu setting (10,000 pairs, 2,000 steps, default init) with the paper's pretext,
    # on the pairs and held-out pairs of the study's seed 0 (whose contrastive arm adds in-batch negatives)
    "paper_pretext_study_setting": dict(init="default", n_pairs=10_000, steps=2_000),
    # the same with the study's contrastive arm of 2026-12-01: in-batch negatives, L and R in one tower call
    "joint_in_batch_study_setting": dict(init="default", negatives="batch", encode="joint", n_pairs=10_000,
                                         steps=2_000),
    # the same two settings with the learning rate decayed to 0 by a cosine: does the fit improve?
    "joint_in_batch_cosine": dict(init="default", negatives="batch", encode="joint", n_pairs=10_000,
                                  steps=2_000, lr_schedule="cosine"),
    "joint_in_batch_cosine_lr3e-3": dict(init="default", negatives="batch", encode="joint", n_pairs=10_000,
                                         steps=2_000, lr_schedule="cosine", lr=3e-3),
}
OUT = Path("studies/probes/spare3d_plateau.json")


def pairs(n: int, size: int, seed: int) -> dict:
    "Generated pair data (generator seed `seed`), cached under the git-ignored data cache."
    return cached_task("pair", n, dict(size=size), 0, seed)


def t2i_test(size: int) -> dict:
    return cached_task("t2i", 200, dict(size=size), 0, 3)


def run_variant(name: str, steps: int, batch_size: int = 16, seed: int = 0) -> dict:
    cfg = {**BASE, **VARIANTS[name]}
    steps = cfg.pop("steps", steps)
    train, held_out = pairs(cfg["n_pairs"], cfg["size"], seed=1), pairs(200, cfg["size"], seed=2)
    torch.manual_seed(seed)
    model = FourTowerNet("small_convnet", cfg["size"], cfg["hidden_dim"], pool=cfg["pool"], head=cfg["head"],
                         init=cfg["init"])
    start = time.time()
    log = fit_spare3d(model, train, "pretext", steps=steps, batch_size=batch_size, lr=cfg["lr"],
                      device="cpu", seed=seed,
                      different_objects=cfg["different_objects"], negatives=cfg["negatives"],
                      encode=cfg["encode"], lr_schedule=cfg["lr_schedule"])
    seconds = time.time() - start
    last = log[-20:]
    return dict(config=cfg, steps=steps, batch_size=batch_size, seed=seed, seconds=round(seconds, 1),
                final_loss=float(np.mean([r["pair_bce"] for r in last])),  # without in-batch InfoNCE
                final_pair_accuracy=float(np.mean([r["pair_accuracy"] for r in last])),
                held_out_pair_accuracy=pretext_accuracy(model, held_out),  # similar pairs of new objects
                held_out_twin_accuracy=twin_accuracy(model, held_out),  # own drawing outscores the twin's
                t2i_zero_shot=task_accuracy(model, t2i_test(cfg["size"]), "t2i"),
                curve=[{"step": r["step"] + 1, "loss": round(r["pair_bce"], 4),
                        "pair_accuracy": round(r["pair_accuracy"], 4)}
                       for r in log if (r["step"] + 1) % 5 == 0])


def _describe(name: str, r: dict) -> str:
    return (f"{name}: loss {r['final_loss']:.3f}, pair accuracy {r['final_pair_accuracy']:.2f} "
            f"(held-out {r['held_out_pair_accuracy']:.2f}), T2I zero-shot {r['t2i_zero_shot']:.2f}, "
            f"{r['seconds']:.0f} s")


def main(argv=None):
    add = lambda p: p.add_argument("--steps", type=int, default=300)
    a, names = probe_args(__doc__, VARIANTS, OUT, argv=argv, add=add)
    run_probes(names, a.out, "variants", lambda name: run_variant(name, a.steps), describe=_describe,
               log2=math.log(2), date=time.strftime("%Y-%m-%d"),
               machine=probe_machine(torch_threads=torch.get_num_threads()))

if __name__ == "__main__":
    main()
