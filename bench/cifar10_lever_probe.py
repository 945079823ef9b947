"""Which change lifts the ten-minute CIFAR-10 kNN? One variant of the quickstart's CPU path per run: SimCLR,
the short-budget recipe (`quickstart.SHORT_BUDGET_RECIPE`, `short_budget_views`), 24-px views, a 10-minute
budget, then weighted kNN (k = 200, T = 0.1) of all 10,000 test images against all 50,000 training images.
Each run uses one thread, so two run side by side on the two cores (a busy machine). Results are appended to
studies/probes/cifar10_levers.json; a re-run skips a finished variant.

    python -m bench.cifar10_lever_probe --variants reference,dcl_same_steps
"""
from __future__ import annotations
import tempfile, time
from pathlib import Path

import torch

from ssl_workbench import models
from bench import probe_args, probe_machine, run_probes
from ssl_workbench.core import read_jsonl
from ssl_workbench.eval.run import evaluate_run
from ssl_workbench.quickstart import SHORT_BUDGET_RECIPE, short_budget_views
from ssl_workbench.train.config import TrainConfig, apply_overrides
from ssl_workbench.train.loop import fit

VARIANTS = {  # overrides on top of the quickstart's, and view settings; "steps" fixes the run's length
    "reference": {},
    "dcl_same_steps": dict(overrides=["method.hparams.decoupled=true"], steps=730),
    "head_hidden_2048": dict(overrides=["method.hparams.hidden_dim=2048"]),
    "width_16": dict(overrides=["model.backbone=small_convnet_w16"]),
    "width_24": dict(overrides=["model.backbone=small_convnet_w24"]),
    "width_40": dict(overrides=["model.backbone=small_convnet_w40"]),
    "width_24_head_2048": dict(overrides=["model.backbone=small_convnet_w24",
                                          "method.hparams.hidden_dim=2048"]),
    "crop_035": dict(crop_scale=(0.35, 1.0)),
    # SwAV's multi-crop for SimCLR: small 12-px crops (5-14 % of the image) after the two 24-px views
    "small_crops_2": dict(overrides=["method.hparams.n_small_crops=2"], n_small_crops=2),
    "small_crops_4": dict(overrides=["method.hparams.n_small_crops=4"], n_small_crops=4),
    # the short-budget recipe's learning rate (LARS, per 256 images; 0.6) and temperature (0.2), halved and
    # doubled
    "lr_0.3": dict(overrides=["optim.lr=0.3"]),
    "lr_1.2": dict(overrides=["optim.lr=1.2"]),
    "temperature_0.1": dict(overrides=["method.hparams.temperature=0.1"]),
    "temperature_0.4": dict(overrides=["method.hparams.temperature=0.4"]),
    "lr_2.4": dict(overrides=["optim.lr=2.4"]),
    "lr_1.2_temperature_0.1": dict(overrides=["optim.lr=1.2", "method.hparams.temperature=0.1"]),
    "lr_4.8": dict(overrides=["optim.lr=4.8"]),
    "lr_2.4_temperature_0.1": dict(overrides=["optim.lr=2.4", "method.hparams.temperature=0.1"]),
    # the backbone in BatchNorm groups of 128 images (`model.micro_batch`): more steps, other BN statistics
    "micro_batch_128": dict(overrides=["model.micro_batch=128"]),
    # bf16's quality cost: the same 1,200 steps in float32 and under bf16 autocast (`run.amp`, on by default
    # where the CPU has native bf16; float32 elsewhere, where the pair measures nothing)
    "fp32_1200_steps": dict(overrides=["run.amp=false"], steps=1200),
    "bf16_1200_steps": dict(overrides=["run.amp=true"], steps=1200),
}
OUT = Path("studies/probes/cifar10_levers.json")


def register_widths():
    for w in (24, 40): models.BACKBONES.setdefault(f"small_convnet_w{w}",
                                                   lambda s, c, w=w: models._small_convnet(s, c, w))


def run_variant(name: str, root: str, minutes: float = 10.0, size: int = 24) -> dict:
    v = VARIANTS[name]
    length = [f"schedule.steps={v['steps']}"] if "steps" in v else [f"schedule.minutes={minutes}"]
    cfg = apply_overrides(TrainConfig(), [
        f"run.out={root}/{name}", "method.name=simclr", "model.backbone=small_convnet", "data.spec=cifar10",
        "data.batch_size=256", "eval.knn_every=0", "run.progress=false", "run.seed=0",
        f"augment.image_size={size}", *length, *SHORT_BUDGET_RECIPE, *v.get("overrides", [])])
    views = {k: v[k] for k in ("crop_scale", "n_small_crops") if k in v}
    cfg.augment.recipe = short_budget_views(size, **views)
    t0 = time.time(); run = fit(cfg); t_train = time.time() - t0
    knn = evaluate_run(run.root, "knn", seed=0)
    steps = [s for s in read_jsonl(run.metrics) if s.get("kind") == "step"]
    return dict(variant=v, steps=len(steps), knn_accuracy=round(knn["accuracy"], 4),
                baselines={k: round(b["accuracy"], 4) for k, b in knn["baselines"].items()},
                final_lr=steps[-1]["lr"], train_seconds=round(t_train, 1),
                eval_seconds=round(time.time() - t0 - t_train, 1))


def main(argv=None):
    a, names = probe_args(__doc__, VARIANTS, OUT, argv=argv)
    torch.set_num_threads(1); register_widths()
    with tempfile.TemporaryDirectory(prefix="cifar10_levers_") as root:
        run_probes(names, a.out, "runs", lambda name: run_variant(name, root),
                   describe=lambda name, r: f"{name}: kNN {r['knn_accuracy']:.4f}, {r['steps']} steps",
                   threads_per_run=1, machine=probe_machine())

if __name__ == "__main__":
    main()
