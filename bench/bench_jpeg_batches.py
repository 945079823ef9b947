"""Beyond one disk cache: per-batch decoding from JPEG bytes (`jpeg_batches`: `torchvision.io.decode_jpeg`,
here on the CPU in 2 DataLoader workers) against torchvision `ImageFolder` + PIL + `Resize`/`CenterCrop`
with 2 workers, on 1,000 generated ImageNet-sized photos (about 500x375), 224x224 outputs, one epoch each
after the workers start. For scale: the same folder through the decode cache (cold decode once, then an
epoch from the memory map)."""
import tempfile, time

import torch

from bench.photo_folders import imagenet_sizes, photo_folder
from ssl_workbench.data import iterate_batches, load_imagefolder
from ssl_workbench.jpeg_batches import JpegFiles, jpeg_batches

N_PHOTOS, SIDE, BATCH = 1000, 224, 64


def _epoch(batches) -> float:
    "Images/s over an epoch, not counting the first batch (worker start-up)."
    it = iter(batches); next(it)
    t = time.perf_counter(); n = sum(len(y) for _, y in it)
    return n / (time.perf_counter() - t)


def ours_jpeg(folder) -> float:
    files = JpegFiles.from_folder(folder)
    g = torch.Generator().manual_seed(0)
    return _epoch(jpeg_batches(files, BATCH, size=SIDE, generator=g, workers=2))


def peer_pil(folder) -> float:
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2
    tf = v2.Compose([v2.Resize(SIDE), v2.CenterCrop(SIDE), v2.PILToTensor()])
    ds = ImageFolder(str(folder), transform=tf)
    return _epoch(torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=2,
                                              drop_last=True))


def decode_cache(folder) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        import os
        old = os.environ.get("SSL_WORKBENCH_CACHE"); os.environ["SSL_WORKBENCH_CACHE"] = cache
        try:
            t = time.perf_counter(); ds = load_imagefolder(folder, "all", size=SIDE, workers=2)
            cold = time.perf_counter() - t
            epoch = _epoch(iterate_batches(ds, BATCH, generator=torch.Generator().manual_seed(0)))
        finally:
            if old is None: os.environ.pop("SSL_WORKBENCH_CACHE", None)
            else: os.environ["SSL_WORKBENCH_CACHE"] = old
    return {"cold_decode_images_per_s": round(len(ds) / cold, 1), "epoch_images_per_s": round(epoch)}


def main() -> dict:
    folder = photo_folder(f"imagenet_like_{N_PHOTOS}", imagenet_sizes(N_PHOTOS))
    ours, peer = ours_jpeg(folder), peer_pil(folder)
    return {"photos": N_PHOTOS, "sizes": "longer side 400-600 px, 4:3", "output": f"{SIDE}x{SIDE}",
            "batch": BATCH,
            "epoch_images_per_s": {"jpeg_batches_decode_jpeg_cpu_2workers": round(ours, 1),
                                   "torchvision_imagefolder_pil_2workers": round(peer, 1)},
            "ratio": round(ours / peer, 2), "decode_cache_same_folder": decode_cache(folder),
            "note": "CPU only (no GPU on this machine: nvJPEG not measured); 2-core machine shared "
                    "with other agents' jobs while measured"}


if __name__ == "__main__":
    import json; print(json.dumps(main(), indent=2))
