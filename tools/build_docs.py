"""Build the documentation site into `doc_path` (docs/) from the notebooks in nbs/.

Usage: `.venv/bin/python tools/build_docs.py [--out DIR] [--no-strict] [--force]`  (what `make docs` runs)

Route:
1. nbdev's own notebook processing (`refresh_quarto_yml`, `_build_modidx`, `nbdev_sidebar`, `proc_nbs` ->
   `_proc/`), with one extra processor (`docs_outputs`): plotly outputs become figure-only HTML (no
   inlined plotly.js, no CDN scripts), live widgets (which have no state in a static page) a one-line note
   instead of their text repr.
2. Where Quarto is installed: nbdev's official `nbdev_docs` (Quarto renders `_proc/`, the site moves to
   doc_path). Offline (no Quarto, the usual case here): `smalldocs render` on a staged copy of `_proc/`
   whose notebooks are renamed to the `output-file` that nbdev gives them (`00_core.ipynb` ->
   `core.ipynb`), so both routes write the same page names (`core.html`) and nbdev's cross-links
   (`core.html#get_device`) resolve.
3. Post-processing of every page: plotly.js is loaded once per page from `site_libs/plotly/plotly.min.js`
   (copied from the installed plotly), links to the hosted docs (`site-url`) become relative, so the site
   works offline.
4. Checks: no broken internal link (a/link/script/img/iframe/source), no page over 5 MB, plotly.js at most
   once per page. Problems are printed; with the default `--strict` they make the build fail (exit 1).

A notebook that fails to process makes the build fail with the notebook's path.
"""
from __future__ import annotations

import argparse
import html.parser
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

MAX_PAGE_BYTES = 5 * 1024 * 1024
PLOTLY_JS = "site_libs/plotly/plotly.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
# smalldocs warnings that only say it ignores Quarto-only keys of nbdev's generated _quarto.yml/nbdev.yml
HARMLESS_WARNINGS = ("unknown key format-links", "format commonmark is not built", "keep-md is ignored",
                     "output-file is not read by smalldocs", "twitter-card", "open-graph")


TIMINGS: dict[str, float] = {}  # seconds spent processing each notebook in this build


class DocsError(RuntimeError):
    "The docs build failed; the message says where."


# ---------------------------------------------------------------- notebook processing (both routes)

def _is_plotly_library(script_body: str) -> bool:
    """Whether a <script> body is a whole inlined copy of plotly.js (nbdev/execnb or
    `include_plotlyjs=True` outputs)."""
    return len(script_body) > 100_000 and "plotly.js v" in script_body[:2000]


_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
_CDN_PLOTLY = re.compile(r"src=[\"'][^\"']*(cdn\.plot\.ly/|plotly[-.\w]*\.js)[^\"']*[\"']", re.I)
_CDN_MATHJAX = re.compile(r"src=[\"'][^\"']*mathjax[^\"']*[\"']", re.I)


def strip_plotly_library(html_text: str, mathjax: bool = False) -> str:
    """Remove inlined plotly.js copies and <script src> tags loading plotly.js (and, with `mathjax`,
    MathJax: plotly outputs)."""
    def repl(m):
        attrs, body = m.group(1), m.group(2)
        if _is_plotly_library(body): return ""
        if _CDN_PLOTLY.search(attrs) or (mathjax and _CDN_MATHJAX.search(attrs)): return ""
        return m.group(0)
    return _SCRIPT.sub(repl, html_text)


def plotly_figure_html(fig_json: dict) -> str:
    """Figure-only HTML for a plotly figure's JSON: a div and a `Plotly.newPlot` call; plotly.js is loaded
    by the page."""
    import plotly.io as pio
    return pio.to_html(fig_json, include_plotlyjs=False, include_mathjax=False, full_html=False,
                       config={"responsive": True}, validate=False)


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ('<div class="widget-placeholder"><em>Interactive widget: open this notebook in JupyterLab '
               '(<code>make lab</code>) to use it.</em></div>')


def docs_outputs(cell) -> None:
    """nbdev processor: plotly outputs -> figure-only HTML; outputs that only carry plotly.js are dropped;
    live widgets (no state in a static page) -> a short note instead of their long text repr."""
    outs = cell.get("outputs") if hasattr(cell, "get") else None
    if not outs: return
    keep = []
    for out in outs:
        data = out.get("data") or {}
        if WIDGET_MIME in data:
            out["data"] = {"text/html": WIDGET_NOTE}
        elif PLOTLY_MIME in data:
            data["text/html"] = plotly_figure_html(data[PLOTLY_MIME])
            del data[PLOTLY_MIME]  # smalldocs/Quarto show text/html; the JSON would only double the page size
        elif "text/html" in data:
            h = data["text/html"]
            h = "".join(h) if isinstance(h, list) else h
            if "plotly" in h:
                # plotly's outputs load MathJax from a CDN per figure
                h2 = strip_plotly_library(h, mathjax=True)
                if h2 != h and not re.sub(r"<script\b[^>]*>.*?</script\s*>|\s", "", h2, flags=re.S):
                    continue  # the output was only the plotly.js loader (plotly's notebook renderer init)
                data["text/html"] = h2
        keep.append(out)
    cell["outputs"] = keep


def _install_nbdev_hooks() -> None:
    "Add `docs_outputs` to nbdev's doc processors and make a failing notebook name itself. Needs n_workers=0."
    import nbdev.processors, nbdev.serve_drv
    fd = nbdev.processors.FilterDefaults
    if not getattr(fd, "_ssl_workbench_hooked", False):
        orig_xtra = fd.xtra_procs
        fd.xtra_procs = lambda self: [*orig_xtra(self), docs_outputs]
        fd._ssl_workbench_hooked = True
    drv = nbdev.serve_drv
    if not getattr(drv.main, "_ssl_workbench_hooked", False):
        orig_main = drv.main
        def main(o):
            t = time.time()
            try: return orig_main(o)
            except Exception as e:
                raise DocsError(f"docs: processing notebook {o[0]} failed:\n{type(e).__name__}: {e}") from e
            finally: TIMINGS[str(o[0])] = time.time() - t
        main._ssl_workbench_hooked = True
        drv.main = main


def process_notebooks(cfg, force: bool = False) -> Path:
    """nbdev's doc preprocessing (what `nbdev_docs` does before Quarto), serially and with our hooks -> the
    `_proc` cache."""
    import nbdev.doclinks
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.serve import proc_nbs
    _install_nbdev_hooks()
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nbdev_sidebar.__wrapped__()
    return proc_nbs(n_workers=0, force=force or cache_is_stale(cfg))


def cache_is_stale(cfg) -> bool:
    """nbdev's `_proc` cache is incremental by notebook mtime; a newer build script (other processing)
    invalidates it."""
    cache = cfg.config_path/"_proc"
    return cache.exists() and Path(__file__).stat().st_mtime > cache.stat().st_mtime


# ---------------------------------------------------------------- the offline route: staging + smalldocs

def _front_matter(nb: dict) -> dict:
    import yaml
    cells = nb.get("cells") or []
    if not cells or cells[0].get("cell_type") != "raw": return {}
    src = "".join(cells[0]["source"]) if isinstance(cells[0]["source"], list) else cells[0]["source"]
    m = re.match(r"\s*---\s*\n(.*?)\n---", src, re.S)
    try: return (yaml.safe_load(m.group(1)) or {}) if m else {}
    except yaml.YAMLError: return {}


def output_names(stage: Path) -> dict[str, str]:
    """Map each staged notebook (posix path relative to `stage`) to the source name that gives nbdev's
    output-file."""
    mapping, taken = {}, {}
    for nb_path in sorted(stage.rglob("*.ipynb")):
        rel = nb_path.relative_to(stage)
        if any(p.startswith(("_", ".")) for p in rel.parts[:-1]): continue
        out_file = _front_matter(json.loads(nb_path.read_text(encoding="utf-8"))).get("output-file")
        new = rel.with_name(Path(out_file).stem + ".ipynb") if out_file else rel
        if new.as_posix() in taken:
            raise DocsError(f"docs: {rel} and {taken[new.as_posix()]} would both be rendered as "
                            f"{new.with_suffix('.html')}")
        taken[new.as_posix()] = rel.as_posix()
        mapping[rel.as_posix()] = new.as_posix()
    return mapping


_MD_LINK = re.compile(r"(\]\(\s*<?|href=[\"'])([^)\"'#?\s>]+)")


def _relink(text: str, page_rel: str, mapping: dict[str, str], old_html: dict[str, str]) -> str:
    "Point links at renamed notebooks (`00_core.ipynb` or `00_core.html`) to their new source names."
    page_dir = posixpath.dirname(page_rel)
    new_dir = posixpath.dirname(mapping.get(page_rel, page_rel))
    def repl(m):
        target = m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("/"): return m.group(0)
        joined = posixpath.normpath(posixpath.join(page_dir, unquote(target)))
        if joined in mapping: new = mapping[joined]
        elif joined in old_html: new = old_html[joined]
        else: return m.group(0)
        return m.group(1) + posixpath.relpath(new, new_dir or ".")
    return _MD_LINK.sub(repl, text)


def stage_for_smalldocs(cache: Path, stage: Path) -> dict[str, str]:
    """Copy `_proc` to `stage`, rename notebooks to their output-file, and fix the sidebar and links.
    Returns the mapping."""
    import yaml
    shutil.copytree(cache, stage, ignore=shutil.ignore_patterns("docs", "_docs", "_site", ".quarto"))
    mapping = output_names(stage)
    old_html = {posixpath.splitext(k)[0] + ".html": v for k, v in mapping.items()}
    for old, new in mapping.items():
        p = stage/old
        nb = json.loads(p.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            if cell.get("cell_type") != "markdown": continue
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = _relink(src, old, mapping, old_html)
        p.unlink()
        (stage/new).write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    side = stage/"sidebar.yml"
    if side.exists():
        def walk(x):
            if isinstance(x, str): return mapping.get(x, x)
            if isinstance(x, list): return [walk(i) for i in x]
            if isinstance(x, dict): return {k: walk(v) for k, v in x.items()}
            return x
        side.write_text(yaml.safe_dump(walk(yaml.safe_load(side.read_text())), sort_keys=False))
    return mapping


def render_smalldocs(cache: Path, out_name: str) -> Path:
    "Render a staged copy of `_proc` with smalldocs; returns the rendered site folder (inside a temp dir)."
    stage = Path(tempfile.mkdtemp(prefix="ssl_workbench-docs-"))/"site"
    stage_for_smalldocs(cache, stage)
    smalldocs = shutil.which("smalldocs", path=str(Path(sys.executable).parent)) or shutil.which("smalldocs")
    cmd = [smalldocs, "render", "--quiet"] if smalldocs else [sys.executable, "-m", "smalldocs.cli",
                                                              "render", "--quiet"]
    r = subprocess.run(cmd, cwd=stage, capture_output=True, text=True)
    lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    for l in lines:
        if not any(h in l for h in HARMLESS_WARNINGS): print(f"smalldocs: {l}", file=sys.stderr)
    if r.returncode: raise DocsError(f"docs: smalldocs render failed (exit {r.returncode})")
    site = stage/out_name
    if not (site/"index.html").exists(): raise DocsError(f"docs: smalldocs wrote no {out_name}/index.html")
    return site


# ---------------------------------------------------------------- post-processing (both routes)

def postprocess_site(site: Path, site_url: str | None = None) -> None:
    "plotly.js once per page from site_libs; links to the hosted site made relative."
    site_url = (site_url or "").rstrip("/")
    plotly_src = None
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        orig = text
        rel_root = posixpath.relpath(".", posixpath.dirname(page.relative_to(site).as_posix()) or ".")
        prefix = "" if rel_root == "." else rel_root + "/"
        if "plotly" in text:
            text = strip_plotly_library(text)
            if ("Plotly.newPlot" in text or "plotly-graph-div" in text) and PLOTLY_JS not in text:
                tag = f'<script src="{prefix}{PLOTLY_JS}" charset="utf-8"></script>'
                text = re.sub(r"</head>", lambda m: tag + "\n</head>", text, count=1,
                              flags=re.I) if re.search(r"</head>", text, re.I) else tag + text
            if PLOTLY_JS in text: plotly_src = True
        if site_url:
            def rel(m):
                path = (m.group(2) or "").lstrip("/")
                return m.group(1) + (prefix + path if path else (prefix or "./") + "index.html")
            text = re.sub(r'((?:href|src)=["\'])' + re.escape(site_url) + r'(/[^"\'#?]*)?', rel, text)
        if text != orig: page.write_text(text, encoding="utf-8")
    if plotly_src:
        import plotly
        dest = site/PLOTLY_JS
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(plotly.__file__).parent/"package_data"/"plotly.min.js", dest)


# ---------------------------------------------------------------- checks

class _Links(html.parser.HTMLParser):
    ATTRS = {"a": "href", "link": "href", "script": "src", "img": "src", "iframe": "src", "source": "src"}
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()
    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        if d.get("id"): self.ids.add(d["id"])
        if tag == "a" and d.get("name"): self.ids.add(d["name"])
        a = self.ATTRS.get(tag)
        if a and d.get(a): self.links.append((tag, d[a]))


def page_links(page: Path) -> tuple[list[tuple[str, str]], set[str]]:
    "The (tag, url) links of a page, and its element ids."
    p = _Links()
    p.feed(page.read_text(encoding="utf-8", errors="replace"))
    return p.links, p.ids


def plotly_loads(text: str) -> int:
    "How many times a page loads plotly.js (script tags pointing at plotly*.js plus inlined copies)."
    n = 0
    for m in _SCRIPT.finditer(text):
        if _is_plotly_library(m.group(2)) or re.search(r"src=[\"'][^\"']*plotly[^\"'/]*\.js", m.group(1),
                                                       re.I):
            n += 1
    return n


def check_site(site: Path, check_fragments: bool = False) -> list[str]:
    "Every problem of a built site: broken internal links, pages over 5 MB, plotly.js loaded more than once."
    site = Path(site)
    problems, ids_cache = [], {}
    pages = sorted(site.rglob("*.html"))
    if not (site/"index.html").exists(): problems.append("index.html is missing")
    for page in pages:
        rel = page.relative_to(site).as_posix()
        size = page.stat().st_size
        if size > MAX_PAGE_BYTES: problems.append(f"{rel}: {size/2**20:.1f} MB > 5 MB")
        text = page.read_text(encoding="utf-8", errors="replace")
        if (n := plotly_loads(text)) > 1: problems.append(f"{rel}: plotly.js loaded {n} times")
        links, ids = page_links(page)
        ids_cache[page] = ids
        for tag, url in links:
            u = urlsplit(url)
            if u.scheme or u.netloc or url.startswith(("mailto:", "javascript:", "data:")): continue
            path = unquote(u.path)
            if not path:
                if check_fragments and u.fragment and u.fragment not in ids:
                    problems.append(f"{rel}: <{tag}> {url} (no such id)")
                continue
            target = (site/path.lstrip("/")) if path.startswith("/") else (page.parent/path)
            target = Path(os.path.normpath(target))
            if target.is_dir(): target = target/"index.html"
            if site.resolve() not in [target.resolve(), *target.resolve().parents]:
                problems.append(f"{rel}: <{tag}> {url} (outside the site)"); continue
            if not target.is_file(): problems.append(f"{rel}: <{tag}> {url} (broken)"); continue
            if check_fragments and u.fragment and target.suffix == ".html":
                if target not in ids_cache: ids_cache[target] = page_links(target)[1]
                if u.fragment not in ids_cache[target]: problems.append(f"{rel}: <{tag}> {url} (no such id)")
    return problems


# ---------------------------------------------------------------- main

# written into every built site: the folder may be replaced by the next build
SITE_MARKER = ".ssl_workbench_docs"


def check_output_folder(out: Path) -> None:
    """Refuse to replace `out` unless it is missing, empty, or a previous docs build (it is deleted before
    the move)."""
    out = Path(out)
    if not out.exists(): return
    if not out.is_dir():
        raise DocsError(f"docs: --out {out} is a file, not a docs folder; choose another --out")
    if (out/SITE_MARKER).exists() or not any(out.iterdir()): return
    if (out/"index.html").is_file() and (out/"site_libs").is_dir(): return  # a build from before the marker
    raise DocsError(f"docs: --out {out} holds files that are not a previous docs build (no {SITE_MARKER}); "
                    "it would be deleted, so choose an empty or new folder")


def build(out: Path | None = None, force: bool = False, use_quarto: bool | None = None) -> Path:
    "Build the site into `out` (default: doc_path from pyproject.toml). Returns the output folder."
    from nbdev.config import get_config
    cfg = get_config()
    os.chdir(cfg.config_path)
    out = Path(out).absolute() if out else Path(cfg.doc_path)
    check_output_folder(out)  # before any work, and before anything is deleted
    if use_quarto is None: use_quarto = shutil.which("quarto") is not None
    t0 = time.time()
    if use_quarto:
        # the official route: nbdev_docs = the same processing (our hooks need n_workers=0) + Quarto
        # + move to doc_path
        from nbdev.quarto import nbdev_docs
        _install_nbdev_hooks()
        if force or cache_is_stale(cfg): shutil.rmtree(cfg.config_path/"_proc", ignore_errors=True)
        nbdev_docs.__wrapped__(n_workers=0)
        site = Path(cfg.doc_path)
        print(f"docs: nbdev-docs (Quarto) {time.time()-t0:.1f}s")
    else:
        cache = process_notebooks(cfg, force=force)
        slow = sorted(TIMINGS.items(), key=lambda kv: -kv[1])[:3]
        print(f"docs: {len(TIMINGS)} notebook(s) processed in {time.time()-t0:.1f}s"
              + (" (slowest: " + ", ".join(f"{Path(k).name} {v:.1f}s" for k, v in slow) + ")"
                 if slow else ""))
        site = render_smalldocs(cache, Path(cfg.doc_path).name)
    postprocess_site(site, f"{cfg.doc_host}{cfg.doc_baseurl}" if cfg.get("doc_host") else None)
    if site.resolve() != out.resolve():
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(site), str(out))
        if not use_quarto: shutil.rmtree(site.parent.parent, ignore_errors=True)  # the staging temp dir
    (out/SITE_MARKER).write_text("built by tools/build_docs.py; `make docs` may replace this folder\n")
    n = len(list(out.rglob("*.html")))
    print(f"docs: {n} pages in {out} ({'Quarto' if use_quarto else 'smalldocs'}) in {time.time()-t0:.1f}s")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path,
                    help="output folder (default: doc_path from pyproject.toml, i.e. docs/)")
    ap.add_argument("--force", action="store_true", help="reprocess every notebook (ignore the _proc cache)")
    ap.add_argument("--no-strict", action="store_true", help="print site problems but exit 0")
    ap.add_argument("--smalldocs", action="store_true", help="use smalldocs even where Quarto is installed")
    args = ap.parse_args(argv)
    try: out = build(args.out, force=args.force, use_quarto=False if args.smalldocs else None)
    except DocsError as e:
        print(e, file=sys.stderr)
        return 1
    problems = check_site(out)
    for p in problems: print(f"docs problem: {p}", file=sys.stderr)
    for p in sorted(set(check_site(out, check_fragments=True)) - set(problems)):
        print(f"docs warning: {p}", file=sys.stderr)  # a link to a missing #anchor on a page that exists
    if problems and not args.no_strict:
        print(f"docs: {len(problems)} problem(s); failing (use --no-strict to ignore)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # proc_nbs may use multiprocessing 'spawn': keep the guard
    code = main()
    sys.stdout.flush(); sys.stderr.flush()
    # every processed notebook leaves an execnb/IPython shell whose atexit reset (a gc pass each) costs ~1 s
    # per notebook at exit; everything is written by now, so skip the interpreter teardown
    os._exit(code)
