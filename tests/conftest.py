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


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"): return
    skip = pytest.mark.skip(reason="slow: pass --runslow to run")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)
