"""The lean streaming HTTP path shared by the OpenAI-compatible and Anthropic clients.

Arrival is stamped with ``perf_counter_ns`` as soon as ``iter_any`` hands over bytes,
before any parsing, so parsing cost never shows up as latency. Failures are turned into
categories on the ``StreamResult``; nothing here raises for a provider failure.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

import aiohttp

from llmbench_jupyter.core import errors
from llmbench_jupyter.core.transports.base import RequestSpec, StreamResult
from llmbench_jupyter.core.transports.sse import SSESplitter

#: Handles one SSE event; returns True when the protocol's end marker was seen.
EventHandler = Callable[[bytes, bytes, int, StreamResult], bool]

_CONTEXT_HINTS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "context window",
    "prompt is too long",
)


def make_session(max_connections: int = 0) -> aiohttp.ClientSession:
    """A session for many concurrent streams: no pool cap, 1 MiB reads (see lessons.md)."""
    connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector, read_bufsize=2**20, timeout=aiohttp.ClientTimeout(total=None)
    )


def _error_text(status: int, body: bytes) -> str:
    text = body[:2000].decode("utf-8", "replace")
    try:
        payload = json.loads(text)
        err = payload.get("error", payload) if isinstance(payload, dict) else payload
        text = str(err.get("message") or err) if isinstance(err, dict) else str(err)
    except ValueError:
        pass
    return f"HTTP {status}: {text.strip()[:300]}"


def _http_failure(status: int, body: bytes) -> tuple[str, str]:
    message = _error_text(status, body)
    category = errors.http_category(status)
    if status in (400, 413, 422) and any(h in message.lower() for h in _CONTEXT_HINTS):
        category = errors.CONTEXT_OVERFLOW
    return category, message


async def stream_sse(
    session: aiohttp.ClientSession,
    spec: RequestSpec,
    headers: dict[str, str],
    body: bytes,
    handle: EventHandler,
) -> tuple[int, StreamResult]:
    """POST ``body`` and feed each SSE event to ``handle``; returns (send stamp ns, result)."""
    result = StreamResult()
    splitter = SSESplitter()
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=min(spec.timeout_s, 30.0), sock_read=spec.timeout_s
    )
    received_any = False
    send_ns = perf_counter_ns()
    try:
        async with asyncio.timeout(spec.timeout_s):
            async with session.post(spec.url, data=body, headers=headers, timeout=timeout) as resp:
                if resp.status != 200:
                    category, message = _http_failure(resp.status, await resp.read())
                    result.fail(category, message, resp.status)
                    result.end_ns = perf_counter_ns()
                    return send_ns, result
                async for data in resp.content.iter_any():
                    now = perf_counter_ns()
                    received_any = True
                    for name, payload in splitter.feed(data):
                        if handle(name, payload, now, result):
                            result.completed = True
                    result.end_ns = now
                    if result.completed or result.error_category:
                        break
    except TimeoutError:
        result.fail(errors.TIMEOUT, f"no complete response within {spec.timeout_s:g} s")
    except aiohttp.ClientPayloadError as exc:
        result.fail(errors.STREAM_CUT, f"stream cut by the server: {type(exc).__name__}")
    except aiohttp.ServerDisconnectedError:
        result.fail(
            errors.STREAM_CUT if received_any else errors.CONNECTION,
            "server closed the connection" + (" mid-stream" if received_any else ""),
        )
    except aiohttp.ClientConnectorError as exc:
        result.fail(errors.CONNECTION, f"cannot connect to {exc.host}:{exc.port}: {exc.os_error}")
    except aiohttp.ClientError as exc:
        result.fail(errors.CONNECTION, f"{type(exc).__name__}: {exc}")
    if result.end_ns is None:
        result.end_ns = perf_counter_ns()
    if not result.completed and result.error_category is None:
        if result.finish_reason is not None and not splitter.pending.strip():
            # Some servers close a finished stream without the [DONE] sentinel. A clean end
            # of the body after a finish_reason is a complete response, not a cut.
            result.completed = True
        else:
            tail = " with a partial event pending" if splitter.pending.strip() else ""
            result.fail(errors.STREAM_CUT, f"stream ended before its end marker{tail}")
    return send_ns, result


def parse_json(payload: bytes, result: StreamResult) -> Any:
    """Decode one event's JSON; a broken one marks the result malformed and returns None."""
    try:
        return json.loads(payload)
    except ValueError:
        snippet = payload[:120].decode("utf-8", "replace")
        result.fail(errors.MALFORMED, f"malformed chunk (not JSON): {snippet!r}")
        return None
