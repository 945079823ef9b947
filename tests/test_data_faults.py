"""Fault cases of the data layer (issue 18, users' own photos): mixed sizes, huge photos in bounded memory,
non-UTF-8 file names, and a feature cache that follows every pixel. Each fails on the code before the fix."""
import json, os, subprocess, sys, warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_workbench.data import load_imagefolder, make_photo_folder, size_policy
from ssl_workbench.eval.features import extract_features, images_fingerprint

ROOT = Path(__file__).resolve().parent.parent
RSS_GROWTH_BOUND_MB = 200  # peak RSS over the RSS after imports, per process, for the decode below


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_WORKBENCH_CACHE", str(tmp_path/"cache"))


def _quiet_load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_imagefolder(*args, **kwargs)


def test_size_does_not_depend_on_the_first_file(tmp_path):
    "One 300x400 image then ten 16x16: cached at the policy's size, not the first file's (11, 300, 400, 3)."
    d = tmp_path/"mixed"/"a"; d.mkdir(parents=True)
    Image.new("RGB", (400, 300), "red").save(d/"0.jpg")
    for i in range(10): Image.new("RGB", (16, 16), "blue").save(d/f"{i + 1}.png")
    assert _quiet_load(tmp_path/"mixed", "all").images.shape == (11, 37, 37, 3)  # 8/7 of the default 32
    ds = _quiet_load(tmp_path/"mixed", "all", image_size=224)
    assert ds.images.shape == (11, 256, 256, 3)
    assert ds.size_policy == size_policy(image_size=224).as_dict()
    assert _quiet_load(tmp_path/"mixed", "all", size=24).images.shape == (11, 24, 24, 3)


RSS_SCRIPT = """
import json, resource, sys
from ssl_workbench.data import load_imagefolder
def status(key):
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) // 1024
base = status('VmRSS:')
open('/proc/self/clear_refs', 'w').write('5')  # reset VmHWM: the imports' peak is not the decode's
ds = load_imagefolder(sys.argv[1], 'all', image_size=224, workers=2)
print(json.dumps({'shape': list(ds.images.shape), 'base_mb': base, 'peak_mb': status('VmHWM:'),
                  'worker_peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak RSS is read from Linux's /proc")
def test_huge_photos_decode_in_bounded_memory(tmp_path):
    "Four 4000x3000 JPEGs first, then 36 smaller photos: peak RSS of each process stays within the bound."
    sizes = [(4000, 3000)] * 3 + [(3000, 4000)] + [(640 + 40 * i, 480 + 30 * i) for i in range(36)]
    folder = make_photo_folder(tmp_path/"photos", sizes, classes=2)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SSL_WORKBENCH_CACHE": str(tmp_path/"cache")}
    r = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(folder)], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert m["shape"] == [40, 256, 256, 3]
    # the old decoder held an (N, 3000, 4000, 3) array: 1.4 GB here, 360 GB for 10,000 photos
    assert m["peak_mb"] - m["base_mb"] < RSS_GROWTH_BOUND_MB, m
    assert m["worker_peak_mb"] - m["base_mb"] < RSS_GROWTH_BOUND_MB, m  # workers are forked near base


def _raw(folder: Path, name: bytes) -> str:
    "A path whose last part is `name`, bytes that need not be UTF-8."
    return os.fsdecode(os.fsencode(folder) + b"/" + name)


def test_non_utf8_names_load_or_are_reported(tmp_path):
    "A Latin-1 file name is loaded; an unreadable one is skipped and reported by its escaped name."
    d = tmp_path/"odd"/"a"; d.mkdir(parents=True)
    Image.new("RGB", (16, 16), "red").save(_raw(d, b"caf\xe9.jpg"))
    Image.new("RGB", (16, 16), "green").save(d/"plain.jpg")
    Path(_raw(d, b"bad\xff.jpg")).write_bytes(b"not an image")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = load_imagefolder(tmp_path/"odd", "all", size=16)
    assert len(ds) == 2
    assert [Path(p).name for p, _ in ds.skipped] == [r"bad\xff.jpg"]
    message = " ".join(str(x.message) for x in w)
    assert r"bad\xff.jpg" in message
    message.encode("utf-8")  # printable: no surrogate characters left
    json.dumps(ds.skipped).encode("utf-8")


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__(); torch.manual_seed(0); self.conv = torch.nn.Conv2d(3, 4, 3)
    def forward(self, x): return self.conv(x).mean((2, 3))


def test_feature_cache_follows_every_image():
    "Changing image #1 of 1,000 (not among the 256 the old fingerprint sampled) recomputes the features."
    images = torch.randint(0, 256, (1000, 3, 8, 8), dtype=torch.uint8)
    before = extract_features(_Tiny(), images, cache_key="w", split="test", device="cpu")
    changed = images.clone(); changed[1] = 255 - changed[1]
    after = extract_features(_Tiny(), changed, cache_key="w", split="test", device="cpu")
    assert not torch.equal(after[1], before[1])
    assert torch.equal(after, extract_features(_Tiny(), changed, device="cpu"))  # what a fresh run gives


def test_feature_cache_follows_a_changed_file(tmp_path):
    "A folder dataset is fingerprinted by its decode cache key: rewriting file #1 of 600 changes it."
    d = tmp_path/"p"/"a"; d.mkdir(parents=True)
    for i in range(600): Image.new("RGB", (16, 16), (i % 256, 0, 0)).save(d/f"{i:03d}.png")
    before = images_fingerprint(_quiet_load(tmp_path/"p", "all", size=16))
    Image.new("RGB", (16, 16), "white").save(d/"001.png"); os.utime(d/"001.png", ns=(1, 1))
    assert images_fingerprint(_quiet_load(tmp_path/"p", "all", size=16)) != before


def test_a_split_of_a_folder_stays_memory_mapped(tmp_path):
    "Without train/test folders the 90/10 split is drawn over the files: neither split is copied into RAM."
    folder = make_photo_folder(tmp_path/"p", [(64, 48)] * 20, classes=2)
    tr, te = _quiet_load(folder, "train", size=16), _quiet_load(folder, "test", size=16)
    assert isinstance(tr.images, np.memmap) and isinstance(te.images, np.memmap)
    assert (len(tr), len(te)) == (18, 2)
