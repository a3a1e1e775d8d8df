"""The lean streaming HTTP path shared by the OpenAI-compatible and Anthropic clients.

Arrival is stamped with ``perf_counter_ns`` as soon as ``iter_any`` hands over bytes,
before any parsing, so parsing cost never shows up as latency. Failures are turned into
categories on the ``StreamResult``; nothing here raises for a provider failure, however
the server misbehaves. Every read is bounded (``RequestSpec.limits``), and everything the
server sent is scrubbed of keys before the result leaves this module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

import aiohttp

from llmbench_jupyter.core import errors
from llmbench_jupyter.core.limits import too_large
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


#: What a handler may raise on a well-formed JSON event of an unexpected shape.
MALFORMED_EVENT = (AttributeError, TypeError, ValueError, KeyError, IndexError, RecursionError)


async def read_bounded(content: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """Read a body up to ``limit`` bytes; returns (bytes, True if there was more)."""
    parts: list[bytes] = []
    size = 0
    while True:
        data = await content.readany()
        if not data:
            return b"".join(parts), False
        size += len(data)
        if size > limit:
            parts.append(data[: len(data) - (size - limit)])
            return b"".join(parts), True
        parts.append(data)


def _error_text(status: int, body: bytes) -> str:
    """The message of an error body, uncut: the caller scrubs before it cuts."""
    text = body.decode("utf-8", "replace")
    try:
        payload = json.loads(text)
        err = payload.get("error", payload) if isinstance(payload, dict) else payload
        text = str(err.get("message") or err) if isinstance(err, dict) else str(err)
    except (ValueError, RecursionError):
        pass
    return f"HTTP {status}: {text.strip()}"


def http_failure(status: int, body: bytes, more: bool = False) -> tuple[str, str]:
    """The category and (uncut, unscrubbed) message of a non-200 answer.

    ``more``: the body went on past the bytes read (the note comes first, so it survives
    when the message is cut for display).
    """
    message = _error_text(status, body)
    if more:
        note = f"HTTP {status} (error body cut at {len(body)} bytes, connection closed):"
        message = note + message[len(f"HTTP {status}:") :]
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
    limits = spec.limits
    splitter = SSESplitter(limits.event_bytes)
    received = 0
    # No sock_read: asyncio.timeout below bounds the whole request by the same length, and
    # a read timeout re-arms a timer on every read (a few µs per chunk, ~0.2 s of CPU over
    # 80k chunks), yet could never fire first.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(spec.timeout_s, 30.0))
    received_any = False
    send_ns = perf_counter_ns()
    try:
        async with asyncio.timeout(spec.timeout_s):
            async with session.post(spec.url, data=body, headers=headers, timeout=timeout) as resp:
                if resp.status != 200:
                    body, more = await read_bounded(resp.content, limits.error_body_bytes)
                    result.end_ns = perf_counter_ns()
                    if more:  # an endless error body: close, keep what the head said
                        resp.close()
                    category, message = http_failure(resp.status, body, more)
                    result.fail(category, message, resp.status)
                    result.scrub(spec.secrets)
                    return send_ns, result
                async for data in resp.content.iter_any():
                    now = perf_counter_ns()
                    received_any = True
                    received += len(data)
                    try:
                        for name, payload in splitter.feed(data):
                            if handle(name, payload, now, result):
                                result.completed = True
                    except MALFORMED_EVENT as exc:
                        result.fail(errors.MALFORMED, f"malformed event: {_shape_error(exc)}")
                    result.end_ns = now
                    if splitter.overflowed:
                        result.fail(
                            errors.RESPONSE_TOO_LARGE,
                            too_large("one server-sent event", limits.event_bytes),
                        )
                    elif received > limits.response_bytes:
                        result.fail(
                            errors.RESPONSE_TOO_LARGE,
                            too_large("the response", limits.response_bytes),
                        )
                    if result.completed or result.error_category:
                        if not result.completed:
                            resp.close()
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
    result.scrub(spec.secrets)
    return send_ns, result


def _shape_error(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return f"unexpected shape ({type(exc).__name__}: {exc})"


def parse_json(payload: bytes, result: StreamResult) -> Any:
    """Decode one event's JSON; a broken one marks the result malformed and returns None.

    The snippet kept is far longer than any message is shown, so a key cut at its end is
    never on display (messages are scrubbed whole, then cut).
    """
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
        snippet = payload[:4096].decode("utf-8", "replace")
        result.fail(errors.MALFORMED, f"malformed chunk ({why}): {snippet!r}")
        return None
