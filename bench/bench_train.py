"""Training throughput (images/s): our SimCLR through `ssl_workbench.train.loop.fit` against lightly's SimCLR
as a lightly user runs it (SimCLRTransform on PIL images in a DataLoader with 2 workers,
SimCLRProjectionHead, NTXentLoss), same backbone, batch 256, same optimiser (our LARS), 32 px, in one run
on this machine.

Honest timing: `WARMUP` untimed steps, then `ROUNDS` interleaved rounds of `TIMED` steps per contender
(the order alternates each round), so both sides see the same machine state; the result is the median and
the best of the per-step rates (>= 30 timed steps per contender). For the small ConvNet a third contender
runs in the same rounds: ours with micro-batches (`model.micro_batch`: the backbone in BatchNorm groups of 128
images, which changes BatchNorm's statistics; see `models.micro_batched`). The same run measures each CPU
speed lever on the small ConvNet (`levers`): float32 contiguous, channels-last, bf16 autocast (only where the
CPU has native bf16) with and without the matrix-product weight gradients of the late convolutions
(`models.gemm_weight_grads`), torch.compile, prefetching the next batch's views in a thread, and
micro-batches. On a
CPU with native bf16 (AVX-512 BF16 or AMX) ours runs bf16 autocast, its default, and a fourth contender runs
in the same rounds: lightly with bf16 autocast, so the ratio is also given against a lightly user who turns it
on.

Run: `python -m bench.bench_train` (or through bench/run_all.py). Env: BENCH_TRAIN_ROUNDS (3),
BENCH_TRAIN_TIMED (10 per round), BENCH_TRAIN_RESNET (1: also ResNet-18), BENCH_TRAIN_LEVERS (1)."""
from __future__ import annotations
import os, statistics, tempfile, time
from functools import partial

import torch
from torch import nn

from bench import probe_machine

BATCH, SIZE, N_IMAGES = 256, 32, 2048
LR = 0.3  # base per 256 images, linear scaling, LARS (the same for both)
MICRO_BATCH = 128  # the small ConvNet's third contender: ours with `model.micro_batch` (BatchNorm groups)


def _machine() -> dict:
    "The probe machine fields and torch's threads, version and GPU."
    return probe_machine(torch_threads=torch.get_num_threads(), torch=str(torch.__version__),
                         cuda=torch.cuda.get_device_name() if torch.cuda.is_available() else None)


def _images() -> torch.Tensor:
    "Random uint8 images (N, 3, 32, 32): throughput does not depend on content."
    return torch.randint(0, 256, (N_IMAGES, 3, SIZE, SIZE), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))


def _our_method(backbone_name: str):
    from ssl_workbench.methods.registry import create_method, default_recipe
    return create_method("simclr", backbone=backbone_name, image_size=SIZE), default_recipe("simclr", SIZE)


def ours(backbone_name: str, warmup: int, timed: int, device: str = "cpu", **overrides) -> list[float]:
    """Seconds per step of `fit` for the `timed` steps after `warmup` (overrides: amp, channels_last,
    compile, ...)."""
    from ssl_workbench.core import read_jsonl
    from ssl_workbench.train.config import TrainConfig, apply_overrides
    from ssl_workbench.train.loop import fit
    torch.manual_seed(0)
    method, recipe = _our_method(backbone_name)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = apply_overrides(TrainConfig(), [
            f"out={tmp}/run", f"device={device}", f"batch_size={BATCH}", f"steps={warmup + timed}",
            "warmup_epochs=0",
            f"optim.lr={LR}", "progress=false", "tensorboard=false",
            *[f"{k}={v}" for k, v in overrides.items()]])
        run = fit(cfg, method, _images(), recipe)
        steps = [r for r in read_jsonl(run.metrics) if r["kind"] == "step"][warmup:]
    return [BATCH / r["images_per_s"] for r in steps]


class _PILDataset(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor, transform):
        self.images, self.transform = images.permute(0, 2, 3, 1).numpy(), transform
    def __len__(self): return len(self.images)
    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i]))


def lightly_simclr(backbone_name: str, warmup: int, timed: int, device: str = "cpu",
                   amp: bool = False) -> list[float]:
    """Seconds per step of lightly's SimCLR in the loop of lightly's examples/pytorch/simclr.py; `amp`: the
    forward pass and loss under bf16 autocast, as PyTorch Lightning's `precision="bf16-mixed"` runs them."""
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead
    from lightly.transforms import SimCLRTransform
    from ssl_workbench.models import create_backbone
    from ssl_workbench.train.config import OptimConfig
    from ssl_workbench.train.optim import build_optimizer, scale_lr
    torch.manual_seed(0)
    backbone, dim = create_backbone(backbone_name, image_size=SIZE)
    model = nn.Sequential(backbone, SimCLRProjectionHead(dim, dim, 128)).to(device)
    transform = SimCLRTransform(input_size=SIZE, cj_strength=0.5, gaussian_blur=0.0)  # SimCLR's CIFAR recipe
    loader = torch.utils.data.DataLoader(_PILDataset(_images(), transform), batch_size=BATCH, shuffle=True,
                                         drop_last=True, num_workers=2, persistent_workers=True)
    criterion = NTXentLoss(temperature=0.5)
    optimizer = build_optimizer(model, OptimConfig(name="lars"), scale_lr(LR, BATCH))
    times, done, t0 = [], 0, time.perf_counter()
    while done < warmup + timed:
        for views in loader:  # [view0 (B, C, H, W), view1]
            x0, x1 = views[0].to(device), views[1].to(device)
            with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=amp):
                loss = criterion(model(x0), model(x1))
            optimizer.zero_grad(set_to_none=True); loss.backward(); optimizer.step()
            loss.item()
            t1 = time.perf_counter()
            if done >= warmup: times.append(t1 - t0)
            t0, done = t1, done + 1
            if done == warmup + timed: break
    return times


def _rates(seconds: list[float]) -> dict:
    rates = [BATCH / s for s in seconds]
    return dict(median=round(statistics.median(rates), 1), best=round(max(rates), 1), steps=len(rates))


def compare(backbone_name: str, rounds: int, timed: int, warmup: int = 3, micro_batch: int = 0,
            lightly_bf16: bool = False, without_gemm: bool = False) -> dict:
    """Ours vs lightly in interleaved rounds (the order alternates): median and best images/s, and their
    ratios. With `micro_batch`, a third contender in the same rounds: ours with `model.micro_batch`; with
    `lightly_bf16`, another: lightly with bf16 autocast (`lightly_simclr(amp=True)`); with `without_gemm`,
    ours with `run.gemm_weight_grad=false` (oneDNN's weight gradients everywhere)."""
    sides = {"ours": partial(ours, backbone_name, warmup, timed),
             "lightly": partial(lightly_simclr, backbone_name, warmup, timed)}
    if micro_batch:
        sides[f"ours_micro_batch_{micro_batch}"] = partial(ours, backbone_name, warmup, timed,
                                                           micro_batch=micro_batch)
    if lightly_bf16:
        sides["lightly_bf16_autocast"] = partial(lightly_simclr, backbone_name, warmup, timed, amp=True)
    if without_gemm:
        sides["ours_no_gemm_weight_grad"] = partial(ours, backbone_name, warmup, timed,
                                                    gemm_weight_grad=False)
    times = {name: [] for name in sides}
    t0 = time.perf_counter()
    for r in range(rounds):
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]): times[name] += sides[name]()
    rates = {name: _rates(t) for name, t in times.items()}
    def ratios(a: dict, b: dict, suffix: str = "") -> dict:
        return {f"ratio_{key}{suffix}": round(a[key] / b[key], 2) for key in ("median", "best")}
    out = dict(ours_images_per_s=rates["ours"], lightly_images_per_s=rates["lightly"],
               **ratios(rates["ours"], rates["lightly"]))
    if micro_batch:
        mb = rates[f"ours_micro_batch_{micro_batch}"]
        out.update({f"ours_micro_batch_{micro_batch}_images_per_s": mb,
                    **ratios(mb, rates["lightly"], f"_micro_batch_{micro_batch}")})
    if lightly_bf16:  # ours against lightly with bf16 autocast: what a lightly user gains by turning it on
        lb = rates["lightly_bf16_autocast"]
        out.update(lightly_bf16_autocast_images_per_s=lb, **ratios(rates["ours"], lb, "_vs_lightly_bf16"))
    if without_gemm:  # what the matrix-product weight gradients give, and the ratio without them
        ng = rates["ours_no_gemm_weight_grad"]
        out.update(ours_no_gemm_weight_grad_images_per_s=ng,
                   **ratios(ng, rates["lightly"], "_no_gemm_weight_grad"),
                   **ratios(rates["ours"], ng, "_gemm_weight_grad_lever"))
    return dict(out, rounds=rounds, warmup_steps=warmup, wall_s=round(time.perf_counter() - t0, 1))


LEVERS = {  # name -> fit overrides, each on top of the float32 contiguous baseline
    "fp32, contiguous": dict(channels_last=False, amp=False),
    "channels-last": dict(channels_last=True, amp=False),
    "bf16 autocast": dict(channels_last=False, amp=True, gemm_weight_grad=False),
    "channels-last + bf16 autocast": dict(channels_last=True, amp=True, gemm_weight_grad=False),
    "channels-last + bf16 autocast + GEMM weight gradients": dict(channels_last=True, amp=True),
    "channels-last + torch.compile": dict(channels_last=True, amp=False, compile=True),
    "channels-last + prefetch views": dict(channels_last=True, amp=False, prefetch=True),
    "channels-last + micro-batches of 128": dict(channels_last=True, amp=False, micro_batch=128),
    "channels-last + bf16 autocast + micro-batches of 128": dict(channels_last=True, amp=True,
                                                                  micro_batch=128, gemm_weight_grad=False),
}


def levers(backbone_name: str = "small_convnet", timed: int = 15, warmup: int = 3) -> dict:
    """images/s of our small-ConvNet SimCLR step with each speed lever (compile: its first steps are the
    warmup)."""
    from ssl_workbench.core import cpu_has_native_bf16
    out = {}
    for name, kw in LEVERS.items():
        if kw.get("amp") and not cpu_has_native_bf16():
            out[name] = ("skipped: this CPU has no native bf16 (emulated bf16 measured ~9x slower than "
                         "float32 here)")
            continue
        t0 = time.perf_counter()
        r = _rates(ours(backbone_name, warmup + (5 if kw.get("compile") else 0), timed, **kw))
        out[name] = dict(r, wall_s=round(time.perf_counter() - t0, 1))
    base = out["fp32, contiguous"]["median"]
    for v in out.values():
        if isinstance(v, dict): v["vs_fp32_contiguous"] = round(v["median"] / base, 2)
    return out


def main() -> dict:
    """Ours vs lightly for small_convnet (and resnet18) at 32 px, batch 256, plus the levers table, on this
    CPU."""
    rounds = int(os.environ.get("BENCH_TRAIN_ROUNDS", "3"))
    timed = int(os.environ.get("BENCH_TRAIN_TIMED", "10"))
    results = dict(
        machine=_machine(),
        batch_size=BATCH,
        image_size=SIZE,
        device="cpu",
        optimizer="lars",
        notes="ours: fit() with batched augmentation in the training process; lightly: "
        "SimCLRTransform (PIL) in a DataLoader with 2 workers. Same backbone and optimiser; heads: ours "
        "SimCLR v1 (hidden=feat_dim, BN), lightly SimCLRProjectionHead(feat_dim, feat_dim, 128). Per-step "
        "rates over interleaved rounds; median and best. ours_micro_batch_128: ours with "
        "model.micro_batch=128 (BatchNorm over groups of 128 of the 512 views instead of all 512), in the "
        "same rounds. Ours runs bf16 autocast where the CPU has native bf16 (its default, TrainConfig.amp); "
        "lightly runs float32, as its examples do; ours_no_gemm_weight_grad (ResNet-18, on such CPUs): ours "
        "with run.gemm_weight_grad=false; lightly_bf16_autocast (only on such CPUs): lightly's "
        "forward and loss under bf16 autocast, as PyTorch Lightning's precision='bf16-mixed' runs them, in "
        "the same rounds.",
        runs={},
    )
    # where ours runs bf16 autocast, lightly runs with it too, for reference
    lightly_bf16 = results["machine"]["native_bf16"]
    results["runs"]["small_convnet"] = compare("small_convnet", rounds, timed, micro_batch=MICRO_BATCH,
                                               lightly_bf16=lightly_bf16)
    if os.environ.get("BENCH_TRAIN_RESNET", "1") == "1":
        results["runs"]["resnet18"] = compare("resnet18", rounds, timed, lightly_bf16=lightly_bf16,
                                              without_gemm=lightly_bf16)
    if os.environ.get("BENCH_TRAIN_LEVERS", "1") == "1":
        results["levers_small_convnet"] = levers()
    return results


def gpu_main(backbones=("small_convnet", "resnet18"), warmup: int = 5, timed: int = 20) -> dict:
    """On CUDA: our SimCLR images/s with bf16 autocast, channels-last and torch.compile (plus lightly for
    reference)."""
    if not torch.cuda.is_available():
        return dict(machine=_machine(), skipped="no CUDA device")
    torch.backends.cudnn.benchmark = True
    results = dict(machine=_machine(), batch_size=BATCH, image_size=SIZE, device="cuda", runs={})
    for name in backbones:
        row = {}
        for amp in (False, True):
            for cl in (False, True):
                row[f"bf16={'on' if amp else 'off'},channels_last={'on' if cl else 'off'}"] = _rates(
                    ours(name, warmup, timed, device="cuda", amp=amp, channels_last=cl)
                )
        row["bf16,channels_last,compiled"] = _rates(
            ours(name, warmup + 10, timed, device="cuda", compile=True)
        )
        row["lightly_fp32_2_workers"] = _rates(lightly_simclr(name, 2, 8, device="cuda"))
        results["runs"][name] = row
    return results


if __name__ == "__main__":
    import json, sys

    print(json.dumps(gpu_main() if "--gpu" in sys.argv else main(), indent=2))
