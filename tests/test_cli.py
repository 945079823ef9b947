"""The `ssl-workbench` command end to end, through subprocesses (as a user or torchrun runs it)."""
import importlib.util, json, os, subprocess, sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HAVE_REGISTRY = importlib.util.find_spec("ssl_workbench.methods.registry") is not None


def cli(*args, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "ssl_workbench.cli", *map(str, args)], capture_output=True,
                          text=True,
                          timeout=timeout, env=env, cwd=REPO)


def test_help_lists_every_option_with_default():
    res = cli("pretrain", "--help")
    assert res.returncode == 0, res.stderr
    for opt in ["--method", "--data", "--backbone", "--epochs", "--batch-size", "--out", "--seed",
                "--config", "--resume",
                "--max-steps", "--minutes", "--steps", "--lr", "--optimizer", "--device", "key=value"]:
        assert opt in res.stdout, opt
    assert res.stdout.count("(default:") >= 20
    top = cli("--help")
    assert top.returncode == 0 and "pretrain" in top.stdout


def test_bad_values_rejected_before_data_loads(tmp_path):
    out = tmp_path/"never"
    res = cli("pretrain", "--data", "imagefolder:/does/not/exist", "--batch-size", "-3", "--backbone", "nope",
              "optim.lr=0", "schedule.warmup_epochs=500", "--out", out, timeout=120)
    assert res.returncode == 2
    assert "5 problem(s)" in res.stderr, res.stderr
    for text in ["data.spec", "data.batch_size=-3", "model.backbone='nope'", "optim.lr=0",
                 "warmup_epochs=500"]:
        assert text in res.stderr, text
    assert not out.exists()  # nothing written, nothing loaded
    assert cli("pretrain", "--method", "swav", timeout=60).returncode == 2
    res = cli("pretrain", "--resume", "--out", tmp_path/"missing", timeout=120)
    assert res.returncode == 2 and "nothing to resume" in res.stderr


def test_config_file_and_overrides(tmp_path):
    cfg = tmp_path/"c.yaml"
    cfg.write_text("optim:\n  lr: 0.7\nschedule:\n  epochs: 5\n  warmup_epochs: 100\n")
    res = cli("pretrain", "--config", cfg, "--out", tmp_path/"x", timeout=120)
    assert res.returncode == 2 and "warmup_epochs=100" in res.stderr  # the file was read (and validated)
    cfg.write_text("optim:\n  learning_rate: 0.7\n")
    res = cli("pretrain", "--config", cfg, timeout=120)
    assert res.returncode == 2 and "optim.learning_rate" in res.stderr


TINY = ["--data", "digits", "--backbone", "small_convnet", "--steps", 2, "--batch-size", 32, "--image-size",
        16,
        "--device", "cpu", "--no-progress", "run.tensorboard=false", "schedule.warmup_epochs=0",
        "data.limit=64"]


def _steps(out):
    return [json.loads(l) for l in (out/"metrics.jsonl").read_text().splitlines() if '"kind": "step"' in l]


@pytest.fixture(scope="module")
def mocov2_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")/"mocov2"
    res = cli("pretrain", "--method", "mocov2", "--out", out, *TINY, "method.hparams.queue_size=64")
    assert res.returncode == 0, res.stderr[-3000:]
    return out


@pytest.mark.skipif(not HAVE_REGISTRY, reason="ssl_workbench.methods.registry not built yet")
@pytest.mark.parametrize("method", ["simclr", "mocov2", "clsa", "disco"])
def test_pretrain_every_method_on_cpu(tmp_path, method, mocov2_run):
    out = tmp_path/method
    extra = {"mocov2": ["method.hparams.queue_size=64"], "clsa": ["method.hparams.queue_size=64"],
             "disco": [f"method.hparams.teacher={mocov2_run/'checkpoints'/'last.pt'}",
                       "method.hparams.teacher_backbone=small_convnet",
                       "method.hparams.queue_size=64"]}.get(method, [])
    if method == "mocov2": out = mocov2_run
    else:
        res = cli("pretrain", "--method", method, "--out", out, *TINY, *extra)
        assert res.returncode == 0, res.stderr[-3000:]
    assert (out/"config.yaml").exists() and (out/"checkpoints"/"last.pt").exists() and (out/"eval").is_dir()
    steps = _steps(out)
    assert [r["step"] for r in steps] == [1, 2] and all(r["loss"] == r["loss"] for r in steps)
    if method == "simclr":  # --resume continues an extended schedule from last.pt with the run's own config
        res = cli("pretrain", "--out", out, "--resume", "--steps", 3)
        assert res.returncode == 0, res.stderr[-3000:]
        assert [r["step"] for r in _steps(out)] == [1, 2, 3]
