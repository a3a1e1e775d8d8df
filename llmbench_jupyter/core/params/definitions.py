"""The tunable request parameters: one canonical name, type and widest range each.

A trial, a config default or a user's call names parameters the canonical way
(``max_tokens``, ``reasoning_effort``...). What a given provider and model accepts is
narrower and is written in :mod:`.table`; how a canonical value is spelled on each wire
lives in :mod:`.wire`. Keeping the three apart means one place to read for each question.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llmbench_jupyter.core.errors import InputError, InputTypeError

#: The request formats the lean client speaks (``Target.kind`` values with their own wire).
API_KINDS = ("openai", "anthropic")


@dataclass(frozen=True)
class Range:
    """A closed numeric interval; ``None`` on a side means unbounded there."""

    low: float | None = None
    high: float | None = None

    def contains(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        def num(x: float) -> str:
            return f"{x:g}" if isinstance(x, float) else str(x)

        if self.low is not None and self.high is not None:
            return f"{num(self.low)} to {num(self.high)}"
        if self.low is not None:
            return f">= {num(self.low)}"
        if self.high is not None:
            return f"<= {num(self.high)}"
        return "any value"


@dataclass(frozen=True)
class ParamDef:
    """One canonical parameter.

    ``valid`` is the widest range any supported API accepts (values outside it are a
    mistake whatever the target); ``search`` gives finite bounds for a search where
    ``valid`` is open-ended; ``log`` says a search should sample it on a log scale.
    """

    name: str
    type: str  # "float" | "int" | "bool" | "choice"
    doc: str
    valid: Range | None = None
    search: Range | None = None
    choices: tuple[Any, ...] = ()
    log: bool = False

    def check(self, value: Any, where: str) -> Any:
        """The value, type-checked against this definition (int accepted for float).

        Raises :class:`InputTypeError` for a wrong type and :class:`InputError` for a value
        outside ``valid`` or ``choices``; ``where`` names the target in the message.
        """
        if self.type == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputTypeError(
                    f"{self.name} for {where}: expected a number, got {_shown(value)}"
                )
            if not math.isfinite(value):
                raise InputError(f"{self.name} for {where}: expected a finite number, got {value}")
        elif self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputTypeError(
                    f"{self.name} for {where}: expected an integer, got {_shown(value)}"
                )
        elif self.type == "bool":
            if not isinstance(value, bool):
                raise InputTypeError(
                    f"{self.name} for {where}: expected true or false, got {_shown(value)}"
                )
            return value
        if self.type in ("float", "int"):
            if self.valid is not None and not self.valid.contains(value):
                raise InputError(
                    f"{self.name}={value} for {where} is out of range: "
                    f"expected {self.valid} (the widest any supported API accepts)"
                )
            return value
        if self.name == "tool_choice":
            return check_tool_choice(value, where)
        if value not in self.choices or isinstance(value, bool):
            raise InputError(
                f"{self.name}={value!r} for {where}: expected one of "
                f"{', '.join(map(str, self.choices))}"
            )
        return value


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}"


#: Canonical ``tool_choice`` values a search ranges over; a named tool is ``{"name": ...}``.
TOOL_CHOICES = ("auto", "none", "required")
#: Every reasoning-effort level any API knows, lowest first; a family lists its subset.
EFFORTS = ("none", "minimal", "low", "medium", "high")

PARAMS: dict[str, ParamDef] = {
    p.name: p
    for p in (
        ParamDef(
            "temperature",
            "float",
            "sampling temperature; 0 is (nearly) greedy",
            valid=Range(0.0, 2.0),
        ),
        ParamDef(
            "top_p",
            "float",
            "nucleus sampling: keep the smallest set of tokens whose probability reaches top_p",
            valid=Range(0.0, 1.0),
        ),
        ParamDef(
            "top_k",
            "int",
            "sample only from the k most likely tokens",
            valid=Range(1, None),
            search=Range(1, 200),
            log=True,
        ),
        ParamDef(
            "max_tokens",
            "int",
            "cap on generated tokens (reasoning included where the API counts it)",
            valid=Range(1, None),
            search=Range(16, 4096),
            log=True,
        ),
        ParamDef(
            "seed",
            "int",
            "best-effort deterministic sampling",
            valid=Range(-(2**63), 2**63 - 1),
            search=Range(0, 2**31 - 1),
        ),
        ParamDef(
            "tool_choice",
            "choice",
            "whether and which tool the model must call: auto, none, required or {'name': tool}",
            choices=TOOL_CHOICES,
        ),
        ParamDef(
            "parallel_tool_calls",
            "bool",
            "may the model call several tools in one turn",
            choices=(True, False),
        ),
        ParamDef(
            "reasoning_effort",
            "choice",
            "how much a reasoning model thinks before answering",
            choices=EFFORTS,
        ),
    )
}


def param_def(name: str, where: str) -> ParamDef:
    """The definition of ``name``; :class:`InputError` listing the known names if unknown."""
    found = PARAMS.get(name)
    if found is None:
        import difflib

        close = difflib.get_close_matches(name, list(PARAMS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"unknown parameter {name!r} for {where}{hint} (known: {', '.join(PARAMS)}; "
            "anything else goes in passthrough=, sent unchecked)"
        )
    return found


def check_tool_choice(value: Any, where: str) -> str | dict[str, str]:
    """``auto``/``none``/``required``, or a named tool as ``{"name": ...}`` (the OpenAI
    ``{"type": "function", "function": {"name": ...}}`` shape is accepted too)."""
    if isinstance(value, str):
        if value in TOOL_CHOICES:
            return value
        raise InputError(
            f"tool_choice={value!r} for {where}: expected one of {', '.join(TOOL_CHOICES)} "
            "or {'name': <tool name>}"
        )
    if isinstance(value, dict):
        name = value.get("name")
        function = value.get("function")
        if name is None and isinstance(function, dict) and value.get("type") == "function":
            name = function.get("name")
        if isinstance(name, str) and name:
            return {"name": name}
    raise InputTypeError(
        f"tool_choice for {where}: expected one of {', '.join(TOOL_CHOICES)} or "
        f"{{'name': <tool name>}}, got {_shown(value)}"
    )
