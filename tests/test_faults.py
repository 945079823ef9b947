"""The fault suite: what a run directory survives. Each case failed before the fix it checks.

- two processes on one run directory: the second is refused, the first's metrics stay one clean history;
- a reused pid: a finished run is not "running", and Stop does not signal the process that now has its
  number;
- hostile names (markup in run folders, data specs, eval JSON): shown as text in widgets and the report;
- a changed config on resume (CLI): refused with the list of differences, `config.yaml` untouched;
- a full disk while a checkpoint is written: the previous checkpoint survives, no temporary file is left,
  and the run resumes exactly once there is room;
- kill -9 at 5 random steps, each followed by a resume: the same metrics as an uninterrupted run.

Non-UTF-8 file names and huge photos are in `tests/test_data_faults.py`; a real-browser check of the
hostile names is in `tests/test_browser_workbench.py`; SIGTERM under torchrun is in `tests/test_ddp.py`."""
import errno, json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_workbench.core import RunDir, process_start_time, read_jsonl
from ssl_workbench.train.loop import ToyMethod, ToyRecipe, fit
from ssl_workbench.train.config import TrainConfig, apply_overrides
from ssl_workbench.train.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
IMAGES = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
TOL = 1e-6


def toy_config(out, *overrides):
    return apply_overrides(TrainConfig(),
                           [f"out={out}", "device=cpu", "batch_size=16", "epochs=3", "warmup_epochs=1",
                                           "progress=false", "tensorboard=false", *overrides])


def toy_method():
    torch.manual_seed(0)
    return ToyMethod(dropout=0.2)


def step_records(out):
    return [r for r in read_jsonl(RunDir(out).metrics) if r["kind"] == "step"]


def losses(out):
    return np.array([r["loss"] for r in step_records(out)])


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")/"run"
    fit(toy_config(out), toy_method(), IMAGES, ToyRecipe())
    return out


SCRIPT = textwrap.dedent('''
    import os, sys, time, torch
    sys.path.insert(0, {tests!r})
    from test_faults import IMAGES, toy_config, toy_method
    from ssl_workbench.train.loop import ToyRecipe, fit
    class SlowRecipe(ToyRecipe):  # slow enough to be killed (or joined) mid-run
        def __call__(self, x, generator=None):
            time.sleep({delay})
            while {hold!r} and os.path.exists({hold!r}): time.sleep(0.05)  # held while the file exists
            return super().__call__(x, generator)
    fit(toy_config(sys.argv[1], *sys.argv[2:]), toy_method(), IMAGES, SlowRecipe(), resume="auto")
''')


def start(tmp_path, out, *overrides, delay=0.15, hold: Path | None = None):
    """A toy run in a new process, `delay` seconds per batch; while the file `hold` exists, its next batch
    waits."""
    script = tmp_path/f"train_{delay}_{hold is not None}.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), delay=delay,
                                    hold=str(hold) if hold else None))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(script), str(out), *overrides], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_steps(out, n, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if len(step_records(out)) >= n: return
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.02)
    raise TimeoutError(f"fewer than {n} steps after {timeout} s")


def test_second_process_on_a_run_directory_is_refused(tmp_path, straight):
    out = tmp_path/"run"
    hold = tmp_path/"hold"
    first = start(tmp_path, out, delay=1.0, hold=hold)  # 12 steps of about a second
    wait_for_steps(out, 2, first)
    hold.touch()  # the first run waits, alive, however long the second takes to start on a busy machine
    try:
        second = start(tmp_path, out)
        _, err = second.communicate(timeout=120)
        assert first.poll() is None, "the first run ended before the second one was checked"
    finally:
        hold.unlink()  # never leave the first run waiting
    assert second.returncode != 0 and "in use by a live run" in err, err[-2000:]
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-2000:]
    assert [r["step"] for r in step_records(out)] == list(range(1, 13))  # one history: no 1, 2, 1, 2, ...
    assert np.abs(losses(out) - losses(straight)).max() < TOL


def test_reused_pid_is_not_the_run(tmp_path):
    from ssl_workbench.ui.runs import read_pid, run_status, stop_run
    run = RunDir(tmp_path/"finished").create()
    (run.metrics).write_text(json.dumps({"kind": "event", "event": "finished", "step": 3}) + "\n")
    stranger = subprocess.Popen(["sleep", "30"])  # has the number the run's process had
    try:
        (run.root/"pid").write_text(json.dumps({"pid": stranger.pid,
                                                 "start_time": process_start_time(stranger.pid) - 5}))
        assert read_pid(run.root) is None
        assert run_status(run.root) == "finished"
        assert stop_run(run.root) is False
        time.sleep(0.2)
        assert stranger.poll() is None  # no SIGTERM reached it
    finally:
        stranger.kill(); stranger.wait()


HOSTILE = '<img src=x onerror="document.title=1">'


def test_hostile_names_are_text(tmp_path):
    from ssl_workbench.eval.report import write_report
    from ssl_workbench.ui.runs import list_runs
    from ssl_workbench.ui.launcher import runs_table_html
    run = RunDir(tmp_path/HOSTILE).create()
    (run.eval_dir/"knn.json").write_text(json.dumps({"accuracy": 0.5, "protocol": HOSTILE,
                                                     "card": {"data": HOSTILE}}))
    (run.root/"config.yaml").write_text(f"data:\n  spec: '{HOSTILE}'\n")
    table = runs_table_html(list_runs(tmp_path))
    assert "<img" not in table and "&lt;img" in table
    page = write_report(run.root, {HOSTILE: json.loads((run.eval_dir/"knn.json").read_text())}, [])
    text = page.read_text()
    assert "<img src=x" not in text and "&lt;img src=x" in text


def test_resume_with_a_changed_config_is_refused_by_the_cli(tmp_path, run_cli):
    out = tmp_path/"cli"
    base = [sys.executable, "-m", "ssl_workbench.cli", "pretrain", "--method", "simclr", "--data", "digits",
            "--backbone", "small_convnet", "--steps", "4", "--batch-size", "32", "--image-size", "16",
            "--out",
            str(out), "--device", "cpu", "--no-progress", "run.tensorboard=false", "schedule.warmup_epochs=0",
            "data.limit=128"]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    r = subprocess.run(base + ["schedule.max_steps=2"], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    before = (out/"config.yaml").read_text()
    code, _, err = run_cli("pretrain", "--out", out, "--resume", "--batch-size", "64", "optim.lr=5",
                           "--no-progress")
    assert code != 0
    assert "data.batch_size: 32 -> 64" in err and "optim.lr: 0.3 -> 5.0" in err, err[-2000:]
    assert (out/"config.yaml").read_text() == before
    assert load_checkpoint(RunDir(out).last)["step"] == 2


def test_disk_full_during_a_checkpoint(tmp_path, straight, monkeypatch):
    out = tmp_path/"run"
    real_save, calls = torch.save, []
    def full_disk(obj, f, *a, **k):
        calls.append(1)
        if len(calls) == 2:  # the second checkpoint (end of epoch 2): half written, then the disk is full
            f.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **k)
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        fit(toy_config(out), toy_method(), IMAGES, ToyRecipe())
    monkeypatch.setattr(torch, "save", real_save)
    assert load_checkpoint(RunDir(out).last)["step"] == 4  # the previous checkpoint is intact
    # nothing left behind
    assert not [p for p in RunDir(out).checkpoints.iterdir() if p.name.endswith(".tmp")]
    fit(toy_config(out), ToyMethod(dropout=0.2), IMAGES, ToyRecipe(), resume=True)  # room again: resume
    assert np.abs(losses(out) - losses(straight)).max() < TOL and len(losses(out)) == 12


def test_kill_9_at_five_random_steps(tmp_path, straight):
    out = tmp_path/"run"
    kills = sorted(np.random.default_rng(0).choice(np.arange(2, 12), 5, replace=False).tolist())
    killed_at = []
    for target in kills:
        proc = start(tmp_path, out, "ckpt_every=1", delay=0.05)
        try: wait_for_steps(out, target, proc)
        except AssertionError: break  # it finished before the target (already past it): nothing to kill
        proc.send_signal(signal.SIGKILL); proc.wait(timeout=30)
        killed_at.append(max(r["step"] for r in step_records(out)))
    assert len(killed_at) == 5, killed_at
    proc = start(tmp_path, out, "ckpt_every=1", delay=0.0)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert [r["step"] for r in step_records(out)] == list(range(1, 13))
    assert np.abs(losses(out) - losses(straight)).max() < TOL
    a, b = load_checkpoint(RunDir(out).last)["model"], load_checkpoint(RunDir(straight).last)["model"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=TOL) for k in b)
    assert not list(RunDir(out).checkpoints.glob(".*.tmp"))


def test_docs_build_refuses_to_delete_a_foreign_out_folder(tmp_path):
    sys.path.insert(0, str(REPO/"tools"))
    import build_docs
    precious = tmp_path/"my_thesis"; precious.mkdir(); (precious/"chapter1.tex").write_text("years of work")
    r = subprocess.run([sys.executable, str(REPO/"tools"/"build_docs.py"), "--out", str(precious)],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 1 and "not a previous docs build" in r.stderr, r.stderr[-2000:]
    assert (precious/"chapter1.tex").read_text() == "years of work"
    build_docs.check_output_folder(tmp_path/"new")                      # missing: fine
    (tmp_path/"empty").mkdir(); build_docs.check_output_folder(tmp_path/"empty")
    # a folder a build wrote: may be replaced
    (precious/build_docs.SITE_MARKER).write_text("")
    build_docs.check_output_folder(precious)
