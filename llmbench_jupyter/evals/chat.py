"""One non-streaming OpenAI-compatible chat completion over aiohttp, shared by the eval runner
and the judge.

Evals and judges need the whole answer, not its timing, so this is not the measurement
path (that is ``transports``): a plain POST to ``{api_base}/chat/completions`` whose
failures raise :class:`LLMBenchError` for the caller to turn into a scrubbed status.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.targets import Target


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


async def chat_completion(
    session: aiohttp.ClientSession, target: Target, payload: dict[str, Any], timeout_s: float
) -> dict[str, Any]:
    """POST ``payload`` and return the decoded body; non-200 or non-JSON raises LLMBenchError."""
    headers = {"Content-Type": "application/json", **dict(target.headers)}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    async with session.post(
        target.api_base + "/chat/completions",
        json=payload,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    ) as resp:
        text = await resp.text()
        if resp.status != 200:
            raise LLMBenchError(f"HTTP {resp.status}: {text[:300]}")
        try:
            body = json.loads(text)
        except ValueError:
            raise LLMBenchError(f"malformed response (not JSON): {text[:120]!r}") from None
        if not isinstance(body, dict):
            raise LLMBenchError(f"malformed response (not a JSON object): {text[:120]!r}")
        return body
