"""A real JupyterLab on loopback and Debian's Chromium driven by Playwright.

The server runs from this venv (so the kernel is the venv's ipykernel, with this package
and the widget's labextension), on a tmp copy of ``notebooks/``, a tmp SQLite store and
tmp Jupyter config/settings dirs, so a developer's own setup never leaks in. Chromium
must be installed (`apt-get install -y chromium`): these tests fail, never skip, without
it. Playwright's own browsers are never used (`playwright install` cannot work here).
"""

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
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chromium_flags import CHROMIUM, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "artifacts" / "browser"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0
#: JupyterLab user settings for the test server. Windowing off: every cell stays in the
#: DOM, so selectors do not depend on scroll position. No news/update checks (no network).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass
class Lab:
    """A running JupyterLab: where it is, how to log in, where its files and store live."""

    base_url: str
    token: str
    root_dir: Path
    db_url: str
    log_path: Path

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _write_settings(settings_dir: Path) -> None:
    for name, value in LAB_SETTINGS.items():
        plugin_dir, file_name = name.rsplit("/", 1)
        target = settings_dir / plugin_dir / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))


def _kernel_pids(runtime_dir: Path) -> list[int]:
    """PIDs of kernels this server started (their connection file is in our runtime dir)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(runtime_dir) in cmdline and "ipykernel" in cmdline:
            pids.append(int(proc.name))
    return pids


def _stop(proc: subprocess.Popen[bytes], lab: Lab, runtime_dir: Path) -> None:
    """Shut down gracefully (the server stops its kernels), then kill what is left."""
    kernels = _kernel_pids(runtime_dir)
    with contextlib.suppress(OSError, urllib.error.URLError):
        lab.api("/api/shutdown", method="POST")
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT_S)
    # the server's own group (kernels start their own sessions: handled by pid below)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    proc.wait(timeout=STOP_TIMEOUT_S)
    for pid in {*kernels, *_kernel_pids(runtime_dir)}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A real JupyterLab serving a tmp copy of notebooks/ while the module runs."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root)
    runtime_dir = base / "runtime"
    settings_dir = base / "lab-settings"
    _write_settings(settings_dir)
    db_url = f"sqlite:///{base / 'llmbench.db'}"
    port = _free_port()
    token = secrets.token_hex(24)
    env = {
        **os.environ,
        "LLMBENCH_DB_URL": db_url,
        "LLMBENCH_USER": "browser-test",
        "XDG_DATA_HOME": str(base / "xdg-data"),
        "JUPYTER_CONFIG_DIR": str(base / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(runtime_dir),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "lab-workspaces"),
        "IPYTHONDIR": str(base / "ipython"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = base / "jupyterlab.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, root, db_url, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with code {proc.returncode} before answering:\n"
                    f"{lab.log_tail()}",
                    pytrace=False,
                )
            try:
                lab.api("/api/status")
                break
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"JupyterLab did not answer /api/status within {START_TIMEOUT_S:.0f} s:\n"
                    f"{lab.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.25)
        yield lab
    finally:
        _stop(proc, lab, runtime_dir)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium (never Playwright's downloads); no video, no trace."""
    if not os.access(CHROMIUM, os.X_OK):
        where = "CI (.ci/run installs it)" if os.environ.get("CI") else "this machine"
        pytest.fail(
            f"Chromium is required for the browser tests and is missing at {CHROMIUM} on "
            f"{where}: install it with `apt-get update && apt-get install -y chromium`. "
            "Do not run `playwright install`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    """A fresh browser context and page.

    The browser console and the server log tail are printed at teardown: pytest shows
    them only when the test failed.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    pg = context.new_page()
    console: list[str] = []
    pg.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
    pg.on("pageerror", lambda exc: console.append(f"[pageerror] {exc}"))
    try:
        yield pg
    finally:
        context.close()
        print("--- browser console ---", *console[-200:], sep="\n")
        print("--- JupyterLab log (tail) ---", lab.log_tail(), sep="\n")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (gitignored /artifacts/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
