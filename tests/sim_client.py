"""Shared by the test_sim_* files: talk to a fresh SimServer over real HTTP, read its streams.

Also holds the scripted RULES that both the rules tests and the Anthropic tool-use test
serve.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from llmbench_jupyter.sim import SimServer

USER = [{"role": "user", "content": "hello world"}]


def run(body: Callable[..., Awaitable[Any]], **server_kw: Any) -> Any:
    """Run ``body(srv, session)`` against a fresh server in a fresh loop."""

    async def main() -> Any:
        async with SimServer(**server_kw) as srv, aiohttp.ClientSession() as session:
            return await body(srv, session)

    return asyncio.run(main())


async def openai_stream(
    srv: SimServer,
    session: aiohttp.ClientSession,
    model: str,
    messages: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> list[tuple[int, Any]]:
    """POST a streamed chat completion; (client arrival perf_counter_ns, parsed data) per event.

    A chunk that is not valid JSON is returned as its raw text.
    """
    payload = {"model": model, "stream": True, "messages": messages or USER, **extra}
    events: list[tuple[int, Any]] = []
    async with session.post(srv.base_url + "/chat/completions", json=payload) as resp:
        assert resp.status == 200, await resp.text()
        async for line in resp.content:
            now = time.perf_counter_ns()
            if not line.startswith(b"data: "):
                continue
            data = line[6:].strip().decode()
            try:
                events.append((now, json.loads(data) if data != "[DONE]" else "[DONE]"))
            except json.JSONDecodeError:
                events.append((now, data))
    return events


def deltas(events: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    return [e["choices"][0]["delta"] for _, e in events if isinstance(e, dict) and e["choices"]]


def content_deltas(events: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    return [
        d
        for d in deltas(events)
        if d.get("content") or d.get("reasoning_content") or d.get("tool_calls")
    ]


RULES = [
    {
        "match": "(?i)weather",
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
            {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
        ],
    },
    {"match": "(?i)weather", "tool_result": "sunny", "content": "It is sunny in Paris."},
    {
        "match": "capital",
        "model": "^sim-",
        "content": "Paris is the capital.",
        "reasoning": "The user asks a geography question.",
    },
]


async def anthropic_events(
    srv: SimServer,
    s: aiohttp.ClientSession,
    model: str,
    messages: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> list[tuple[str, dict[str, Any]]]:
    payload = {
        "model": model,
        "stream": True,
        "max_tokens": 1000,
        "messages": messages or USER,
        **extra,
    }
    headers = {"x-api-key": "anything", "anthropic-version": "2023-06-01"}
    async with s.post(srv.base_url + "/messages", json=payload, headers=headers) as resp:
        assert resp.status == 200
        text = await resp.text()
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"]
        out.append((lines["event"], data))
    return out
