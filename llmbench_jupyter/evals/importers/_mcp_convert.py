"""Turn the tools an MCP server lists into OpenAI function tools.

Tools come out in OpenAI function format and pass :func:`.suites.check_tools`. Only
``name``, ``description`` and ``parameters`` go into the function dict: the runner sends
tools verbatim and some OpenAI-compatible endpoints reject unknown keys, so MCP
``title``/``annotations`` are dropped. Names with characters OpenAI does not allow
(MCP allows ``.`` and ``/``) have them replaced by ``_``, as the BFCL importer does.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from llmbench_jupyter.evals.importers._mcp_source import MCPImportError, _origin, _Source
from llmbench_jupyter.evals.suites import SuiteError, check_tools

_EMPTY_PARAMS: dict[str, Any] = {"type": "object", "properties": {}}
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def _to_openai_tools(raw: Sequence[Any], src: _Source) -> list[dict[str, Any]]:
    """MCP ``Tool`` objects to OpenAI function tools, validated with ``check_tools``."""
    origin = _origin(src)
    tools: list[dict[str, Any]] = []
    first_seen: dict[str, int] = {}
    renamed_from: dict[str, str] = {}
    for i, tool in enumerate(raw):
        name = tool.name
        if name in first_seen:
            raise MCPImportError(
                f"{origin}: lists tool {name!r} twice (tools[{first_seen[name]}] and "
                f"tools[{i}]); expected unique tool names"
            )
        first_seen[name] = i
        safe = _BAD_NAME_CHARS.sub("_", name)[:64]
        if not safe:
            raise MCPImportError(f"{origin}: tools[{i}] has an empty name; expected a name")
        if safe in renamed_from:
            raise MCPImportError(
                f"{origin}: tools {renamed_from[safe]!r} and {name!r} both become {safe!r} "
                "once made a valid function name (letters, digits, '_', '-', at most 64); "
                "expected names that stay distinct"
            )
        renamed_from[safe] = name
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": safe,
                    "description": tool.description or "",
                    "parameters": _parameters(tool.input_schema, origin, name),
                },
            }
        )
    try:
        check_tools(tools, origin, "tools")
    except SuiteError as exc:
        text = str(exc)
        at = re.search(r"tools\[(\d+)\]", text)
        if at and int(at.group(1)) < len(raw):
            text += f" (tool {raw[int(at.group(1))].name!r})"
        raise MCPImportError(text) from None
    return tools


def _parameters(schema: Any, origin: str, name: str) -> dict[str, Any]:
    """The tool's inputSchema as function parameters; it must describe an object."""
    if schema is None or schema == {}:
        return copy.deepcopy(_EMPTY_PARAMS)
    if not isinstance(schema, Mapping):
        raise MCPImportError(
            f"{origin}: tool {name!r}: inputSchema is {type(schema).__name__}, expected a "
            "JSON Schema object with type 'object'"
        )
    params = copy.deepcopy(dict(schema))
    kind = params.setdefault("type", "object")
    params.setdefault("properties", {})
    if kind != "object":
        raise MCPImportError(
            f"{origin}: tool {name!r}: inputSchema has type {kind!r}, expected type 'object' "
            "(function parameters are a JSON object of named arguments)"
        )
    return params
