"""Validate a suite's tools and check expected values and matchers against their schemas.

An expected call whose value cannot fit the parameter's JSON Schema type can never
pass, so it is reported when the suite loads rather than scored as a miss.
"""

from __future__ import annotations

import re
from typing import Any

from llmbench_jupyter.evals.model import MATCHER_KINDS, ParamMatcher
from llmbench_jupyter.evals.suites._errors import _fail, _tname

# OpenAI's rule for function names.
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
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
