"""`ssl-workbench study` end to end at the `ci` budget (a path check: its numbers are never findings), and
the committed study summaries that the tutorials show."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def sh(*argv, cwd):
    return subprocess.run([str(BIN/"ssl-workbench"), *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=600,
                          env={**os.environ, "SSL_WORKBENCH_CACHE": str(Path(cwd)/"cache")})


def test_study_run_ci_then_show(tmp_path):
    r = sh("study", "run", "clsa_vs_mocov2", "--budget", "ci", "--root", "runs/studies", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "not findings" in r.stdout and "CLSA > MoCo v2" in r.stdout
    summary = json.loads((tmp_path/"runs/studies/clsa_vs_mocov2/summary-ci.json").read_text())
    assert summary["budget"] == "ci" and set(summary["arms"]) == {"mocov2", "clsa"}
    assert all(a["seeds"] == [0, 1] for a in summary["arms"].values())
    assert not (tmp_path/"studies").exists()  # a ci run never writes the committed summaries
    for arm in ("mocov2", "clsa"):  # each unit is an ordinary run with the method's own recipe
        cfg = (tmp_path/f"runs/studies/clsa_vs_mocov2/{arm}/seed-1/config.yaml").read_text()
        assert "name: sgd" in cfg and "lr: 0.03" in cfg
    shown = sh("study", "show", "clsa_vs_mocov2", "--budget", "ci", "--root", "runs/studies", cwd=tmp_path)
    assert shown.returncode == 0 and "| clsa | knn |" in shown.stdout


@pytest.mark.parametrize("argv, message", [
    (("run", "nope", "--budget", "ci"), "study='nope': unknown"),
    (("run", "clsa_vs_mocov2", "--budget", "ci", "--seeds", "1"), "seeds=1"),
    (("run", "clsa_vs_mocov2", "--budget", "ci", "--arms", "simclr"), "arm='simclr'"),
    (("show", "clsa_vs_mocov2", "--budget", "gpu"), "no summary for study 'clsa_vs_mocov2' at budget 'gpu'"),
])
def test_study_bad_input(tmp_path, argv, message):
    r = sh("study", *argv, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_committed_summaries_are_valid():
    "Every committed summary is a cpu/gpu result of a registered study, with intervals wherever it compares."
    import ssl_workbench.study_defs  # noqa: F401  (registers the project's studies)
    from ssl_workbench.studies import get_study, load_summary
    files = sorted((ROOT/"studies").glob("*.json"))
    for f in files:
        name = f.name.split(".")[0]
        s = load_summary(name, path=f)
        assert s["budget"] in ("cpu", "gpu"), f
        study = get_study(name)
        for c in s["comparisons"]:
            assert len(c["seeds"]) >= 2 and c["difference"]["ci"] is not None, (f, c["name"])
            assert c["verdict"] in ("holds", "reversed", "cannot tell at this budget")
        assert {c.name or f"{c.a} > {c.b}" for c in study.comparisons} == {
            c["name"] for c in s["comparisons"]
        }
