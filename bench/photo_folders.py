"""Generated photo folders for the data benchmarks, written once under data/bench/ (git-ignored), reused."""
import json, os, subprocess, sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ssl_workbench.data import make_photo

ROOT = Path(__file__).resolve().parent.parent
# common camera and phone resolutions (width, height), 640x480 up to 12-megapixel 4000x3000
CAMERA_SIZES = [(640, 480), (800, 600), (1024, 768), (1280, 960), (1600, 1200), (2048, 1536), (2592, 1944),
                (3264, 2448), (4000, 3000)]


def camera_sizes(n: int, seed: int = 0) -> list[tuple[int, int]]:
    "n sizes drawn uniformly from `CAMERA_SIZES`, a quarter of them portrait."
    rng = np.random.default_rng(seed)
    sizes = [CAMERA_SIZES[i] for i in rng.integers(0, len(CAMERA_SIZES), n)]
    return [(h, w) if rng.random() < 0.25 else (w, h) for w, h in sizes]


def imagenet_sizes(n: int, seed: int = 0) -> list[tuple[int, int]]:
    "n ImageNet-like sizes: the longer side 400-600 pixels, 4:3, a quarter portrait (mean about 500x375)."
    rng = np.random.default_rng(seed)
    out = []
    for w in rng.integers(400, 601, n):
        h = int(w) * 3 // 4
        out.append((h, int(w)) if rng.random() < 0.25 else (int(w), h))
    return out


def _write_part(args):
    "Write photos (index, (width, height)) as root/class_<index % 10>/<index>.jpg."
    root, items, seed = args
    rng = np.random.default_rng(seed)
    for i, (w, h) in items:
        d = root/f"class_{i % 10}"; d.mkdir(parents=True, exist_ok=True)
        make_photo(w, h, rng).save(d/f"{i:05d}.jpg", quality=90)
    return len(items)


def photo_folder(name: str, sizes: list[tuple[int, int]], workers: int = 2) -> Path:
    "data/bench/<name>: the photos of `sizes` (written by `workers` processes the first time), reused after."
    root = ROOT/"data"/"bench"/name
    done = root/".complete.json"
    if done.exists() and json.loads(done.read_text())["n"] == len(sizes): return root
    items = list(enumerate(sizes))
    parts = [(root, items[p::workers], p) for p in range(workers)]
    with ProcessPoolExecutor(workers) as ex: list(ex.map(_write_part, parts))
    done.write_text(json.dumps({"n": len(sizes)}))
    return root


PEAK_RSS = """
import json, resource, sys
def status(key):
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) // 1024
def peaks(base): return {'base_rss_mb': base, 'peak_rss_mb': status('VmHWM:'),
                         'worker_peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024}
"""


def run_measured(script: str, *args: str, env: dict | None = None) -> dict:
    "Run `script` (printing one JSON line last) in a fresh Python with `PEAK_RSS` defined; return the JSON."
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    r = subprocess.run([sys.executable, "-c", PEAK_RSS + script, *args], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=1800)
    if r.returncode: raise RuntimeError(f"benchmark subprocess failed:\n{r.stderr[-4000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])
