"""The run report (ssl_workbench.eval.report.write_report) in a real, offline chromium: the page loads from
file:// with every network request blocked, both plotly figures render, and hovering a UMAP point shows
that point's image beside the plot. Screenshot: test-artifacts/report_hover.png."""
import numpy as np
import pytest
import torch

from browser import browser_page, require_browser, screenshot

pytestmark = [pytest.mark.browser, require_browser()]

EMBEDDING_DIV = ("() => [...document.querySelectorAll('.js-plotly-plot')].find(g => g.data && "
                 "g.data[0].customdata)")
POINT_XY = f"""() => {{ const gd = ({EMBEDDING_DIV})(); gd.scrollIntoView(); const L = gd._fullLayout, r = gd.getBoundingClientRect();
  return [r.left + L._size.l + L.xaxis.c2p(gd.calcdata[0][0].x), r.top + L._size.t + L.yaxis.c2p(gd.calcdata[0][0].y)]; }}"""  # noqa: E501 (JavaScript or a script run in a subprocess, kept as written)


def _write_demo_report(tmp_path):
    from ssl_workbench.eval.report import write_report, retrieval_examples

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    feats = (rng.normal(size=(3, 8))[labels] * 3 + rng.normal(size=(60, 8))).astype(np.float32)
    emb = feats[:, :2].copy()  # any 2-D layout will do for the page
    images = torch.randint(
        0, 256, (60, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    results = {
        "knn": {"accuracy": 0.6,
                "baselines": {"random_init": {"accuracy": 0.4}, "raw_pixels": {"accuracy": 0.45}},
                "card": {"protocol": "knn", "dataset": "demo", "split": "test"}}
    }
    metrics = [{"step": s, "loss": 5.0 - s / 50} for s in range(50)]
    return write_report(tmp_path / "run", results, metrics, emb, labels, images,
                        retrieval_examples(feats, 3, 5), class_names=["a", "b", "c"])


def test_report_offline_hover(tmp_path):
    path = _write_demo_report(tmp_path)
    with browser_page() as page:
        remote = []
        page.route(
            "**/*",
            lambda route: (route.continue_() if route.request.url.startswith(("file:", "data:"))
                           else (remote.append(route.request.url), route.abort())),
        )
        page.goto(path.as_uri())
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=30_000
        )
        assert page.evaluate("() => document.getElementById('hover-image').style.visibility") != "visible"
        # move the real mouse onto the first point of the first class (Plotly.Fx.hover does not emit
        # plotly_hover)
        x, y = page.evaluate(POINT_XY)
        page.mouse.move(x, y)
        page.wait_for_function(
            "() => document.getElementById('hover-image').style.visibility === 'visible'", timeout=10_000
        )
        src = page.evaluate("() => document.getElementById('hover-image').src")
        expected = page.evaluate(f"() => ({EMBEDDING_DIV})().data[0].customdata[0][0]")
        assert src.startswith("data:image/png;base64,") and src == expected
        assert "a (#0)" in page.evaluate("() => document.getElementById('hover-caption').textContent")
        assert page.locator(".retrieval-row").count() == 3
        screenshot(page, "report_hover", full_page=True)
        assert remote == [], remote
        assert page.console_errors == [], page.console_errors
