"""Build a validated :class:`Suite` from a parsed suite mapping.

Validation is strict because a typo in a suite silently changes verdicts: an expected
call to a tool that does not exist can never pass, a misspelt parameter is scored as
missing, and a misspelt matcher kind would compare against a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmbench_jupyter.evals.model import Case, EvalModelError, ExpectedCall, ParamMatcher, Suite
from llmbench_jupyter.evals.suites._errors import SuiteError, _fail, _tname
from llmbench_jupyter.evals.suites._schemas import _check_matcher, check_tools

_SUITE_KEYS = {"name", "description", "version", "tools", "cases"}
_CASE_KEYS = {
    "id",
    "prompt",
    "messages",
    "category",
    "should_call",
    "expected",
    "ordered",
    "tools",
    "max_rounds",
    "mock_responses",
    "required_sequence",
    "expected_final_state",
    "mock_tools",
    "initial_state",
    "source",
}
_CALL_KEYS = {"name", "params", "allow_extra_params", "alternatives"}
_ROLES = {"system", "developer", "user", "assistant", "tool"}


# --- cases -------------------------------------------------------------------------------
def _check_keys(raw: dict, allowed: set[str], origin: str, where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(origin, where, f"unknown keys {unknown}; expected some of {sorted(allowed)}")


_CHECKS: dict[str, Any] = {
    "a string": lambda v: isinstance(v, str),
    "true or false": lambda v: isinstance(v, bool),
    "an integer >= 1": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
    "a list": lambda v: isinstance(v, list),
    "a mapping": lambda v: isinstance(v, dict),
}


def _want(raw: dict, key: str, what: str, origin: str, where: str, default: Any) -> Any:
    """``raw[key]`` if present and of the kind ``what`` names (a key of _CHECKS)."""
    if key not in raw:
        return default
    value = raw[key]
    if not _CHECKS[what](value):
        raise _fail(origin, f"{where}.{key}", f"found {value!r} ({_tname(value)}), expected {what}")
    return value


def _messages(raw: dict, origin: str, where: str) -> list[dict[str, Any]]:
    if "prompt" in raw and "messages" in raw:
        raise _fail(origin, where, "has both 'prompt' and 'messages'; expected one of them")
    if "prompt" in raw:
        prompt = _want(raw, "prompt", "a string", origin, where, "")
        if not prompt.strip():
            raise _fail(origin, f"{where}.prompt", "found an empty prompt")
        return [{"role": "user", "content": prompt}]
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _fail(
            origin,
            f"{where}.messages",
            f"found {messages!r}, expected 'prompt' or a non-empty list of chat messages",
        )
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            role = m.get("role") if isinstance(m, dict) else m
            raise _fail(
                origin,
                f"{where}.messages[{i}].role",
                f"found {role!r}, expected one of {sorted(_ROLES)}",
            )
    if not any(m["role"] == "user" for m in messages):
        raise _fail(origin, f"{where}.messages", "has no user message")
    return messages


def _tool_names(value: Any, tools: Mapping[str, Any], origin: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(origin, where, f"found {value!r}, expected a list of tool names")
    for i, name in enumerate(value):
        if name not in tools:
            raise _fail(
                origin,
                f"{where}[{i}]",
                f"unknown tool {name!r}; the suite's tools are {sorted(tools)}",
            )
    return list(value)


def _expected_call(
    raw: Any, offered: Mapping[str, dict], all_tools: Mapping[str, dict], origin: str, where: str
) -> ExpectedCall:
    if not isinstance(raw, dict):
        raise _fail(origin, where, f"found {_tname(raw)}, expected a mapping {{name, params}}")
    _check_keys(raw, _CALL_KEYS, origin, where)
    name = raw.get("name")
    if not isinstance(name, str) or name not in offered:
        extra = " (not in this case's 'tools')" if name in all_tools else ""
        raise _fail(
            origin,
            f"{where}.name",
            f"unknown tool {name!r}{extra}; expected one of {sorted(offered)}",
        )
    schema = offered[name]
    params = _want(raw, "params", "a mapping", origin, where, {})
    props = schema.get("properties", {})
    open_schema = schema.get("additionalProperties") not in (None, False)
    matchers: dict[str, ParamMatcher] = {}
    for pname, spec in params.items():
        pwhere = f"{where}.params.{pname}"
        if pname not in props and not open_schema:
            raise _fail(
                origin,
                pwhere,
                f"parameter {pname!r} is not in the schema of tool "
                f"{name!r}; expected one of {sorted(props)}",
            )
        try:
            matcher = ParamMatcher.parse(spec, pwhere)
        except EvalModelError as exc:
            raise SuiteError(f"{origin}: {exc}") from None
        _check_matcher(matcher, props.get(pname), origin, pwhere)
        matchers[str(pname)] = matcher
    allow = _want(raw, "allow_extra_params", "true or false", origin, where, False)
    alternatives = _tool_names(
        raw.get("alternatives", []), offered, origin, f"{where}.alternatives"
    )
    return ExpectedCall(
        name=name, params=matchers, allow_extra_params=allow, alternatives=alternatives
    )


def _case(raw: Any, tools: dict[str, dict], origin: str, where: str) -> Case:
    if not isinstance(raw, dict):
        raise _fail(origin, where, f"found {_tname(raw)}, expected a mapping")
    _check_keys(raw, _CASE_KEYS, origin, where)
    cid = raw.get("id")
    if isinstance(cid, bool) or not isinstance(cid, str | int) or str(cid) == "":
        raise _fail(origin, f"{where}.id", f"found {cid!r}, expected a non-empty string")
    messages = _messages(raw, origin, where)
    subset = None
    if raw.get("tools") is not None:
        subset = _tool_names(raw["tools"], tools, origin, f"{where}.tools")
    offered = {n: tools[n] for n in subset} if subset is not None else tools
    should_call = _want(raw, "should_call", "true or false", origin, where, True)
    expected_raw = _want(raw, "expected", "a list", origin, where, [])
    expected = [
        _expected_call(e, offered, tools, origin, f"{where}.expected[{i}]")
        for i, e in enumerate(expected_raw)
    ]
    if not should_call and expected:
        raise _fail(
            origin,
            f"{where}.expected",
            "should_call is false (abstain) but calls are expected; expected none",
        )
    max_rounds = _want(raw, "max_rounds", "an integer >= 1", origin, where, 1)
    mocks = _want(raw, "mock_responses", "a mapping", origin, where, {})
    for name in mocks:
        if name not in tools:
            raise _fail(
                origin,
                f"{where}.mock_responses.{name}",
                f"unknown tool {name!r}; the suite's tools are {sorted(tools)}",
            )
    sequence = _tool_names(
        raw.get("required_sequence", []), tools, origin, f"{where}.required_sequence"
    )
    final_state = raw.get("expected_final_state")
    if final_state is not None and not isinstance(final_state, dict):
        raise _fail(
            origin,
            f"{where}.expected_final_state",
            f"found {_tname(final_state)}, expected a mapping",
        )
    mock_tools = raw.get("mock_tools")
    if mock_tools is not None and not isinstance(mock_tools, str):
        raise _fail(
            origin, f"{where}.mock_tools", f"found {_tname(mock_tools)}, expected a class name"
        )
    if final_state is not None and mock_tools is None:
        raise _fail(
            origin,
            f"{where}.expected_final_state",
            "a final state needs stateful mock tools; set 'mock_tools' to a registered class",
        )
    initial_state = _want(raw, "initial_state", "a mapping", origin, where, {})
    return Case(
        id=str(cid),
        messages=messages,
        category=_want(raw, "category", "a string", origin, where, "single"),
        should_call=should_call,
        expected=expected,
        ordered=_want(raw, "ordered", "true or false", origin, where, False),
        tools=subset,
        max_rounds=max_rounds,
        mock_responses=dict(mocks),
        required_sequence=sequence,
        expected_final_state=final_state,
        mock_tools=mock_tools,
        initial_state=dict(initial_state),
        source=dict(_want(raw, "source", "a mapping", origin, where, {})),
    )


def _build(data: Any, origin: str) -> Suite:
    if not isinstance(data, dict):
        raise _fail(origin, "", f"found {_tname(data)}, expected a mapping with name, tools, cases")
    _check_keys(data, _SUITE_KEYS, origin, "")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(origin, "name", f"found {name!r}, expected a non-empty string")
    tools = check_tools(data.get("tools", []), origin)
    cases_raw = data.get("cases", [])
    if not isinstance(cases_raw, list):
        raise _fail(origin, "cases", f"found {_tname(cases_raw)}, expected a list of cases")
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(cases_raw):
        try:
            case = _case(raw, tools, origin, f"cases[{i}]")
        except SuiteError as exc:
            cid = raw.get("id") if isinstance(raw, dict) else None
            if cid is None:
                raise
            raise SuiteError(f"{exc} [case id {str(cid)!r}]") from None
        if case.id in seen:
            raise _fail(
                origin,
                f"cases[{i}].id",
                f"duplicate case id {case.id!r} (also cases[{seen[case.id]}])",
            )
        seen[case.id] = i
        cases.append(case)
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _fail(origin, "version", f"found {version!r}, expected an integer >= 1")
    description = data.get("description", "") or ""
    if not isinstance(description, str):
        raise _fail(origin, "description", f"found {_tname(description)}, expected a string")
    return Suite(
        name=name,
        tools=list(data.get("tools", [])),
        cases=cases,
        version=version,
        description=description,
    )
