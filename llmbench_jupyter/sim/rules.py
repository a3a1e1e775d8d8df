"""Scripted responses: rules that map the last user message to content, reasoning or tool calls.

A rules file is a YAML or JSON list. Each rule::

    - match: "weather in"          # regex searched in the last user message
      model: "^sim-"               # optional regex on the model name
      content: "It is sunny."      # and/or reasoning: "...", and/or tool_calls:
      tool_calls: [{name: get_weather, arguments: {city: Paris}}]

A rule with ``tool_result: <regex>`` instead applies only when the conversation ends
with a tool result (matched against its text), so multi-turn tool chains can end.
First matching rule wins; without a match the sim generates filler text.

Two more conditions make answers depend on how the model is asked, deterministically, so
a tuner has a known optimum to find::

    - match: "weather in"
      system: "metric units"           # regex searched in the system prompt
      params: {temperature: [0, 0.3]}  # [low, high] inclusive, or one exact value
      tool_calls: [{name: get_weather, arguments: {city: Paris, unit: celsius}}]
    - match: "weather in"              # asked any other way: the wrong unit
      tool_calls: [{name: get_weather, arguments: {city: Paris, unit: fahrenheit}}]

A request that does not send a parameter named in ``params`` does not meet it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError

_KEYS = {"match", "model", "tool_result", "system", "params", "content", "reasoning",
         "tool_calls"}  # fmt: skip


class RulesError(LLMBenchError):
    """A rules file is unreadable or a rule is invalid; names the file and the rule index."""


@dataclass(frozen=True)
class ToolCallSpec:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Rule:
    match: re.Pattern[str] | None
    model: re.Pattern[str] | None = None
    tool_result: re.Pattern[str] | None = None
    system: re.Pattern[str] | None = None
    params: tuple[tuple[str, Any], ...] = ()  # (name, exact value or (low, high))
    content: str | None = None
    reasoning: str | None = None
    tool_calls: tuple[ToolCallSpec, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Conversation:
    """What rules look at: the last user text and, if the chat ends with one, a tool
    result; the system prompt and the request's top-level parameters."""

    model: str
    last_user: str
    tool_result: str | None  # text of the trailing tool result(s), None if the user spoke last
    system: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def _compile(where: str, key: str, value: Any) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RulesError(f"{where}: {key!r} must be a regex string, got {type(value).__name__}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise RulesError(f"{where}: {key!r} is not a valid regex ({exc}): {value!r}") from None


def _tool_calls(where: str, value: Any) -> tuple[ToolCallSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise RulesError(f"{where}: 'tool_calls' must be a non-empty list of {{name, arguments}}")
    calls = []
    for j, call in enumerate(value):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise RulesError(f"{where}: tool_calls[{j}] needs a string 'name'")
        args = call.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                raise RulesError(f"{where}: tool_calls[{j}].arguments is not JSON") from None
        if not isinstance(args, dict):
            raise RulesError(f"{where}: tool_calls[{j}].arguments must be a mapping")
        calls.append(ToolCallSpec(call["name"], args))
    return tuple(calls)


def _params(where: str, value: Any) -> tuple[tuple[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not value:
        raise RulesError(
            f"{where}: 'params' must be a mapping of parameter to value or [low, high]"
        )
    out: list[tuple[str, Any]] = []
    for name, want in value.items():
        if isinstance(want, list):
            if len(want) != 2 or not all(_number(x) for x in want) or want[0] > want[1]:
                raise RulesError(
                    f"{where}: params.{name} must be [low, high] numbers with low <= high, "
                    f"got {want!r}"
                )
            want = (float(want[0]), float(want[1]))
        elif not isinstance(want, str | int | float | bool):
            raise RulesError(f"{where}: params.{name} must be a value or [low, high], got {want!r}")
        out.append((str(name), want))
    return tuple(out)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _meets(params: tuple[tuple[str, Any], ...], sent: dict[str, Any]) -> bool:
    for name, want in params:
        if name not in sent:
            return False
        got = sent[name]
        if isinstance(want, tuple):
            if not _number(got) or not want[0] <= got <= want[1]:
                return False
        elif got != want or isinstance(got, bool) != isinstance(want, bool):
            return False
    return True


def _parse_rule(where: str, raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = set(raw) - _KEYS
    if unknown:
        raise RulesError(f"{where}: unknown keys {sorted(unknown)}; expected {sorted(_KEYS)}")
    if raw.get("match") is None and raw.get("tool_result") is None:
        raise RulesError(f"{where}: needs 'match' (or 'tool_result')")
    for key in ("content", "reasoning"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise RulesError(f"{where}: {key!r} must be a string")
    rule = Rule(
        match=_compile(where, "match", raw.get("match")),
        model=_compile(where, "model", raw.get("model")),
        tool_result=_compile(where, "tool_result", raw.get("tool_result")),
        system=_compile(where, "system", raw.get("system")),
        params=_params(where, raw.get("params")),
        content=raw.get("content"),
        reasoning=raw.get("reasoning"),
        tool_calls=_tool_calls(where, raw.get("tool_calls")),
    )
    if rule.content is None and rule.reasoning is None and not rule.tool_calls:
        raise RulesError(f"{where}: needs 'content', 'reasoning' or 'tool_calls'")
    return rule


def load_rules(source: str | os.PathLike[str] | list[Any] | None) -> list[Rule]:
    """Load rules from a YAML/JSON file path or an already-parsed list (None: no rules)."""
    if source is None:
        return []
    if isinstance(source, list):
        name, data = "rules list", source
    else:
        name = os.fspath(source)
        try:
            with open(name, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise RulesError(f"rules file {name}: cannot read ({exc.strerror})") from None
        import yaml  # JSON is YAML too

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RulesError(f"rules file {name}: not valid YAML/JSON ({exc})") from None
        if data is None:
            data = []
        name = f"rules file {name}"
    if not isinstance(data, list):
        raise RulesError(f"{name}: expected a list of rules, got {type(data).__name__}")
    return [_parse_rule(f"{name}, rule {i}", raw) for i, raw in enumerate(data)]


def find_rule(rules: list[Rule], conv: Conversation) -> Rule | None:
    """First rule matching the conversation, or None."""
    for rule in rules:
        if rule.model is not None and not rule.model.search(conv.model):
            continue
        if conv.tool_result is not None:
            if rule.tool_result is None or not rule.tool_result.search(conv.tool_result):
                continue
        elif rule.tool_result is not None:
            continue
        if rule.match is not None and not rule.match.search(conv.last_user):
            continue
        if rule.system is not None and not rule.system.search(conv.system):
            continue
        if not _meets(rule.params, conv.params):
            continue
        return rule
    return None
