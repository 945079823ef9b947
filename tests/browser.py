"""Shared helpers for real-browser tests: Debian's chromium driven by Playwright for Python (no `playwright
install`).

Static pages: with browser_page() as page:                     # headless chromium, one page; console
errors in page.console_errors page.goto(path.as_uri()); screenshot(page, "docs-index")

JupyterLab on a temporary copy of a notebook (free port, token, temp config/runtime/settings dirs, news
toast off): with jupyter_lab("nbs/workbench.ipynb") as (page, base_url): run_all(page)
# Run menu -> "Run All Cells" (command runmenu:run-all) wait_idle(page, timeout=120)                #
every cell executed and the kernel idle assert_no_cell_errors(page) screenshot(page, "workbench")
# -> test-artifacts/workbench.png `jupyter_lab(...)` also unpacks into a `LabSession` (`with
jupyter_lab(nb) as lab: lab.page, lab.root, lab.log_text()`). The server and its kernels are always
stopped (by their process ids), even when the test fails; on a failure the page is saved as
test-artifacts/<notebook>-failure.png.

In a test module: `pytestmark = require_browser()` skips the module, with the reason, when chromium or
playwright is absent."""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT/"test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
JUPYTER_NEWS = "@jupyterlab/apputils-extension:announcements"


def chromium_path() -> str | None:
    "Debian's chromium (or $CHROMIUM), or None when it is not installed."
    for cand in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium",
                 shutil.which("chromium-browser")):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK): return cand
    return None


def browser_skip_reason() -> str | None:
    "Why browser tests cannot run here, or None when they can."
    if chromium_path() is None:
        return "chromium is not installed (apt-get install -y chromium; .ci/run installs it in CI)"
    try: import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("playwright for Python is not installed (pip install playwright; no `playwright install` "
                "needed)")
    return None


def require_browser():
    "A pytest mark that skips, with the reason, where chromium or playwright is missing."
    import pytest
    reason = browser_skip_reason()
    return pytest.mark.skipif(reason is not None, reason=reason or "")


@contextlib.contextmanager
def chromium(**launch_kwargs):
    "A headless chromium Browser (Playwright sync API) on Debian's chromium binary."
    from playwright.sync_api import sync_playwright
    exe = chromium_path()
    if exe is None: raise RuntimeError(browser_skip_reason())
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS, **launch_kwargs)
        try: yield b
        finally: b.close()


def _watch_console(page) -> None:
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(f"pageerror: {e}"))


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 900):
    """One page in a fresh headless chromium; `page.console_errors` collects console errors and uncaught
    exceptions."""
    with chromium() as b:
        ctx = b.new_context(viewport={"width": width, "height": height})
        page = ctx.new_page()
        _watch_console(page)
        try: yield page
        finally: ctx.close()


def screenshot(page, name: str, full_page: bool = False) -> Path:
    "Save a PNG screenshot under test-artifacts/ (git-ignored) and return its path."
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS/(name if name.endswith(".png") else f"{name}.png")
    page.screenshot(path=str(path), full_page=full_page)
    return path


# ---------------------------------------------------------------- JupyterLab

def free_port() -> int:
    "A TCP port that is free on 127.0.0.1 right now."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabSession:
    "A running JupyterLab with one notebook open. Unpacks as (page, base_url)."
    page: object
    # http://127.0.0.1:PORT (no token; the browser context already holds the auth cookie)
    base_url: str
    token: str
    root: Path               # the temporary folder JupyterLab serves; the notebook copy lives here
    notebook: Path           # the copy
    log: Path                # the server's stdout+stderr
    proc: subprocess.Popen = field(repr=False)

    def __iter__(self): return iter((self.page, self.base_url))

    def log_text(self, tail: int = 4000) -> str:
        try: return self.log.read_text(errors="replace")[-tail:]
        except OSError: return ""

    def api(self, path: str, method: str = "GET"):
        "Call the Jupyter server REST API (e.g. api('/api/kernels')); returns the decoded JSON or None."
        req = urllib.request.Request(f"{self.base_url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None


def _lab_env(tmp: Path) -> dict:
    """Environment for an isolated JupyterLab: temp config/runtime/settings/workspaces; the news toast
    disabled."""
    cfg, settings = tmp/"config", tmp/"settings"
    (cfg/"labconfig").mkdir(parents=True)
    (cfg/"labconfig"/"page_config.json").write_text(json.dumps({"disabledExtensions": {JUPYTER_NEWS: True}}))
    # user settings: every cell attached to the DOM (tests look for outputs of any cell), no
    # update/news checks
    (settings/"@jupyterlab"/"notebook-extension").mkdir(parents=True)
    tracker = settings/"@jupyterlab"/"notebook-extension"/"tracker.jupyterlab-settings"
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(cfg), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
           "IPYTHONDIR": str(tmp / "ipython"), "JUPYTER_PLATFORM_DIRS": "1", "PYTHONUNBUFFERED": "1"}
    # the kernel imports the project from this checkout even where the venv has no editable install
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _children(pid: int) -> list[int]:
    """Process ids of every descendant of `pid` (kernels run in their own sessions, so killpg does not
    reach them)."""
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:
        return []


def _stop(proc: subprocess.Popen, extra_pids: list[int], timeout: float = 10) -> None:
    "Stop the server (SIGTERM, then SIGKILL) and any kernel process it left, each by its id."
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    for pid in extra_pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def wait_for_server(
    base_url: str, token: str, proc: subprocess.Popen, log: Path, timeout: float = 90
) -> None:
    "Poll /api/status until the server answers; fail early with the log when it exits."
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{base_url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(
        f"jupyter lab did not answer within {timeout}s:\n{log.read_text(errors='replace')[-4000:]}"
    )


@contextlib.contextmanager
def jupyter_lab(notebook: str | Path, extra_files: tuple = (), timeout: float = 90, width: int = 1400,
                height: int = 1000, env: dict | None = None) -> Iterator[LabSession]:
    """Start JupyterLab on a temporary copy of `notebook` (plus `extra_files`), open it in headless
    chromium, yield a LabSession."""
    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook={notebook}: no such file")
    tmp = Path(tempfile.mkdtemp(prefix="ssl_workbench-lab-"))
    root = tmp / "lab"
    root.mkdir()
    nb_copy = root / notebook.name
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    # nbdev-clean drops the kernelspec; without one JupyterLab asks for a kernel in a dialog that
    # blocks the test
    nb.setdefault("metadata", {}).setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    )
    nb_copy.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    for f in extra_files:
        f = Path(f)
        (shutil.copytree if f.is_dir() else shutil.copy2)(f, root / f.name)
    port, token = free_port(), secrets.token_hex(16)
    base_url = f"http://127.0.0.1:{port}"
    log = tmp / "jupyter.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = None
    kids: list[int] = []
    try:
        with open(log, "wb") as logf:
            proc = subprocess.Popen(cmd, cwd=root, env={**_lab_env(tmp), **(env or {})}, stdout=logf,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_server(base_url, token, proc, log, timeout)
        with chromium() as b:
            ctx = b.new_context(viewport={"width": width, "height": height})
            page = ctx.new_page()
            _watch_console(page)
            page.set_default_timeout(timeout * 1000)
            session = LabSession(page, base_url, token, root, nb_copy, log, proc)
            try:
                page.goto(f"{base_url}/lab/tree/{nb_copy.name}?token={token}")
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * 1000)
                wait_kernel_ready(session, timeout)
                yield session
            except BaseException:
                # what the page showed, and the server's log, for the failure report
                with contextlib.suppress(Exception):
                    print("failure screenshot:", screenshot(page, f"{notebook.stem}-failure"))
                print(f"jupyter server log (tail):\n{session.log_text()}", file=sys.stderr)
                raise
            finally:
                kids = _children(proc.pid)
                with contextlib.suppress(Exception):
                    for k in session.api("/api/kernels") or []:
                        session.api(f"/api/kernels/{k['id']}", method="DELETE")
                ctx.close()
    finally:
        if proc is not None:
            _stop(proc, kids + (_children(proc.pid) if proc.poll() is None else []))
        shutil.rmtree(tmp, ignore_errors=True)


_STATUS_IDLE = """() => { const s = document.querySelector('.jp-StatusBar-Widget, #jp-main-statusbar');
  const t = s ? s.innerText : ''; return /\\|\\s*Idle/.test(t) && !/No Kernel/.test(t); }"""


def wait_kernel_ready(lab: LabSession, timeout: float = 90) -> None:
    "Wait until the notebook's kernel has started, the page is connected to it, and it is idle."
    deadline = time.time() + timeout
    while True:
        sessions = [
            s for s in (lab.api("/api/sessions") or []) if s.get("path", "").endswith(lab.notebook.name)
        ]
        k = sessions[0].get("kernel") if sessions else None
        if k and k.get("connections", 0) >= 1 and k.get("execution_state") == "idle":
            break
        if time.time() > deadline:
            raise TimeoutError(f"kernel not ready after {timeout}s: {sessions}\n{lab.log_text()}")
        time.sleep(0.25)
    lab.page.wait_for_function(_STATUS_IDLE, timeout=max(1.0, deadline - time.time()) * 1000, polling=200)
    lab.page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', state="attached",
                               timeout=max(1.0, deadline - time.time()) * 1000)


def run_all(page) -> None:
    "Run every cell through the Run menu (command `runmenu:run-all`)."
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('li[data-command="runmenu:run-all"]')


_ALL_DONE = """() => {
  const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
  const pending = prompts.some(p => p.textContent.includes('*'));
  return !!ind && ind.dataset.status === 'idle' && !pending;
}"""


def wait_idle(page, timeout: float = 120, settle: float = 0.5) -> None:
    "Wait until no code cell is queued or running ([*]) and the kernel is idle, stably for `settle` seconds."
    deadline = time.time() + timeout
    page.wait_for_timeout(300)  # let the run-all queue mark its cells
    while True:
        left = max(1.0, deadline - time.time())
        page.wait_for_function(_ALL_DONE, timeout=left * 1000, polling=200)
        page.wait_for_timeout(settle * 1000)
        if page.evaluate(_ALL_DONE):
            return
        if time.time() > deadline:
            raise TimeoutError(f"notebook still running after {timeout}s")


_ERRORS = r"""() => [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
  .map(e => e.innerText).filter(t => /Traceback \(most recent call last\)/.test(t) || /^\s*-{20,}\s*\n\s*\w*(Error|Exception|Interrupt|Exit)\b/.test(t))"""  # noqa: E501 (JavaScript or a script run in a subprocess, kept as written)


def cell_errors(page) -> list[str]:
    """The tracebacks shown in the notebook (JupyterLab renders errors and stderr alike; warnings are not
    errors)."""
    return page.evaluate(_ERRORS)


def assert_no_cell_errors(page) -> None:
    "Fail with the tracebacks when a cell raised."
    errs = cell_errors(page)
    assert not errs, "cell errors:\n" + "\n---\n".join(e[-2000:] for e in errs)
