"""Training throughput (images/s): our SimCLR through `ssl_workbench.train.fit` (batched tensor augmentation on the
training device) versus lightly's SimCLR (SimCLRTransform on PIL images in a 2-worker DataLoader, SimCLRProjectionHead,
NTXentLoss), same backbone, batch 256, same optimiser (our LARS), 32 px, in one run on this machine.

Run: `python -m bench.bench_train` (or through bench/run_all.py). Env: BENCH_TRAIN_STEPS=small,resnet timed steps.
"""
from __future__ import annotations
import os, platform, tempfile, time
from pathlib import Path

import numpy as np
import torch
from torch import nn

BATCH, SIZE, N_IMAGES = 256, 32, 1024
LR = 0.3  # base per 256 images, linear scaling, LARS (the same for both)


def _machine() -> dict:
    return dict(processor=platform.processor() or platform.machine(), torch_threads=torch.get_num_threads(),
                cpu_count=os.cpu_count(), torch=str(torch.__version__),
                cuda=torch.cuda.get_device_name() if torch.cuda.is_available() else None)


def _images() -> torch.Tensor:
    "Random uint8 images (N, 3, 32, 32): throughput does not depend on content."
    return torch.randint(0, 256, (N_IMAGES, 3, SIZE, SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _our_method(backbone_name: str):
    from ssl_workbench.models import create_backbone
    try:
        from ssl_workbench.methods.registry import create_method, default_recipe
        return create_method("simclr", backbone=backbone_name, image_size=SIZE), default_recipe("simclr", SIZE)
    except ImportError:  # before the registry lands: the same parts by hand
        from ssl_workbench.augment import ViewRecipe, make_augment_config
        from ssl_workbench.methods.simclr import SimCLR
        backbone, dim = create_backbone(backbone_name, image_size=SIZE)
        return SimCLR(backbone, dim), ViewRecipe([(make_augment_config("simclr_cifar"), 2)])


def ours(backbone_name: str, warmup: int, timed: int, device: str = "cpu", amp: bool = True,
         channels_last: bool = True) -> float:
    "images/s of `fit` over the timed steps (after `warmup` steps)."
    from ssl_workbench.core import read_jsonl
    from ssl_workbench.train import TrainConfig, apply_overrides, fit
    torch.manual_seed(0)
    method, recipe = _our_method(backbone_name)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = apply_overrides(TrainConfig(), [
            f"out={tmp}/run", f"device={device}", f"batch_size={BATCH}", f"steps={warmup + timed}", "warmup_epochs=0",
            f"optim.lr={LR}", "progress=false", "tensorboard=false", f"amp={amp}", f"channels_last={channels_last}"])
        run = fit(cfg, method, _images(), recipe)
        steps = [r for r in read_jsonl(run.metrics) if r["kind"] == "step"][warmup:]
    return len(steps) * BATCH / sum(BATCH / r["images_per_s"] for r in steps)


class _PILDataset(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor, transform):
        self.images, self.transform = images.permute(0, 2, 3, 1).numpy(), transform
    def __len__(self): return len(self.images)
    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i]))


def lightly_simclr(backbone_name: str, warmup: int, timed: int, device: str = "cpu") -> float:
    "images/s of lightly's SimCLR in the loop of lightly's examples/pytorch/simclr.py."
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead
    from lightly.transforms import SimCLRTransform
    from ssl_workbench.models import create_backbone
    from ssl_workbench.train import OptimConfig, build_optimizer, scale_lr
    torch.manual_seed(0)
    backbone, dim = create_backbone(backbone_name, image_size=SIZE)
    model = nn.Sequential(backbone, SimCLRProjectionHead(dim, dim, 128)).to(device)
    transform = SimCLRTransform(input_size=SIZE, cj_strength=0.5, gaussian_blur=0.0)  # SimCLR's CIFAR recipe
    loader = torch.utils.data.DataLoader(_PILDataset(_images(), transform), batch_size=BATCH, shuffle=True,
                                         drop_last=True, num_workers=2, persistent_workers=True)
    criterion = NTXentLoss(temperature=0.5)
    optimizer = build_optimizer(model, OptimConfig(name="lars"), scale_lr(LR, BATCH))
    done, t_start = 0, None
    while done < warmup + timed:
        for views in loader:  # [view0 (B, C, H, W), view1]
            if done == warmup: t_start = time.perf_counter()
            x0, x1 = views[0].to(device), views[1].to(device)
            loss = criterion(model(x0), model(x1))
            optimizer.zero_grad(set_to_none=True); loss.backward(); optimizer.step()
            loss.item()
            done += 1
            if done == warmup + timed: break
    return timed * BATCH / (time.perf_counter() - t_start)


def main() -> dict:
    "Ours vs lightly for small_convnet and resnet18 at 32 px, batch 256, on this machine's CPU."
    small, res = (int(s) for s in os.environ.get("BENCH_TRAIN_STEPS", "3,1").split(","))
    results = dict(machine=_machine(), batch_size=BATCH, image_size=SIZE, device="cpu", optimizer="lars",
                   notes="ours: fit() with batched augmentation in the training process; lightly: SimCLRTransform "
                         "(PIL) in a DataLoader with 2 workers. Same backbone and optimiser; heads: ours SimCLR v1 "
                         "(hidden=feat_dim, BN), lightly SimCLRProjectionHead(feat_dim, feat_dim, 128).",
                   runs={})
    for name, warmup, timed in (("small_convnet", 1, small), ("resnet18", 1, res)):
        t0 = time.perf_counter(); a = ours(name, warmup, timed)
        t1 = time.perf_counter(); b = lightly_simclr(name, warmup, timed)
        t2 = time.perf_counter()
        results["runs"][name] = dict(ours_images_per_s=round(a, 1), lightly_images_per_s=round(b, 1),
                                     ratio=round(a / b, 2), timed_steps=timed, warmup_steps=warmup,
                                     wall_s=dict(ours=round(t1 - t0, 1), lightly=round(t2 - t1, 1)))
    return results


def gpu_main(backbones=("small_convnet", "resnet18"), warmup: int = 5, timed: int = 20) -> dict:
    "On CUDA: our SimCLR images/s with bf16 autocast and channels-last each on and off (plus lightly for reference)."
    if not torch.cuda.is_available(): return dict(machine=_machine(), skipped="no CUDA device")
    torch.backends.cudnn.benchmark = True
    results = dict(machine=_machine(), batch_size=BATCH, image_size=SIZE, device="cuda", runs={})
    for name in backbones:
        row = {}
        for amp in (False, True):
            for cl in (False, True):
                row[f"bf16={'on' if amp else 'off'},channels_last={'on' if cl else 'off'}"] = round(
                    ours(name, warmup, timed, device="cuda", amp=amp, channels_last=cl), 1)
        row["lightly_fp32_2_workers"] = round(lightly_simclr(name, 2, 8, device="cuda"), 1)
        results["runs"][name] = row
    return results


if __name__ == "__main__":
    import json, sys
    print(json.dumps(gpu_main() if "--gpu" in sys.argv else main(), indent=2))
