"""Parse every provider's tool-call format into ``list[ParsedCall]``.

Scoring must see exactly the calls the model made, whatever the wire format:
OpenAI chat ``tool_calls`` (and legacy ``function_call``), OpenAI Responses
``function_call`` items, Anthropic ``tool_use`` blocks, Gemini ``functionCall`` parts,
our transports' reassembled ``RequestRecord.output_text`` JSON, and (only when asked,
``allow_text=True``) JSON tool calls written as plain text by local models.

A call whose arguments cannot be decoded is kept with ``arguments=None`` and a
``parse_error``: the predecessor's peers dropped such calls and then scored the case as a
correct abstention.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from llmbench_jupyter.core.errors import InputTypeError
from llmbench_jupyter.evals.model import ParsedCall

__all__ = [
    "parse_anthropic_content",
    "parse_arguments",
    "parse_gemini_parts",
    "parse_openai_message",
    "parse_output_text",
    "parse_text_calls",
    "parse_tool_calls",
]

_ARG_KEYS = ("arguments", "args", "input", "parameters")
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n?(.*?)```", re.DOTALL)
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_NAME_IN_TEXT = re.compile(r'"name"\s*:\s*"([^"\\]*)"')


def parse_arguments(raw: Any) -> tuple[dict[str, Any] | None, str | None, str]:
    """Decode one call's arguments: ``(arguments, parse_error, raw_text)``.

    Accepts a JSON string (OpenAI, streamed fragments) or an already-decoded dict
    (Anthropic ``input``, Gemini ``args``). An empty string or None means "no arguments",
    which is how providers send a call to a tool without parameters.
    """
    if raw is None:
        return {}, None, ""
    if isinstance(raw, dict):
        return raw, None, _dump(raw)
    if not isinstance(raw, str):
        return None, f"arguments are a {type(raw).__name__}, expected a JSON object", _dump(raw)
    if not raw.strip():
        return {}, None, raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"arguments are not valid JSON: {exc.msg} at char {exc.pos}", raw
    if not isinstance(value, dict):
        return None, f"arguments decode to a {_json_type(value)}, expected a JSON object", raw
    return value, None, raw


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _make_call(name: Any, raw_args: Any, call_id: Any = None) -> ParsedCall:
    arguments, error, raw_text = parse_arguments(raw_args)
    if not isinstance(name, str) or not name:
        error = error or "the call has no function name"
        name = name if isinstance(name, str) else ""
    return ParsedCall(
        name=name,
        arguments=arguments if error is None else None,
        raw_arguments=raw_text,
        id=call_id if isinstance(call_id, str) else None,
        parse_error=error,
    )


def _parse_item(item: Any) -> ParsedCall | None:
    """One element of any provider's call/content list; None when it is not a call."""
    if not isinstance(item, dict):
        return None
    function = item.get("function")
    if isinstance(function, dict):  # OpenAI chat tool_calls[]
        return _make_call(function.get("name"), function.get("arguments"), item.get("id"))
    kind = item.get("type")
    if kind == "tool_use":  # Anthropic content block
        return _make_call(item.get("name"), item.get("input"), item.get("id"))
    if kind == "function_call":  # OpenAI Responses API output item
        call_id = item.get("call_id") or item.get("id")
        return _make_call(item.get("name"), item.get("arguments"), call_id)
    for key in ("functionCall", "function_call"):  # Gemini part (REST or SDK spelling)
        fc = item.get(key)
        if isinstance(fc, dict):
            args = fc.get("args", fc.get("arguments"))
            return _make_call(fc.get("name"), args, fc.get("id"))
    if "name" in item and any(k in item for k in _ARG_KEYS):  # our transports / text JSON
        raw = next(item[k] for k in _ARG_KEYS if k in item)
        return _make_call(item.get("name"), raw, item.get("id"))
    return None


def _parse_items(items: Iterable[Any]) -> list[ParsedCall]:
    return [call for item in items if (call := _parse_item(item)) is not None]


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or the text parts/blocks of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and "text" in p]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def parse_openai_message(message: dict[str, Any], *, allow_text: bool = False) -> list[ParsedCall]:
    """OpenAI chat message: ``tool_calls`` first, else legacy ``function_call``, else text."""
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        return _parse_items(calls)
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        return [_make_call(legacy.get("name"), legacy.get("arguments", legacy.get("args")))]
    if allow_text:
        return parse_text_calls(_content_text(message.get("content")))
    return []


def parse_anthropic_content(blocks: list[Any], *, allow_text: bool = False) -> list[ParsedCall]:
    """Anthropic message content: every ``tool_use`` block, in order."""
    calls = _parse_items(blocks)
    if not calls and allow_text:
        return parse_text_calls(_content_text(blocks))
    return calls


def parse_gemini_parts(parts: list[Any], *, allow_text: bool = False) -> list[ParsedCall]:
    """Gemini content parts: every ``functionCall {name, args}``, in order."""
    calls = _parse_items(parts)
    if not calls and allow_text:
        return parse_text_calls(_content_text(parts))
    return calls


def parse_output_text(text: str | None, *, allow_text: bool = False) -> list[ParsedCall]:
    """``RequestRecord.output_text``: our JSON ``{"content", "tool_calls": [...]}`` or an answer.

    core.measure cuts output_text at 20,000 characters; the calls that survive a cut are
    kept and the cut one becomes a parse error rather than disappearing.
    """
    if not text:
        return []
    stripped = text.lstrip()
    if stripped.startswith('{"content"') and '"tool_calls"' in stripped:
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            return _salvage_truncated(stripped)
        if isinstance(data, dict) and isinstance(data.get("tool_calls"), list):
            calls = _parse_items(data["tool_calls"])
            if calls or not allow_text:
                return calls
            return parse_text_calls(str(data.get("content") or ""))
    return parse_text_calls(text) if allow_text else []


def _salvage_truncated(text: str) -> list[ParsedCall]:
    start = text.find("[", text.find('"tool_calls"'))
    decoder = json.JSONDecoder()
    calls: list[ParsedCall] = []
    pos = start + 1
    while pos < len(text):
        while pos < len(text) and text[pos] in " ,\n\t":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            name = _NAME_IN_TEXT.search(text, pos)
            calls.append(
                ParsedCall(
                    name=name.group(1) if name else "",
                    arguments=None,
                    raw_arguments=text[pos:],
                    parse_error="the recorded tool call was cut off (output_text limit)",
                )
            )
            break
        call = _parse_item(item)
        if call is not None:
            calls.append(call)
    return calls


def parse_text_calls(text: str) -> list[ParsedCall]:
    """JSON tool calls written as text: ``<tool_call>`` tags, ```json fences, or bare JSON.

    Recognised objects: ``{"name", "arguments"|"parameters"|"args"}``, OpenAI-shaped
    ``{"function": {...}}``, a list of those, or ``{"tool_calls": [...]}``. A tagged or
    fenced block that names a function but is not valid JSON is a parse error.
    """
    if not text or not text.strip():
        return []
    tagged = _TAGGED.findall(text)
    if tagged:
        return [c for block in tagged for c in _calls_from_block(block, explicit=True)]
    fenced = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "json")]
    if fenced:
        return [c for block in fenced for c in _calls_from_block(block, explicit=False)]
    return _calls_from_block(text, explicit=False)


def _calls_from_block(block: str, *, explicit: bool) -> list[ParsedCall]:
    """Calls in one block of text; ``explicit`` blocks (``<tool_call>``) must hold a call."""
    body = block.strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        found = _first_json(body)
        if found is not None:
            value = found
        elif explicit or _looks_like_call(body):
            name = _NAME_IN_TEXT.search(body)
            return [
                ParsedCall(
                    name=name.group(1) if name else "",
                    arguments=None,
                    raw_arguments=body,
                    parse_error=f"tool call text is not valid JSON: {exc.msg} at char {exc.pos}",
                )
            ]
        else:
            return []
    return _calls_from_value(value)


def _looks_like_call(text: str) -> bool:
    return '"name"' in text and any(f'"{k}"' in text for k in _ARG_KEYS)


def _first_json(text: str) -> Any | None:
    """The first JSON object/array embedded in prose that decodes and holds a call."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if _calls_from_value(value):
            return value
    return None


def _calls_from_value(value: Any) -> list[ParsedCall]:
    if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
        return _parse_items(value["tool_calls"])
    if isinstance(value, dict):
        call = _parse_item(value)
        return [call] if call is not None else []
    if isinstance(value, list):
        return _parse_items(value)
    return []


def parse_tool_calls(response: Any, *, allow_text: bool = False) -> list[ParsedCall]:
    """Every tool call in ``response``, whatever the provider format (auto-detected).

    ``response`` may be a RequestRecord (its ``output_text``), that text itself, an
    OpenAI chat completion or message, an OpenAI Responses result, an Anthropic message or
    its content blocks, a Gemini response/candidate/content or its parts, or a list of
    calls in any of these shapes. Plain-text JSON calls are read only with
    ``allow_text=True``: a prose answer must not turn into a call by accident.
    """
    if response is None:
        return []
    if isinstance(response, ParsedCall):
        return [response]
    if isinstance(response, str):
        return parse_output_text(response, allow_text=allow_text)
    if hasattr(response, "output_text") and not isinstance(response, dict | list):
        return parse_output_text(response.output_text, allow_text=allow_text)
    if isinstance(response, list):
        if all(isinstance(x, ParsedCall) for x in response):
            return list(response)
        calls = _parse_items(response)
        return calls if calls or not allow_text else parse_text_calls(_content_text(response))
    if not isinstance(response, dict):
        raise InputTypeError(
            f"cannot read tool calls from a {type(response).__name__}; expected a provider "
            "response dict, a list of calls/blocks/parts, a string or a RequestRecord"
        )
    return _parse_dict(response, allow_text)


def _parse_dict(data: dict[str, Any], allow_text: bool) -> list[ParsedCall]:
    choices = data.get("choices")
    if isinstance(choices, list):  # OpenAI chat completion: the first choice
        first = choices[0] if choices else {}
        message = first.get("message") or first.get("delta") or {}
        return parse_openai_message(message, allow_text=allow_text)
    candidates = data.get("candidates")
    if isinstance(candidates, list):  # Gemini response: the first candidate
        first = candidates[0] if candidates else {}
        content = first.get("content") or {}
        return parse_gemini_parts(content.get("parts") or [], allow_text=allow_text)
    if isinstance(data.get("parts"), list):  # Gemini content
        return parse_gemini_parts(data["parts"], allow_text=allow_text)
    if isinstance(data.get("output"), list):  # OpenAI Responses API
        calls = _parse_items(data["output"])
        if calls or not allow_text:
            return calls
        texts = [_content_text(o.get("content")) for o in data["output"] if isinstance(o, dict)]
        return parse_text_calls("\n".join(texts))
    if "tool_calls" in data or ("function_call" in data and "type" not in data):
        return parse_openai_message(data, allow_text=allow_text)
    content = data.get("content")
    if isinstance(content, list):  # Anthropic message (or OpenAI message with parts)
        return parse_anthropic_content(content, allow_text=allow_text)
    single = _parse_item(data)
    if single is not None:
        return [single]
    if allow_text and isinstance(content, str):
        return parse_text_calls(content)
    return []
