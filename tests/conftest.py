from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT/".venv"/"bin"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """`ssl-workbench ARGV` in this process, for what needs no process of its own (help, refusals): no
    interpreter start-up (about 9 s here: torch alone takes 5). Returns (exit code, stdout, stderr); with
    `cwd`, it runs there, with its data cache under cwd/cache."""
    from ssl_workbench.cli import main

    def run(*argv, cwd=None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
            monkeypatch.setenv("SSL_WORKBENCH_CACHE", str(Path(cwd)/"cache"))
        capsys.readouterr()
        try: code = main([str(a) for a in argv])
        except SystemExit as e: code = e.code
        out, err = capsys.readouterr()
        return code or 0, out, err
    return run


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long tests, run with --runslow")
    config.addinivalue_line("markers", "browser: drives a real chromium")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


# `make test` runs the browser tests alone first, then the rest in two workers (pytest-xdist, `-n 2`). These
# self-contained tests (each in its own temporary folders, no fixed ports, no shared run directories) run one
# after another in one worker while every other test runs, in collection order, in the other; so the DDP
# tests, which start process groups, never overlap. (xdist's own `--dist loadgroup` cannot be used: it
# renames node ids, which pytest 9 no longer allows.)
# The side group is chosen so both workers take about as long (2026-12-02: about 14 minutes each).
SIDE_FILES = ("tests/test_quickstart_cli.py", "tests/test_export.py")
SIDE_NOTEBOOKS = ("tutorials/simclr_cifar10.ipynb", "tutorials/spare3d.ipynb", "63_try_config.ipynb")


def worker_group(nodeid: str) -> str:
    "The worker group of a test: 'side' for `SIDE_FILES` and `SIDE_NOTEBOOKS`, 'main' for the rest."
    side = nodeid.startswith(SIDE_FILES) or any(f"[{nb}]" in nodeid for nb in SIDE_NOTEBOOKS)
    return "side" if side else "main"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    "xdist's scope scheduler with two scopes, the groups of `worker_group`: one worker each."
    from xdist.scheduler import LoadScopeScheduling

    class TwoGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str: return worker_group(nodeid)
    return TwoGroups(config, log)


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"): return
    skip = pytest.mark.skip(reason="slow: pass --runslow to run")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)
