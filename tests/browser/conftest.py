"""A real JupyterLab (or Jupyter Notebook 7) on loopback and Debian's Chromium driven by Playwright.

The server runs from this venv (so the kernel is the venv's ipykernel, with this package
and the widget's labextension), on a tmp copy of ``notebooks/``, a tmp SQLite store and
tmp Jupyter config/settings dirs, so a developer's own setup never leaks in. Chromium
must be installed (`apt-get install -y chromium`): these tests fail, never skip, without
it. Playwright's own browsers are never used (`playwright install` cannot work here).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium_flags import CHROMIUM, CHROMIUM_ARGS
from jupyter_procs import (
    LAB_FLAGS,
    NOTEBOOK_FLAGS,
    Jupyter,
    JupyterStartError,
    start,
    stop,
)

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


#: What the browser tests call a running JupyterLab (or Notebook 7): see jupyter_procs.
Lab = Jupyter


def _write_settings(settings_dir: Path) -> None:
    for name, value in LAB_SETTINGS.items():
        plugin_dir, file_name = name.rsplit("/", 1)
        target = settings_dir / plugin_dir / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))


def serve_app(app: str, base: Path) -> Jupyter:
    """``app`` ("lab" or "notebook") on a tmp copy of notebooks/, a tmp SQLite store and
    tmp Jupyter config, settings and data dirs; its ``db_url`` set on the result."""
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root)
    settings_dir = base / "lab-settings"
    _write_settings(settings_dir)
    db_url = f"sqlite:///{base / 'llmbench.db'}"
    env = {
        **os.environ,
        "LLMBENCH_DB_URL": db_url,
        "LLMBENCH_USER": "browser-test",
        "XDG_DATA_HOME": str(base / "xdg-data"),
        "JUPYTER_CONFIG_DIR": str(base / "jupyter-config"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "lab-workspaces"),
        "IPYTHONDIR": str(base / "ipython"),
    }
    flags = LAB_FLAGS if app == "lab" else NOTEBOOK_FLAGS
    try:
        server = start(app, root, env, base / "runtime", base / f"{app}.log", flags,
                       timeout=START_TIMEOUT_S)  # fmt: skip
    except JupyterStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    return server


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    """A real JupyterLab serving a tmp copy of notebooks/ while the module runs."""
    server = serve_app("lab", tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        stop(server, STOP_TIMEOUT_S)


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    """A real Jupyter Notebook 7 serving a tmp copy of notebooks/ while the module runs."""
    server = serve_app("notebook", tmp_path_factory.mktemp("notebook7"))
    try:
        yield server
    finally:
        stop(server, STOP_TIMEOUT_S)


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
