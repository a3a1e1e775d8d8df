"""Anthropic ``/v1/messages`` streaming over the lean client."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from llmbench_jupyter.core import errors
from llmbench_jupyter.core.transports.base import ANSWER, REASONING, TOOL, RequestSpec, StreamResult
from llmbench_jupyter.core.transports.http import parse_json, stream_sse

NAME = "aiohttp-anthropic"
API_VERSION = "2023-06-01"


def build_body(spec: RequestSpec) -> bytes:
    system = [m["content"] for m in spec.messages if m.get("role") == "system"]
    payload: dict[str, Any] = {
        "model": spec.api_model,
        "messages": [m for m in spec.messages if m.get("role") != "system"],
        "max_tokens": spec.max_tokens or 1024,
        "stream": True,
    }
    if system:
        payload["system"] = "\n\n".join(str(s) for s in system)
    if spec.temperature is not None:
        payload["temperature"] = spec.temperature
    payload.update(spec.extra_params)
    return json.dumps(payload).encode()


def build_headers(spec: RequestSpec) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "anthropic-version": API_VERSION,
    }
    if spec.api_key:
        headers["x-api-key"] = spec.api_key
    headers.update(spec.headers)
    return headers


def handle_event(name: bytes, payload: bytes, now: int, result: StreamResult) -> bool:
    obj = parse_json(payload, result)
    if not isinstance(obj, dict):
        return False
    kind = obj.get("type")
    if kind == "content_block_delta":
        delta = obj.get("delta") or {}
        dtype = delta.get("type")
        if dtype == "text_delta" and delta.get("text"):
            result.chunk_ns.append(now)
            result.chunk_kinds.append(ANSWER)
            result.answer_parts.append(delta["text"])
        elif dtype == "thinking_delta" and delta.get("thinking"):
            result.chunk_ns.append(now)
            result.chunk_kinds.append(REASONING)
            result.reasoning_parts.append(delta["thinking"])
        elif dtype == "input_json_delta":
            result.chunk_ns.append(now)
            result.chunk_kinds.append(TOOL)
            result.add_tool_fragment(obj.get("index", 0), None, None, delta.get("partial_json", ""))
    elif kind == "content_block_start":
        block = obj.get("content_block") or {}
        if block.get("type") == "tool_use":
            result.add_tool_fragment(obj.get("index", 0), block.get("id"), block.get("name"), "")
    elif kind == "message_start":
        message = obj.get("message") or {}
        result.response_id = message.get("id")
        usage = message.get("usage") or {}
        result.set_usage("input", usage.get("input_tokens"))
    elif kind == "message_delta":
        usage = obj.get("usage") or {}
        result.set_usage("output", usage.get("output_tokens"))
        stop = (obj.get("delta") or {}).get("stop_reason")
        if stop:
            result.finish_reason = stop
    elif kind == "message_stop":
        return True
    elif kind == "error":
        err = obj.get("error") or {}
        etype = err.get("type", "error")
        category = {
            "overloaded_error": errors.OVERLOADED,
            "rate_limit_error": errors.RATE_LIMITED,
        }.get(etype, errors.PROVIDER_ERROR)
        result.fail(category, f"{etype}: {err.get('message', '')}")
    return False


async def stream(session: aiohttp.ClientSession, spec: RequestSpec) -> tuple[int, StreamResult]:
    """Send one streaming messages request; returns (send stamp in ns, observations)."""
    return await stream_sse(session, spec, build_headers(spec), build_body(spec), handle_event)
