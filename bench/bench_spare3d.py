"""SPARE3D generator throughput: objects/min (11 views each) and T2I questions/min per backend, 2 worker
processes.

The reference ("peer") numbers are a throughput probe of the official generator pipeline (2 processes, 128
px, shared 2-core machine): OpenCascade 368-465 objects/min and 71-151 T2I q/min; voxel 1,133-1,180
objects/min and 827-871 T2I q/min."""
from __future__ import annotations
import os, platform, resource, shutil, tempfile, time
from pathlib import Path

from ssl_workbench.spare3d.render import occ_available
from ssl_workbench.spare3d.tasks import generate

REFERENCE = {"voxel": {"objects_per_min": 1133, "t2i_per_min": 827},
             "occ": {"objects_per_min": 368, "t2i_per_min": 71}}

def _rate(task: str, n: int, backend: str, size: int, workers: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench_spare3d_"))
    try:
        cpu = lambda: sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
                          for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        start, cpu_start = time.perf_counter(), cpu()
        meta = generate(task, n, out / task, backend=backend, size=size, workers=workers, seed=123,
                        shard_size=max(1, n // 2))
        # children counted once the pool is joined
        seconds, cpu_seconds = time.perf_counter() - start, cpu() - cpu_start
    finally: shutil.rmtree(out, ignore_errors=True)
    return {"n": n, "written": meta["n_written"], "failed": meta["n_failed"], "seconds": round(seconds, 2),
            "per_min": round(meta["n_written"] / seconds * 60, 1), "cpu_seconds": round(cpu_seconds, 2),
            # contention-free estimate: what `workers` cores would do if they were ours alone
            "per_min_if_cores_free": round(meta["n_written"] / max(cpu_seconds, 1e-9) * 60 * workers, 1)}

def main(n_objects: int = 200, n_questions: int = 100, size: int = 128, workers: int = 2) -> dict:
    """Objects/min and T2I questions/min per backend (generate() end to end: pool, rendering, compressed
    shards)."""
    load_before = os.getloadavg()
    results = {"machine": {"processor": platform.processor() or platform.machine(),
                           "cpu_count": os.cpu_count(),
                           "loadavg_before": [round(x, 2) for x in load_before]},
               "settings": {"size": size, "workers": workers, "views_per_object": 11}}
    for backend in ("voxel", "occ"):
        if backend == "occ" and not occ_available():
            results[backend] = {"skipped": "cadquery-ocp-novtk not installed"}; continue
        scale = 1 if backend == "voxel" else 3  # OpenCascade is slower: fewer items keep the bench short
        objects = _rate("views", n_objects // scale, backend, size, workers)
        t2i = _rate("t2i", n_questions // scale, backend, size, workers)
        ref = REFERENCE[backend]
        results[backend] = {"objects": objects, "t2i": t2i,
                            "objects_per_min": objects["per_min"], "t2i_per_min": t2i["per_min"],
                            "ratio_objects_vs_probe": round(objects["per_min"] / ref["objects_per_min"], 2),
                            "ratio_t2i_vs_probe": round(t2i["per_min"] / ref["t2i_per_min"], 2)}
    results["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return results



def reproduce_t2i(n_train: int = 400, n_test: int = 200, size: int = 32, steps: int = 200,
                  finetune_steps: int = 100,
                  batch_size: int = 8, lr: float = 1e-3, backbone: str = "small_convnet", seed: int = 0,
                  device: str | None = None) -> dict:
    """Small-scale version of Xiang et al.'s T2I comparison with one question budget `n_train`:
    contrastive pretext on `n_train` pairs (no labels) -> zero-shot T2I and fine-tuned on `n_train` questions,
    vs SPARE3D's early-fusion baseline trained from scratch on the same `n_train` questions. Chance = 0.25."""
    import numpy as np, torch
    from ssl_workbench.spare3d.tasks import make_item, stack_items
    from ssl_workbench.spare3d.models import FourTowerNet, EarlyFusionNet, fit_spare3d, t2i_accuracy
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    def items(task, n, offset):
        rows = [make_item(task, seed, offset + i, size=size) for i in range(n)]
        return stack_items(rows)
    t0 = time.perf_counter()
    pairs, train, test = (items("pair", n_train, 0), items("t2i", n_train, 10**6),
                          items("t2i", n_test, 2 * 10**6))
    out = {
        "settings": dict(n_train=n_train, n_test=n_test, size=size, steps=steps,
                         finetune_steps=finetune_steps, batch_size=batch_size, lr=lr, backbone=backbone,
                         seed=seed),
        "data_seconds": round(time.perf_counter() - t0, 1),
    }
    t0 = time.perf_counter()
    net = FourTowerNet(backbone, image_size=size, hidden_dim=256)
    history = fit_spare3d(
        net, pairs, "pretext", steps=steps, batch_size=batch_size, lr=lr, device=device, seed=seed
    )
    out["pretext_loss_first_last"] = [round(history[0]["loss"], 4),
                                      round(float(np.mean([h["loss"] for h in history[-20:]])), 4)]
    out["contrastive_zero_shot"] = t2i_accuracy(net, test, device=device)
    fit_spare3d(
        net, train, "t2i", steps=finetune_steps, batch_size=batch_size, lr=lr, device=device, seed=seed
    )
    out["contrastive_finetuned"] = t2i_accuracy(net, test, device=device)
    fusion = EarlyFusionNet(backbone, image_size=size)
    fit_spare3d(fusion, train, "t2i", steps=steps + finetune_steps, batch_size=batch_size, lr=lr,
                device=device, seed=seed)
    out["supervised_early_fusion"] = t2i_accuracy(fusion, test, device=device)
    out["train_seconds"] = round(time.perf_counter() - t0, 1)
    out["chance"] = 0.25
    return out


if __name__ == "__main__":
    import json, sys

    print(json.dumps(reproduce_t2i() if "--reproduce" in sys.argv else main(), indent=1))
