"""OpenAI-compatible ``/chat/completions`` streaming over the lean client."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from llmbench_jupyter.core import errors
from llmbench_jupyter.core.transports.base import ANSWER, REASONING, TOOL, RequestSpec, StreamResult
from llmbench_jupyter.core.transports.http import parse_json, stream_sse

NAME = "aiohttp-openai"


def build_body(spec: RequestSpec) -> bytes:
    payload: dict[str, Any] = {
        "model": spec.api_model,
        "messages": spec.messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if spec.max_tokens is not None:
        payload["max_tokens"] = spec.max_tokens
    if spec.temperature is not None:
        payload["temperature"] = spec.temperature
    payload.update(spec.extra_params)
    return json.dumps(payload).encode()


def build_headers(spec: RequestSpec) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if spec.api_key:
        headers["Authorization"] = f"Bearer {spec.api_key}"
    headers.update(spec.headers)
    return headers


def handle_event(name: bytes, payload: bytes, now: int, result: StreamResult) -> bool:
    """Record one chunk. Only chunks that carry text or a tool-call fragment get a stamp."""
    if payload == b"[DONE]":
        return True
    obj = parse_json(payload, result)
    if not isinstance(obj, dict):
        if obj is not None:
            result.fail(errors.MALFORMED, "malformed chunk: not a JSON object")
        return False
    if "error" in obj and not obj.get("choices"):
        err = obj["error"]
        message = err.get("message") if isinstance(err, dict) else err
        result.fail(errors.PROVIDER_ERROR, f"error event in stream: {message}")
        return False
    if result.response_id is None and obj.get("id"):
        result.response_id = obj["id"]
    usage = obj.get("usage")
    if usage:
        result.set_usage("output", usage.get("completion_tokens"))
        result.set_usage("input", usage.get("prompt_tokens"))
        details = usage.get("completion_tokens_details") or {}
        result.set_usage("reasoning", details.get("reasoning_tokens"))
    for choice in obj.get("choices") or ():
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            result.chunk_ns.append(now)
            result.chunk_kinds.append(REASONING)
            result.reasoning_parts.append(reasoning)
        content = delta.get("content")
        if content:
            result.chunk_ns.append(now)
            result.chunk_kinds.append(ANSWER)
            result.answer_parts.append(content)
        calls = delta.get("tool_calls")
        if calls:
            result.chunk_ns.append(now)
            result.chunk_kinds.append(TOOL)
            for call in calls:
                fn = call.get("function") or {}
                result.add_tool_fragment(
                    call.get("index", 0), call.get("id"), fn.get("name"), fn.get("arguments") or ""
                )
        if choice.get("finish_reason"):
            result.finish_reason = choice["finish_reason"]
    return False


async def stream(session: aiohttp.ClientSession, spec: RequestSpec) -> tuple[int, StreamResult]:
    """Send one streaming chat request; returns (send stamp in ns, observations)."""
    return await stream_sse(session, spec, build_headers(spec), build_body(spec), handle_event)
