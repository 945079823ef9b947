"""Why the four-tower pretext sat at log 2: train one variant per suspect on the same generated pairs and record
the loss and the pair accuracy (training batches and held-out objects). Results: studies/spare3d_plateau.json.

    python bench/spare3d_pretext_probe.py [--variants a,b] [--steps 300]

Each finished variant is stored at once; a re-run skips it (delete the JSON entry to redo one).
"""
from __future__ import annotations
import argparse, json, math, os, platform, time
from pathlib import Path

import numpy as np
import torch

from ssl_workbench.core import atomic_write_text, seed_everything
from ssl_workbench.spare3d.models import FourTowerNet, pretext_logits, pretext_loss, to_tensor
from ssl_workbench.spare3d.tasks import PAIR_LABELS, generate, load_task

BASE = dict(pool="flatten", init="paper", head="mlp", lr=1e-3, size=64, n_pairs=1000, hidden_dim=512)
VARIANTS = {  # one suspect changed per variant, against `flatten` (the official layout)
    "avg_pool": dict(pool="avg"),  # the towers before this change
    "flatten": {},
    "avg_pool_default_init": dict(pool="avg", init="default"),
    "flatten_default_init": dict(init="default"),
    "flatten_paper_lr": dict(lr=5e-5),  # Self-Supervised-SPARE3D's pretext lr
    "linear_head": dict(head="linear"),  # the official ResNet variant's additive score
    "flatten_100_objects": dict(n_pairs=100),
    "flatten_32px": dict(size=32),
}
OUT = Path("studies/spare3d_plateau.json")


def pairs(n: int, size: int, seed: int, root: Path = Path("data/cache/spare3d_probe")) -> dict:
    "Generated pair data, cached under the git-ignored data/ (resumes if interrupted)."
    out = root/f"pairs-{size}px-seed{seed}-n{n}"
    generate("pair", n, out, size=size, workers=1, seed=seed, shard_size=250)
    return load_task(out)


@torch.no_grad()
def pair_accuracy(model, data: dict, batch: int = 50) -> float:
    "Share of the four cross pairs per item scored on the right side of 0, on `data`."
    model.eval(); hits = []
    for i in range(0, len(data["left"]), batch):
        logits = pretext_logits(model, to_tensor(data["left"][i:i + batch]), to_tensor(data["right"][i:i + batch]))
        hits.append(((logits > 0).float() == torch.as_tensor(PAIR_LABELS)).float().mean(1))
    model.train()
    return float(torch.cat(hits).mean())


def run_variant(name: str, steps: int, batch_size: int = 16, seed: int = 0) -> dict:
    cfg = {**BASE, **VARIANTS[name]}
    train = pairs(cfg["n_pairs"], cfg["size"], seed=1)
    held_out = pairs(200, cfg["size"], seed=2)
    generator = seed_everything(seed)
    model = FourTowerNet("small_convnet", cfg["size"], cfg["hidden_dim"], pool=cfg["pool"], head=cfg["head"], init=cfg["init"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    curve, start, n = [], time.time(), len(train["left"])
    order = torch.randperm(n, generator=generator)
    for step in range(steps):
        if (step + 1) * batch_size > len(order): order = torch.cat([order, torch.randperm(n, generator=generator)])
        idx = order[step * batch_size:(step + 1) * batch_size].numpy()
        loss, logs = pretext_loss(model, to_tensor(train["left"][idx]), to_tensor(train["right"][idx]))
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        row = {"step": step + 1, **logs}
        if (step + 1) % 50 == 0 or step + 1 == steps: row["held_out_pair_accuracy"] = pair_accuracy(model, held_out)
        curve.append(row)
    last = curve[-20:]
    return dict(config=cfg, steps=steps, batch_size=batch_size, seed=seed, seconds=round(time.time() - start, 1),
                final_loss=float(np.mean([r["loss"] for r in last])),
                final_pair_accuracy=float(np.mean([r["pair_accuracy"] for r in last])),
                held_out_pair_accuracy=curve[-1]["held_out_pair_accuracy"],
                curve=[{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in curve])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args(argv)
    names = a.variants.split(",")
    unknown = [v for v in names if v not in VARIANTS]
    if unknown: raise SystemExit(f"--variants: unknown {unknown}; choose from {list(VARIANTS)}")
    out = Path(a.out)
    for name in names:
        done = json.loads(out.read_text()) if out.exists() else {"variants": {}}
        if name in done["variants"]: continue
        r = run_variant(name, a.steps)
        done = json.loads(out.read_text()) if out.exists() else {"variants": {}}  # another process may have written
        done["variants"][name] = r
        done.update(log2=math.log(2), machine=dict(processor=platform.processor() or platform.machine(),
                    cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads()), date=time.strftime("%Y-%m-%d"))
        out.parent.mkdir(parents=True, exist_ok=True); atomic_write_text(out, json.dumps(done, indent=1))
        print(f"{name}: loss {r['final_loss']:.3f}, pair accuracy {r['final_pair_accuracy']:.2f} "
              f"(held-out {r['held_out_pair_accuracy']:.2f}), {r['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
