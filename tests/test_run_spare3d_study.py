"tools/run_spare3d_study.py: the spare3d study over processes, and a wall clock that survives a restart."
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/"tools"))
from run_spare3d_study import WallClockLedger, data_sets, units  # noqa: E402


def test_ledger_adds_the_invocations_before_it(tmp_path):
    path = tmp_path/"spare3d"/"wall-clock-cpu.json"
    first = WallClockLedger(path, jobs=2, threads=1)
    first.tick("data_seconds")(100.0)
    first.tick("units_seconds")(40.0)  # then the process is killed: the ledger is already on disk
    assert json.loads(path.read_text())[0]["units_seconds"] == 40.0
    second = WallClockLedger(path, jobs=2, threads=1)
    second.tick("data_seconds")(5.0)
    second.tick("units_seconds")(20.0)
    wall = second.summary()
    assert len(wall["invocations"]) == 2
    assert wall["data_seconds"] == 105.0 and wall["units_seconds"] == 60.0
    assert wall["seconds"] == round(sum(i["seconds"] for i in wall["invocations"]), 1)
    assert json.loads(path.read_text()) == wall["invocations"]


def test_units_are_every_arm_and_seed_the_costliest_arms_first():
    got = units("cpu", 3)
    assert len(got) == 15 and len(set(got)) == 15  # 5 arms x 3 seeds, each once
    assert [arm for arm, _ in got[::3]] == ["contrastive", "pose", "contrastive_occ", "supervised", "simclr"]
    assert [seed for _, seed in got[:3]] == [0, 1, 2]


def test_a_set_that_is_the_first_items_of_a_larger_one_is_not_drawn_on_its_own():
    pairs = [(task, split, s.get("backend", "voxel"), seed, s["n_pairs"] if not split else s["n_test"])
             for _, task, split, s, seed in data_sets("cpu", 3) if task == "pair"]
    # SimCLR's 1,000 voxel pairs per seed are the first 1,000 of the contrastive arm's (more) pairs
    from ssl_workbench.spare3d.study import settings_of, spare3d_study
    study = spare3d_study()
    most = settings_of(study, study.arm("contrastive"), "cpu")["n_pairs"]
    assert most > settings_of(study, study.arm("simclr"), "cpu")["n_pairs"]
    assert sorted(p for p in pairs if p[:3] == ("pair", "", "voxel")) == [("pair", "", "voxel", seed, most)
                                                                         for seed in range(3)]
    assert len(pairs) == len(set(pairs)) == 12  # voxel and OpenCascade, train and test, 3 seeds


def test_ci_study_twice_resumes_and_keeps_both_invocations(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SSL_WORKBENCH_CACHE": str(tmp_path/"cache"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, str(ROOT/"tools"/"run_spare3d_study.py"), "--budget", "ci", "--jobs", "2",
           "--root", str(tmp_path/"runs"), "--out", str(tmp_path/"studies")]
    run = lambda: subprocess.run(cmd, check=True, env=env, cwd=tmp_path, capture_output=True, text=True,
                                 timeout=600)
    run()
    results = sorted((tmp_path/"runs"/"spare3d").glob("*/seed-*/study_result.json"))
    assert len(results) == 10  # 5 arms x 2 seeds
    written = {r: r.stat().st_mtime_ns for r in results}
    run()
    # the second invocation found every unit done: it trained nothing and rewrote no result
    assert {r: r.stat().st_mtime_ns for r in results} == written
    summary = json.loads((tmp_path/"runs"/"spare3d"/"summary-ci.json").read_text())
    assert set(summary["arms"]) == {"contrastive", "pose", "supervised", "simclr", "contrastive_occ"}
    assert all(a["seeds"] == [0, 1] for a in summary["arms"].values())
    wall = summary["wall_clock"]
    assert len(wall["invocations"]) == 2 and wall["jobs"] == 2 and wall["threads_per_job"] == 1
    assert wall["seconds"] == round(sum(i["seconds"] for i in wall["invocations"]), 1)
