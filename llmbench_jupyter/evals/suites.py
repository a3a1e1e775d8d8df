"""Load, validate, save and hash tool-calling suites (YAML or JSON).

Validation is strict because a typo in a suite silently changes verdicts: an expected
call to a tool that does not exist can never pass, a misspelt parameter is scored as
missing, and a misspelt matcher kind would compare against a dict. Every error names
the file, the key path (``cases[3].expected[0].params.city``), what was found and what
was expected.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmbench_jupyter.evals.model import (
    MATCHER_KINDS,
    Case,
    EvalModelError,
    ExpectedCall,
    ParamMatcher,
    Suite,
)

__all__ = ["SuiteError", "check_tools", "dump_suite", "load_suite", "suite_hash"]

# OpenAI's rule for function names.
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
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
# JSON Schema type -> Python check, for catching an expected value of the wrong type.
_JSON_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}
# Matcher kind -> schema types it can apply to (None: any type).
_KIND_TYPES: dict[str, set[str] | None] = {
    "numeric": {"number", "integer"},
    "text": {"string"},
    "regex": {"string"},
    "unordered": {"array"},
    "object": {"object"},
}


class SuiteError(EvalModelError):
    """A suite (or an imported file) cannot be used; the message says where and why."""


def _fail(origin: str, path: str, problem: str) -> SuiteError:
    return SuiteError(f"{origin}: {path}: {problem}" if path else f"{origin}: {problem}")


def _tname(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# --- tools -------------------------------------------------------------------------------
def check_tools(tools: Any, origin: str = "suite", path: str = "tools") -> dict[str, dict]:
    """Validate OpenAI function-calling tools; return ``name -> parameters schema``."""
    if not isinstance(tools, list):
        raise _fail(origin, path, f"found {_tname(tools)}, expected a list of tools")
    schemas: dict[str, dict] = {}
    for i, tool in enumerate(tools):
        where = f"{path}[{i}]"
        if not isinstance(tool, dict):
            raise _fail(origin, where, f"found {_tname(tool)}, expected a mapping")
        if tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
            hint = ""
            if "name" in tool:
                hint = (
                    " (this looks like a bare function: wrap it as {type: function, "
                    "function: {name, description, parameters}})"
                )
            raise _fail(
                origin,
                where,
                f"found keys {sorted(tool)}, expected OpenAI function "
                f"format {{type: function, function: {{...}}}}{hint}",
            )
        fn = tool["function"]
        name = fn.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise _fail(
                origin,
                f"{where}.function.name",
                f"found {name!r}, expected 1-64 letters, digits, '_' or '-'",
            )
        if name in schemas:
            raise _fail(origin, f"{where}.function.name", f"duplicate tool name {name!r}")
        if "description" in fn and not isinstance(fn["description"], str):
            raise _fail(
                origin,
                f"{where}.function.description",
                f"found {_tname(fn['description'])}, expected a string",
            )
        params = fn.get("parameters", {"type": "object", "properties": {}})
        _check_params_schema(params, origin, f"{where}.function.parameters")
        schemas[name] = params
    return schemas


def _check_params_schema(params: Any, origin: str, where: str) -> None:
    if not isinstance(params, dict):
        raise _fail(origin, where, f"found {_tname(params)}, expected a JSON Schema object")
    if params.get("type", "object") != "object":
        raise _fail(origin, f"{where}.type", f"found {params.get('type')!r}, expected 'object'")
    props = params.get("properties", {})
    if not isinstance(props, dict):
        raise _fail(origin, f"{where}.properties", f"found {_tname(props)}, expected a mapping")
    required = params.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise _fail(origin, f"{where}.required", f"found {required!r}, expected a list of names")
    missing = [r for r in required if r not in props]
    if missing:
        raise _fail(
            origin, f"{where}.required", f"names {missing} are not in properties {sorted(props)}"
        )


# --- matchers against schemas ----------------------------------------------------------
def _schema_types(schema: Any) -> set[str] | None:
    if not isinstance(schema, dict):
        return None
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list) and all(isinstance(x, str) for x in t):
        return set(t)
    return None


def _closed_props(schema: Any) -> dict[str, Any] | None:
    """The properties of an object schema that rejects unknown keys, else None."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return None
    if schema.get("additionalProperties") not in (None, False):
        return None
    return schema["properties"]


def _check_value(value: Any, schema: Any, origin: str, where: str) -> None:
    """A plain expected value must fit the schema's type (and keys, for objects)."""
    types = _schema_types(schema)
    if types is not None and not any(_JSON_TYPES.get(t, lambda v: True)(value) for t in types):
        raise _fail(
            origin,
            where,
            f"found {value!r} ({_tname(value)}), expected a value of "
            f"schema type {'/'.join(sorted(types))}",
        )
    if isinstance(value, dict):
        props = _closed_props(schema)
        for key, sub in value.items():
            _check_known_key(props, key, origin, where)
            _check_value(sub, props.get(key) if props else None, origin, f"{where}.{key}")
    elif isinstance(value, list) and isinstance(schema, dict):
        for i, item in enumerate(value):
            _check_value(item, schema.get("items"), origin, f"{where}[{i}]")


def _check_known_key(props: dict[str, Any] | None, key: str, origin: str, where: str) -> None:
    """An object key the schema does not list (when it lists its properties) is an error."""
    if props is not None and key not in props:
        raise _fail(
            origin, f"{where}.{key}", f"unknown key {key!r}; the schema allows {sorted(props)}"
        )


def _check_matcher(m: ParamMatcher, schema: Any, origin: str, where: str) -> None:
    types = _schema_types(schema)
    allowed = _KIND_TYPES.get(m.kind)
    if types is not None and allowed is not None and not types & allowed:
        raise _fail(
            origin,
            where,
            f"matcher {m.kind!r} cannot apply to schema type "
            f"{'/'.join(sorted(types))}; expected a type among {sorted(allowed)}",
        )
    if m.kind == "exact":
        if isinstance(m.value, dict) and types is not None and "object" not in types:
            raise _fail(
                origin,
                where,
                f"found mapping with keys {sorted(m.value)}: not a "
                f"matcher (kinds are {list(MATCHER_KINDS)}) and the parameter is not "
                "an object",
            )
        _check_value(m.value, schema, origin, where)
    elif m.kind == "one_of":
        for i, v in enumerate(m.value):
            _check_value(v, schema, origin, f"{where}.one_of[{i}]")
    elif m.kind == "object":
        props = _closed_props(schema)
        for key, sub in m.value.items():
            _check_known_key(props, key, origin, where)
            _check_matcher(sub, props.get(key) if props else None, origin, f"{where}.{key}")
    elif m.kind == "unordered":
        items = schema.get("items") if isinstance(schema, dict) else None
        for i, v in enumerate(m.value):
            if isinstance(v, ParamMatcher):
                _check_matcher(v, items, origin, f"{where}[{i}]")
            else:
                _check_value(v, items, origin, f"{where}[{i}]")


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


# --- public API --------------------------------------------------------------------------
def read_data_file(path: str | os.PathLike[str], what: str = "suite file") -> tuple[Any, str]:
    """Parse a YAML or JSON file; return (data, origin label for messages)."""
    origin = f"{what} {os.fspath(path)}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"{origin}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SuiteError(f"{origin}: not UTF-8 text") from None
    if str(path).lower().endswith(".json"):
        try:
            return json.loads(text), origin
        except json.JSONDecodeError as exc:
            raise SuiteError(
                f"{origin}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
    import yaml

    try:
        return yaml.safe_load(text), origin
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(f"{origin}: invalid YAML{at}: {problem}") from None


def load_suite(source: str | os.PathLike[str] | Mapping[str, Any] | Suite) -> Suite:
    """Load and validate a suite from a YAML/JSON file, a parsed mapping, or a Suite;
    ``"example"`` is the shipped example suite.

    Matchers may use the short forms of :mod:`.model`. Raises :class:`SuiteError`.
    """
    if isinstance(source, str) and source == "example":
        from importlib.resources import files

        source = str(files("llmbench_jupyter.evals") / "data" / "example_suite.yaml")
    if isinstance(source, Suite):
        return _build(source.to_dict(), f"suite {source.name!r}")
    if isinstance(source, Mapping):
        label = source.get("name") if isinstance(source.get("name"), str) else "?"
        return _build(dict(source), f"suite {label!r}")
    data, origin = read_data_file(source)
    return _build(data, origin)


def dump_suite(suite: Suite, path: str | os.PathLike[str]) -> Path:
    """Write a suite as YAML (``.yaml``/``.yml``) or JSON (anything else); lossless."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = suite.to_dict()
    if out.suffix.lower() in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    out.write_text(text, encoding="utf-8")
    return out


def suite_hash(suite: Suite) -> str:
    """SHA-256 of the suite's content (everything but ``version``), stable across runs.

    The store uses it to tell whether a saved suite changed and needs a new version.
    """
    data = suite.to_dict()
    data.pop("version", None)
    canon = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()
