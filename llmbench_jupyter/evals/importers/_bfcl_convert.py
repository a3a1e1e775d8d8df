"""BFCL entries to our model: function docs to JSON Schema, possible answers to matchers.

BFCL's answers are looser than a schema: ``null`` among an optional parameter's values,
values of another type than the doc's (``"dontcare"`` for an integer), ``{key: [values]}``
dicts inside lists, several acceptable dicts, nested dicts not in list form, parameters the
doc does not list. Its checker accepts all of them; bfcl mode reads the raw answer. Here
each parameter gets the closest default-mode matcher that fits the tool's schema, and what
could not be kept is said in ``notes`` (docs/scoring.md, "Differences from BFCL").
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from llmbench_jupyter.evals.model import ParamMatcher
from llmbench_jupyter.evals.suites import SuiteError
from llmbench_jupyter.evals.suites._schemas import _check_matcher, _check_value

# BFCL type names -> JSON Schema types (None: any type, so no "type" key).
_BFCL_TYPES: dict[str, str | None] = {
    "dict": "object",
    "object": "object",
    "float": "number",
    "number": "number",
    "integer": "integer",
    "int": "integer",
    "string": "string",
    "str": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "any": None,
    "null": "null",
}
_SCHEMA_TO_BFCL = {"object": "dict", "number": "float"}
_BAD_NAME = re.compile(r"[^A-Za-z0-9_-]")
_NESTED = ("items", "additionalProperties", "anyOf", "oneOf", "allOf")
#: most concrete values one acceptable value may expand to (dicts with alternatives)
MAX_OPTIONS = 64
_OMIT: Any = object()


def language_of(category: str) -> str:
    """BFCL's language of a category: java, javascript or python."""
    if re.search(r"(^|_)javascript$", category):
        return "javascript"
    if re.search(r"(^|_)java$", category):
        return "java"
    return "python"


def bfcl_schema(node: Any) -> Any:
    """Convert a BFCL parameter schema to JSON Schema, recursively."""
    if isinstance(node, list):
        return [bfcl_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            mapped = _BFCL_TYPES.get(value.lower())
            if mapped is not None:
                out["type"] = mapped
            # unknown (Java/JS types like "HashMap") and "any": leave the type open
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: bfcl_schema(v) for k, v in value.items()}
        elif key in _NESTED:
            out[key] = bfcl_schema(value)
        else:
            out[key] = value
    return out


def to_bfcl_schema(node: Any) -> Any:
    """Our JSON Schema back to BFCL's dialect (object -> dict, number -> float)."""
    if isinstance(node, list):
        return [to_bfcl_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            out[key] = _SCHEMA_TO_BFCL.get(value, value)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: to_bfcl_schema(v) for k, v in value.items()}
        elif key in _NESTED:
            out[key] = to_bfcl_schema(value)
        else:
            out[key] = value
    return out


def _language_params(params: dict[str, Any], language: str) -> dict[str, Any]:
    """Java/JavaScript docs as BFCL presents them: every parameter a source-code string."""
    props = params.get("properties")
    if language == "python" or not isinstance(props, dict):
        return params
    name = "Java 8 SDK" if language == "java" else "JavaScript"
    new_props = {}
    for key, spec in props.items():
        spec = dict(spec) if isinstance(spec, dict) else {}
        kind = spec.get("type", "any")
        hint = f"Any {name} object" if kind == "any" else f"{name} {kind}"
        if isinstance(spec.get("items"), dict) and "type" in spec["items"]:
            hint += f" of {spec['items']['type']}"
        desc = str(spec.get("description", "")).rstrip()
        new_props[key] = {
            "type": "string",
            "description": f"{desc} ({hint}, in source-code syntax)".strip(),
        }
    return {**params, "properties": new_props}


def bfcl_tool(fn: Any, where: str, language: str = "python") -> tuple[str, dict[str, Any]]:
    """(original name, OpenAI tool) of one BFCL function doc. Dots become '_' as BFCL does."""
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise SuiteError(f"{where}: expected a function doc with a string 'name'")
    raw = fn.get("parameters") or {"type": "dict", "properties": {}}
    params = _language_params(raw, language) if isinstance(raw, dict) else raw
    params = bfcl_schema(params)
    if not isinstance(params, dict):
        raise SuiteError(f"{where}.parameters: expected a mapping, got {type(params).__name__}")
    params.setdefault("type", "object")
    required = params.get("required")
    props = params.get("properties") or {}
    if isinstance(required, list) and isinstance(props, dict):
        params["required"] = [r for r in required if r in props]
    body: dict[str, Any] = {
        "name": _BAD_NAME.sub("_", fn["name"])[:64],
        "description": fn.get("description", ""),
        "parameters": params,
    }
    return fn["name"], {"type": "function", "function": body}


def _acceptable(values: Any) -> list[Any]:
    """BFCL's acceptable values (a bare value, as in nested dicts, is a list of one)."""
    return values if isinstance(values, list) else [values]


def concrete(value: Any) -> list[Any]:
    """The concrete values one BFCL acceptable value stands for.

    A dict's values are lists of acceptable values (``""``: the key may be left out), so
    ``{"k": [1, 2]}`` stands for ``{"k": 1}`` and ``{"k": 2}``; so do the dicts of a list.
    Other values stand for themselves. At most ``MAX_OPTIONS`` values are returned.
    """
    if isinstance(value, dict):
        keys = list(value)
        per_key = []
        for key in keys:
            options: list[Any] = []
            for option in _acceptable(value[key]):
                options.extend([_OMIT] if option == "" else concrete(option))
            per_key.append(options)
        out = []
        for combo in itertools.islice(itertools.product(*per_key), MAX_OPTIONS):
            out.append({k: v for k, v in zip(keys, combo, strict=True) if v is not _OMIT})
        return out
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        items = [concrete(v) if isinstance(v, dict) else [v] for v in value]
        return [list(c) for c in itertools.islice(itertools.product(*items), MAX_OPTIONS)]
    return [value]


def _has_str(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, dict):
        return any(_has_str(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_str(v) for v in value)
    return False


def _fits(value: Any, schema: Any) -> bool:
    try:
        _check_value(value, schema, "", "")
    except SuiteError:
        return False
    return True


def _valid(matcher: ParamMatcher, schema: Any) -> bool:
    try:
        _check_matcher(matcher, schema, "", "")
    except SuiteError:
        return False
    return True


def _object_matcher(option: dict[str, Any], schema: Any, optional: bool) -> ParamMatcher | None:
    """One acceptable dict as an ``object`` matcher, when every key converts cleanly."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    subs: dict[str, ParamMatcher] = {}
    for key, values in option.items():
        sub_schema = props.get(key) if isinstance(props, dict) else None
        sub, notes = to_matcher(values, sub_schema)
        if notes or sub.kind == "any":
            return None
        subs[str(key)] = sub
    matcher = ParamMatcher(kind="object", value=subs, optional=optional)
    return matcher if _valid(matcher, schema) else None


def to_matcher(values: Any, schema: Any) -> tuple[ParamMatcher, list[str]]:
    """BFCL's acceptable values of one parameter -> (default-mode matcher, notes).

    ``""`` among them makes the parameter optional. Strings compare like ``text`` wherever
    they are (one value, several, list items, dict values). Values that cannot fit the
    schema (``null``, BFCL's "variables" of another type) are left out and noted; when none
    is left the parameter is ``any`` (``optional`` when it may be omitted).
    """
    acceptable = _acceptable(values)
    optional = "" in acceptable
    options: list[Any] = []
    for value in acceptable:
        if value != "":
            options.extend(v for v in concrete(value) if v not in options)
    fitting = [v for v in options if _fits(v, schema)]
    notes = []
    dropped = [v for v in options if v not in fitting]
    if dropped:
        notes.append(f"values {dropped!r} do not fit the parameter's type: default mode drops them")
    rest = [v for v in acceptable if v != ""]
    if len(rest) == 1 and isinstance(rest[0], dict) and len(fitting) > 1:
        as_object = _object_matcher(rest[0], schema, optional)
        if as_object is not None:
            return as_object, notes
    if not fitting:
        kind = "optional" if optional else "any"
        return ParamMatcher(kind=kind, optional=optional), notes
    norm = _has_str(fitting)
    if len(fitting) == 1:
        value = fitting[0]
        if isinstance(value, str):
            matcher = ParamMatcher(kind="text", value=value, optional=optional)
        elif isinstance(value, dict) and len(rest) == 1 and isinstance(rest[0], dict):
            matcher = _object_matcher(rest[0], schema, optional) or ParamMatcher(
                kind="exact", value=value, optional=optional, normalize=norm
            )
        else:
            matcher = ParamMatcher(kind="exact", value=value, optional=optional, normalize=norm)
    else:
        matcher = ParamMatcher(kind="one_of", value=fitting, optional=optional, normalize=norm)
    if not _valid(matcher, schema):  # e.g. a dict key the schema does not list
        notes.append("the answer does not fit the parameter's schema: default mode accepts any")
        return ParamMatcher(kind="optional" if optional else "any", optional=optional), notes
    return matcher, notes
