"""The baseline process of ``cold_start.py``: a bare aiohttp script doing the same requests.

    python benchmarks/_bare_stream.py URL MODEL N STREAMS MAX_TOKENS

One ``ClientSession`` (no connection limit), N streaming chat completions over STREAMS
workers: stamp each read, split SSE on blank lines, ``json.loads`` every event, keep the
content chunks' stamps and the usage. Nothing else, so its whole-process CPU and wall
time are the floor any benchmark client pays. Prints one JSON line: the first request's
send stamp (``perf_counter_ns``, CLOCK_MONOTONIC, comparable across processes), its
response id, and counts.
"""

from __future__ import annotations

import asyncio
import json
import sys
from time import perf_counter_ns
from typing import Any

import aiohttp


async def read_content_stamps(resp: aiohttp.ClientResponse) -> tuple[Any, Any, list[int]]:
    """The minimal correct read of a streamed chat completion: stamp each read on arrival,
    split SSE on blank lines, ``json.loads`` every event. Returns the response id, the
    usage, and the stamps of the content chunks (``perf_counter_ns``)."""
    resp.raise_for_status()
    stamps: list[int] = []
    usage, rid, buf = None, None, b""
    async for data in resp.content.iter_any():
        now = perf_counter_ns()
        *events, buf = (buf + data).split(b"\n\n")
        for event in events:
            if not event.startswith(b"data:"):
                continue
            body = event[5:].strip()
            if body == b"[DONE]":
                continue
            obj = json.loads(body)
            rid = rid or obj.get("id")
            usage = obj.get("usage") or usage
            for choice in obj.get("choices") or ():
                if (choice.get("delta") or {}).get("content"):
                    stamps.append(now)
    return rid, usage, stamps


async def main(url: str, model: str, n: int, streams: int, max_tokens: int) -> dict[str, Any]:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=300)
    )
    endpoint = url.rstrip("/") + "/chat/completions"
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": "Say something."}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": max_tokens,
    }
    first: dict[str, Any] = {}
    results: list[tuple[int, list[int], Any]] = []
    todo = iter(range(n))

    async def one() -> None:
        send = perf_counter_ns()
        first.setdefault("send_ns", send)
        async with session.post(
            endpoint, data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        ) as resp:  # fmt: skip
            rid, usage, stamps = await read_content_stamps(resp)
        if send == first["send_ns"]:
            first["response_id"] = rid
        results.append((send, stamps, usage))

    async def worker() -> None:
        for _ in todo:
            await one()

    try:
        await asyncio.gather(*(worker() for _ in range(min(streams, n))))
    finally:
        await session.close()
    return {
        "first_send_ns": first["send_ns"],
        "first_response_id": first.get("response_id"),
        "requests": len(results),
        "chunks": sum(len(s) for _, s, _ in results),
    }


if __name__ == "__main__":
    url, model, n, streams, max_tokens = sys.argv[1:6]
    print(json.dumps(asyncio.run(main(url, model, int(n), int(streams), int(max_tokens)))))
