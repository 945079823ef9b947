"""DDP with torchrun on the CPU (gloo): two processes match one process on the same global batch, and a rank that
dies makes the job exit with an error instead of hanging."""
import importlib.util, json, os, subprocess, sys, textwrap, time
from pathlib import Path

import pytest
import torch

SCRIPT = textwrap.dedent('''
    import os, sys, torch
    from ssl_workbench.train import ToyMethod, ToyRecipe, TrainConfig, apply_overrides, fit
    out, mode = sys.argv[1], sys.argv[2]
    cfg = apply_overrides(TrainConfig(), [f"out={out}", "device=cpu", "batch_size=16", "steps=3", "warmup_epochs=0",
                                          "optim.lr=2.0", "progress=false", "tensorboard=false", "weight_decay=1e-4"])
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
    fit(cfg, method, images, ToyRecipe(random=False))
''')

TOL = 1e-5  # absolute; float32 gradients summed in a different order (all-reduce) differ in the last bits


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))


def _torchrun(script, *args, nproc=2, timeout=240):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def _losses(run):
    return [json.loads(l)["loss"] for l in (run/"metrics.jsonl").read_text().splitlines() if '"kind": "step"' in l]


def test_two_processes_match_one(tmp_path):
    script = tmp_path/"train_toy.py"; script.write_text(SCRIPT)
    one = subprocess.run([sys.executable, str(script), str(tmp_path/"one"), "match"], capture_output=True, text=True,
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
    from ssl_workbench.train import ToyMethod
    torch.manual_seed(0); init = ToyMethod(batchnorm=False).state_dict()
    assert max((p1[k] - init[k]).abs().max().item() for k in init) > 1e-3  # the update being compared is not trivial
    assert p1.keys() == p2.keys() and not any(k.startswith(("module.", "_orig_mod.")) for k in p2)
    events = [json.loads(l) for l in (tmp_path/"two"/"metrics.jsonl").read_text().splitlines() if '"event"' in l]
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


@pytest.mark.skipif(importlib.util.find_spec("ssl_workbench.methods.registry") is None, reason="no method registry yet")
def test_torchrun_cli_pretrain(tmp_path):
    "The documented launch line: torchrun ... -m ssl_workbench.cli pretrain (SimCLR, 2 CPU processes, gloo)."
    out = tmp_path/"simclr"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ssl_workbench.cli",
           "pretrain", "--method", "simclr", "--data", "digits", "--backbone", "small_convnet", "--steps", "2",
           "--batch-size", "32", "--image-size", "16", "--out", str(out), "--device", "cpu", "--no-progress",
           "run.tensorboard=false", "schedule.warmup_epochs=0", "data.limit=64"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    records = [json.loads(l) for l in (out/"metrics.jsonl").read_text().splitlines()]
    assert records[0]["world_size"] == 2
    assert [r["step"] for r in records if r["kind"] == "step"] == [1, 2]
