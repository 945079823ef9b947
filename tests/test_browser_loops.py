"""The three workbench loops of issue 20 in a real browser (JupyterLab + Debian's chromium via Playwright;
helpers in tests/browser.py), on a small notebook written here:
1. "Try this config" in the augmentation tuner completes on a tiny budget and the kNN difference appears;
2. the training-health panel under the launcher shows the collapse warning of a run made to collapse, and
   its embedding snapshots behind a slider;
3. the embedding explorer's Export button writes a folder that `ssl_workbench.load_backbone` loads.
   Screenshots: test-artifacts/loops_{try_config,health,export}.png."""
import json
from pathlib import Path

import pytest

from browser import assert_no_cell_errors, jupyter_lab, require_browser, run_all, screenshot, wait_idle

pytestmark = [pytest.mark.browser, require_browser()]

CELLS = [
    "import ipywidgets as widgets\nfrom pathlib import Path\nimport os\nfrom ssl_workbench.ui.health import "
    "attach_health, collapsing_run\nfrom ssl_workbench.ui.try_config import TINY_BUDGET, add_try_config\n"
    "from ssl_workbench.export import add_export_button\nfrom ssl_workbench.ui.tuner import augment_tuner\n"
    "from ssl_workbench.ui.explorers import embedding_explorer\nfrom ssl_workbench.ui.launcher import "
    "training_launcher\nruns = Path(os.environ['SSL_WORKBENCH_RUNS'])\ncollapsed = "
    "collapsing_run(runs/'collapse', steps=20, snapshot_every=1)",
    "tuner = augment_tuner(dataset='digits', n_images=3, n_views=3, zoom=2)\npanel = add_try_config(tuner, "
    "budget=TINY_BUDGET, poll_seconds=0.5)\ntuner.set_param('jitter_p', 0.0)\ntuner",
    "launcher = training_launcher(poll_seconds=0)\nhealth = attach_health(launcher)\n"
    "launcher.attach(collapsed.root)\nlauncher",
    "explorer = embedding_explorer(split='test', max_points=200)\nadd_export_button(explorer)\nexplorer",
]


def _notebook(path: Path) -> Path:
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                     "outputs": [],
                     "source": src} for i, src in enumerate(CELLS)],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_three_loops_in_the_browser(tmp_path):
    runs = tmp_path/"runs"; runs.mkdir()
    with jupyter_lab(_notebook(tmp_path/"loops.ipynb"), env={"SSL_WORKBENCH_RUNS": str(runs)}, timeout=120,
                     width=1500, height=1100) as lab:
        page = lab.page
        run_all(page)
        wait_idle(page, timeout=300)
        assert_no_cell_errors(page)

        # 1. try this config: tiny budget, the difference appears
        start = page.locator("button.swb-try-start, .swb-try-start button").first
        start.scroll_into_view_if_needed(); start.click()
        page.wait_for_selector(".swb-try-diff", timeout=300_000)
        text = page.locator(".swb-try-diff").first.inner_text()
        assert "Δ kNN" in text and "points" in text, text
        page.wait_for_selector(".swb-try-restore", timeout=30_000)
        page.locator(".swb-try-result").first.scroll_into_view_if_needed()
        screenshot(page, "loops_try_config")

        # 2. the health panel warns about the collapsing run; snapshots behind a slider
        page.wait_for_selector(".swb-health-complete_collapse", timeout=60_000)
        warning = page.locator(".swb-health-complete_collapse").first.inner_text()
        assert "Complete collapse" in warning and "causes" in warning.lower(), warning
        snap = page.locator("button.swb-snapshot-compute, .swb-snapshot-compute button").first
        snap.scroll_into_view_if_needed(); snap.click()
        page.wait_for_function("() => [...document.querySelectorAll('.swb-snapshot-status')].some(e => "
                               "/snapshots of/.test(e.textContent))",
                               timeout=300_000, polling=1000)
        page.locator(".swb-health").first.evaluate("e => e.scrollIntoView({block: 'start'})")
        screenshot(page, "loops_health")

        # 3. export from the explorer; the folder loads
        page.locator(".swb-embed-refresh").first.click()
        page.wait_for_function("() => [...document.querySelectorAll('.swb-embed-run option')].some(o => "
                               "o.textContent === 'collapse')",
                               timeout=30_000)
        page.locator(".swb-embed-run select").first.select_option(label="collapse")
        button = page.locator("button.swb-export, .swb-export button").first
        button.scroll_into_view_if_needed(); button.click()
        page.wait_for_selector(".swb-export-done", timeout=180_000)
        page.locator(".swb-export-status").first.scroll_into_view_if_needed()
        screenshot(page, "loops_export")
    import ssl_workbench, torch
    model, pre = ssl_workbench.load_backbone(runs/"exports"/"collapse-safetensors")
    assert isinstance(model, torch.nn.Module)
    assert model(pre(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))).shape == (2, 256)
