"""Does the spare3d contrastive pretext stop near 0.75 held-out pair accuracy because the twins' signal is
drowned by the easy in-batch negatives? Two changes of the study's cpu setting (seed 0, 2,000 steps, cosine,
one thread), against the study's unit itself, and for each model its held-out accuracy by the size of the cut.

- `study_setting`: the study's contrastive pretext as its unit trains it (`contrastive_pretext`): 10,000
  pairs, batches of 16 pairs, the four cross pairs' BCE + the in-batch InfoNCE.
- `groups4`: four cuts of each base object instead of two (5,000 groups: the same 20,000 objects), batches of
  8 groups (the same 32 objects per step). Each views code then has 3 twins among its in-batch negatives
  instead of 1; the BCE is the paper's over the four cross pairs of every two members of a group (6 per
  group).
- `pairs_only`: the study's unit without the in-batch negatives (`negatives="pairs"`: the paper's four
  cross pairs alone), everything else as in the study: what the InfoNCE term itself does.
- `towers_w64`: the study's unit with towers of twice the width (`small_convnet_w64`, 64-512 channels, four
  times the multiply-adds): is the pretext short of tower capacity? (Run with `--threads 2`.)
- `nce_anneal`: the study's pairs, with the InfoNCE term's weight decayed from 1 to 0 on a cosine over the
  run: the easy negatives lift the pretext off the log-2 saddle early, and the twins alone train it late.
- `amp`: the study's unit on `fit_spare3d`'s fast path (bf16 autocast, channels-last weights, fused Adam):
  does bf16 cost the pretext accuracy? (Not a hard-negatives question: it shares the unit and diagnostics.)
- `lr3e-3_amp`, `lr3e-4_amp`: the `amp` variant with Adam's peak learning rate three times higher or lower
  than the study's 10^-3 (still on the cosine): the pretext underfits its training pairs; is the step size
  what holds it? (The plateau probe compared learning rates over 200 steps only.)

Every model is also scored on 1,000 further held-out pairs, binned by how many pixels the two objects'
drawings differ (F + R + T, and the isometric): is what stays wrong the pairs whose cut barely shows at 32 px?

Results: studies/probes/spare3d_hard_negatives.json (a finished variant is kept; delete its entry to redo it).

    python -m bench.spare3d_hard_negatives_probe [--variants study_setting,groups4,...] [--threads 1]
"""
from __future__ import annotations
import math, time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench import probe_args, probe_machine, run_probes, training_curve
from ssl_workbench.core import cache_dir, seed_everything
from ssl_workbench.spare3d.models import (PAIR_LABELS, FourTowerNet, _batches, _held_out_logits, _precise_bn,
                                          in_batch_info_nce, pair_hits, pretext_accuracy, task_accuracy,
                                          to_tensor, twin_accuracy, twin_wins)
from ssl_workbench.spare3d.render import ORTHO_VIEWS, render_views
from ssl_workbench.spare3d.study import _task, contrastive_pretext, settings_of, spare3d_study
from ssl_workbench.spare3d.tasks import _backend, _pairwise_distinct, make_pair, pixel_difference

OUT = Path("studies/probes/spare3d_hard_negatives.json")
# without `k`: overrides of the study's unit; with `k`: groups of k cuts, trained by `fit_groups`
VARIANTS = {
    "study_setting": {}, "groups4": dict(k=4, n_groups=5000), "pairs_only": dict(negatives="pairs"),
    "nce_anneal": dict(k=2, anneal=True), "towers_w64": dict(backbone="small_convnet_w64"),
    "amp": dict(amp=True), "lr3e-3_amp": dict(amp=True, lr=3e-3), "lr3e-4_amp": dict(amp=True, lr=3e-4)}
SEED, DIAGNOSTIC_PAIRS = 0, 1000


def make_group(rng: np.random.Generator, k: int, size: int, min_pixels: int = 20) -> np.ndarray:
    "`k` cuts of one base voxel object, each drawn as F, R, T and the pose-2 isometric: `(k, 4, H, W, 3)`."
    b = _backend("voxel")
    while True:
        base = b.make_object(rng)
        objects = [b.make_similar(rng, base) for _ in range(k)]
        d = np.stack([render_views(o, [*ORTHO_VIEWS, "2"], size, b, extent=b.extent(base)) for o in objects])
        if _pairwise_distinct(d[:, 3], min_pixels): return d


def groups(n: int, k: int, size: int, seed: int) -> np.ndarray:
    "`n` groups (generator stream [seed, 77]), cached under the data cache."
    path = cache_dir("spare3d_probe") / f"groups-{k}-{size}px-{n}-seed{seed}.npy"
    if path.exists(): return np.load(path)
    rng = np.random.default_rng([seed, 77])
    g = np.stack([make_group(rng, k, size) for _ in range(n)])
    np.save(path, g)
    return g


def group_loss(net: FourTowerNet, sides: list[torch.Tensor], nce_weight: float) -> tuple[torch.Tensor, dict]:
    """`sides`: K tensors `(B, 4, C, H, W)`, member k of each of B groups. The paper's BCE over the four cross
    pairs of every two members of a group, plus `nce_weight` times the InfoNCE over all K·B objects."""
    K, B = len(sides), len(sides[0])
    both = torch.cat(sides)
    s = net.score_matrix(net.encode_views(both[:, :3]), net.encode_isometric(both[:, 3]))  # (KB, KB)
    block = lambda i, j: s[i * B:(i + 1) * B, j * B:(j + 1) * B].diagonal()
    logits = torch.stack([torch.stack([block(i, i), block(i, j), block(j, i), block(j, j)], 1)
                          for i in range(K) for j in range(i + 1, K)], 1)  # (B, K(K-1)/2, 4)
    target = torch.tensor(PAIR_LABELS, dtype=logits.dtype).expand_as(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target)
    nce = in_batch_info_nce(s)
    accuracy = ((logits > 0).float() == target).float().mean().item()
    return bce + nce_weight * nce, dict(pair_bce=bce.item(), pair_accuracy=accuracy, info_nce=nce.item())


def fit_groups(s: dict, data: np.ndarray, k: int, anneal: bool, seed: int) -> tuple[FourTowerNet, list]:
    "The study's net and optimiser (Adam, cosine lr, default init, one tower call) on `(N, k, 4, H, W, 3)`."
    seed_everything(seed)
    net = FourTowerNet(s["backbone"], s["size"], s["hidden_dim"], init="default").train()
    steps, per_batch = s["pretext_steps"], 2 * s["batch_size"] // k  # the study's 32 objects per step
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=s["lr"])
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    sides = lambda idx: [to_tensor(data[idx, j]) for j in range(k)]
    batch, log = (idx.numpy() for idx in _batches(len(data), per_batch, generator)), []
    for step in range(steps):
        weight = 0.5 * (1 + math.cos(math.pi * step / steps)) if anneal else 1.0
        loss, logs = group_loss(net, sides(next(batch)), weight)
        optimizer.zero_grad(); loss.backward(); optimizer.step(); cosine.step()
        log.append(dict(loss=loss.item(), **logs))
    _precise_bn(net, lambda idx: group_loss(net, sides(idx), 1.0),
                [next(batch) for _ in range(s["precise_bn"])])
    return net, log


def diagnostic_pairs(size: int) -> dict:
    "1,000 held-out pairs from their own generator streams ([9, i]), cached."
    path = cache_dir("spare3d_probe") / f"diagnostic-pairs-{size}px-{DIAGNOSTIC_PAIRS}.npz"
    if not path.exists():
        pairs = [make_pair(np.random.default_rng([9, i]), size=size) for i in range(DIAGNOSTIC_PAIRS)]
        np.savez(path, left=np.stack([p["left"] for p in pairs]), right=np.stack([p["right"] for p in pairs]))
    return dict(np.load(path))


def by_cut_size(net: FourTowerNet, pairs: dict) -> dict:
    """Pair and twin accuracy of `net` on `pairs`, binned by the pixels in which the two objects' drawings
    differ."""
    logits = _held_out_logits(net, pairs, 64, "cpu")
    pair, twin = (hits(logits).float().mean(1).numpy() for hits in (pair_hits, twin_wins))
    views = np.array([sum(pixel_difference(a[v], b[v]) for v in range(3))
                      for a, b in zip(pairs["left"], pairs["right"])])
    iso = np.array([pixel_difference(a[3], b[3]) for a, b in zip(pairs["left"], pairs["right"])])

    def bins(diff, edges):
        return [dict(pixels=[lo, hi], n=int(m.sum()), pair_accuracy=round(float(pair[m].mean()), 4),
                     twin_accuracy=round(float(twin[m].mean()), 4))
                for lo, hi in zip(edges, edges[1:]) if (m := (diff >= lo) & (diff < hi)).sum()]

    return dict(n=len(pair), pair_accuracy=round(float(pair.mean()), 4),
                twin_accuracy=round(float(twin.mean()), 4),
                views_differ=bins(views, [0, 40, 60, 100, 10_000]),
                isometric_differs=bins(iso, [20, 40, 80, 10_000]))


def pretext_metrics(net: FourTowerNet, log: list[dict], s: dict, seed: int = SEED) -> dict:
    """A trained pretext's fit (training-batch means over its last 100 steps), its held-out pair and twin
    accuracy, zero-shot T2I, and its accuracy on the diagnostic pairs by the size of the cut."""
    last = log[-100:]
    held_out, test = _task("pair", s, seed, "_test"), _task("t2i", s, seed, "_test")
    return dict(train_pair_bce=round(float(np.mean([r["pair_bce"] for r in last])), 4),
                train_pair_accuracy=round(float(np.mean([r["pair_accuracy"] for r in last])), 4),
                held_out_pair_accuracy=pretext_accuracy(net, held_out),
                held_out_twin_accuracy=twin_accuracy(net, held_out),
                t2i_zero_shot=task_accuracy(net, test, "t2i"),
                by_cut_size=by_cut_size(net, diagnostic_pairs(s["size"])))


def run_variant(name: str) -> dict:
    study = spare3d_study()
    s = settings_of(study, study.arm("contrastive"), "cpu")
    v, start = VARIANTS[name], time.time()
    if "k" not in v:
        seed_everything(SEED)  # before the net is built, as the study's units do
        net, log = contrastive_pretext({**s, **v}, SEED)
    else:
        if v["k"] == 2:
            pairs = _task("pair", s, SEED)
            data = np.stack([pairs["left"], pairs["right"]], 1)
        else: data = groups(v["n_groups"], v["k"], s["size"], SEED)
        net, log = fit_groups(s, data, v["k"], v.get("anneal", False), SEED)
    seconds = time.time() - start
    keys = ("loss", "pair_bce", "pair_accuracy", *(("info_nce",) if "info_nce" in log[0] else ()))
    return dict(overrides=v, seconds=round(seconds, 1), threads=torch.get_num_threads(),
                **pretext_metrics(net, log, s), curve=training_curve(log, keys, every=100))


def main(argv=None):
    a, names = probe_args(__doc__, VARIANTS, OUT, argv=argv,
                          add=lambda p: p.add_argument("--threads", type=int, default=1))
    torch.set_num_threads(a.threads)
    run_probes(names, a.out, "runs", run_variant, date=time.strftime("%Y-%m-%d"), seed=SEED,
               machine=probe_machine())

if __name__ == "__main__":
    main()
