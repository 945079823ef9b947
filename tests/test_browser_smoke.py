"""Smoke test of the real-browser harness (tests/browser.py): JupyterLab on a tiny temporary notebook with an
IntSlider and a plotly FigureWidget; run all cells, move the slider with the keyboard, and see the figure
change. Screenshots: test-artifacts/browser_smoke_{before,after}.png."""
import nbformat
import pytest

from browser import assert_no_cell_errors, jupyter_lab, require_browser, run_all, screenshot, wait_idle

pytestmark = [pytest.mark.browser, require_browser()]

SETUP = "import ipywidgets as widgets\nimport plotly.graph_objects as go"
WIDGET = '''x = list(range(20))
fig = go.FigureWidget(go.Scatter(x=x, y=[1 * v for v in x]), layout=dict(title="slope = 1", height=320))
slider = widgets.IntSlider(value=1, min=1, max=10, description="slope")
status = widgets.Label("slope=1")
def on_change(change):
    with fig.batch_update():
        fig.data[0].y = [change["new"] * v for v in x]
        fig.layout.title.text = f"slope = {change['new']}"
    status.value = f"slope={change['new']} y_last={fig.data[0].y[-1]}"
slider.observe(on_change, names="value")
widgets.VBox([slider, status, fig])'''

FIG_STATE = """() => { const g = document.querySelector('.js-plotly-plot');
  return g && g.data ? {y_last: g.data[0].y.at(-1), title: g.layout.title.text} : null; }"""


def test_slider_moves_figurewidget(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(WIDGET)])
    path = tmp_path/"smoke.ipynb"
    nbformat.write(nb, path)
    with jupyter_lab(path) as (page, base_url):
        assert base_url.startswith("http://127.0.0.1:")
        run_all(page)
        wait_idle(page, timeout=90)
        assert_no_cell_errors(page)
        page.wait_for_selector(".widget-slider .noUi-handle")
        page.wait_for_selector(".js-plotly-plot .main-svg")
        page.wait_for_function(FIG_STATE)
        before = page.evaluate(FIG_STATE)
        assert before == {"y_last": 19, "title": "slope = 1"}, before
        screenshot(page, "browser_smoke_before")
        page.locator(".widget-slider .noUi-handle").first.focus()
        for _ in range(4): page.keyboard.press("ArrowRight")
        page.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot'); return "
                               "g.data[0].y.at(-1) === 95; }",
                               timeout=20_000)
        after = page.evaluate(FIG_STATE)
        assert after == {"y_last": 95, "title": "slope = 5"}, after
        assert page.locator(".widget-label", has_text="y_last=").inner_text() == "slope=5 y_last=95"
        shot = screenshot(page, "browser_smoke_after")
        assert shot.stat().st_size > 10_000
        errors = [e for e in page.console_errors if "favicon" not in e]
        assert not errors, errors
