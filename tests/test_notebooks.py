"""Execute every notebook in nbs/ with nbdev-test (cells flagged slow, gpu or notest are skipped), one test per
notebook, so CI reports a pytest summary line and a failure names its notebook."""
import os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted(p for p in (ROOT/"nbs").rglob("*.ipynb")
             if not any(part.startswith(("_", ".")) for part in p.relative_to(ROOT/"nbs").parts))


@pytest.mark.parametrize("nb", NBS, ids=[str(p.relative_to(ROOT/"nbs")) for p in NBS])
def test_notebook_runs(nb: Path):
    nbdev_test = Path(sys.executable).parent/"nbdev-test"
    r = subprocess.run([str(nbdev_test), str(nb), "--n-workers", "0"], cwd=ROOT, capture_output=True, text=True,
                       timeout=900, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert r.returncode == 0, f"{nb.name} failed:\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}"
