from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT/".venv"/"bin"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long tests, run with --runslow")
    config.addinivalue_line("markers", "browser: drives a real chromium")
    config.addinivalue_line("markers", "xdist_group(name): tests that run one after another in one worker")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


# `make test` runs pytest in two workers (pytest-xdist, `-n 2`). These self-contained tests (each in its
# own temporary folders, no fixed ports, no shared run directories) run one after another in one worker while
# every other test runs, in collection order, in the other; so the DDP tests, which start process groups,
# never overlap. (xdist's own `--dist loadgroup` cannot be used: it renames node ids, which pytest 9 no longer
# allows.)
SIDE_FILES = ("tests/test_browser_", "tests/test_evaluate_report_browser.py", "tests/test_quickstart_cli.py")
SIDE_NOTEBOOKS = ("tutorials/simclr_cifar10.ipynb", "tutorials/spare3d.ipynb")


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
