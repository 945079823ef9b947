"""Why the spare3d contrastive pretext stops near 0.75 held-out pair accuracy: its cpu settings (seed 0's
generated pairs, one thread) with more or fewer steps, another learning rate, or 64-px drawings.

- `steps_500`, `steps_500_lr3e-3`: 500 instead of 2,000 steps on the study's 10,000 pairs, at the study's
  learning rate (10^-3) and at 3x it; the cosine ends at step 500.
- `size32_300`, `size64_300`: 300 steps on 5,000 pairs at 32 px (the study's size) and at 64 px: which learns
  more per step, and at what cost per step.
- `batch64_500`: batches of 64 pairs instead of 16 for 500 steps: the study's 32,000 pairs seen, with four
  times the in-batch negatives (127 instead of 31 other isometrics per views code).
- `size32_800`, `size64_800`: 800 steps on the study's 10,000 pairs (generated at each size) at 32 and 64 px:
  does the lead 64 px had at 300 steps hold over a longer run?
- `small_resnet_800`: as `size32_800` with `small_resnet` towers (a stride-2 stem and four stages of one
  BasicBlock: nine convolutions with shortcuts instead of four plain ones, about the same arithmetic at 32
  px).
- `hidden4096_800`: as `size32_800` with the paper's 4096-wide MLPs (g1, g2, h) instead of 512 (48 minutes on
  one thread, 2026-12-03).
- `steps_6000`: as `size32_800` for 6,000 steps (three times the study's 2,000): does held-out pair accuracy
  keep climbing with steps?

Results: studies/probes/spare3d_pretext_length.json (a finished variant is kept; delete its entry to redo it).

    python -m bench.spare3d_pretext_length_probe [--variants steps_500,size64_300]
"""
from __future__ import annotations
import time
from pathlib import Path

import numpy as np
import torch

from bench import probe_args, probe_machine, run_probes, training_curve
from ssl_workbench.core import seed_everything
from ssl_workbench.spare3d.models import pretext_accuracy, twin_accuracy
from ssl_workbench.spare3d.study import _task, contrastive_pretext, settings_of, spare3d_study

OUT = Path("studies/probes/spare3d_pretext_length.json")
VARIANTS = {  # overrides of the contrastive arm's cpu settings (10,000 pairs, 2,000 steps, lr 1e-3, 32 px)
    "steps_500": dict(pretext_steps=500),
    "steps_500_lr3e-3": dict(pretext_steps=500, lr=3e-3),
    "size32_300": dict(pretext_steps=300, n_pairs=5000),
    "size64_300": dict(pretext_steps=300, n_pairs=5000, size=64),
    "batch64_500": dict(pretext_steps=500, batch_size=64),
    "size32_800": dict(pretext_steps=800),
    "size64_800": dict(pretext_steps=800, size=64),
    "small_resnet_800": dict(pretext_steps=800, backbone="small_resnet"),
    "hidden4096_800": dict(pretext_steps=800, hidden_dim=4096),
    "steps_6000": dict(pretext_steps=6000),
}


def run_variant(name: str, seed: int = 0) -> dict:
    study = spare3d_study()
    s = {**settings_of(study, study.arm("contrastive"), "cpu"), **VARIANTS[name]}
    seed_everything(seed)  # before the net is built, as the study's units do
    start = time.time()
    net, log = contrastive_pretext(s, seed)  # the seconds include building the net and loading the pairs
    seconds, last, held_out = time.time() - start, log[-50:], _task("pair", s, seed, "_test")
    return dict(overrides=VARIANTS[name], seconds=round(seconds, 1),
                seconds_per_step=round(seconds / s["pretext_steps"], 3),
                train_pair_bce=round(float(np.mean([r["pair_bce"] for r in last])), 4),
                train_pair_accuracy=round(float(np.mean([r["pair_accuracy"] for r in last])), 4),
                held_out_pair_accuracy=pretext_accuracy(net, held_out),
                held_out_twin_accuracy=twin_accuracy(net, held_out),
                curve=training_curve(log, ("loss", "pair_bce", "pair_accuracy", "info_nce"), every=50))


def main(argv=None):
    a, names = probe_args(__doc__, VARIANTS, OUT, argv=argv)
    torch.set_num_threads(1)
    run_probes(names, a.out, "runs", run_variant, date=time.strftime("%Y-%m-%d"), seed=0, threads_per_run=1,
               machine=probe_machine())

if __name__ == "__main__":
    main()
