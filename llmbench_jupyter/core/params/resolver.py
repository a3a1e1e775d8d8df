"""Turn canonical parameters into one target's request payload, and give a search its space.

:func:`resolve` never changes a value quietly. A parameter the target does not take is
*dropped* with the reason (config ``skip_params``, the table row, litellm, or a conflict
with another parameter); one sent under another name or shape gets a *note*; a value out
of the target's range raises :class:`~llmbench_jupyter.core.errors.InputError` saying
what, for which target, and the accepted range. Nothing is clamped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.params import wire
from llmbench_jupyter.core.params.definitions import API_KINDS, PARAMS, Range, param_def
from llmbench_jupyter.core.params.derive import Support, litellm_support
from llmbench_jupyter.core.params.table import Family, family_for

SKIPPED = "skip_params in config"
_NO_TOOLS = "the request offers no tools (the API answers 400 for {name} without tools)"


class Record(NamedTuple):
    """One decision about one parameter: ``param`` is a canonical name (or ``*``)."""

    param: str
    reason: str


@dataclass
class Resolved:
    """A target's request parameters: ``payload`` in wire names, and why it looks so."""

    provider: str
    model: str
    api_kind: str
    family: str
    payload: dict[str, Any] = field(default_factory=dict)
    dropped: list[Record] = field(default_factory=list)
    notes: list[Record] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """JSON-able, for run metadata."""
        return {
            "family": self.family,
            "payload": dict(self.payload),
            "dropped": [r._asdict() for r in self.dropped],
            "notes": [r._asdict() for r in self.notes],
        }


@dataclass(frozen=True)
class Domain:
    """Where a search may range: ``low``/``high`` for numbers, ``choices`` otherwise."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    log: bool = False


@dataclass
class Space:
    """The searchable parameters of one target, what is left out, and the constraints."""

    family: str
    params: dict[str, Domain] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    constraints: list[str] = field(default_factory=list)


def _target(provider: str, model: str, api_kind: str) -> tuple[str, Family]:
    where = f"{provider}/{model} ({api_kind})"
    if api_kind not in API_KINDS:
        raise InputError(
            f"api_kind {api_kind!r} for {provider}/{model}: expected one of "
            f"{', '.join(API_KINDS)} (kind: litellm targets translate parameters themselves)"
        )
    return where, family_for(provider, model, api_kind)


def _support(family: Family, model: str, use_litellm: bool) -> Support | None:
    if family.litellm is None or not use_litellm:
        return None
    return litellm_support(family.litellm, model)


def _source_note(family: Family, support: Support | None) -> Record:
    text = f"rules from the table row {family.label!r}"
    if support is None:
        why = "for this provider" if family.litellm is None else "(use_litellm=False)"
        return Record("*", f"{text}; litellm not consulted {why}")
    if support.params is None:
        return Record("*", text + f" only: {support.why}")
    return Record("*", text + f", narrowed by {support.why}")


#: Anthropic body fields that carry a canonical parameter under another name.
_ANTHROPIC_FIELDS = {"reasoning_effort": "thinking", "parallel_tool_calls": "tool_choice"}


def _wire_name(name: str, family: Family) -> str:
    if family.kind == "anthropic":
        return _ANTHROPIC_FIELDS.get(name, name)
    return family.renames.get(name, name)


def _why_not(
    name: str, family: Family, support: Support | None, skip: set[str], has_tools: bool | None
) -> str | None:
    """Why ``name`` cannot be sent to this target at all, or None if it can."""
    if name in skip:
        return SKIPPED
    if _wire_name(name, family) in skip:
        return f"{SKIPPED} (as {_wire_name(name, family)})"
    if name not in family.accepts:
        return family.reason(name)
    if support is not None and support.lacks(name):
        return f"{support.why} does not list {name}"
    if has_tools is False and name in ("tool_choice", "parallel_tool_calls"):
        return _NO_TOOLS.format(name=name)
    return None


def resolve(
    provider: str,
    model: str,
    api_kind: str,
    params: Mapping[str, Any],
    *,
    skip_params: Iterable[str] = (),
    passthrough: Mapping[str, Any] | None = None,
    has_tools: bool | None = None,
    use_litellm: bool = True,
) -> Resolved:
    """The payload for ``params`` (canonical names, None = unset) sent to this target.

    ``skip_params`` is the target's config list (canonical or wire names); ``passthrough``
    is merged as is, unchecked (provider-specific extras); ``has_tools=False`` drops
    tool_choice and parallel_tool_calls, which APIs refuse without tools.
    """
    where, family = _target(provider, model, api_kind)
    support = _support(family, model, use_litellm)
    out = Resolved(provider, model, api_kind, family.label, notes=[_source_note(family, support)])
    skip = set(skip_params)
    values: dict[str, Any] = {}
    for name, raw in params.items():
        definition = param_def(name, where)
        if raw is None:
            continue
        reason = _why_not(name, family, support, skip, has_tools)
        value = raw if reason and reason.startswith(SKIPPED) else definition.check(raw, where)
        if reason is not None:
            out.dropped.append(Record(name, f"{reason} (value {value!r})"))
            continue
        limit = family.limits.get(name)
        if limit is not None and not limit.contains(value):
            raise InputError(
                f"{name}={value} is out of range for {where}: {family.label} accepts {limit}"
            )
        choices = family.choices.get(name)
        if choices is not None and value not in choices:
            raise InputError(
                f"{name}={value!r} is not accepted by {where}: {family.label} takes "
                f"{', '.join(choices)}"
            )
        values[name] = value
    if api_kind == "anthropic":
        _thinking_rules(values, out, where)
    for kept, dropped, reason in family.exclusive:
        if kept in values and dropped in values:
            out.dropped.append(Record(dropped, f"{reason} (value {values.pop(dropped)!r})"))
    _to_wire(values, family, api_kind, out)
    _merge_passthrough(passthrough or {}, skip, out)
    return out


def _thinking_rules(values: dict[str, Any], out: Resolved, where: str) -> None:
    """Anthropic extended thinking: no forced tool, no temperature/top_k, top_p 0.95-1,
    and a budget below max_tokens (docs.claude.com, extended thinking)."""
    effort = values.get("reasoning_effort")
    if effort is None:
        return
    if wire.forces_a_tool(values.get("tool_choice")):
        values.pop("reasoning_effort")
        out.dropped.append(
            Record(
                "reasoning_effort",
                f"Anthropic extended thinking cannot be combined with a forced tool_choice "
                f"(required or a named tool); tool_choice kept (value {effort!r})",
            )
        )
        return
    for name in ("temperature", "top_k"):
        if name in values:
            out.dropped.append(
                Record(
                    name,
                    f"Anthropic extended thinking (reasoning_effort={effort!r}) does not "
                    f"allow {name} (value {values.pop(name)!r})",
                )
            )
    low, high = wire.THINKING_TOP_P
    if "top_p" in values and not low <= values["top_p"] <= high:
        out.dropped.append(
            Record(
                "top_p",
                f"with extended thinking Anthropic allows top_p only from {low} to {high} "
                f"(value {values.pop('top_p')!r})",
            )
        )
    budget = wire.THINKING_BUDGET[effort]
    max_tokens = values.get("max_tokens")
    if max_tokens is None or max_tokens <= budget:
        got = "not set" if max_tokens is None else f"max_tokens={max_tokens}"
        raise InputError(
            f"reasoning_effort={effort!r} for {where} turns on Anthropic extended thinking "
            f"with budget_tokens={budget}, which must be below max_tokens ({got}): set "
            f"max_tokens above {budget}"
        )


def _to_wire(values: dict[str, Any], family: Family, api_kind: str, out: Resolved) -> None:
    payload = out.payload
    if api_kind == "openai":
        for name, value in values.items():
            name_on_wire = family.renames.get(name, name)
            if name_on_wire != name:
                out.notes.append(Record(name, f"sent as {name_on_wire} ({family.label})"))
            if name == "tool_choice":
                value = wire.openai_tool_choice(value)
            payload[name_on_wire] = value
        return
    for name in ("temperature", "top_p", "top_k", "max_tokens"):
        if name in values:
            payload[name] = values[name]
    choice, parallel = values.get("tool_choice"), values.get("parallel_tool_calls")
    if parallel is not None and choice == "none":
        out.dropped.append(
            Record(
                "parallel_tool_calls",
                f"tool_choice 'none' makes no tool calls to run in parallel (value {parallel!r})",
            )
        )
        parallel = None
    if choice is not None or parallel is not None:
        payload["tool_choice"] = wire.anthropic_tool_choice(choice, parallel)
    if parallel is not None:
        added = "" if choice is not None else " (tool_choice auto, the default, added to hold it)"
        out.notes.append(
            Record(
                "parallel_tool_calls",
                f"sent as tool_choice.disable_parallel_tool_use={not parallel}{added}",
            )
        )
    if "reasoning_effort" in values:
        payload["thinking"] = wire.anthropic_thinking(values["reasoning_effort"])
        out.notes.append(
            Record(
                "reasoning_effort",
                f"sent as thinking.budget_tokens={payload['thinking']['budget_tokens']}",
            )
        )


def _merge_passthrough(extra: Mapping[str, Any], skip: set[str], out: Resolved) -> None:
    for name, value in extra.items():
        if name in PARAMS:
            raise InputError(
                f"passthrough {name!r} for {out.provider}/{out.model}: {name} is a registry "
                "parameter; give it in params so its range is checked"
            )
        if name in out.payload:
            raise InputError(
                f"passthrough {name!r} for {out.provider}/{out.model} collides with the "
                f"resolved {name} (from {sorted(out.payload)})"
            )
        if name in skip:
            out.dropped.append(Record(name, f"{SKIPPED} (value {value!r})"))
            continue
        out.payload[name] = value
        out.notes.append(Record(name, "passed through unchecked"))


def space(
    provider: str,
    model: str,
    api_kind: str,
    names: Iterable[str] | None = None,
    *,
    skip_params: Iterable[str] = (),
    max_output_tokens: int | None = None,
    has_tools: bool | None = None,
    use_litellm: bool = True,
) -> Space:
    """Valid ranges/choices of ``names`` (default: all) for a search over this target.

    Numbers open-ended in the API get the definition's finite search bounds; max_tokens
    tops out at ``max_output_tokens`` when known. Parameters the target does not take are
    in ``excluded`` with the reason; ``constraints`` say what resolving will drop later.
    """
    where, family = _target(provider, model, api_kind)
    support = _support(family, model, use_litellm)
    out = Space(family.label)
    skip = set(skip_params)
    for name in names if names is not None else PARAMS:
        definition = param_def(name, where)
        reason = _why_not(name, family, support, skip, has_tools)
        if reason is not None:
            out.excluded[name] = reason
            continue
        if definition.type in ("float", "int"):
            valid = family.limits.get(name) or definition.valid or Range()
            bounds = definition.search or valid
            low = max(_num(valid.low, bounds.low), _num(bounds.low, valid.low))
            high = min(_num(valid.high, bounds.high), _num(bounds.high, valid.high))
            if name == "max_tokens" and max_output_tokens is not None:
                high = max_output_tokens
            out.params[name] = Domain(name, definition.type, low, high, log=definition.log)
        else:
            choices = family.choices.get(name) or definition.choices
            out.params[name] = Domain(name, definition.type, choices=tuple(choices))
    for kept, dropped, reason in family.exclusive:
        out.constraints.append(f"{kept} and {dropped}: only one is sent; {reason}")
    if api_kind == "anthropic" and "reasoning_effort" in out.params:
        budgets = ", ".join(f"{k} {v}" for k, v in wire.THINKING_BUDGET.items())
        out.constraints.append(
            "reasoning_effort turns on extended thinking: temperature and top_k are dropped, "
            f"top_p kept only from {wire.THINKING_TOP_P[0]} to {wire.THINKING_TOP_P[1]}, "
            f"max_tokens must exceed the budget ({budgets}), and a forced tool_choice "
            "drops reasoning_effort"
        )
    return out


def _num(value: float | None, fallback: float | None) -> float:
    if value is not None:
        return value
    if fallback is not None:
        return fallback
    raise AssertionError("a numeric parameter without any bound")  # pragma: no cover


#: Prefix of a provider-specific parameter sent as is (``extra.<wire name>``), unchecked.
EXTRA = "extra."


def for_target(target: Any, params: Mapping[str, Any], **kw: Any) -> Resolved:
    """:func:`resolve` for a :class:`~llmbench_jupyter.core.targets.Target` (its provider,
    model, kind and ``skip_params``); ``extra.<name>`` entries of ``params`` (a model
    profile's or a search's) are sent as passthrough, after any ``passthrough=`` given."""
    canonical = {k: v for k, v in params.items() if not str(k).startswith(EXTRA)}
    extra = {str(k)[len(EXTRA) :]: v for k, v in params.items() if str(k).startswith(EXTRA)}
    if extra:
        kw["passthrough"] = {**(kw.get("passthrough") or {}), **extra}
    return resolve(
        target.provider,
        target.model,
        target.kind,
        canonical,
        skip_params=target.skip_params,
        **kw,
    )
