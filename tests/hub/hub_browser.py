"""A person's browser on the hub: Debian's Chromium, signed in through the hub's login form.

The page asks for the user's JupyterLab, the hub sends it to its login form (the
NativeAuthenticator's), the form is filled and submitted, and the hub's redirects (its
login cookie, then the single-user server's OAuth) bring it back to the lab. Then the
llmbench panel is opened from the command palette (command ``llmbench:open-panel``): the
hub's servers do not expose ``window.jupyterapp``, as a person's lab would not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub_harness import HubError, HubUser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "hub"
LOAD_MS = 180_000  # JupyterLab's first load through the proxy, on 2 shared cores
PANEL = "[data-testid=llmbench-panel]"
READY = f"{PANEL}[data-state=ready]"
PALETTE = "#modal-command-palette"
OPEN_LABEL = "llmbench: Open panel"
ROWS_JS = """() => ({
  runs: [...document.querySelectorAll('[data-testid=llmbench-panel-run]')]
    .map(r => r.getAttribute('data-run-id')),
  jobs: [...document.querySelectorAll('[data-testid=llmbench-panel-job]')]
    .map(r => r.getAttribute('data-job-id')),
})"""
PLUGIN = "@llmbench/jupyterlab:plugin"


def set_rows_shown(user: HubUser, rows: int) -> None:
    """The panel's "Rows shown" setting of ``user``, saved through JupyterLab's settings API."""
    resp = user.server(
        "PUT", f"lab/api/settings/{PLUGIN}", json={"raw": json.dumps({"rowsShown": rows})}
    )
    if resp.status_code != 204:
        raise HubError(f"settings of {user.name}: HTTP {resp.status_code} {resp.text[:300]}")


def open_lab_as(page: Any, user: HubUser) -> None:
    """Ask for ``user``'s lab, sign in on the hub's form, and wait for JupyterLab."""
    lab = f"{user.base}/user/{user.name}/lab"
    page.goto(lab, wait_until="domcontentloaded", timeout=60_000)
    if "/hub/login" not in page.url:
        raise HubError(f"the hub did not ask {user.name} to sign in: {page.url}")
    page.fill("#username_input", user.name)
    page.fill("#password_input", user.password)
    with page.expect_navigation(url=f"{lab}**", wait_until="domcontentloaded", timeout=LOAD_MS):
        page.click("#login_submit")
    # A fresh workspace shows the launcher once the layout is restored (a panel opened
    # before would be closed by the restore).
    page.locator(".jp-Launcher").first.wait_for(state="visible", timeout=LOAD_MS)


def open_panel(page: Any) -> None:
    """Open the llmbench panel from the command palette; wait until every section answered."""
    page.keyboard.press("Control+Shift+c")
    page.locator(f"{PALETTE} .lm-CommandPalette-input").fill(OPEN_LABEL)
    item = page.locator(f"{PALETTE} .lm-CommandPalette-item", has_text=OPEN_LABEL)
    item.first.wait_for(state="visible", timeout=30_000)
    page.keyboard.press("Enter")
    page.locator(PANEL).wait_for(state="visible", timeout=30_000)
    page.wait_for_selector(READY, timeout=60_000)


def panel_rows(page: Any) -> dict[str, list[str]]:
    """The run and job ids the panel lists, in its order."""
    rows: dict[str, list[str]] = page.evaluate(ROWS_JS)
    return rows
