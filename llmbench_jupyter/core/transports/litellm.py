"""Providers the lean client does not speak go through litellm (imported lazily).

litellm costs ~30x the CPU per chunk of the lean path (lessons.md), so it is used only
for ``kind: litellm`` targets. Stamps are taken as each chunk is yielded to us, which is
after litellm's own parsing: its overhead is part of what such a target measures.
"""

from __future__ import annotations

import asyncio
import os
from time import perf_counter_ns
from typing import Any

from llmbench_jupyter.core import errors
from llmbench_jupyter.core.transports.base import ANSWER, REASONING, TOOL, RequestSpec, StreamResult

NAME = "litellm"
_litellm: Any = None


def load_litellm() -> Any:
    """Import litellm offline and quiet: bundled price map, no banner, no telemetry."""
    global _litellm
    if _litellm is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_TELEMETRY", "False")
        from llmbench_jupyter.core.tokens import ensure_tiktoken_cache

        ensure_tiktoken_cache()
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        _litellm = litellm
    return _litellm


def _categorise(exc: BaseException) -> tuple[str, int | None]:
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    by_name = {
        "RateLimitError": errors.RATE_LIMITED,
        "AuthenticationError": errors.AUTH_FAILED,
        "PermissionDeniedError": errors.AUTH_FAILED,
        "Timeout": errors.TIMEOUT,
        "APITimeoutError": errors.TIMEOUT,
        "ContextWindowExceededError": errors.CONTEXT_OVERFLOW,
        "APIConnectionError": errors.CONNECTION,
        "ServiceUnavailableError": "http_503",
        "InternalServerError": "http_500",
    }
    if "connection error" in str(exc).lower() or "connect call failed" in str(exc).lower():
        return errors.CONNECTION, None  # litellm wraps refused connections in server errors
    if name in by_name:
        return by_name[name], status
    if isinstance(exc, TimeoutError):
        return errors.TIMEOUT, None
    if status:
        return errors.http_category(status), status
    if "json" in str(exc).lower() and "decode" in str(exc).lower():
        return errors.MALFORMED, None
    return errors.PROVIDER_ERROR, None


async def stream(session: Any, spec: RequestSpec) -> tuple[int, StreamResult]:
    """Stream through ``litellm.acompletion``; ``session`` is unused (litellm pools itself)."""
    litellm = load_litellm()
    result = StreamResult()
    kwargs: dict[str, Any] = dict(spec.extra_params)
    if spec.max_tokens is not None:
        kwargs["max_tokens"] = spec.max_tokens
    if spec.temperature is not None:
        kwargs["temperature"] = spec.temperature
    if spec.api_base:
        kwargs["api_base"] = spec.api_base
    if spec.api_key:
        kwargs["api_key"] = spec.api_key
    if spec.headers:
        kwargs["extra_headers"] = spec.headers
    send_ns = perf_counter_ns()
    try:
        async with asyncio.timeout(spec.timeout_s):
            response = await litellm.acompletion(
                model=spec.litellm_model or spec.api_model,
                messages=spec.messages,
                stream=True,
                stream_options={"include_usage": True},
                timeout=spec.timeout_s,
                **kwargs,
            )
            async for chunk in response:
                now = perf_counter_ns()
                _take_chunk(chunk, now, result)
                result.end_ns = now
        result.completed = True
    except TimeoutError:
        result.fail(errors.TIMEOUT, f"no complete response within {spec.timeout_s:g} s")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # litellm wraps every provider failure in its own types
        category, status = _categorise(exc)
        result.fail(category, f"{type(exc).__name__}: {exc}", status)
    if result.end_ns is None:
        result.end_ns = perf_counter_ns()
    result.scrub((*spec.secrets, spec.api_key or ""))
    return send_ns, result


def _take_chunk(chunk: Any, now: int, result: StreamResult) -> None:
    if result.response_id is None and getattr(chunk, "id", None):
        result.response_id = chunk.id
    usage = getattr(chunk, "usage", None)
    if usage:
        result.set_usage("output", getattr(usage, "completion_tokens", None))
        result.set_usage("input", getattr(usage, "prompt_tokens", None))
        details = getattr(usage, "completion_tokens_details", None)
        result.set_usage("reasoning", getattr(details, "reasoning_tokens", None))
    for choice in getattr(chunk, "choices", None) or ():
        delta = getattr(choice, "delta", None)
        if delta is None:
            continue
        reasoning = getattr(delta, "reasoning_content", None)
        if reasoning:
            result.chunk_ns.append(now)
            result.chunk_kinds.append(REASONING)
            result.reasoning_parts.append(reasoning)
        content = getattr(delta, "content", None)
        if content:
            result.chunk_ns.append(now)
            result.chunk_kinds.append(ANSWER)
            result.answer_parts.append(content)
        calls = getattr(delta, "tool_calls", None)
        if calls:
            result.chunk_ns.append(now)
            result.chunk_kinds.append(TOOL)
            for call in calls:
                fn = getattr(call, "function", None)
                result.add_tool_fragment(
                    getattr(call, "index", 0) or 0,
                    getattr(call, "id", None),
                    getattr(fn, "name", None),
                    getattr(fn, "arguments", None) or "",
                )
        if getattr(choice, "finish_reason", None):
            result.finish_reason = choice.finish_reason
