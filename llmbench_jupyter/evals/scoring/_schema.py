"""The tools offered on a case and whether each call is valid against their schemas.

Independent of the expected answer (``CaseScore.schema_valid``); BFCL mode also reads
parameter types and required lists from these specs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmbench_jupyter.evals.model import Case, EvalModelError, ParsedCall
from llmbench_jupyter.evals.scoring._matchers import _jtype
from llmbench_jupyter.evals.scoring._outcomes import _call_label


def _specs_from(case: Case, source: Any) -> dict[str, dict[str, Any]]:
    """Function specs by name from OpenAI tools or bare/BFCL function dicts."""
    if isinstance(source, Mapping):
        source = [source]
    if not isinstance(source, list | tuple):
        raise EvalModelError(f"case {case.id!r}: tools must be a list of tool definitions")
    specs: dict[str, dict[str, Any]] = {}
    for i, tool in enumerate(source):
        spec = tool.get("function") if isinstance(tool, Mapping) else None
        spec = spec if isinstance(spec, Mapping) else tool
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise EvalModelError(
                f"case {case.id!r}: tool {i} has no function name; expected an OpenAI tool "
                '{"type": "function", "function": {"name": ..., "parameters": ...}}'
            )
        specs[spec["name"]] = dict(spec)
    return specs


def _tool_specs(
    case: Case, tools: Sequence[Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]] | None:
    """The tools offered on this case, by the name the model sees, or None if unknown.

    ``tools`` (the suite's) narrowed to ``case.tools``; else a BFCL entry's own
    ``source["function"]`` renamed through ``source["name_map"]`` (dots are not allowed
    in OpenAI tool names, so importers rename ``math.factorial``).
    """
    if tools is not None:
        specs = _specs_from(case, list(tools))
        if case.tools is not None:
            specs = {name: s for name, s in specs.items() if name in case.tools}
        return specs
    if case.source.get("function") is None:
        return None
    renamed = _name_map(case)
    return {
        renamed.get(name, name): spec
        for name, spec in _specs_from(case, case.source["function"]).items()
    }


def _name_map(case: Case) -> dict[str, str]:
    name_map = case.source.get("name_map")
    return dict(name_map) if isinstance(name_map, Mapping) else {}


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "float": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "tuple": (list,),
    "object": (dict,),
    "dict": (dict,),
    "null": (type(None),),
}


def _schema_errors(calls: list[ParsedCall], specs: dict[str, dict[str, Any]]) -> list[str]:
    errors: list[str] = []
    for j, call in enumerate(calls):
        label = _call_label(j, call)
        if call.name not in specs:
            errors.append(f"{label}: not an offered tool")
        elif call.arguments is None:
            errors.append(f"{label}: arguments could not be parsed")
        else:
            schema = specs[call.name].get("parameters") or {"type": "object"}
            errors += [f"{label}: {e}" for e in _validate(schema, call.arguments, "arguments")]
    return errors


def _validate(schema: Any, value: Any, path: str) -> list[str]:
    """The JSON-Schema subset function tools use: type, enum, required, properties, items."""
    if not isinstance(schema, Mapping):
        return []
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    allowed = [_JSON_TYPES[k] for k in kinds if k in _JSON_TYPES]
    if allowed:
        fits = any(
            isinstance(value, t) and not (isinstance(value, bool) and bool not in t)
            for t in allowed
        )
        if not fits:
            return [f"{path} is a {_jtype(value)}, schema says {'/'.join(kinds)}"]
    if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
        return [f"{path}={value!r} is not one of {schema['enum']!r}"]
    errors: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        errors += [
            f"{path}.{name} is required"
            for name in schema.get("required") or []
            if name not in value
        ]
        for name, item in value.items():
            if name in props:
                errors += _validate(props[name], item, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}.{name} is not in the schema")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for k, item in enumerate(value):
            errors += _validate(schema["items"], item, f"{path}[{k}]")
    return errors
