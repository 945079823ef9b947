"""Explorer speed, side by side with the peer a user would otherwise call, in one run on this machine:

- UMAP of 10,000 x 512 embeddings: ours (`eval.report.umap_embed`: the one UMAP, exact kNN graph by torch
  matmul handed to umap-learn as `precomputed_knn`) versus umap-learn's own `UMAP(metric="cosine")`
  (NN-descent), both after numba has compiled, both with the same epochs; then ours again from the disk
  cache. Budget: 30 s, instant when cached.
- One retrieval query over 50,000 x 512 embeddings: ours (`ui.explorers.top_k`, one matmul + topk) versus
  scikit-learn's `NearestNeighbors(metric="cosine", algorithm="brute").kneighbors`. Budget: 50 ms.
- The augmentation tuner's live refresh, 8 images x 4 views at 32 px (no peer: the budget is 0.5 s)."""
import os, tempfile, time

import numpy as np
import torch


def _best(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return float(np.median(times))


def umap_bench() -> dict:
    import umap, warnings
    from ssl_workbench.ui.explorers import warm_up_umap
    from ssl_workbench.eval.report import umap_embed
    os.environ["SSL_WORKBENCH_CACHE"] = tempfile.mkdtemp()  # a cold cache for ours
    rng = np.random.default_rng(0)
    feats = (
        rng.normal(size=(10, 512))[rng.integers(0, 10, 10_000)] * 3 + rng.normal(size=(10_000, 512))
    ).astype(np.float32)
    t0 = time.perf_counter()
    warm_up_umap()
    compile_s = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # compile the peer's NN-descent too
        umap.UMAP(n_neighbors=15, metric="cosine", n_epochs=10).fit_transform(feats[:500])
        t0 = time.perf_counter()
        umap_embed(feats, cache=True)
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        umap_embed(feats, cache=True)
        cached = time.perf_counter() - t0
        t0 = time.perf_counter()
        umap.UMAP(n_neighbors=15, metric="cosine", n_epochs=200, init="pca").fit_transform(feats)
        peer = time.perf_counter() - t0
    return {"n": 10_000, "dim": 512, "numba_compile_s_once": round(compile_s, 1), "ours_s": round(ours, 2),
            "ours_cached_s": round(cached, 3), "umap_learn_cosine_s": round(peer, 2),
            "ratio": round(peer / ours, 2), "budget_s": 30}


def query_bench() -> dict:
    from sklearn.neighbors import NearestNeighbors
    from ssl_workbench.ui.explorers import top_k

    g = torch.Generator().manual_seed(0)
    gallery = torch.nn.functional.normalize(torch.randn(50_000, 512, generator=g), dim=1)
    q = torch.randn(512, generator=g)
    ours = _best(lambda: top_k(q, gallery, 10), 20)
    nn = NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute").fit(gallery.numpy())
    peer = _best(lambda: nn.kneighbors(q.numpy()[None]), 20)
    return {"n": 50_000, "dim": 512, "k": 10, "ours_ms": round(1000 * ours, 2),
            "sklearn_brute_cosine_ms": round(1000 * peer, 2), "ratio": round(peer / ours, 2), "budget_ms": 50}


def tuner_bench() -> dict:
    from ssl_workbench.ui.tuner import augment_tuner

    images = torch.randint(
        0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    tuner = augment_tuner(images=images, pipeline="simclr_cifar", n_images=8, n_views=4)

    def render():
        tuner.render()

    return {"images": 8, "views": 4, "size": 32, "refresh_ms_median": round(1000 * _best(render, 10), 1),
            "budget_ms": 500}


def main() -> dict:
    return {"umap": umap_bench(), "query": query_bench(), "tuner": tuner_bench(),
            "torch_threads": torch.get_num_threads()}


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
