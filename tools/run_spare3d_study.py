"""Run the `spare3d` study on all of a machine's cores, and record its wall clock.

`ssl-workbench study run spare3d` runs one unit after another in one process. On a 2-core CPU two processes
of one torch thread each finish sooner, but two units must not generate the same data set at once: the arms
share the T2I, I2P and P2I questions of a seed, and `generate` writes one cache folder. So this runs in three
phases:

1. every data set the units read is generated once (`spare3d.study._task`, the units' own cache), the sets
   spread over `--jobs` processes, the costliest first (an OpenCascade drawing costs about 30 voxel ones);
2. the units (arm × seed) in `--jobs` processes, the costliest first, each through the study harness's
   `run_unit` (a finished unit is skipped, so an interrupted run resumes). Units rather than whole arms keep
   both cores busy to the end: with arms, one process ran the last arm's seeds one after another while the
   other sat idle;
3. the summary over all arms (`run_study` with every unit finished), with the wall clock of each phase added
   to it as `wall_clock`.

A run that is stopped and started again keeps its wall clock: every invocation appends its phase times to
`ROOT/spare3d/wall-clock-BUDGET.json` after each finished item (so a stopped one counts up to its last
finished item), and the summary's `wall_clock` is the sum over all of them, each listed under `invocations`.
Delete the run folder and the ledger goes with it.

    OMP_NUM_THREADS=1 python tools/run_spare3d_study.py --budget cpu --jobs 2 [--root runs/studies]
        [--out studies]
"""
from __future__ import annotations
import argparse, json, os, time
from functools import partial
from pathlib import Path
from multiprocessing import get_context

# data sets each unit reads: (task, split); `transfer` ones on the settings' `transfer_backend`
UNIT_DATA = {"contrastive": [("pair", ""), ("pair", "_test"), ("t2i", ""), ("t2i", "_test")],
             "pose": [("sr", ""), ("sr", "_test"), *[(t, s) for t in ("i2p", "p2i") for s in ("", "_test")]],
             "supervised": [(t, s) for t in ("t2i", "i2p", "p2i") for s in ("", "_test")],
             "simclr": [("pair", ""), ("t2i", ""), ("t2i", "_test")]}
TRANSFER_DATA = {"contrastive", "supervised"}
# relative cost of one item, for the order of the work: an OpenCascade T2I question renders ~5 objects
ITEM_COST = {"voxel": 1, "occ": 30}
ARM_COST = {"contrastive": 6, "pose": 5, "contrastive_occ": 2, "simclr": 1, "supervised": 1}


def data_sets(budget: str, n_seeds: int) -> list[tuple[float, str, str, dict, int]]:
    """(cost, task, split, settings, seed) of each data set the units read, once each, costliest first.
    A set that is the first items of a larger one of the same stream is left out: `cached_task` reads it from
    the larger set (the SimCLR arm's 1,000 pairs from the contrastive arm's 40,000)."""
    from ssl_workbench.spare3d.study import settings_of, spare3d_study, task_size
    study, largest = spare3d_study(), {}  # (task, split, size, backend, seed) -> its largest set
    for arm in study.arms:
        for seed in range(n_seeds):
            s = settings_of(study, arm, budget)
            unit = s.get("unit", arm.name)
            needs = [(t, sp, s) for t, sp in UNIT_DATA[unit]]
            if unit in TRANSFER_DATA and s.get("transfer_backend"):
                needs += [("t2i", sp, {**s, "backend": s["transfer_backend"]}) for sp in ("", "_test")]
            for task, split, settings in needs:
                n = task_size(task, settings, split)
                backend = settings.get("backend", "voxel")
                stream = (task, split, settings["size"], backend, seed)
                if n <= largest.get(stream, (0,))[0]: continue
                cost = n * ITEM_COST[backend] * (5 if task in ("t2i", "i2p", "p2i") else 2)
                largest[stream] = (n, cost, task, split, settings, seed)
    return sorted([d[1:] for d in largest.values()], key=lambda d: -d[0])


def _generate(item) -> str:
    from ssl_workbench.spare3d.study import _task
    _, task, split, settings, seed = item
    _task(task, settings, seed, split)
    return f"{task}{split} {settings.get('backend', 'voxel')} seed {seed}"


def units(budget: str, n_seeds: int) -> list[tuple[str, int]]:
    "(arm, seed) of every unit of the study, the costliest arms' first (longest-processing-time order)."
    from ssl_workbench.spare3d.study import spare3d_study
    study = spare3d_study()
    arms = sorted(study.arms, key=lambda arm: -ARM_COST.get(arm.name, 1))
    return [(arm.name, seed) for arm in arms for seed in range(arm.n_seeds(budget, n_seeds))]


def _run_unit(job) -> str:
    from ssl_workbench.studies import get_study, run_unit
    import ssl_workbench.study_defs  # noqa: F401  (registers the project's studies)
    arm, seed, budget, root, extra = job
    study = get_study("spare3d")
    run_unit(study, study.arm(arm), seed, budget, root, None, extra)
    return f"{arm} seed {seed}"


def _phase(jobs: int, fn, items, fresh: bool, tick=lambda seconds: None) -> float:
    """Seconds to run `fn` over `items` in `jobs` processes (`fresh`: a new process for every item); `tick`
    gets the seconds so far after each finished item."""
    start = time.time()
    with get_context("spawn").Pool(jobs, maxtasksperchild=1 if fresh else None) as pool:
        for done in pool.imap_unordered(fn, items):
            print(f"  {time.time() - start:7.0f} s  done: {done}", flush=True)
            tick(time.time() - start)
    return time.time() - start


class WallClockLedger:
    "This invocation's phase times beside the earlier invocations' of the same run, saved after every change."
    def __init__(self, path: Path, jobs: int, threads: int):
        self.path, self.start = Path(path), time.time()
        self.earlier = json.loads(self.path.read_text()) if self.path.exists() else []
        self.now = dict(started=time.strftime("%Y-%m-%d %H:%M:%S"), seconds=0.0, data_seconds=0.0,
                        units_seconds=0.0, jobs=jobs, threads_per_job=threads)

    def record(self, phase: str | None = None, seconds: float = 0.0):
        "Record `phase`'s seconds so far (if given) and the invocation's, and save the ledger."
        if phase: self.now[phase] = round(seconds, 1)
        self.now["seconds"] = round(time.time() - self.start, 1)
        from ssl_workbench.core import atomic_write_text
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(self.invocations, indent=1))

    def tick(self, phase: str):
        "A `_phase` tick: `record`s `phase`."
        return partial(self.record, phase)

    @property
    def invocations(self) -> list[dict]: return self.earlier + [self.now]

    def summary(self) -> dict:
        "The summary's `wall_clock`: totals over every invocation, and the invocations themselves."
        total = lambda key: round(sum(i[key] for i in self.invocations), 1)
        return dict(seconds=total("seconds"), data_seconds=total("data_seconds"),
                    units_seconds=total("units_seconds"), jobs=self.now["jobs"],
                    threads_per_job=self.now["threads_per_job"], invocations=self.invocations)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", default="cpu")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--root", default="runs/studies")
    p.add_argument("--out", default="studies")
    a = p.parse_args(argv)
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("note: OMP_NUM_THREADS is not 1: each process uses several torch threads", flush=True)
    import ssl_workbench.study_defs  # noqa: F401
    from ssl_workbench.core import atomic_write_text
    from ssl_workbench.spare3d.study import spare3d_study
    from ssl_workbench.studies import _prepare, run_study, summary_path
    study = spare3d_study()
    n_seeds = study.seeds[a.budget]
    ledger = WallClockLedger(Path(a.root)/"spare3d"/f"wall-clock-{a.budget}.json", a.jobs,
                             int(os.environ.get("OMP_NUM_THREADS", "0") or 0))
    print(f"phase 1: data sets ({a.jobs} processes)", flush=True)
    ledger.record("data_seconds", _phase(a.jobs, _generate, data_sets(a.budget, n_seeds), fresh=False,
                                         tick=ledger.tick("data_seconds")))
    print(f"phase 2: units ({a.jobs} processes)", flush=True)
    extra, _ = _prepare(study, a.budget, Path(a.root)/study.name, None)  # once, as run_study does
    jobs = [(arm, seed, a.budget, a.root, extra) for arm, seed in units(a.budget, n_seeds)]
    ledger.record("units_seconds",
                  _phase(a.jobs, _run_unit, jobs, fresh=True, tick=ledger.tick("units_seconds")))
    summary = run_study("spare3d", a.budget, n_seeds, None, a.root, a.out, progress=False)
    ledger.record()  # the invocation's seconds, the summary included
    summary["wall_clock"] = ledger.summary()
    path = summary_path("spare3d", a.budget, a.root, a.out)
    atomic_write_text(path, json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary["wall_clock"].items() if k != "invocations"}), flush=True)


if __name__ == "__main__":
    main()
