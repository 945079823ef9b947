"""Benchmarks (bench_*.py, run by run_all.py) and what they share."""
import contextlib, os, tempfile
from unittest import mock


@contextlib.contextmanager
def empty_cache(prefix: str = "bench_cache_"):
    "An empty `SSL_WORKBENCH_CACHE` for the block (a first-time user's times), removed after."
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        with mock.patch.dict(os.environ, SSL_WORKBENCH_CACHE=tmp): yield tmp
