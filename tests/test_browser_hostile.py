"""Hostile names in a real browser: a run folder, a data spec and a dataset name that carry markup reach the
embedding explorer, the launcher and the augmentation tuner in JupyterLab. ipywidgets sets `innerHTML`,
and the page has kernel access, so any unescaped name would run script there. Checks: the names show as
text, no element from them exists in the page, and the payload never ran. Screenshot:
test-artifacts/hostile_names.png."""

import nbformat
import pytest

from browser import assert_no_cell_errors, jupyter_lab, require_browser, run_all, screenshot, wait_idle

pytestmark = [pytest.mark.browser, require_browser()]

PAYLOAD = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'

SETUP = f'''
import numpy as np, torch
from pathlib import Path
from types import SimpleNamespace
from ssl_workbench.core import RunDir
from ssl_workbench.ui.explorers import embedding_explorer
from ssl_workbench.ui.launcher import training_launcher
from ssl_workbench.ui.tuner import augment_tuner
HOSTILE = {PAYLOAD!r}
runs = Path("hostile_runs"); run = RunDir(runs/HOSTILE).create(); run.last.write_bytes(b"x")
def toy(spec, split):
    rng = np.random.default_rng(0); labels = np.arange(60) % 3
    return SimpleNamespace(images=rng.integers(0, 255, (60, 8, 8, 3), dtype=np.uint8), labels=labels,
                           classes=[HOSTILE, "b", "c"], split="test")
net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 8))
'''

EXPLORER = '''
ee = embedding_explorer(runs, data_spec=HOSTILE, max_points=60, load_backbone=lambda r: net, load_data=toy,
                        embed=lambda f: torch.as_tensor(f)[:, :2].numpy())
ee.run.value = HOSTILE; ee.compute(); ee.show_image(0)
ee
'''

LAUNCHER = '''
tl = training_launcher(runs, poll_seconds=0); tl.attach(run.root)
tl
'''

TUNER = '''
tu = augment_tuner(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8))
tu.w_status.add_class("swb-tuner-status")
tu.set_dataset("imagefolder:/nowhere/" + HOSTILE)
tu
'''


def test_hostile_names_show_as_text(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (SETUP, EXPLORER, LAUNCHER, TUNER)]
    path = tmp_path/"hostile.ipynb"; nbformat.write(nb, path)
    with jupyter_lab(path, timeout=120, width=1400, height=1000) as lab:
        page = lab.page
        run_all(page)
        wait_idle(page, timeout=240)
        assert_no_cell_errors(page)
        page.wait_for_function("() => document.querySelector('.swb-embed-status') && "
                               "/images of/.test(document.querySelector('.swb-embed-status').textContent)",
                               timeout=60_000)
        page.wait_for_timeout(1000)  # give any injected onerror handler time to fire
        assert page.evaluate("() => window.__xss") is None, "a name ran script in the page"
        assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
        texts = page.evaluate("""() => ['.swb-embed-status', '.swb-status', '.swb-runs', '.swb-tuner-status',
                                         '.swb-hover-label']
            .map(s => [...document.querySelectorAll(s)].map(e => e.textContent).join(' '))""")
        shown = " ".join(texts)
        assert shown.count("<img src=x onerror=") >= 4, texts  # explorer, launcher, runs table, tuner error
        screenshot(page, "hostile_names")
