"""Execute every notebook in nbs/ (cells flagged slow, gpu or notest are skipped), one test per notebook, so
CI reports a pytest summary line and a failure names its notebook.

The notebooks run in this process, one after another, each in its own IPython shell (what `nbdev-test
--n-workers 0` does): starting a fresh interpreter per notebook cost more than the notebooks themselves on
the 2-core CI machine."""
import os, sys, warnings
from pathlib import Path

import pytest
import torch
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook  # not named test_*: pytest would collect it

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted(p for p in (ROOT/"nbs").rglob("*.ipynb")
             if not any(part.startswith(("_", ".")) for part in p.relative_to(ROOT/"nbs").parts))
SKIP_FLAGS = str(get_config(ROOT).tst_flags).split()


@pytest.fixture(autouse=True)
def isolated():
    """What one notebook changes in the process (environment, working folder, import path, threads) is
    undone after it."""
    env, cwd, path, threads = dict(os.environ), os.getcwd(), list(sys.path), torch.get_num_threads()
    yield
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.path[:] = path
    torch.set_num_threads(threads)


@pytest.mark.parametrize("nb", NBS, ids=[str(p.relative_to(ROOT/"nbs")) for p in NBS])
def test_notebook_runs(nb: Path, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok, _ = run_notebook(nb, skip_flags=SKIP_FLAGS, cell_timeout=900)
    out, err = capfd.readouterr()
    assert ok, f"{nb.name} failed:\n{out[-6000:]}\n{err[-6000:]}"
