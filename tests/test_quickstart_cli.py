"""The main job and the run-level commands end to end, through the console script."""
import json, os, subprocess, sys
from pathlib import Path


BIN = Path(sys.executable).parent


def sh(*argv, cwd, env=None):
    return subprocess.run([str(BIN/"ssl-workbench"), *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=600,
                          env={**os.environ, "SSL_WORKBENCH_CACHE": str(Path(cwd)/"cache"), **(env or {})})


def refused(run_cli, argv, cwd) -> str:
    "The stderr of a refusal (exit code 2) of the CLI, run in this process."
    code, _, err = run_cli(*argv, cwd=cwd)
    assert code == 2, (code, err[-3000:])
    return err


def test_quickstart_eval_report(tmp_path, run_cli, monkeypatch):
    # --minutes is the whole job: a budget below the evaluation's reserve is refused before any work
    too_short = refused(run_cli, ("quickstart", "--minutes", "0.1"), tmp_path)
    assert "the job keeps 30 s for evaluation" in too_short
    # the drawings are generated here first (16 s idle, 30 s or more beside other tests), so that the job's
    # budget goes to what is tested: imports, pretraining, evaluation and the report
    from ssl_workbench.quickstart import drawings_data
    monkeypatch.setenv("SSL_WORKBENCH_CACHE", str(tmp_path/"cache"))
    drawings_data()
    r = sh("quickstart", "--minutes", "1.25", "--out", "runs/qs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "view_identification" in r.stdout and "report:" in r.stdout
    run = tmp_path/"runs"/"qs"
    res = json.loads((run/"eval"/"view_identification.json").read_text())
    assert (set(res["baselines"]) == {"random_init", "raw_pixels"}
            and res["card"]["protocol"] == "view_identification")
    html = (run / "report.html").read_text()
    # self-contained: plotly.js is inlined
    assert "view_identification" in html and "<script src=" not in html
    # the same run directory again is refused, not overwritten
    assert "already holds a run" in refused(run_cli, ("quickstart", "--minutes", "1.25", "--out", "runs/qs"),
                                            tmp_path)
    cfg = (run / "config.yaml").read_text()
    assert "minutes: 0." in cfg  # the trainer's budget: the share of the 1.25 minutes that pretraining got


def test_eval_and_report_commands(tmp_path, run_cli):
    r = sh("pretrain", "--method", "simclr", "--data", "digits", "--batch-size", "32", "--steps", "2",
           "--image-size", "16", "--out", "runs/d", "--no-progress", "data.size=16", "eval.knn_every=0",
           cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    e = sh("eval", "--run", "runs/d", "--protocol", "knn", "--limit-train", "300", "--limit-test", "100",
           cwd=tmp_path)
    assert e.returncode == 0, e.stderr[-3000:]
    out = json.loads(e.stdout)
    assert (
        0 <= out["accuracy"] <= 1 and "random_init" in out["baselines"] and out["card"]["method"] == "simclr"
    )
    assert (tmp_path / "runs" / "d" / "eval" / "knn.json").exists()
    # refusals need no trained features: checked in this process
    no = lambda *argv: refused(run_cli, argv, tmp_path)
    assert "label_fraction=0" in no("eval", "--run", "runs/d", "--protocol", "finetune",
                                    "--label-fraction", "0")
    assert "--optimizer: only the finetune protocol" in no("eval", "--run", "runs/d", "--protocol", "knn",
                                                           "--optimizer", "adamw")
    assert "layer_decay=0.75: needs a ViT backbone" in no("eval", "--run", "runs/d", "--protocol", "finetune",
                                                          "--layer-decay", "0.75", "--limit-train", "300",
                                                          "--limit-test", "100")
    assert "no such run directory" in no("eval", "--run", "runs/none")
    assert "backbone='resnet9': unknown" in no("quickstart", "--backbone", "resnet9", "--out", "runs/x")
    adamw = sh("eval", "--run", "runs/d", "--protocol", "finetune", "--optimizer", "adamw", "--limit-train",
               "300", "--limit-test", "100", cwd=tmp_path)
    assert adamw.returncode == 0, adamw.stderr[-3000:]
    card = json.loads(adamw.stdout)["card"]["eval"]  # the values used are on the card, not the defaults' None
    assert (card["optimizer"], card["weight_decay"], card["layer_decay"]) == ("adamw", 0.05, None)
    rep = sh("report", "--run", "runs/d", "--max-points", "100", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr[-3000:]
    assert Path(rep.stdout.strip()).name == "report.html"


def test_spare3d_generate_command(tmp_path):
    r = sh("spare3d", "generate", "--task", "t2i", "--n", "3", "--out", "t2i", "--size", "64", "--workers",
           "0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])["n_written"] == 3
    bad = sh("spare3d", "generate", "--task", "t2i", "--n", "0", "--out", "x", cwd=tmp_path)
    assert bad.returncode == 2 and "n=0" in bad.stderr
