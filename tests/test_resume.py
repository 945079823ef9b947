"""Exact resume: a run stopped or killed at any step and resumed gives the same loss trajectory as an
uninterrupted run (CPU, tiny config, to 1e-6); SIGTERM writes a checkpoint and exits cleanly; a crafted
checkpoint is refused."""
import os, signal, subprocess, sys, textwrap, time
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_workbench.core import RunDir, read_jsonl
from ssl_workbench.train.checkpoint import CHECKPOINT_FORMAT, CheckpointError, load_checkpoint
from ssl_workbench.train.loop import ToyMethod, ToyRecipe, fit
from ssl_workbench.train.config import TrainConfig, apply_overrides

REPO = Path(__file__).resolve().parents[1]
TOL = 1e-6


def toy_config(out, *overrides):
    return apply_overrides(TrainConfig(),
                           [f"out={out}", "device=cpu", "batch_size=16", "epochs=3", "warmup_epochs=1",
                                           "progress=false", "tensorboard=false", "optim.name=lars",
                                           *overrides])


def toy_method():
    torch.manual_seed(0)
    # dropout: the forward pass draws from the global RNG, which resume must restore
    return ToyMethod(dropout=0.2)


IMAGES = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def losses(run_dir):
    return [r["loss"] for r in read_jsonl(RunDir(run_dir).metrics) if r["kind"] == "step"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")/"run"
    fit(toy_config(out), toy_method(), IMAGES, ToyRecipe())
    return out


# first step, an epoch end, mid-epoch, the step before the end
@pytest.mark.parametrize("stop_at", [1, 4, 7, 11])
def test_stop_and_resume_is_exact(tmp_path, straight, stop_at):
    out = tmp_path/"run"
    fit(toy_config(out, f"max_steps={stop_at}"), toy_method(), IMAGES, ToyRecipe())
    assert load_checkpoint(RunDir(out).last)["step"] == stop_at
    fit(toy_config(out), ToyMethod(dropout=0.2), IMAGES, ToyRecipe(), resume=True)
    a, b = np.array(losses(out)), np.array(losses(straight))
    assert len(a) == len(b) == 12
    assert np.abs(a - b).max() < TOL
    ck_a, ck_b = load_checkpoint(RunDir(out).last), load_checkpoint(RunDir(straight).last)
    for k in ck_b["model"]:
        assert torch.allclose(ck_a["model"][k].float(), ck_b["model"][k].float(), atol=TOL), k


SCRIPT = textwrap.dedent("""
    import sys, time, torch
    sys.path.insert(0, {tests!r})
    from test_resume import IMAGES, toy_config, toy_method
    from ssl_workbench.train.loop import ToyRecipe, fit
    class SlowRecipe(ToyRecipe):  # slow enough to be killed mid-run
        def __call__(self, x, generator=None): time.sleep(0.15); return super().__call__(x, generator)
    fit(toy_config(sys.argv[1], *sys.argv[3:]), toy_method(), IMAGES, SlowRecipe(),
        resume=sys.argv[2] == "resume")
""")


def _start(tmp_path, out, mode, *overrides):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(script), str(out), mode, *overrides], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_steps(out, n, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if len(losses(out)) >= n:
            return
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.05)
    raise TimeoutError(f"fewer than {n} steps after {timeout} s")


def test_kill_9_and_resume_is_exact(tmp_path, straight):
    "A SIGKILL (no chance to save) at an arbitrary step: resume from the last periodic checkpoint."
    out = tmp_path / "run"
    proc = _start(tmp_path, out, "fresh", "ckpt_every=3")
    _wait_for_steps(out, 5, proc)
    proc.kill()
    proc.wait(timeout=30)
    saved = load_checkpoint(RunDir(out).last)["step"]
    assert saved % 3 == 0 or saved % 4 == 0  # a periodic or an end-of-epoch checkpoint
    assert len(losses(out)) >= saved  # steps after the checkpoint were logged, and will be redone
    fit(toy_config(out), ToyMethod(dropout=0.2), IMAGES, ToyRecipe(), resume=True)
    a, b = np.array(losses(out)), np.array(losses(straight))
    assert len(a) == 12 and np.abs(a - b).max() < TOL


def test_sigterm_writes_checkpoint_and_exits_cleanly(tmp_path, straight):
    out = tmp_path / "run"
    proc = _start(tmp_path, out, "fresh")
    _wait_for_steps(out, 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    records = read_jsonl(RunDir(out).metrics)
    assert records[-1]["event"] == "stopped" and records[-1]["reason"] == "SIGTERM"
    step = load_checkpoint(RunDir(out).last)["step"]
    assert step == records[-1]["step"] == len(losses(out))
    fit(toy_config(out), ToyMethod(dropout=0.2), IMAGES, ToyRecipe(), resume=True)
    assert np.abs(np.array(losses(out)) - np.array(losses(straight))).max() < TOL


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_checkpoint_is_refused_and_payload_does_not_run(tmp_path):
    marker = tmp_path / "payload_ran"
    evil = tmp_path / "last.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": {"w": torch.zeros(1)}, "x": _Payload(marker)}, evil)
    with pytest.raises(CheckpointError, match="refusing to load .* could run code"):
        load_checkpoint(evil)
    assert not marker.exists()
    # the trainer's resume path refuses it too
    run = RunDir(tmp_path / "run").create()
    os.replace(evil, run.last)
    with pytest.raises(CheckpointError, match="refusing to load"):
        fit(toy_config(run.root), ToyMethod(), IMAGES, ToyRecipe(), resume=True)
    assert not marker.exists()
    # proof that the payload is live: an unsafe load would have run it
    torch.load(run.last, weights_only=False)
    assert marker.exists()


def test_nan_keeps_last_good_checkpoint(tmp_path):
    class Exploding(ToyMethod):
        calls = 0

        def forward(self, views):
            loss, logs = super().forward(views)
            self.calls += 1
            return (loss / 0 * 0 if self.calls == 6 else loss), logs

    out = tmp_path / "run"
    with pytest.raises(FloatingPointError, match=r"non-finite loss at step 6 \(lr="):
        fit(toy_config(out), Exploding(), IMAGES, ToyRecipe())
    ck = load_checkpoint(RunDir(out).last)
    assert ck["step"] == 4 and all(
        torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point()
    )
