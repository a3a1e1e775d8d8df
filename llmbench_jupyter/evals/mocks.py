"""Stateful mock tools for multi-turn cases: plain Python classes whose methods are tools.

A case names its class with ``mock_tools:`` and seeds it with ``initial_state:``; the
runner creates one instance per attempt, executes every call the model makes as a method
call, feeds the return value back as the tool result, and scores ``expected_final_state``
against :meth:`MockTools.state` once the conversation ends.

Suites name classes only from the registry (built-ins here, plus :func:`register`), never
by import path: a suite is data a colleague may share, and must not run arbitrary code.
"""

from __future__ import annotations

import copy
import inspect
import json
from typing import Any, ClassVar

from llmbench_jupyter.core.errors import LLMBenchError


class MockToolError(LLMBenchError):
    """A stateful mock class that cannot be found or built; says which and why."""


class MockTools:
    """Base class: public methods are tools; public attributes are the inspectable state.

    A method may raise ``ValueError`` to report a bad call; the model then sees
    ``{"error": "..."}`` as the tool result, as a real API would answer.
    """

    def state(self) -> dict[str, Any]:
        """A JSON-ready deep copy of the public attributes."""
        return json.loads(
            json.dumps({k: v for k, v in vars(self).items() if not k.startswith("_")}, default=str)
        )

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run one tool call; errors in the call come back as ``{"error": ...}`` results."""
        method = getattr(type(self), name, None)
        if name.startswith("_") or name in ("state", "call") or not callable(method):
            return {"error": f"unknown tool {name!r}"}
        if not isinstance(arguments, dict):
            return {"error": f"arguments of {name} must be a JSON object, got {arguments!r:.80}"}
        try:
            inspect.signature(method).bind(self, **arguments)
        except TypeError as exc:
            return {"error": f"bad arguments for {name}: {exc}"}
        try:
            return getattr(self, name)(**arguments)
        except (ValueError, KeyError, TypeError) as exc:  # the documented way to refuse a call
            return {"error": f"{name} failed: {exc}"}
        except Exception as exc:  # a model's odd arguments must not end the eval
            return {"error": f"{name} failed: {type(exc).__name__}: {exc}"}


class AssistantWorld(MockTools):
    """A small home-and-office world behind the example suite's tools.

    State: ``thermostats`` (room -> target °C), ``devices`` (room/device -> on/off and
    level), ``events`` (calendar), ``outbox`` (sent e-mails). Weather is a fixed table, so
    chains that depend on it are deterministic.
    """

    WEATHER: ClassVar[dict[str, dict[str, Any]]] = {
        "helsinki": {"temperature_c": -8, "condition": "snow"},
        "lyon": {"temperature_c": 24, "condition": "sunny"},
        "reykjavik": {"temperature_c": 3, "condition": "windy"},
        "paris": {"temperature_c": 18, "condition": "cloudy"},
    }

    def __init__(
        self,
        thermostats: dict[str, float] | None = None,
        devices: dict[str, dict[str, Any]] | None = None,
        events: list[dict[str, Any]] | None = None,
        outbox: list[dict[str, Any]] | None = None,
    ) -> None:
        self.thermostats: dict[str, float] = dict(thermostats or {})
        self.devices: dict[str, dict[str, Any]] = copy.deepcopy(devices or {})
        self.events: list[dict[str, Any]] = list(events or [])
        self.outbox: list[dict[str, Any]] = list(outbox or [])

    def get_weather(self, city: str, unit: str = "celsius", days: int = 1) -> dict[str, Any]:
        found = self.WEATHER.get(city.strip().lower())
        if found is None:
            raise ValueError(f"no weather data for {city!r}")
        temp = found["temperature_c"]
        if unit.lower().startswith("f"):
            return {"city": city, "temperature_f": round(temp * 9 / 5 + 32, 1), **found}
        return {"city": city, **found}

    def set_thermostat(self, room: str, temperature: float, mode: str = "heat") -> dict[str, Any]:
        if not 5 <= float(temperature) <= 30:
            raise ValueError(f"temperature {temperature} is outside 5–30 °C")
        self.thermostats[room.strip().lower()] = float(temperature)
        return {"status": "ok", "thermostat": room, "target_c": float(temperature), "mode": mode}

    def set_device_state(
        self, device: str, room: str, state: str, level: int | None = None
    ) -> dict[str, Any]:
        key = f"{room.strip().lower()}/{device.strip().lower()}"
        self.devices[key] = {"state": state, "level": level}
        return {"status": "ok", "device": key, "state": state}

    def create_calendar_event(
        self,
        title: str,
        date: str,
        time: str | None = None,
        duration_minutes: int = 60,
        reminder: dict[str, Any] | None = None,
        attendees: list[str] | None = None,
    ) -> dict[str, Any]:
        event = {
            "title": title,
            "date": date,
            "time": time,
            "duration_minutes": duration_minutes,
            "attendees": list(attendees or []),
        }
        self.events.append(event)
        return {"status": "created", "event_id": f"evt-{len(self.events)}"}

    def send_email(
        self, to: list[str], subject: str, body: str, cc: list[str] | None = None
    ) -> dict[str, Any]:
        if not to:
            raise ValueError("no recipient")
        self.outbox.append({"to": list(to), "subject": subject, "body": body})
        return {"status": "sent", "message_id": f"msg-{len(self.outbox)}"}


_REGISTRY: dict[str, type[MockTools]] = {"assistant_world": AssistantWorld}


def register(name: str, cls: type[MockTools]) -> None:
    """Make ``cls`` available to suites as ``mock_tools: <name>``."""
    if not (isinstance(cls, type) and issubclass(cls, MockTools)):
        raise MockToolError(f"register({name!r}): expected a MockTools subclass, got {cls!r}")
    _REGISTRY[name] = cls


def registered() -> dict[str, type[MockTools]]:
    return dict(_REGISTRY)


def build(
    name: str,
    initial_state: dict[str, Any],
    extra: dict[str, type[MockTools]] | None = None,
) -> MockTools:
    """A fresh instance of the named class, seeded with ``initial_state``."""
    classes = {**_REGISTRY, **(extra or {})}
    cls = classes.get(name)
    if cls is None:
        raise MockToolError(
            f"mock_tools {name!r} is not registered; known: {sorted(classes)} "
            "(register your class with llmbench_jupyter.evals.mocks.register)"
        )
    try:
        return cls(**initial_state)
    except TypeError as exc:
        raise MockToolError(f"mock_tools {name!r}: initial_state does not fit: {exc}") from None
