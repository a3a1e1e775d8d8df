"""Stateful mock tools: calls run as methods, bad calls come back as tool errors."""

from __future__ import annotations

import pytest

from llmbench_jupyter.evals import mocks
from llmbench_jupyter.evals.mocks import AssistantWorld, MockToolError, MockTools, build


def test_calls_change_the_state_and_state_is_a_copy() -> None:
    world = build("assistant_world", {"thermostats": {"hall": 18}})
    assert world.call("set_thermostat", {"room": "Hall", "temperature": 21}) == {
        "status": "ok", "thermostat": "Hall", "target_c": 21.0, "mode": "heat"
    }  # fmt: skip
    state = world.state()
    assert state["thermostats"] == {"hall": 21.0}
    state["thermostats"]["hall"] = 0
    assert world.state()["thermostats"] == {"hall": 21.0}


def test_bad_calls_become_error_results_not_exceptions() -> None:
    world = AssistantWorld()
    assert world.call("set_thermostat", {"room": "x", "temperature": 71}) == {
        "error": "set_thermostat failed: temperature 71 is outside 5–30 °C"
    }
    assert "bad arguments" in world.call("set_thermostat", {"room": "x"})["error"]
    assert world.call("launch_rocket", {})["error"] == "unknown tool 'launch_rocket'"
    assert world.call("state", {})["error"] == "unknown tool 'state'"
    assert world.call("_private", {})["error"] == "unknown tool '_private'"
    assert world.state() == {"thermostats": {}, "devices": {}, "events": [], "outbox": []}


def test_registry_names_only_and_clear_errors() -> None:
    with pytest.raises(MockToolError, match=r"'os:system' is not registered; known: \["):
        build("os:system", {})
    with pytest.raises(MockToolError, match="initial_state does not fit"):
        build("assistant_world", {"volcanoes": 1})

    class Bank(MockTools):
        def __init__(self, balance: int = 0) -> None:
            self.balance = balance

        def deposit(self, amount: int) -> dict[str, int]:
            self.balance += amount
            return {"balance": self.balance}

    assert build("bank", {"balance": 5}, {"bank": Bank}).call("deposit", {"amount": 2}) == {
        "balance": 7
    }
    with pytest.raises(MockToolError, match="expected a MockTools subclass"):
        mocks.register("bad", dict)  # type: ignore[arg-type]
