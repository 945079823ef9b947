"""The `ssl-workbench` command end to end, through subprocesses (as a user or torchrun runs it); help and
refusals, which stop before any work, run in this process (`run_cli`)."""
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


def test_help_lists_every_option_with_default(run_cli):
    code, out, err = run_cli("pretrain", "--help")
    assert code == 0, err
    for opt in ["--method", "--data", "--backbone", "--epochs", "--batch-size", "--out", "--seed",
                "--config", "--resume",
                "--max-steps", "--minutes", "--steps", "--lr", "--optimizer", "--device", "key=value"]:
        assert opt in out, opt
    assert out.count("(default:") >= 20
    code, out, _ = run_cli("--help")
    assert code == 0 and "pretrain" in out


def test_bad_values_rejected_before_data_loads(tmp_path, run_cli):
    out = tmp_path/"never"
    code, _, err = run_cli("pretrain", "--data", "imagefolder:/does/not/exist", "--batch-size", "-3",
                           "--backbone", "nope", "optim.lr=0", "schedule.warmup_epochs=500", "--out", out)
    assert code == 2
    assert "5 problem(s)" in err, err
    for text in ["data.spec", "data.batch_size=-3", "model.backbone='nope'", "optim.lr=0",
                 "warmup_epochs=500"]:
        assert text in err, text
    assert not out.exists()  # nothing written, nothing loaded
    assert run_cli("pretrain", "--method", "swav")[0] == 2
    code, _, err = run_cli("pretrain", "--resume", "--out", tmp_path/"missing")
    assert code == 2 and "nothing to resume" in err


def test_config_file_and_overrides(tmp_path, run_cli):
    cfg = tmp_path/"c.yaml"
    cfg.write_text("optim:\n  lr: 0.7\nschedule:\n  epochs: 5\n  warmup_epochs: 100\n")
    code, _, err = run_cli("pretrain", "--config", cfg, "--out", tmp_path/"x")
    assert code == 2 and "warmup_epochs=100" in err  # the file was read (and validated)
    cfg.write_text("optim:\n  learning_rate: 0.7\n")
    code, _, err = run_cli("pretrain", "--config", cfg, cwd=tmp_path)
    assert code == 2 and "optim.learning_rate" in err


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
