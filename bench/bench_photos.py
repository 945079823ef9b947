"""Photo-folder decode: 2,000 generated photos (640x480 up to 4000x3000, a quarter portrait) decoded for
224-pixel views (a 256x256 cache, `data.size_policy`), ours into the memory-mapped cache (2 worker
processes, JPEG draft decoding, rows written straight to the file) against torchvision `ImageFolder` + PIL
+ `Resize(256)` + `CenterCrop(256)` through a DataLoader with 2 workers (one epoch, the batches dropped).
Throughput and peak RSS (VmHWM of the main process; ru_maxrss of the largest worker) are measured in a
fresh process each. Bench only: the generated folder (1.8 GB, written once under data/bench/) is too big
for tests."""
import tempfile

from bench.photo_folders import camera_sizes, photo_folder, run_measured

N_PHOTOS, IMAGE_SIZE, BATCH = 2000, 224, 64

OURS = """
import time
from ssl_workbench.data import load_imagefolder
base = status('VmRSS:'); open('/proc/self/clear_refs', 'w').write('5')  # the peak from here on
t = time.perf_counter(); ds = load_imagefolder(sys.argv[1], 'all', image_size=int(sys.argv[2]), workers=2)
dt = time.perf_counter() - t
print(json.dumps({'images': len(ds), 'shape': list(ds.images.shape), 'seconds': round(dt, 1),
                  'images_per_s': round(len(ds) / dt, 1), **peaks(base)}))
"""

PEER = """
import time, torch
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2
side = int(sys.argv[2])
ds = ImageFolder(sys.argv[1], transform=v2.Compose([v2.Resize(side), v2.CenterCrop(side), v2.PILToTensor()]))
dl = torch.utils.data.DataLoader(ds, batch_size=int(sys.argv[3]), num_workers=2)
base = status('VmRSS:'); open('/proc/self/clear_refs', 'w').write('5')
t = time.perf_counter(); n = sum(len(y) for _, y in dl); dt = time.perf_counter() - t
print(json.dumps({'images': n, 'seconds': round(dt, 1), 'images_per_s': round(n / dt, 1), **peaks(base)}))
"""


def main() -> dict:
    folder = photo_folder(f"photos_{N_PHOTOS}", camera_sizes(N_PHOTOS))
    with tempfile.TemporaryDirectory() as cache:
        ours = run_measured(OURS, str(folder), str(IMAGE_SIZE), env={"SSL_WORKBENCH_CACHE": cache})
    peer = run_measured(PEER, str(folder), str(ours["shape"][1]), str(BATCH))
    return {"photos": N_PHOTOS, "sizes": "640x480 to 4000x3000 (9 camera resolutions, a quarter portrait)",
            "view_size": IMAGE_SIZE, "cache_side": ours["shape"][1],
            "ssl_workbench_decode_cache": ours, "torchvision_imagefolder_pil_2workers": peer,
            "speedup": round(ours["images_per_s"] / peer["images_per_s"], 2),
            "note": "2-core machine shared with other agents' jobs while measured; RSS in MB, base = after "
                    "imports. ours: a cold decode into the cache (later epochs read the memory map); peer: "
                    "one epoch, which it repeats every epoch"}


if __name__ == "__main__":
    import json; print(json.dumps(main(), indent=2))
