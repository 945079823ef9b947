"""Two follow-up probes of the spare3d study's cpu budget (seed 0's generated objects, one thread):

- `pose_*`: does the pose pretext (SR) leave its plateau with the contrastive arm's CPU fixes (PyTorch's
  default init, the learning rate decayed to 0 on a cosine), and does it then memorise 1,000 objects?
- `finetune_lr`: the contrastive arm's pretext (the study's cpu settings), then T2I fine-tuning of copies of
  it at several learning rates and step counts: does fine-tuning at the study's 10^-3 throw away what the
  pretext gave zero-shot?

Results: studies/probes/spare3d_transfer.json (a finished probe is kept; delete its entry to redo it).

    python -m bench.spare3d_transfer_probe [--probes pose_paper,pose_default_cosine_1500,finetune_lr]
"""
from __future__ import annotations
import copy, time
from pathlib import Path

import numpy as np
import torch

from bench import probe_args, probe_machine, run_probes, training_curve
from ssl_workbench.spare3d.models import pose_accuracy, pretext_accuracy, task_accuracy, twin_accuracy
from ssl_workbench.spare3d.study import (_fit, _task, contrastive_pretext, pose_pretext, pose_transfer,
                                         settings_of, spare3d_study)
from ssl_workbench.studies import Arm

OUT = Path("studies/probes/spare3d_transfer.json")
POSE = {  # overrides of the study's *base* cpu settings (1,000 objects, 300 steps, paper init, constant rate)
    "pose_paper": {},
    "pose_default_cosine_1500": dict(init="default", pretext_lr_schedule="cosine", pretext_steps=1500),
}
FINETUNE = [(1e-3, 100), (3e-4, 100), (1e-4, 100), (1e-4, 300), (3e-5, 300)]  # (lr, steps)


def pose_probe(name: str, seed: int = 0) -> dict:
    s = {**settings_of(spare3d_study(), Arm("base"), "cpu"), **POSE[name]}
    torch.manual_seed(seed)
    start = time.time()
    net, log = pose_pretext(s, seed)
    out = dict(settings=s, pretext_seconds=round(time.time() - start, 1),
               pose_loss=float(np.mean([r["loss"] for r in log[-20:]])),
               pose_accuracy=pose_accuracy(net, _task("sr", s, seed, "_test")),
               curve=training_curve(log, ("loss", "pose_accuracy")))
    return out | pose_transfer(net, s, seed)


def finetune_probe(seed: int = 0) -> dict:
    study = spare3d_study(); s = settings_of(study, study.arm("contrastive"), "cpu")
    torch.manual_seed(seed)
    start = time.time()
    net, log = contrastive_pretext(s, seed)
    test, held_out = _task("t2i", s, seed, "_test"), _task("pair", s, seed, "_test")
    out = dict(settings=s, pretext_seconds=round(time.time() - start, 1),
               pair_accuracy=pretext_accuracy(net, held_out), twin_accuracy=twin_accuracy(net, held_out),
               t2i_zero_shot=task_accuracy(net, test, "t2i"),
               curve=training_curve(log, ("loss", "pair_bce", "pair_accuracy", "info_nce")), finetuned={})
    for lr, steps in FINETUNE:
        tuned = copy.deepcopy(net)
        _fit(tuned, _task("t2i", s, seed), "t2i", {**s, "lr": lr, "finetune_steps": steps}, seed,
             "finetune_steps")
        out["finetuned"][f"lr={lr:g} steps={steps}"] = task_accuracy(tuned, test, "t2i")
    return out


PROBES = {**{name: (lambda name=name: pose_probe(name)) for name in POSE}, "finetune_lr": finetune_probe}


def main(argv=None):
    a, names = probe_args(__doc__, PROBES, OUT, "--probes", argv)
    torch.set_num_threads(1)
    run_probes(names, a.out, "probes", lambda name: PROBES[name](), date=time.strftime("%Y-%m-%d"),
               machine=probe_machine(torch_threads=torch.get_num_threads()))

if __name__ == "__main__":
    main()
