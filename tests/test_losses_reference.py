"""Reference checks of ssl_workbench.losses / methods that need several processes (DDP with gloo on CPU).

The single-process reference checks (lightly's NTXentLoss, closed forms, transcriptions of the formulas)
live in nbs/04_losses.ipynb; here we check that the distributed code paths give the single-process answer:

- nt_xent with negatives gathered *with gradient*: the mean of the per-rank losses equals the loss on the
  global batch, and each rank's gradient (as DDP would average it) equals the global gradient of its
  slice; multi_positive_nt_xent (SimCLR with small crops, three views here) likewise;
- CLSA's contrastive form (batch keys of every rank as negatives, labels offset by rank) likewise;
- MoCo's shuffle-BN returns each key in its original position, and the queue receives the keys of every
  rank."""
import os, socket, tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from ssl_workbench.losses import nt_xent, multi_positive_nt_xent, moco_infonce, ddm, gather_no_grad
from ssl_workbench.methods.mocov2 import MoCoV2, shuffled_forward

WORLD = 2
N_LOCAL, DIM, QUEUE = 4, 8, 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    n = N_LOCAL * WORLD
    return (torch.randn(n, DIM, generator=g), torch.randn(n, DIM, generator=g),
            torch.randn(QUEUE, DIM, generator=g),
            torch.randn(n, DIM, generator=g))


def _worker(rank: int, port: int, out_dir: str):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        z1, z2, queue, z3 = _data()
        sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
        res = {}
        # nt_xent
        a, b = z1[sl].clone().requires_grad_(), z2[sl].clone().requires_grad_()
        loss = nt_xent(a, b, 0.5); loss.backward()
        res["nt_xent"], res["nt_xent_ga"], res["nt_xent_gb"] = loss.detach(), a.grad, b.grad
        # multi-positive NT-Xent over three views
        views = torch.stack([z1[sl], z2[sl], z3[sl]]).requires_grad_()
        loss = multi_positive_nt_xent(views, 0.5); loss.backward()
        res["multi"], res["multi_grad"] = loss.detach(), views.grad
        # CLSA contrastive form and DDM with gathered keys
        q = z1[sl].clone().requires_grad_()
        loss = moco_infonce(q, z2[sl], queue, 0.2, batch_keys_as_negatives=True); loss.backward()
        res["clsa"], res["clsa_gq"] = loss.detach(), q.grad
        res["ddm"] = ddm(z1[sl], z3[sl], gather_no_grad(z2[sl]), queue, 0.2)
        # shuffle-BN on a per-sample encoder returns keys in their original order
        torch.manual_seed(rank)  # different local RNG: the permutation must come from rank 0's broadcast
        enc = nn.Linear(DIM, 3)
        torch.nn.init.constant_(enc.weight, 0.1); torch.nn.init.zeros_(enc.bias)
        enc.weight.data += torch.arange(3 * DIM, dtype=torch.float).view(3, DIM) * 0.01
        res["shuffle_ok"] = torch.tensor(float(torch.allclose(shuffled_forward(enc, z1[sl]), enc(z1[sl]),
                                                              atol=1e-6)))
        # MoCoV2: keys of every rank go into the queue
        torch.manual_seed(0)
        model = MoCoV2(nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 6), nn.BatchNorm1d(6)), 6,
                       queue_size=16)
        x = torch.randn(N_LOCAL, 3, 4, 4, generator=torch.Generator().manual_seed(10 + rank))
        loss, _ = model([x, x]); loss.backward(); model.after_step(0.1)
        res["queue_ptr"] = model.queue.ptr.clone()
        res["queue_keys"] = model.queue.keys[: N_LOCAL * WORLD].clone()
        torch.save(res, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_results():
    if not dist.is_available(): pytest.skip("torch.distributed not available")
    out_dir = tempfile.mkdtemp()
    mp.spawn(_worker, args=(_free_port(), out_dir), nprocs=WORLD, join=True)
    return [torch.load(os.path.join(out_dir, f"rank{r}.pt")) for r in range(WORLD)]


def test_nt_xent_ddp_equals_global_batch(ddp_results):
    z1, z2, _, _ = _data()
    a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    loss = nt_xent(a, b, 0.5); loss.backward()
    assert torch.allclose(torch.stack([r["nt_xent"] for r in ddp_results]).mean(), loss.detach(), atol=1e-5)
    for rank, r in enumerate(ddp_results):  # DDP averages gradients over ranks: divide by WORLD
        sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
        assert torch.allclose(r["nt_xent_ga"] / WORLD, a.grad[sl], atol=1e-6)
        assert torch.allclose(r["nt_xent_gb"] / WORLD, b.grad[sl], atol=1e-6)


def test_multi_positive_nt_xent_ddp_equals_global_batch(ddp_results):
    z1, z2, _, z3 = _data()
    views = torch.stack([z1, z2, z3]).requires_grad_()
    loss = multi_positive_nt_xent(views, 0.5); loss.backward()
    assert torch.allclose(torch.stack([r["multi"] for r in ddp_results]).mean(), loss.detach(), atol=1e-5)
    for rank, r in enumerate(ddp_results):
        sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
        assert torch.allclose(r["multi_grad"] / WORLD, views.grad[:, sl], atol=1e-6)


def test_clsa_batch_keys_ddp_equals_global_batch(ddp_results):
    z1, z2, queue, z3 = _data()
    q = z1.clone().requires_grad_()
    loss = moco_infonce(q, z2, queue, 0.2, batch_keys_as_negatives=True); loss.backward()
    assert torch.allclose(torch.stack([r["clsa"] for r in ddp_results]).mean(), loss.detach(), atol=1e-5)
    # keys carry no gradient, so each rank's grad is local (times WORLD)
    for rank, r in enumerate(ddp_results):
        sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
        assert torch.allclose(r["clsa_gq"] / WORLD, q.grad[sl], atol=1e-6)
    assert torch.allclose(torch.stack([r["ddm"] for r in ddp_results]).mean(), ddm(z1, z3, z2, queue, 0.2),
                          atol=1e-5)


def test_shuffle_bn_and_queue_ddp(ddp_results):
    assert all(r["shuffle_ok"].item() == 1.0 for r in ddp_results)
    assert all(r["queue_ptr"].item() == N_LOCAL * WORLD for r in ddp_results)
    # same gathered keys on every rank
    assert torch.equal(ddp_results[0]["queue_keys"], ddp_results[1]["queue_keys"])
