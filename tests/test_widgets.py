"""Headless tests of the workbench widgets (ssl_workbench.ui): set values, call the handlers, check figures
and data. No kernel or browser: the same Python callbacks the buttons call. One test launches a real tiny
pretraining subprocess."""
import html
import os, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest
import torch
from plotly.callbacks import Points

from ssl_workbench.core import RunDir, append_jsonl
from ssl_workbench.train.config import TrainConfig
from ssl_workbench.ui.explorers import embedding_explorer, retrieval_explorer, top_k
from ssl_workbench.ui.runs import (launch_config, launch_run, pretrain_command, progress_eta, read_curves,
                                   read_pid, run_status, stderr_tail, stop_run)
from ssl_workbench.ui.launcher import training_launcher


def tiny_config(limit=64, epochs=1) -> TrainConfig:
    cfg = TrainConfig()
    cfg.method.name, cfg.data.spec, cfg.model.backbone = "simclr", "digits", "small_convnet"
    cfg.data.limit, cfg.data.batch_size = limit, 32
    cfg.schedule.epochs, cfg.schedule.warmup_epochs = epochs, 0.0
    cfg.augment.image_size = 16
    cfg.run.tensorboard = False
    return cfg


def fake_run(root: Path, steps=5, total=10, final=None, stderr="") -> RunDir:
    run = RunDir(root).create()
    (run.root/"config.yaml").write_text("data: {spec: digits, batch_size: 16}\nmethod: {name: "
                                        "simclr}\nmodel: {backbone: small_convnet}\nschedule: {epochs: 2}\n")
    append_jsonl(run.metrics, dict(kind="event", event="started", step=0, total_steps=total))
    for s in range(1, steps + 1):
        append_jsonl(run.metrics,
                     dict(kind="step", step=s, epoch=s / 5, loss=10.0 - s, lr=0.01 * s, images_per_s=32.0,
                                       emb_std=0.1 * s, effective_rank=3.0))
    if final: append_jsonl(run.metrics, dict(kind="event", event=final, step=steps))
    if stderr: (run.root/"stderr.log").write_text(stderr)
    return run


def launcher(tmp_path, **kw):
    return training_launcher(tmp_path, poll_seconds=0, devices=["cpu"], **kw)


def test_invalid_config_shows_messages_not_traceback(tmp_path):
    calls = []
    tl = launcher(tmp_path, config=tiny_config(), launch=lambda *a: calls.append(a))
    tl.epochs.value, tl.batch_size.value, tl.method.value = 0, -4, "simclr"
    tl.extra.value = ""
    assert tl.start() is None and calls == []
    msg = tl.messages.value
    assert "swb-invalid" in msg and "schedule.epochs=0" in msg and "data.batch_size=-4" in msg
    tl.epochs.value, tl.batch_size.value = 1, 32
    tl.extra.value = "optim.lr=abc"                     # malformed override: a message, not an exception
    # shown as text, quotes escaped
    assert tl.validate() and "optim.lr='abc'" in html.unescape(tl.messages.value)
    tl.start_button.click()                             # the button path never raises either
    assert calls == [] and "optim.lr" in tl.messages.value
    tl.extra.value, tl.name.value = "optim.weight_decay=1e-4", "ok"
    assert tl.validate() == [] and tl.messages.value == ""
    tl.start()
    cfg, devices, resume = calls[-1]
    assert (cfg.optim.weight_decay == 1e-4 and cfg.run.out == str(tmp_path / "ok") and devices == ["cpu"]
            and not resume)


def test_fake_run_curves_progress_and_table(tmp_path):
    run = fake_run(tmp_path / "r1", steps=5, total=10, final="stopped")
    tl = launcher(tmp_path)
    assert "r1" in tl.run_picker.options and "stopped" in tl.runs_html.value
    tl.run_picker.value = "r1"
    tl.attach_button.click()
    loss, lr, ips = tl.figure.data[:3]
    assert (list(loss.x) == [1, 2, 3, 4, 5] and list(loss.y) == [9, 8, 7, 6, 5]
            and list(lr.y)[-1] == pytest.approx(0.05))
    assert {t.name for t in tl.figure.data[3:]} == {"emb_std", "effective_rank"}
    assert (tl.progress.value == 5 and tl.progress.max == 10 and "stopped" in tl.status.value
            and tl.error.value == "")
    assert "digits" in tl.details.value  # config shown in the details
    append_jsonl(run.metrics, dict(kind="step", step=6, loss=3.0, lr=0.06, images_per_s=32.0, emb_std=0.6))
    tl.refresh()  # what the poller calls: new points appear
    assert list(tl.figure.data[0].y)[-1] == 3.0 and tl.progress.value == 6


def test_crashed_run_shows_stderr_tail(tmp_path):
    fake_run(tmp_path / "bad", steps=2,
             stderr="loading\nTraceback (most recent call last):\nRuntimeError: CUDA exploded\n")
    (tmp_path / "bad" / "pid").write_text("999999999")
    tl = launcher(tmp_path)
    tl.attach(tmp_path / "bad")
    assert (
        "crashed" in tl.status.value and "swb-crash" in tl.error.value and "CUDA exploded" in tl.error.value
    )


def test_eta_and_status_helpers(tmp_path):
    run = fake_run(tmp_path / "r", steps=4, total=10)
    assert progress_eta(run.metrics, 16) == (4, 10, 3.0)  # 6 steps x 16 images / 32 images/s
    assert run_status(run) == "crashed"  # started, no process, no final event
    append_jsonl(run.metrics, dict(kind="event", event="finished", step=10))
    assert run_status(run) == "finished"
    assert run_status(RunDir(tmp_path / "empty").create()) == "new"


def test_launch_is_detached_and_stop_sends_sigterm(tmp_path):
    """launch_run's process survives in its own session; stop_run's SIGTERM reaches the handler (graceful
    stop)."""
    run = RunDir(tmp_path / "sleeper")
    script = ("import signal, sys, time, pathlib\np = pathlib.Path(sys.argv[1])/'metrics.jsonl'\n"
              'def stop(*a): p.open(\'a\').write(\'{"kind": "event", "event": "stopped", "step": '
              "1}\\n'); sys.exit(0)\n" "signal.signal(signal.SIGTERM, stop)\n"
              'p.open(\'a\').write(\'{"kind": "event", "event": "started", "step": 0, '
              '"total_steps": 5}\\n\')\n' "time.sleep(60)\n")

    def popen(argv, **kw):
        return subprocess.Popen([sys.executable, "-c", script, str(run.root)], **kw)

    cfg = tiny_config()
    cfg.run.out = str(run.root)
    proc = launch_run(cfg, ["cpu"], popen=popen)
    try:
        # its own session: a kernel restart does not signal it
        assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
        assert (read_pid(run) == proc.pid and (run.root / "command.txt").exists()
                and (run.root / "launch.yaml").exists())
        t0 = time.time()
        while "started" not in run.metrics.read_text() if run.metrics.exists() else True:
            assert time.time() - t0 < 20
            time.sleep(0.1)
        assert run_status(run) == "running"
        assert stop_run(run)
        assert proc.wait(timeout=20) == 0
        assert run_status(run) == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_torchrun_command_for_several_gpus(tmp_path):
    cfg = tiny_config()
    cfg.run.out = str(tmp_path / "ddp")
    argv, env = pretrain_command(launch_config(cfg, ["cuda:0", "cuda:1"]), ["cuda:0", "cuda:1"])
    assert (argv[1:3] == ["-m", "torch.distributed.run"] and "--nproc_per_node=2" in argv
            and env == {"CUDA_VISIBLE_DEVICES": "0,1"})
    assert launch_config(cfg, ["cuda:0", "cuda:1"]).run.device == "cuda"


def _wait(pred, timeout, step=0.5):
    t0 = time.time()
    while not pred():
        if time.time() - t0 > timeout:
            return False
        time.sleep(step)
    return True


def test_real_tiny_run_then_explore(tmp_path):
    "Start a real 2-step CPU run from the launcher, watch it finish, then embed and query its features."
    tl = launcher(tmp_path, config=tiny_config(limit=64, epochs=1))
    tl.name.value = "tiny"
    run_dir = tl.start()
    assert run_dir is not None, tl.messages.value
    finished = _wait(lambda: run_status(run_dir) != "running", timeout=90)
    tl.refresh()
    tl.refresh_runs()
    assert finished and run_status(run_dir) == "finished", stderr_tail(run_dir)
    assert len(tl.figure.data[0].x) == 2 and tl.progress.value == tl.progress.max == 2
    assert "finished" in tl.status.value and "tiny" in tl.runs_html.value

    ee = embedding_explorer(
        tmp_path, split="test", max_points=120, embed=lambda f: torch.as_tensor(f)[:, :2].numpy()
    )
    assert ee.run.options == ("tiny",)
    ee.run.value = "tiny"
    panels = ee.compute()
    assert (len(panels) == 1 and sum(len(t.x) for t in ee.figures[0].data) == 120
            and len(ee.figures[0].data) == 10)
    tr = ee.figures[0].data[0]
    ee._on_hover(tr, Points(point_inds=[0]), 0)
    assert ee.hover_image.value[:4] == b"\x89PNG"
    ee._on_select(tr, Points(point_inds=list(range(len(tr.x)))), 0, 0)
    assert len(ee.selected) == len(tr.x) and ee.gallery.value[:4] == b"\x89PNG"
    ee.color.value = "kNN correct"
    assert ee.figures[0].data[0].name.startswith("kNN right")

    rx = retrieval_explorer(ee, k=5)
    scores, idx = rx.query_index(3)
    assert (len(idx) == 5 and 3 not in idx.tolist() and (scores[:-1] >= scores[1:]).all()
            and len(rx.results.children) == 5)
    # the same image uploaded: its own features are the best match
    up_scores, _ = rx.query_image_array(ee.images[3])
    assert up_scores[0] == pytest.approx(1.0, abs=1e-4)
    bad = rx.find_failures()
    assert len(rx.failure_list.options) == len(bad)


@pytest.mark.slow
def test_real_run_stop_and_resume(tmp_path):
    "SIGTERM from Stop checkpoints the run; Resume continues it from that step (then it is stopped again)."
    # 1,600 steps: far longer than the test waits
    tl = launcher(tmp_path, config=tiny_config(limit=256, epochs=200))
    tl.name.value = "long"
    run = RunDir(tl.start())
    steps = lambda: read_curves(run.metrics)["step"]
    assert _wait(lambda: len(steps()) >= 2, timeout=120), stderr_tail(run)
    assert tl.stop()
    assert _wait(lambda: run_status(run) != "running", timeout=60)
    assert run_status(run) == "stopped" and run.last.exists(), stderr_tail(run)
    stopped_at = steps()[-1]
    assert tl.resume()
    assert _wait(lambda: steps() and steps()[-1] > stopped_at + 1, timeout=120), stderr_tail(run)
    assert any(e.get("event") == "resumed" for e in read_curves(run.metrics)["events"])
    assert tl.stop() and _wait(lambda: run_status(run) != "running", timeout=60)
    tl.refresh()
    assert run_status(run) == "stopped" and tl.progress.value == steps()[-1] and tl.progress.max == 1600


def test_top_k_matches_brute_force():
    """The retrieval explorer's query returns the exact cosine top-k, best first, and can skip the query
    itself."""
    g = torch.Generator().manual_seed(0)
    gallery = torch.nn.functional.normalize(torch.randn(5_000, 64, generator=g), dim=1)
    q = gallery[17] + 0.01 * torch.randn(64, generator=g)
    sims, idx = top_k(q, gallery, k=10)
    ref = (gallery @ torch.nn.functional.normalize(q, dim=0)).numpy()
    assert idx[0] == 17 and list(idx.numpy()) == list(np.argsort(-ref)[:10])
    assert np.allclose(sims.numpy(), np.sort(ref)[::-1][:10], atol=1e-5)
    assert 17 not in top_k(q, gallery, k=10, exclude=17)[1].tolist()
    with pytest.raises(ValueError, match="k=0"):
        top_k(q, gallery, k=0)
