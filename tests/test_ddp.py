"""DDP with torchrun on the CPU (gloo): two processes match one process on the same global batch, a rank that
dies makes the job exit with an error instead of hanging, the gather with gradient gives the right
gradients on public collectives (no deprecation warning), SIGTERM to torchrun leaves a complete
checkpoint, and an online kNN too slow for the collective timeout is refused on every rank before
training."""
import importlib.util, json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path

import pytest
import torch

SCRIPT = textwrap.dedent('''
    import os, sys, torch
    from ssl_workbench.train.loop import ToyMethod, ToyRecipe, fit
    from ssl_workbench.train.config import TrainConfig, apply_overrides
    out, mode = sys.argv[1], sys.argv[2]
    cfg = apply_overrides(TrainConfig(), [f"out={out}", "device=cpu", "batch_size=16", "steps=3", "warmup_epochs=0",
                                          "optim.lr=2.0", "progress=false", "tensorboard=false", "weight_decay=1e-4",
                                          "amp=false"])  # float32: bf16 (native on some CPUs) would blur the 1e-5 match
    class SlowEval(torch.nn.Module):
        "A backbone that takes 3 s per batch in eval mode (the online kNN), as a big bank would."
        def __init__(self, net): super().__init__(); self.net = net
        def forward(self, x):
            if not self.training: __import__("time").sleep(3.0)
            return self.net(x)
    class Dying(ToyMethod):
        calls = 0
        def forward(self, views):
            self.calls += 1
            if os.environ.get("RANK") == "1" and self.calls == 2: os._exit(17)  # a rank that crashes mid-run
            return super().forward(views)
    torch.manual_seed(0)
    method = (Dying if mode == "die" else ToyMethod)(batchnorm=False)  # BN-free: torch's SyncBatchNorm is GPU-only
    images = torch.randint(0, 256, (32, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    if mode == "die": cfg.schedule.steps = 1000
    if mode == "long": cfg.schedule.steps = 100000
    labels = None
    if mode == "slowprobe":
        cfg = apply_overrides(cfg, ["knn_every=1", "knn_k=5", "run.dist_timeout_s=4"])
        method.backbone = SlowEval(method.backbone); labels = torch.arange(32) % 4
    fit(cfg, method, images if labels is None else (images, labels), ToyRecipe(random=False),
        eval_data=None if labels is None else (images[:16], labels[:16]))
''')  # noqa: E501 (a script run by torchrun, kept as written)

TOL = 1e-5  # absolute; float32 gradients summed in a different order (all-reduce) differ in the last bits


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))


def _torchrun(script, *args, nproc=2, timeout=240):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           str(script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def _losses(run):
    lines = (run/"metrics.jsonl").read_text().splitlines()
    return [json.loads(l)["loss"] for l in lines if '"kind": "step"' in l]


def test_two_processes_match_one(tmp_path):
    script = tmp_path/"train_toy.py"; script.write_text(SCRIPT)
    one = subprocess.run([sys.executable, str(script), str(tmp_path/"one"), "match"], capture_output=True,
                         text=True,
                         timeout=240, env=_env())
    assert one.returncode == 0, one.stderr[-3000:]
    two = _torchrun(script, str(tmp_path/"two"), "match")
    assert two.returncode == 0, two.stderr[-3000:]
    l1, l2 = _losses(tmp_path/"one"), _losses(tmp_path/"two")
    assert len(l1) == len(l2) == 3
    assert max(abs(a - b) for a, b in zip(l1, l2)) < TOL, (l1, l2)
    p1 = torch.load(tmp_path/"one"/"checkpoints"/"last.pt", weights_only=True)["model"]
    p2 = torch.load(tmp_path/"two"/"checkpoints"/"last.pt", weights_only=True)["model"]
    for k in p1:
        assert torch.allclose(p1[k], p2[k], atol=TOL, rtol=0), k
    from ssl_workbench.train.loop import ToyMethod
    torch.manual_seed(0); init = ToyMethod(batchnorm=False).state_dict()
    # the update being compared is not trivial
    assert max((p1[k] - init[k]).abs().max().item() for k in init) > 1e-3
    assert p1.keys() == p2.keys() and not any(k.startswith(("module.", "_orig_mod.")) for k in p2)
    lines = (tmp_path/"two"/"metrics.jsonl").read_text().splitlines()
    events = [json.loads(l) for l in lines if '"event"' in l]
    assert events[0]["world_size"] == 2


def test_dead_rank_does_not_hang(tmp_path):
    script = tmp_path/"train_toy.py"; script.write_text(SCRIPT)
    t0 = time.time()
    res = _torchrun(script, str(tmp_path/"die"), "die", timeout=180)
    elapsed = time.time() - t0
    assert res.returncode != 0
    assert elapsed < 120, f"took {elapsed:.0f} s"
    out = res.stdout + res.stderr
    assert "exitcode  : 17" in out or "exit code 17" in out or "ChildFailedError" in out, out[-3000:]


@pytest.mark.skipif(importlib.util.find_spec("ssl_workbench.methods.registry") is None,
                    reason="no method registry yet")
def test_torchrun_cli_pretrain(tmp_path):
    "The documented launch line: torchrun ... -m ssl_workbench.cli pretrain (SimCLR, 2 CPU processes, gloo)."
    out = tmp_path/"simclr"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
           "ssl_workbench.cli",
           "pretrain", "--method", "simclr", "--data", "digits", "--backbone", "small_convnet", "--steps",
           "2",
           "--batch-size", "32", "--image-size", "16", "--out", str(out), "--device", "cpu", "--no-progress",
           "run.tensorboard=false", "schedule.warmup_epochs=0", "data.limit=64"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    records = [json.loads(l) for l in (out/"metrics.jsonl").read_text().splitlines()]
    assert records[0]["world_size"] == 2
    assert [r["step"] for r in records if r["kind"] == "step"] == [1, 2]


GATHER = textwrap.dedent("""
    import json, os, torch, torch.distributed as dist
    from ssl_workbench.losses import gather_with_grad
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    x = torch.full((2, 3), float(rank + 1), requires_grad=True)
    w = torch.arange(2 * world * 3, dtype=torch.float32).view(2 * world, 3)
    g = gather_with_grad(x)
    (g * w).sum().backward()
    # every rank's loss uses every slice: the gradient reaching x is the sum over ranks of its slice of w
    expected = world * w[2 * rank:2 * rank + 2]
    row = {"rank": rank, "gathered": g.detach()[:, 0].tolist(), "ok": torch.equal(x.grad, expected)}
    # one file per rank: stdout lines can interleave
    with open(f"rank{rank}.json", "w") as f: json.dump(row, f)
    dist.destroy_process_group()
""")


def test_gather_with_grad_gradients_and_no_deprecation(tmp_path):
    script = tmp_path / "gather.py"
    script.write_text(GATHER)
    cmd = [sys.executable, "-W", "error::FutureWarning", "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node=2", str(script)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                         env=dict(_env(), PYTHONWARNINGS="error::FutureWarning"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["gathered"] for r in rows] == [[1.0, 1.0, 2.0, 2.0]] * 2
    assert all(r["ok"] for r in rows), rows
    assert "deprecated" not in res.stderr


def test_sigterm_to_torchrun_leaves_a_complete_checkpoint(tmp_path):
    """SIGTERM to torchrun (what SLURM or a job scheduler sends) -> every rank stops at the same step ->
    checkpoint."""
    script = tmp_path / "train_toy.py"
    script.write_text(SCRIPT)
    out = tmp_path / "long"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           str(out), "long"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    deadline = time.time() + 120
    while time.time() < deadline and _n_steps(out) < 5:
        time.sleep(0.2)
    assert _n_steps(out) >= 5, proc.stderr.read()[-3000:] if proc.poll() is not None else "no steps"
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    took = time.time() - t0
    assert took < 30, f"took {took:.1f} s: past torchrun's 30 s grace period"  # torchrun then sends SIGKILL
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    last_step = [r["step"] for r in records if r["kind"] == "step"][-1]
    assert records[-1]["event"] == "stopped" and records[-1]["reason"] == "SIGTERM", records[-1]
    ck = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert ck["step"] == last_step == records[-1]["step"]
    assert not list((out / "checkpoints").glob(".*.tmp"))


def test_slow_rank0_probe_is_refused_before_training(tmp_path):
    script = tmp_path / "train_toy.py"
    script.write_text(SCRIPT)
    res = _torchrun(script, str(tmp_path / "probe"), "slowprobe", timeout=180)
    assert res.returncode != 0
    assert res.stderr.count("online kNN takes about") >= 2, res.stderr[-3000:]  # both ranks, same message
    assert "run.dist_timeout_s=4" in res.stderr
    assert _n_steps(tmp_path / "probe") == 0


def _n_steps(run):
    m = run / "metrics.jsonl"
    return sum('"kind": "step"' in l for l in m.read_text().splitlines()) if m.exists() else 0
