"""The quickstart's set-up widget in a real JupyterLab and Chromium, clicked like a newcomer.

The kernel sees a config with a team gateway (the simulated endpoint over real HTTP,
refusing every request without the team's key) whose key is not set anywhere. In the
browser: tick the provider, paste the key and Save, Test connection, Discover models,
choose one and Add to config. The request only succeeds with the vault's key; the config
file on disk gains the model with its comments kept; the saved notebook holds no key.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from onboarding_helpers import team_config
from playwright.sync_api import expect
from test_lab_quickstart import (
    CELLS_JS,
    FRESH,
    KERNEL_START_MS,
    MARK_STALE_JS,
    PANEL,
    cell_index,
    open_notebook,
    run_cell,
)

from llmbench_jupyter.sim import SimServer

pytestmark = pytest.mark.browser

KEY = "sk-team-browser-5f0e2b7d91c4"
ONBOARD = f"{PANEL} {FRESH} .llmbench-onboarding"


@pytest.fixture
def gateway() -> Iterator[SimServer]:
    srv = SimServer(seed=0, require_key=KEY).start_in_thread()
    yield srv
    srv.stop_thread()


@pytest.mark.timeout(600)
def test_onboarding_sets_up_a_provider_from_the_browser(
    page: Any, lab: Any, artifacts: Path, gateway: SimServer
) -> None:
    folder = lab.root_dir / "onboard"
    folder.mkdir()
    shutil.copy(lab.root_dir / "quickstart.ipynb", folder / "quickstart.ipynb")
    config = folder / "config.yaml"  # the kernel starts in the notebook's folder
    config.write_text(team_config(gateway.base_url, "LLMBENCH_BROWSER_TEAM_KEY_UNSET", 20))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"[pageerror] {exc}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))

    open_notebook(page, lab, "onboard/quickstart.ipynb")
    page.evaluate(MARK_STALE_JS)
    cells: list[dict[str, Any]] = page.evaluate(CELLS_JS)
    run_cell(page, cell_index(cells, "lj.onboarding()"))
    widget = page.locator(ONBOARD).first
    widget.wait_for(state="visible", timeout=KERNEL_START_MS)
    assert "config.yaml" in widget.locator("h3 + small").inner_text()

    # 1. choose the team's gateway: its key is missing
    widget.locator(".llmbench-onboard-choose-team input[type=checkbox]").check()
    team_key = widget.locator("td[data-provider=team]")
    team_key.wait_for(state="visible")
    assert team_key.inner_text().startswith("missing")
    widget.locator(".llmbench-onboard-provider select").select_option("team")

    # 2. the key, typed into the Password field and saved to the vault
    password = widget.locator(".llmbench-onboard-password input")
    password.fill(KEY)
    widget.locator(".llmbench-onboard-keys button", has_text="Save").click()
    expect(team_key).to_have_text(re.compile(r"^vault"), timeout=30_000)
    assert password.input_value() == ""
    assert "saved the key for team" in widget.locator(".llmbench-onboard-keys").inner_text()

    # 3. one short request: it only succeeds with the key from the vault
    sent = sum(gateway.stats["endpoint"].values())
    widget.locator("button.llmbench-onboard-test").click()
    status = widget.locator(".llmbench-onboard-test-status")
    status.filter(has_text="team/sim-fast answered (HTTP 200)").wait_for(timeout=60_000)
    assert sum(gateway.stats["endpoint"].values()) == sent + 1
    widget.screenshot(path=artifacts / "onboarding-tested.png")

    # 4. discover the gateway's models, add one to the config file
    widget.locator("button.llmbench-onboard-discover").click()
    models = widget.locator(".llmbench-onboard-models-status")
    models.filter(has_text="new").wait_for(timeout=60_000)
    found = widget.locator(".llmbench-onboard-found select")
    offered = found.locator("option").all_inner_texts()
    assert "sim-slow" in offered and "sim-fast" not in offered, offered
    found.select_option(["sim-slow"])
    widget.locator("button.llmbench-onboard-add").click()
    models.filter(has_text="added sim-slow").wait_for(timeout=30_000)
    text = config.read_text()
    assert "# the team's config: this comment stays" in text and "- id: sim-slow" in text
    model = widget.locator(".llmbench-onboard-model select")
    assert model.locator("option").all_inner_texts() == ["sim-fast", "sim-slow"]
    model.select_option("sim-slow")
    widget.locator("button.llmbench-onboard-test").click()
    status.filter(has_text="team/sim-slow answered (HTTP 200)").wait_for(timeout=60_000)
    widget.screenshot(path=artifacts / "onboarding-final.png")

    # the notebook, saved with its widget state, holds no key
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000
    )
    saved = (folder / "quickstart.ipynb").read_text()
    assert "llmbench-onboarding" in saved or "Team gateway" in saved
    assert KEY not in saved
    assert errors == [], f"JavaScript errors in the page: {errors}"
