"""The set-up path a newcomer takes: providers and where their keys come from, a key saved
from the widget, one request to prove it (against a simulated endpoint that demands the
key, over real HTTP), the endpoint's models discovered and added to their config file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import ipywidgets as w
import pytest
from onboarding_helpers import team_config

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import AUTH_FAILED
from llmbench_jupyter.jobs.connection import MISSING_KEY, key_sources
from llmbench_jupyter.kernel.onboarding_widget import OnboardingWidget
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import keys

KEY = "sk-team-onboarding-7a1c93d0e5"
WRONG = "sk-team-wrong-0000000000ffff"


@pytest.fixture(scope="module")
def gateway() -> Iterator[SimServer]:
    """The simulated endpoint, refusing every request without the team's key."""
    srv = SimServer(seed=0, require_key=KEY).start_in_thread()
    yield srv
    srv.stop_thread()


@pytest.fixture
def config(tmp_path: Path, gateway: SimServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LLMBENCH_TEST_TEAM_KEY_UNSET", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(team_config(gateway.base_url, "LLMBENCH_TEST_TEAM_KEY_UNSET", 10))
    return path


def _sent(srv: SimServer) -> int:
    return sum(srv.stats["endpoint"].values())


def test_key_sources_say_where_each_key_comes_from(config: Path, monkeypatch) -> None:
    found = key_sources(config)
    assert found["team"].describe() == "missing ($LLMBENCH_TEST_TEAM_KEY_UNSET is not set)"
    assert found["local-sim"].describe() == "not needed (built-in simulator)"
    monkeypatch.setenv("LLMBENCH_TEST_TEAM_KEY_UNSET", KEY)
    assert key_sources(config)["team"].describe() == "environment ($LLMBENCH_TEST_TEAM_KEY_UNSET)"
    keys.set("team", KEY)
    try:
        assert key_sources(config)["team"].describe() == "vault"  # the vault wins, as in a run
    finally:
        keys.delete("team")


def test_a_check_without_a_key_sends_nothing_and_says_what_to_do(config: Path, gateway) -> None:
    before = _sent(gateway)
    check = lj.check_connection("team", config=config)
    assert not check.ok and check.error_category == MISSING_KEY
    assert "keys.set('team', ...)" in (check.advice or "") and "nothing was sent" in check.summary()
    assert _sent(gateway) == before


def test_a_wrong_key_is_refused_and_never_shown(config: Path) -> None:
    keys.set("team", WRONG)
    try:
        check = lj.check_connection("team", config=config)
    finally:
        keys.delete("team")
    assert not check.ok and check.error_category == AUTH_FAILED and check.http_status == 401
    assert "save the right key" in (check.advice or "")
    assert WRONG not in repr(check) and check.key_source == "vault"


def test_a_model_the_endpoint_does_not_know_points_to_discovery(config: Path) -> None:
    config.write_text(config.read_text().replace("id: sim-fast   #", "id: sim-nope   #"))
    keys.set("team", KEY)
    try:
        check = lj.check_connection("team", "sim-nope", config=config)
    finally:
        keys.delete("team")
    assert not check.ok and check.error_category == "http_404" and check.http_status == 404
    assert "discover the models it offers" in (check.advice or "")


def test_the_widget_walks_a_newcomer_from_no_key_to_a_new_model(config: Path, gateway) -> None:
    widget = lj.onboarding(config)
    assert isinstance(widget, OnboardingWidget)
    assert widget.chosen == ["local-sim"]  # no key for the gateway yet
    widget.choices["team"].value = True
    assert widget.chosen == ["team", "local-sim"]
    assert 'data-provider="team">missing' in widget.overview.value
    widget.key_form.provider.value = "team"
    assert widget.model.options == ("sim-fast",)

    # step 2: the key, through the form; its field is emptied, no widget state holds it
    widget.key_form.password.value = KEY
    widget.key_form.save_button.click()
    try:
        assert widget.key_form.password.value == "" and keys.get("team") == KEY
        assert 'data-provider="team">vault' in widget.overview.value
        # step 3: one request, with the vault's key
        before = _sent(gateway)
        check = widget.test_connection().result(timeout=60)
        assert check is not None and check.ok, widget.test_status.value
        assert _sent(gateway) == before + 1
        assert "team/sim-fast answered (HTTP 200)" in widget.test_status.value
        # step 4: the endpoint's list against the config; add one new model
        found = widget.discover().result(timeout=60)
        assert found is not None and "sim-slow" in widget.found.options
        assert "sim-fast" not in widget.found.options and not widget.add_button.disabled
        widget.found.value = ("sim-slow",)
        widget.add_button.click()
        assert "added sim-slow" in widget.models_status.value
        text = config.read_text()
        assert "# the team's config: this comment stays" in text and "- id: sim-slow" in text
        assert "sim-slow" not in widget.found.options and "sim-medium" in widget.found.options
        assert widget.model.options == ("sim-fast", "sim-slow")
        widget.model.value = "sim-slow"
        slow = widget.test_connection().result(timeout=60)
        assert slow is not None and slow.ok and slow.model == "sim-slow"
        state = json.dumps(w.Widget.get_manager_state(drop_defaults=False), default=str)
        assert KEY not in state
    finally:
        keys.delete("team")


def test_adding_twice_and_steps_out_of_order_are_explained(config: Path) -> None:
    widget = lj.onboarding(config, providers=["team"])
    assert widget.add_selected() == []
    assert "discover models and choose some first" in widget.models_status.value
    for box in widget.choices.values():
        box.value = False
    assert "choose at least one provider" in widget.overview.value
    assert widget.test_connection().result() is None
    assert "choose a provider with a model first" in widget.test_status.value
    assert widget.discover().result() is None and "choose a provider first" in (
        widget.models_status.value
    )


def test_discovery_without_the_key_shows_the_refusal_not_the_key(config: Path) -> None:
    keys.set("team", WRONG)
    try:
        widget = lj.onboarding(config, providers=["team"])
        assert widget.discover().result(timeout=60) is None
    finally:
        keys.delete("team")
    assert "401" in widget.models_status.value and WRONG not in widget.models_status.value


def test_the_cli_lists_key_sources_and_checks_one_provider(config: Path, capsys) -> None:
    from llmbench_jupyter.cli import main as cli_main

    assert cli_main(["models", "check", "--config", str(config)]) == 0
    listed = capsys.readouterr().out
    assert "missing ($LLMBENCH_TEST_TEAM_KEY_UNSET is not set)" in listed
    assert cli_main(["models", "check", "-p", "team", "--config", str(config)]) == 1
    assert "nothing was sent" in capsys.readouterr().out
    keys.set("team", KEY)
    try:
        assert cli_main(["models", "check", "-p", "team", "--config", str(config)]) == 0
    finally:
        keys.delete("team")
    shown = capsys.readouterr().out
    assert "team/sim-fast answered (HTTP 200)" in shown and "key: vault" in shown
    assert KEY not in shown
    assert cli_main(["models", "check", "-p", "nobody", "--config", str(config)]) != 0
    assert 'unknown provider "nobody"' in capsys.readouterr().err
