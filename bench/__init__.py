"""Benchmarks (bench_*.py, run by run_all.py) and what they share."""
import contextlib, os, tempfile
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
