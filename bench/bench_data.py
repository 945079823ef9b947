"""Data layer: decode time for the 60,000 CIFAR-10 JPEGs, and epoch throughput from our uint8 cache versus
torchvision ImageFolder + PIL through a DataLoader with 2 workers (the loader a user would otherwise
write)."""
import time
from pathlib import Path

import torch

from bench import empty_cache
from ssl_workbench.data import data_root, iterate_batches, load_dataset

BATCH = 256


def _cifar_folder() -> Path:
    d = data_root()/"cifar10-jpeg"
    if not (d/"train").is_dir(): raise SystemExit(f"bench data: needs {d}/train (set SSL_WORKBENCH_DATA)")
    return d


def decode_time() -> dict:
    "Cold decode of train + test into a fresh cache, then the warm (cached) load."
    with empty_cache():
        t = time.perf_counter()
        n = len(load_dataset("cifar10", "train")) + len(load_dataset("cifar10", "test"))
        cold = time.perf_counter() - t
        t = time.perf_counter()
        load_dataset("cifar10", "train")
        load_dataset("cifar10", "test")
        warm = time.perf_counter() - t
    return {"images": n, "cold_decode_s": round(cold, 2), "warm_load_s": round(warm, 3),
            "decode_images_per_s": round(n / cold)}


def ours_epoch() -> float:
    "Images/s for one shuffled epoch of uint8 batches from the cache."
    ds = load_dataset("cifar10", "train"); ds.tensor()
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    n = sum(len(y) for _, y in iterate_batches(ds, BATCH, generator=g))
    dt = time.perf_counter() - t
    return n / dt


def torchvision_epoch(max_batches: int = 60) -> float:
    """Images/s of ImageFolder + PIL -> uint8 tensor through a DataLoader (2 workers), after the workers
    have started."""
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2
    ds = ImageFolder(str(_cifar_folder()/"train"), transform=v2.PILToTensor())
    dl = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=2, drop_last=True)
    it = iter(dl); next(it)  # worker start-up is not counted
    t = time.perf_counter(); n = 0
    for i, (x, y) in enumerate(it):
        n += len(y)
        if i + 1 >= max_batches: break
    return n / (time.perf_counter() - t)


def main() -> dict:
    _cifar_folder()
    dec = decode_time()
    ours, peer = ours_epoch(), torchvision_epoch()
    return {"decode": dec,
            "epoch_images_per_s": {"ssl_workbench_cache": round(ours),
                                   "torchvision_imagefolder_pil_2workers": round(peer)},
            "ratio_vs_torchvision": round(ours / peer, 1), "batch_size": BATCH, "target_ratio": 20}
