"""The workbench notebook in a real browser: JupyterLab on a temporary copy of nbs/workbench.ipynb, driven by
Playwright and Debian's chromium (helpers in tests/browser.py). Run all cells; move an augmentation-tuner
slider and see the grid change; start a tiny CPU run in the launcher, see the loss curve grow, and stop it
(graceful checkpoint); compute the embedding explorer and see its points; hover a point and see its image;
query the retrieval explorer. Screenshots:
test-artifacts/workbench_{tuner,launcher,explorer,retrieval}.png."""

import pytest

from ssl_workbench.data import load_dataset

from browser import ROOT, assert_no_cell_errors, jupyter_lab, require_browser, run_all, screenshot, wait_idle

pytestmark = [pytest.mark.browser, require_browser()]

CURVES = """() => [...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && (g.layout.annotations || [])
  .some(a => (a.text || '').startsWith('collapse diagnostics')))"""  # noqa: E501 (JavaScript or a script run in a subprocess, kept as written)
LOSS_POINTS = f"() => {{ const g = ({CURVES})(); return g && g.data[0].x ? g.data[0].x.length : 0; }}"
EMBED_PLOT = """() => document.querySelector('.swb-embed-figure .js-plotly-plot')
  || [...document.querySelectorAll('.js-plotly-plot')].find(p => p.layout && p.layout.title && /points/.test(p.layout.title.text || ''))"""  # noqa: E501 (JavaScript or a script run in a subprocess, kept as written)
EMBED_POINTS = f"""() => {{ const g = ({EMBED_PLOT})();
  return g && g.data ? g.data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0) : 0; }}"""
GRID_SRC = ("() => { const i = document.querySelector('img.swb-tuner-grid, .swb-tuner-grid img'); return i ? "
            "i.src : null; }")


def test_workbench_end_to_end(tmp_path):
    runs = tmp_path / "runs"
    with jupyter_lab(ROOT / "nbs" / "workbench.ipynb", env={"SSL_WORKBENCH_RUNS": str(runs)}, timeout=120,
                     width=1500, height=1100) as lab:
        page = lab.page
        run_all(page)
        wait_idle(page, timeout=300)
        assert_no_cell_errors(page)

        # 1. the tuner: a slider moves, the grid of views is redrawn
        page.wait_for_function(GRID_SRC, timeout=60_000)
        before = page.evaluate(GRID_SRC)
        handle = page.locator(".swb-tuner-brightness .noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(10):
            page.keyboard.press("ArrowRight")
        try:
            page.wait_for_function(f"() => ({GRID_SRC})() !== {before!r}", timeout=20_000)
        except Exception:  # keyboard did not commit the value: type it into the slider's readout instead
            readout = page.locator(".swb-tuner-brightness .widget-readout").first
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("1.2")
            page.keyboard.press("Enter")
            page.wait_for_function(f"() => ({GRID_SRC})() !== {before!r}", timeout=20_000)
        page.locator(".swb-tuner-grid").first.scroll_into_view_if_needed()
        screenshot(page, "workbench_tuner")

        # 2. the launcher: Start a tiny CPU run with many epochs, see the loss curve grow, then Stop it
        # (graceful checkpoint)
        epochs = page.locator(".swb-epochs input").first
        epochs.scroll_into_view_if_needed()
        epochs.fill("200")
        epochs.press("Enter")
        page.wait_for_timeout(500)
        start = page.locator("button.swb-start, .swb-start button").first
        start.click()
        page.wait_for_function(f"() => ({LOSS_POINTS})() >= 1", timeout=180_000, polling=500)
        first = page.evaluate(LOSS_POINTS)
        page.wait_for_function(f"() => ({LOSS_POINTS})() > {first}", timeout=180_000, polling=500)
        n_points = page.evaluate(LOSS_POINTS)
        assert n_points > first >= 1, (first, n_points)
        assert not page.locator(".swb-invalid").count(), page.locator(".swb-messages").first.inner_text()
        page.locator("button.swb-stop, .swb-stop button").first.click()
        page.wait_for_function("() => [...document.querySelectorAll('.swb-run-status')].some(e => "
                               "['stopped', 'finished'].includes(e.textContent))", timeout=240_000,
                               polling=1000)
        page.locator(".swb-curves, .swb-progress").first.scroll_into_view_if_needed()
        screenshot(page, "workbench_launcher")
        run_dirs = [p for p in runs.iterdir() if p.is_dir()]
        assert len(run_dirs) == 1 and (run_dirs[0] / "checkpoints" / "last.pt").exists(), list(runs.iterdir())

        # 3. the embedding explorer: pick the run, Compute, points appear; hovering one shows its image
        page.locator(".swb-embed-refresh").first.click()
        page.wait_for_function("() => [...document.querySelectorAll('.swb-embed-run option')].some(o => "
                               f"o.textContent === {run_dirs[0].name!r})", timeout=30_000)
        page.locator(".swb-embed-run select").first.select_option(label=run_dirs[0].name)
        compute = page.locator("button.swb-embed-compute, .swb-embed-compute button").first
        compute.scroll_into_view_if_needed()
        compute.click()
        page.wait_for_function(f"() => ({EMBED_POINTS})() > 0", timeout=300_000, polling=1000)
        # max_points=1000 > the split
        assert page.evaluate(EMBED_POINTS) == len(load_dataset("digits", split="test"))
        assert page.evaluate("() => !!document.querySelector('.swb-embed-figure .js-plotly-plot')"), (
            "swb-embed-figure class missing"
        )
        point = page.locator(".swb-embed-figure .scatterlayer .point").first
        point.scroll_into_view_if_needed()
        point.hover(force=True)
        page.wait_for_function(
            "() => /#\\d+/.test((document.querySelector('.swb-hover-label') || {}).textContent || '')",
            timeout=30_000,
        )
        # a lasso drawn around the middle of the plot selects points: they appear in the gallery
        box = page.evaluate(f"""() => {{ const g = ({EMBED_PLOT})(); g.scrollIntoView();
            const r = g.querySelector('.nsewdrag').getBoundingClientRect(); return {{x: r.x, y: r.y, width: r.width, height: r.height}}; }}""")  # noqa: E501
        cx, cy, rx, ry = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.3,
                          box["height"] * 0.3)
        page.mouse.move(cx - rx, cy - ry)
        page.mouse.down()
        for x, y in ((cx + rx, cy - ry), (cx + rx, cy + ry), (cx - rx, cy + ry), (cx - rx, cy - ry + 2)):
            page.mouse.move(x, y, steps=8)
        page.mouse.up()
        try:
            page.wait_for_function("() => /\\d+ selected/.test((document.querySelector('.swb-gallery-label') "
                                   "|| {}).textContent || '')", timeout=30_000)
        except Exception as e:
            raise AssertionError("no gallery after the lasso; explorer status: "
                                 + page.locator(".swb-embed-status").first.inner_text() + " | gallery label: "
                                 + page.locator(".swb-gallery-label").first.inner_text()) from e
        screenshot(page, "workbench_explorer")

        # 4. retrieval: query image 0, the top-k neighbours appear with their scores
        search = page.locator("button.swb-search, .swb-search button").first
        search.scroll_into_view_if_needed()
        search.click()
        page.wait_for_function("() => document.querySelectorAll('.swb-result').length === 8", timeout=60_000)
        screenshot(page, "workbench_retrieval")
        assert_no_cell_errors(page)
