"""SPARE3D training speed: the `spare3d` study's `cpu` trainings, one step each, in fp32 with the for-loop
Adam (what the papers' code does, and how the float32 study run `studies/spare3d.cpu-fp32.json` ran) against
`fit_spare3d(..., amp=True)`: bf16 autocast where the hardware has it, channels-last weights and a fused Adam
(the study's `cpu` budget since 2026-12-03).

Every trainer is timed through the library's own loop (`fit_spare3d`, `fit_simclr_drawings`): the step time is
(time of `warmup + steps` steps - time of `warmup` steps) / `steps`, so building the model and optimiser and
the first slow steps cancel. The models, widths and batches are the study's `cpu` budget (small ConvNet towers
with flattened maps, 32 px, hidden 512, batch 16, SimCLR batch 64); the data are a few generated items, which
does not change the cost of a step. `study_projection` turns the
step times into the training seconds of one seed of each arm (steps per arm from the study's settings)."""
from __future__ import annotations
import os, time

import torch

from ssl_workbench.core import cpu_has_native_bf16
from ssl_workbench.spare3d.models import (EarlyFusionNet, FourTowerNet, PoseNet, drawings_of,
                                          fit_simclr_drawings, fit_spare3d)
from ssl_workbench.spare3d.tasks import make_item, stack_items

SIZE, HIDDEN, BATCH, SIMCLR_BATCH = 32, 512, 16, 64


def _fit(make, objective, **extra):
    "A trainer: `fit_spare3d` on a fresh `make()` for `steps` steps."
    return lambda data, steps, amp: fit_spare3d(make(), data, objective, steps=steps, batch_size=BATCH,
                                                lr=1e-3, device="cpu", amp=amp, **extra)


def _simclr(data, steps, amp):
    return fit_simclr_drawings(drawings_of(data), steps=steps, batch_size=SIMCLR_BATCH, lr=1e-3, device="cpu",
                               amp=amp)


# trainer -> (the task its data come from, the trainer)
TRAINERS = {
    "contrastive_pretext": ("pair", _fit(lambda: FourTowerNet("small_convnet", SIZE, HIDDEN, init="default"),
                                         "pretext", negatives="batch", encode="joint")),
    "pose_pretext": ("sr", _fit(lambda: PoseNet("small_convnet", SIZE, HIDDEN, init="default"), "pose")),
    "t2i_finetune": ("t2i", _fit(lambda: FourTowerNet("small_convnet", SIZE, HIDDEN, init="default"), "t2i")),
    "t2i_supervised": ("t2i", _fit(lambda: EarlyFusionNet("small_convnet", SIZE, "t2i"), "t2i")),
    "i2p_supervised": ("i2p", _fit(lambda: EarlyFusionNet("small_convnet", SIZE, "i2p"), "i2p")),
    "i2p_finetune": ("i2p", _fit(lambda: PoseNet("small_convnet", SIZE, HIDDEN, init="default"), "i2p")),
    "simclr": ("pair", _simclr),
}
# training steps per seed of each study arm at `cpu` (SPARE3D_BUDGETS + the arms' overrides), by trainer; the
# 200 precise-BN batches after each training are forward passes, left out
STUDY_STEPS = {
    "contrastive": {"contrastive_pretext": 2000, "t2i_finetune": 2 * 100},
    "pose": {"pose_pretext": 1500, "i2p_finetune": 2 * 100},
    "supervised": {"t2i_supervised": 2 * 300, "i2p_supervised": 2 * 300},
    "simclr": {"simclr": 300},
}


def _data(task: str, n: int = 2 * BATCH, seed: int = 0) -> dict:
    rows = [make_item(task, seed, i, size=SIZE) for i in range(n)]
    return stack_items(rows)


def _seconds(train, data, steps, amp) -> float:
    torch.manual_seed(0)
    start = time.perf_counter()
    train(data, steps, amp)
    return time.perf_counter() - start


def step_ms(trainer: str, amp: bool, warmup: int = 3, steps: int = 30, repeats: int = 3) -> float:
    "Milliseconds per training step of `trainer` (best of `repeats`), on the CPU."
    task, train = TRAINERS[trainer]
    data = _data(task)
    best = min(_seconds(train, data, warmup + steps, amp) - _seconds(train, data, warmup, amp)
               for _ in range(repeats))
    return 1000 * best / steps


def study_projection(ms: dict) -> dict:
    "Training seconds of one seed per study arm, from the per-step milliseconds `ms[trainer]`."
    return {arm: round(sum(n * ms[t] for t, n in steps.items()) / 1000, 1)
            for arm, steps in STUDY_STEPS.items()}


def main(threads: int = 1) -> dict:
    """Per trainer: ms/step in fp32 (for-loop Adam) and with `amp=True`, and their ratio; `threads` torch
    threads (the study runs its units one thread each, two at a time on 2 cores)."""
    torch.set_num_threads(threads)
    out = {"settings": dict(size=SIZE, hidden_dim=HIDDEN, batch_size=BATCH, threads=threads,
                            backbone="small_convnet", cpu_count=os.cpu_count()),
           # amp=True autocasts to bf16 only where the CPU has native bf16; elsewhere it keeps fp32
           "native_bf16": cpu_has_native_bf16(), "trainers": {}}
    fp32, fast = {}, {}
    for trainer in TRAINERS:
        fp32[trainer], fast[trainer] = step_ms(trainer, amp=False), step_ms(trainer, amp=True)
        out["trainers"][trainer] = {"fp32_ms": round(fp32[trainer], 1), "amp_ms": round(fast[trainer], 1),
                                    "speedup": round(fp32[trainer] / fast[trainer], 2)}
        print(trainer, out["trainers"][trainer], flush=True)
    out["study_seed_train_seconds"] = {"fp32": study_projection(fp32), "amp": study_projection(fast)}
    return out


if __name__ == "__main__":
    import json, sys
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1), indent=1))
