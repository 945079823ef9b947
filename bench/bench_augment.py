"""Augmentation: two SimCLR views of 32x32 CIFAR-10 images per second, our batched pipeline (`simclr_cifar`)
versus lightly's `SimCLRTransform` and a torchvision v2 pipeline applied per image (the way a Dataset
would), on the same CPU in one run; our pipeline runs twice, with its default CPU backend (the fused numba
kernels of `augment_cpu`) and with `backend="torch"` (batched torch ops, what runs on a GPU); our GPU rate
too when CUDA is present. Also times each stage three ways (our CPU kernel, our torch op, kornia's batched
augmentation) to record which implementation the pipeline uses where (kornia would be used only where it
measured faster)."""
import os, platform, time

import numpy as np
import torch

from ssl_workbench.augment.pipeline import make_pipeline, sample_params
from ssl_workbench.data import data_root
from ssl_workbench.augment.ops import resized_crop, color_jitter, rgb_to_grayscale, gaussian_blur
from ssl_workbench.augment.cpu import fused_views

N_IMAGES = 2048      # images loaded; ours runs over all of them several times
N_PEER = 64          # images per chunk for the per-image peers (a few hundred ms at ~200-500 images/s)
BATCH = 256          # chunks of similar duration to the peers' 64-image chunks (fair best-of under load)
THREADS = 1        # one core for every contender: the per-image peers are single-threaded, and on a shared
                   # machine extra intra-op threads only add contention (see the notes in 02_augment)


def load_images(n: int = N_IMAGES) -> tuple[torch.Tensor, str]:
    """n CIFAR-10 train images as uint8 (n, 3, 32, 32), balanced over classes; random images if the data is
    absent."""
    from PIL import Image
    root = data_root()/"cifar10-jpeg"/"train"
    if not root.is_dir():
        g = torch.Generator().manual_seed(0)
        return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8,
                             generator=g), "random uint8 (CIFAR-10 not found)"
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    per = -(-n // len(classes))
    files = [f for c in classes for f in sorted(c.glob("*.jpg"))[:per]][:n]
    arr = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous(), "the data root's cifar10-jpeg/train"


def _rate(fn, n_images: int, min_seconds: float = 1.5, sync=lambda: None) -> float:
    """Images/s of `fn()` (which processes `n_images`), repeated until `min_seconds` have passed, after one
    warm-up."""
    fn(); sync()
    reps, t0 = 0, time.perf_counter()
    while True:
        fn(); sync(); reps += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds: return reps * n_images / dt


def contenders(x: torch.Tensor, pil_images) -> dict:
    "name -> (fn, images per call): one chunk of work each, two SimCLR views per image."
    from lightly.transforms import SimCLRTransform
    from torchvision.transforms import v2
    batches = [x[i:i + BATCH] for i in range(0, len(x), BATCH)]
    def ours(backend):
        pipe, g, it = (make_pipeline("simclr_cifar", backend=backend), torch.Generator().manual_seed(0),
                       iter(()))

        def run():
            nonlocal it
            b = next(it, None)
            if b is None:
                it = iter(batches)
                b = next(it)
            pipe(b, g), pipe(b, g)  # two views, as a training step makes

        return run

    light = SimCLRTransform(input_size=32, cj_strength=0.5, gaussian_blur=0.0)  # lightly's CIFAR settings
    tv = v2.Compose(
        [v2.RandomResizedCrop(32, scale=(0.08, 1.0), antialias=True), v2.RandomHorizontalFlip(),
         v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), v2.RandomGrayscale(0.2),
         v2.ToDtype(torch.float32, scale=True),
         v2.Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])]
    )
    xs = list(x[: len(pil_images)])
    return {"ssl_workbench_batched_cpu": (ours("auto"), BATCH),
            "ssl_workbench_batched_torch_ops_cpu": (ours("torch"), BATCH),
            "lightly_SimCLRTransform_per_image": (lambda: [light(im) for im in pil_images], len(pil_images)),
            "torchvision_v2_per_image": (lambda: [(tv(im), tv(im)) for im in xs], len(xs))}


def interleaved_rates(cands: dict, rounds: int = 15) -> dict:
    """Time one chunk of each contender per round, interleaved, so a load spike on a shared machine hits
    all alike."""
    times = {k: [] for k in cands}
    for fn, _ in cands.values():
        fn()  # warm-up
    for _ in range(rounds):
        for k, (fn, n) in cands.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: {"best": cands[k][1] / min(v), "median": cands[k][1] / float(np.median(v))}
            for k, v in times.items()}


def ours_rate(x: torch.Tensor, device: str = "cpu") -> float:
    "Images/s (each image -> two views) of the batched pipeline over `x` in batches of BATCH."
    pipe, g = make_pipeline("simclr_cifar"), torch.Generator().manual_seed(0)
    x = x.to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def epoch():
        for i in range(0, len(x), BATCH):
            b = x[i : i + BATCH]
            pipe(b, g), pipe(b, g)

    return _rate(epoch, len(x), sync=sync)


def op_timings(x: torch.Tensor) -> dict:
    """Milliseconds per batch of BATCH views for each stage, every sample augmented: our fused CPU kernel (the
    crop alone; crop + the stage, minus the crop), our batched torch op, kornia's batched augmentation
    (same_on_batch=False)."""
    pipe = make_pipeline("simclr_cifar", blur_p=1.0, jitter_p=1.0, gray_p=1.0)
    xb = x[:BATCH]
    xf = xb.float() / 255
    p = sample_params(pipe.config, len(xf), 32, 32, torch.Generator().manual_seed(0))
    ms = lambda fn: 1000 / _rate(fn, 1, min_seconds=0.3)
    crop_k = ms(lambda: fused_views(xb, p, pipe.config, colour=False, blur=False, normalize=False))
    colour_k = ms(lambda: fused_views(xb, p, pipe.config, colour=True, blur=False, normalize=False))
    blur_k = ms(lambda: fused_views(xb, p, pipe.config, colour=False, blur=True, normalize=False))
    res = {
        "resized_crop+flip": {
            "ours_cpu_kernel_ms": round(crop_k, 2),
            "ours_torch_ms": round(ms(lambda: resized_crop(xf, p["crop"], 32, p["flip"])), 2),
        },
        "color_jitter+grayscale": {
            "ours_cpu_kernel_ms": round(max(colour_k - crop_k, 0.0), 2),
            "ours_torch_ms": round(
                ms(lambda: rgb_to_grayscale(color_jitter(xf, p["factors"], p["order"]))), 2
            ),
        },
        "gaussian_blur": {"ours_cpu_kernel_ms": round(max(blur_k - crop_k, 0.0), 2),
                          "ours_torch_ms": round(ms(lambda: gaussian_blur(xf, p["sigma"], 3)), 2)},
    }
    try:
        import kornia.augmentation as K

        kor = {
            "resized_crop+flip": torch.nn.Sequential(
                K.RandomResizedCrop((32, 32), scale=(0.08, 1.0)), K.RandomHorizontalFlip()
            ),
            "color_jitter+grayscale": torch.nn.Sequential(
                K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0), K.RandomGrayscale(p=1.0)
            ),
            "gaussian_blur": K.RandomGaussianBlur((3, 3), (0.1, 2.0), p=1.0),
        }
        for op, m in kor.items():
            res[op]["kornia_ms"] = round(ms(lambda: m(xf)), 2)
    except Exception as e:  # kornia missing or API change: ours is used everywhere anyway
        res["kornia_error"] = repr(e)[:200]
    for op, r in res.items():
        if not isinstance(r, dict):
            continue
        r["used_on_cpu"] = "ours_cpu_kernel" if "ours_cpu_kernel_ms" in r else "ours_torch"
        if r.get("kornia_ms", float("inf")) < r[r["used_on_cpu"] + "_ms"]:
            r["used_on_cpu"] += " (kornia would be faster)"
    return res


def main() -> dict:
    torch.set_num_threads(THREADS)
    t0 = time.perf_counter()
    x, source = load_images()
    from PIL import Image

    pil = [Image.fromarray(a.permute(1, 2, 0).numpy()) for a in x[:N_PEER]]
    rates = interleaved_rates(contenders(x, pil))
    best = {k: v["best"] for k, v in rates.items()}
    med = {k: v["median"] for k, v in rates.items()}
    ours, light, tv = ("ssl_workbench_batched_cpu", "lightly_SimCLRTransform_per_image",
                       "torchvision_v2_per_image")
    out = {
        "task": "two SimCLR (CIFAR: s=0.5, no blur) views per 32x32 image",
        "images": f"{len(x)} from {source}",
        "batch_size": BATCH,
        "torch_threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "method": "15 interleaved rounds, one chunk of each contender per round; best and median chunk rate",
        "images_per_s": {k: round(v) for k, v in best.items()},
        "images_per_s_median": {k: round(v) for k, v in med.items()},
        "ratio_vs_lightly": round(best[ours] / best[light], 1),
        "ratio_vs_torchvision": round(best[ours] / best[tv], 1),
        "ratio_vs_lightly_median": round(med[ours] / med[light], 1),
        "ratio_cpu_kernels_vs_torch_ops": round(best[ours] / best["ssl_workbench_batched_torch_ops_cpu"], 1),
        "target_ratio_vs_lightly": 20,
        "op_ms_per_batch": op_timings(x),
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_device_name(0)
        xg = torch.cat([x] * 8)  # 16k images: enough work to measure the GPU
        out["images_per_s"]["ssl_workbench_batched_cuda"] = round(ours_rate(xg, "cuda"))
    out["ops_source"] = {
        op: r["used_on_cpu"] for op, r in out["op_ms_per_batch"].items() if isinstance(r, dict)
    }
    out["bench_seconds"] = round(time.perf_counter() - t0, 1)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
