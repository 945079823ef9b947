"""The docs build (`make docs` = tools/build_docs.py), built into a temporary copy of the project so the
working tree stays clean (only nbdev's git-ignored _proc/ cache is written back, to keep later builds
fast). The copy gets one extra tutorial-like notebook with three plotly figures in the three forms
notebooks store them (JupyterLab's JSON bundle, HTML with plotly.js inlined, HTML loading plotly.js from
the CDN), a live widget, and links to other notebooks. Checks: no broken internal links, no page over 5
MB, plotly.js at most once per page, the index and a tutorial open in headless chromium (screenshots:
test-artifacts/docs_*.png), and a notebook that fails to process names itself."""
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from browser import browser_page, require_browser, screenshot

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/"tools"))
import build_docs  # noqa: E402

DEMO = "tutorials/99_docs_check.ipynb"  # only in the temporary copy
N_FIGURES = 3


def demo_notebook() -> nbformat.NotebookNode:
    import plotly.graph_objects as go
    import plotly.io as pio
    figs = [go.Figure(go.Bar(x=[1, 2, 3], y=[3, 1, 2]), layout=dict(title="json bundle")),
            go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 4, 9]), layout=dict(title="inlined plotly.js")),
            go.Figure(go.Scatter(x=[1, 2, 3], y=[9, 4, 1]), layout=dict(title="cdn plotly.js"))]
    bundles = [{"application/vnd.plotly.v1+json": json.loads(pio.to_json(figs[0])), "text/plain": ["Figure"]},
               {"text/html": pio.to_html(figs[1], include_plotlyjs=True, full_html=False)},
               {"text/html": pio.to_html(figs[2], include_plotlyjs="cdn", full_html=False)}]
    v4 = nbformat.v4
    cells = [v4.new_markdown_cell("# Docs check\n> Plotly figures and cross-links, for tests/test_docs.py"),
             v4.new_markdown_cell("See [core](../00_core.ipynb), [core as html](../00_core.html#devices) and "
                                  "[home](../index.ipynb)."),
             v4.new_code_cell("import plotly.graph_objects as go")]
    for i, b in enumerate(bundles):
        cells.append(v4.new_code_cell(f"fig{i}", outputs=[v4.new_output("display_data", data=b)]))
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                           "version_minor": 0},
              "text/plain": ["VBox(children=(IntSlider(value=1), FigureWidget({'data': [...]})))"]}
    cells.append(v4.new_code_cell("widgets.VBox([slider, fig])",
                                  outputs=[v4.new_output("display_data", data=widget)]))
    return v4.new_notebook(cells=cells,
                           metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                    "language": "python"}})


def copy_project(dest: Path, with_cache: bool = True) -> Path:
    "A copy of what the docs build reads (mtimes kept, so a warm _proc cache stays valid)."
    for name in ["pyproject.toml", "README.md", "nbs", "ssl_workbench",
                 "tools"] + (["_proc"] if with_cache else []):
        src = ROOT/name
        if src.is_dir():
            shutil.copytree(src, dest/name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        elif src.is_file(): shutil.copy2(src, dest/name)
    return dest


def run_build(project: Path, *args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tools/build_docs.py", *args], cwd=project, capture_output=True,
                          text=True,
                          timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("docs_project"))
    (project/"nbs"/DEMO).parent.mkdir(exist_ok=True)
    nbformat.write(demo_notebook(), project/"nbs"/DEMO)
    r = run_build(project, "--no-strict")
    assert r.returncode == 0, f"docs build failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    out = project/"docs"
    assert (out/"index.html").is_file(), r.stdout + r.stderr
    # keep nbdev's processed-notebook cache (git-ignored _proc/) warm for the next run and for `make docs`
    shutil.rmtree(project/"_proc"/DEMO, ignore_errors=True)
    with contextlib.suppress(OSError): shutil.copytree(project/"_proc", ROOT/"_proc", dirs_exist_ok=True)
    return out


def test_no_broken_links_big_pages_or_repeated_plotly(site):
    problems = build_docs.check_site(site)
    assert not problems, "\n".join(problems)


def test_checker_finds_problems(tmp_path):
    (tmp_path / "index.html").write_text(
        '<html><head><script src="x.js"></script></head><body><a href="gone.html">x</a>'
        '<a href="https://example.org/">ext</a><a href="#top">top</a></body></html>'
    )
    (tmp_path / "big.html").write_text('<a href="index.html">i</a>' + "x" * (build_docs.MAX_PAGE_BYTES + 1))
    problems = build_docs.check_site(tmp_path)
    assert any("gone.html (broken)" in p for p in problems) and any("x.js (broken)" in p for p in problems)
    assert any(p.startswith("big.html:") and "> 5 MB" in p for p in problems)
    assert len(problems) == 3, problems


def test_links_to_the_hosted_site_become_relative(tmp_path):
    url = "https://ssl-workbench.github.io/ssl_workbench"
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        f'<head></head><a href="{url}/core.html#get_device">c</a><a href="{url}">home</a>'
    )
    (tmp_path / "sub" / "t.html").write_text(
        f'<head></head><a href="{url}/core.html">c</a><a href="https://example.org/x">x</a>'
    )
    build_docs.postprocess_site(tmp_path, url)
    assert '<a href="core.html#get_device">' in (tmp_path / "index.html").read_text()
    assert '<a href="./index.html">' in (tmp_path / "index.html").read_text()
    t = (tmp_path / "sub" / "t.html").read_text()
    assert '<a href="../core.html">' in t and "https://example.org/x" in t
    assert not (tmp_path / "site_libs").exists()  # no plotly figure, no plotly.js


def test_postprocess_adds_plotly_once_and_keeps_other_scripts(tmp_path):
    mathjax = '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml-full.js"></script>'
    figure = '<div class="plotly-graph-div" id="a"></div><script>Plotly.newPlot("a", [], {})</script>'
    cdn = '<script src="https://cdn.plot.ly/plotly-3.0.1.min.js"></script>'
    (tmp_path / "index.html").write_text(
        f"<html><head>{mathjax}</head><body>{cdn}{figure}{cdn}{figure}</body></html>"
    )
    build_docs.postprocess_site(tmp_path)
    build_docs.postprocess_site(tmp_path)  # idempotent
    text = (tmp_path / "index.html").read_text()
    assert mathjax in text and "cdn.plot.ly" not in text and build_docs.plotly_loads(text) == 1
    assert (tmp_path / build_docs.PLOTLY_JS).is_file() and not build_docs.check_site(tmp_path)


def test_pages_keep_nbdev_names(site):
    """Pages are named as nbdev/Quarto name them (output-file: 00_core.ipynb -> core.html), also in the
    sidebar."""
    for nb in (site.parent / "nbs").glob("*.ipynb"):  # the notebooks of the copy that was built
        html_name = build_docs_name(nb.name)
        assert (site / html_name).is_file(), (
            f"{nb.name} -> {html_name} missing; have {sorted(p.name for p in site.glob('*.html'))}"
        )
    assert not list(site.glob("[0-9][0-9]*_*.html")), "numeric prefixes left in page names"
    index = (site / "index.html").read_text()
    assert 'href="core.html"' in index


def build_docs_name(nb_name: str) -> str:
    from nbdev.config import nbpath2html

    return nbpath2html(Path(nb_name)).name


def test_plotly_loaded_once_from_site_libs(site):
    page = site / "tutorials" / "docs_check.html"
    text = page.read_text()
    assert text.count("Plotly.newPlot(") == N_FIGURES
    assert build_docs.plotly_loads(text) == 1
    assert '<script src="../site_libs/plotly/plotly.min.js"' in text
    assert "cdn.plot.ly" not in text and page.stat().st_size < 1_000_000
    assert (site / "site_libs" / "plotly" / "plotly.min.js").stat().st_size > 1_000_000
    assert "Interactive widget" in text and "VBox(children=" not in text  # a live widget's repr is replaced
    # cross-links to renamed notebooks were rewritten and resolve
    assert (
        'href="../core.html"' in text
        and 'href="../core.html#devices"' in text
        and 'href="../index.html"' in text
    )


def test_failing_notebook_names_itself(tmp_path):
    project = copy_project(tmp_path, with_cache=False)
    for nb in (project / "nbs").rglob("*.ipynb"):
        nb.unlink()
    v4 = nbformat.v4
    nbformat.write(
        v4.new_notebook(cells=[v4.new_markdown_cell("# Home\n> home")]), project / "nbs" / "index.ipynb"
    )
    # the docs build runs export and import cells (for show_doc); this one raises
    nbformat.write(
        v4.new_notebook(
            cells=[v4.new_markdown_cell("# Bad\n> fails"), v4.new_code_cell("#| default_exp bad"),
                   v4.new_code_cell("#| export\nimport json\nraise ValueError('boom in docs')")]
        ),
        project / "nbs" / "07_bad.ipynb",
    )
    r = run_build(project, timeout=300)
    assert r.returncode == 1
    assert "07_bad.ipynb" in r.stderr and "boom in docs" in r.stderr, r.stderr[-3000:]


# Not marked `browser`: it times nothing, so it runs in the two-worker pass and reuses the module's site
# (building the site again for the browser pass alone cost about 80 s).
@require_browser()
def test_pages_open_in_chromium(site):
    tutorials = sorted(p for p in (site / "tutorials").glob("*.html") if p.name != "docs_check.html")
    tutorial = tutorials[0] if tutorials else site / "tutorials" / "docs_check.html"
    with browser_page() as page:
        page.goto((site / "index.html").as_uri())
        page.wait_for_load_state("load")
        assert "ssl_workbench" in page.title() or "ssl_workbench" in page.inner_text("body")
        assert page.locator('a[href="core.html"]').count() >= 1  # the sidebar lists the API pages
        screenshot(page, "docs_index")
        page.goto(tutorial.as_uri())
        page.wait_for_load_state("load")
        screenshot(page, "docs_tutorial", full_page=False)
        page.goto((site / "tutorials" / "docs_check.html").as_uri())
        page.wait_for_function(
            f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {N_FIGURES}",
            timeout=30_000,
        )
        assert page.evaluate("() => typeof window.Plotly") == "object"
        page.locator(".js-plotly-plot").nth(1).scroll_into_view_if_needed()
        screenshot(page, "docs_plotly")
        errors = [e for e in page.console_errors if "net::ERR" not in e and "favicon" not in e]
        assert not errors, errors
