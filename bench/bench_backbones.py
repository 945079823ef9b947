"""Which backbone gives the best CIFAR-10 kNN per minute of CPU? Each candidate runs the user path,
`ssl-workbench quickstart --data cifar10 --minutes 10 --backbone NAME` (the time budget plans its steps from
its own throughput), then weighted kNN of all 10,000 test images against all 50,000 training images. One seed
per candidate: a ranking, not an interval. Candidates are widths and depths of the small ConvNet and of the
small ResNet (`ssl_workbench.models`); those not in `BACKBONES` are registered here for the run only.
`BENCH_BACKBONES` (comma-separated names) and `BENCH_BACKBONE_MINUTES` narrow the sweep. It shares one
temporary cache across candidates, so the raw-pixel baseline and the JPEG decode are computed once. The views
are 32 px (`BENCH_BACKBONE_VIEW`), the size the committed comparison was measured at (the CPU quickstart now
trains at 24 px)."""
import os, tempfile, time

import torch

from bench import empty_cache
from ssl_workbench import models
from ssl_workbench.quickstart import quickstart_photos

CANDIDATES = {
    "small_convnet": "4 conv-BN-ReLU, 32-256 channels, full-resolution first layer",
    "small_resnet": "3x3/2 stem + 4 BasicBlock stages (1,1,1,1), 32-256 channels",
    "small_resnet_w48": "as small_resnet, 48-384 channels",
    "small_resnet_w32_2222": "as small_resnet, two blocks per stage (17 convs)",
}
EXTRA = {
    "small_resnet_w48": lambda s, c: models._small_resnet(s, c, 48),
    "small_resnet_w32_2222": lambda s, c: models._small_resnet(s, c, 32, (2, 2, 2, 2)),
}


def params(name: str) -> float:
    net = models.create_backbone(name, 32)[0]
    return round(sum(p.numel() for p in net.parameters()) / 1e6, 2)


def one(name: str, minutes: float, root: str, view_size: int) -> dict:
    t0 = time.time()
    s = quickstart_photos("cifar10", out=f"{root}/{name}", minutes=minutes, backbone=name,
                          view_size=view_size)
    knn = s["results"]["knn"]
    return {"backbone": name, "design": CANDIDATES[name], "params_m": params(name), "steps": s["steps"],
            "images_per_s": round(s["steps"] * 256 / s["train_seconds"], 1),
            "knn_accuracy": round(knn["accuracy"], 4),
            "baselines": {k: round(v["accuracy"], 4) for k, v in knn["baselines"].items()},
            "train_seconds": s["train_seconds"], "job_seconds": round(time.time() - t0, 1)}


def main() -> dict:
    names = os.environ.get("BENCH_BACKBONES", ",".join(CANDIDATES)).split(",")
    minutes = float(os.environ.get("BENCH_BACKBONE_MINUTES", "10"))
    view = int(os.environ.get("BENCH_BACKBONE_VIEW", "32"))
    for name, build in EXTRA.items(): models.BACKBONES.setdefault(name, build)
    with tempfile.TemporaryDirectory(prefix="bench_backbones_") as root, empty_cache("bench_bb_cache_"):
        runs = [one(n, minutes, root, view) for n in names]
    best = max(runs, key=lambda r: r["knn_accuracy"])
    return {"command": f"ssl-workbench quickstart --data cifar10 --minutes {minutes:g} (backbone varied)",
            "minutes": minutes, "view_size": view, "threads": torch.get_num_threads(), "runs": runs,
            "best": best["backbone"],
            "split": "all 10,000 test images against all 50,000 training images", "seeds": 1}
