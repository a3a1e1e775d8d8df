"""One non-streaming OpenAI-compatible chat completion over aiohttp, shared by the eval runner
and the judge.

Evals and judges need the whole answer, not its timing, so this is not the measurement
path (that is ``transports``): a plain POST to ``{api_base}/chat/completions``. It is the
boundary where an eval's text enters the project, so it holds the same guarantees as the
transports: reads are bounded by the target's limits, every failure (HTTP, timeout,
invalid UTF-8, JSON that is not an object or is nested too deeply, no message) raises
:class:`RequestFailed` with an error category, and every string of the body is scrubbed of
the target's secrets before it is returned.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from llmbench_jupyter.core import errors
from llmbench_jupyter.core.errors import LLMBenchError, RequestFailed, scrub, scrub_deep
from llmbench_jupyter.core.limits import too_large
from llmbench_jupyter.core.targets import Target, join_url
from llmbench_jupyter.core.transports.base import ERROR_MESSAGE_LIMIT
from llmbench_jupyter.core.transports.http import http_failure, read_bounded


def require_openai(target: Target, purpose: str) -> None:
    """Refuse, up front, a target this client cannot talk to (before anything is sent)."""
    if target.kind != "openai":
        raise LLMBenchError(
            f"{target.key}: {purpose} speak the OpenAI-compatible protocol; "
            f"kind {target.kind!r} is not supported yet (use a provider with kind: openai)"
        )
    if not target.api_base:
        raise LLMBenchError(
            f"{target.key}: no api_base; {purpose} need the provider's base URL "
            "(e.g. http://127.0.0.1:8000/v1)"
        )


def _failed(category: str, message: str, secrets: tuple[str, ...], status: int | None = None):
    return RequestFailed(category, scrub(message, secrets)[:ERROR_MESSAGE_LIMIT], status)


async def chat_completion(
    session: aiohttp.ClientSession, target: Target, payload: dict[str, Any], timeout_s: float
) -> dict[str, Any]:
    """POST ``payload`` and return the decoded, scrubbed body; failures raise RequestFailed."""
    headers = {"Content-Type": "application/json", **dict(target.headers)}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    secrets, limits = target.secrets(), target.limits
    try:
        async with asyncio.timeout(timeout_s):
            async with session.post(
                join_url(target.api_base, "/chat/completions"),
                json=payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as resp:
                status = resp.status
                limit = limits.response_bytes if status == 200 else limits.error_body_bytes
                raw, more = await read_bounded(resp.content, limit)
                if more:
                    resp.close()
    except TimeoutError:
        raise _failed(errors.TIMEOUT, f"no complete response within {timeout_s:g} s", ()) from None
    except aiohttp.ClientError as exc:
        raise _failed(errors.CONNECTION, f"{type(exc).__name__}: {exc}", secrets) from None
    except ValueError as exc:  # aiohttp refuses the request itself (e.g. a bad header value)
        raise _failed(errors.CLIENT, f"{type(exc).__name__}: {exc}", secrets) from None
    if status != 200:
        category, message = http_failure(status, raw, more)
        raise _failed(category, message, secrets, status)
    if more:
        raise _failed(errors.RESPONSE_TOO_LARGE, too_large("the response", limit), ())
    return scrub_deep(_decode(raw, secrets), secrets)


def _decode(raw: bytes, secrets: tuple[str, ...]) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _failed(
            errors.MALFORMED, f"response is not valid UTF-8 (bad byte at offset {exc.start})", ()
        ) from None
    try:
        body = json.loads(text)
    except RecursionError:
        raise _failed(errors.MALFORMED, "response JSON is nested too deeply", ()) from None
    except ValueError:
        raise _failed(
            errors.MALFORMED, f"malformed response (not JSON): {text[:4096]!r}", secrets
        ) from None
    if not isinstance(body, dict):
        raise _failed(
            errors.MALFORMED, f"malformed response (not a JSON object): {text[:4096]!r}", secrets
        )
    return body


def first_message(body: dict[str, Any]) -> dict[str, Any]:
    """``choices[0].message`` of a completion; a body without one is malformed."""
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        shown = json.dumps(body, default=str)[:200]
        raise RequestFailed(errors.MALFORMED, f"response has no choices[0].message: {shown}")
    return message
