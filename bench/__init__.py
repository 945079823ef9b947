"""Benchmarks (bench_*.py, run by run_all.py) and what they share."""
import argparse, contextlib, os, platform, tempfile
from unittest import mock


@contextlib.contextmanager
def empty_cache(prefix: str = "bench_cache_"):
    "An empty `SSL_WORKBENCH_CACHE` for the block (a first-time user's times), removed after."
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        with mock.patch.dict(os.environ, SSL_WORKBENCH_CACHE=tmp): yield tmp


def chosen(names: str, known, flag: str) -> list[str]:
    "The comma-separated `names` of a probe's `flag`, each checked against `known`."
    picked = names.split(",")
    unknown = [n for n in picked if n not in known]
    if unknown: raise SystemExit(f"{flag}: unknown {unknown}; choose from {list(known)}")
    return picked


def finished(out, section: str) -> set:
    "Names already stored under `section` of the probe results at `out` (a re-run skips them)."
    import json, pathlib
    out = pathlib.Path(out)
    return set(json.loads(out.read_text()).get(section, {})) if out.exists() else set()


def store_result(out, section: str, name: str, result: dict, **meta):
    """`result` stored as `section[name]` of the JSON at `out`, with `meta` at the top, atomically; the file
    is read again first, since another probe process may have written to it meanwhile."""
    import json, pathlib
    from ssl_workbench.core import atomic_write_text
    out = pathlib.Path(out)
    done = json.loads(out.read_text()) if out.exists() else {}
    done.setdefault(section, {})[name] = result
    done.update(meta)
    out.parent.mkdir(parents=True, exist_ok=True); atomic_write_text(out, json.dumps(done, indent=1))


def probe_args(doc: str, known, out, flag: str = "--variants", argv=None, add=None):
    """A probe script's command line: `flag` (comma-separated names of `known`, default all), `--out` (default
    `out`) and what `add(parser)` adds; returns the parsed args and the checked names."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument(flag, default=",".join(known))
    p.add_argument("--out", default=str(out))
    if add: add(p)
    a = p.parse_args(argv)
    return a, chosen(getattr(a, flag.lstrip("-")), known, flag)


def probe_machine(**extra) -> dict:
    """The machine fields a probe stores: processor, its model, whether it computes bf16 natively (then
    training runs bf16 autocast by default), cores, and `extra`."""
    from ssl_workbench.core import cpu_has_native_bf16, cpu_model
    return dict(processor=platform.processor() or platform.machine(), cpu_model=cpu_model(),
                native_bf16=cpu_has_native_bf16(), cpu_count=os.cpu_count(), **extra)


def training_curve(log: list[dict], keys: tuple, every: int = 100, window: int = 50) -> list[dict]:
    "Training-batch means of `keys` over the last `window` steps, every `every` steps of a training log."
    import numpy as np
    return [dict(step=i, **{k: round(float(np.mean([r[k] for r in log[max(0, i - window):i + 1]])), 4)
                            for k in keys}) for i in range(0, len(log), every)]


def _brief(name: str, result: dict) -> str:
    return f"{name} {({k: v for k, v in result.items() if k not in ('curve', 'settings')})}"


def run_probes(names, out, section: str, run, describe=_brief, **meta):
    """`run(name)` for each of `names` not yet stored under `section` of the JSON at `out`; each result is
    stored as soon as it is done (with `meta` at the top) and `describe(name, result)` printed."""
    for name in names:
        if name in finished(out, section): continue
        r = run(name)
        store_result(out, section, name, r, **meta)
        print(describe(name, r), flush=True)
