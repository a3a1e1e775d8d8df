"""The clients ``timing_accuracy.py`` measures, each run in its own worker subprocess.

A bare aiohttp client (the baseline), llmbench's own transport path, and litellm's: each
answers commands from the parent on stdin, so the parent can interleave them round by
round. Kept apart from the parent so the parent script stays readable.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

ACCURACY_MODEL = "sim:ttft=50,itl=10,tpc=1,out=40,role=1,jitter=0.2"
CPU_MODEL = "sim:ttft=0,itl=0,tpc=1,out={out},role=1,jitter=0"
CLIENTS = ("bare-aiohttp", "llmbench-core", "litellm")
CLI_ROW = "llmbench-cli"
MESSAGES = [{"role": "user", "content": "Say something."}]

# A request function: (model, max_tokens) -> (response_id, absolute content-chunk stamps in ns)
RequestFn = Callable[[str, int | None], Coroutine[Any, Any, tuple[str | None, list[int]]]]
CloseFn = Callable[[], Coroutine[Any, Any, None]]


async def _bare_client(url: str) -> tuple[RequestFn, CloseFn]:
    """The minimal correct streaming client: stamp on arrival, split SSE, keep content chunks
    (the same read as ``cold_start.py``'s bare process)."""
    import aiohttp
    from _bare_stream import read_content_stamps

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=120)
    )
    endpoint = url + "/chat/completions"

    async def request(model: str, max_tokens: int | None) -> tuple[str | None, list[int]]:
        payload: dict[str, Any] = {"model": model, "messages": MESSAGES, "stream": True}
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        async with session.post(
            endpoint,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        ) as resp:
            rid, _, stamps = await read_content_stamps(resp)
        return rid, stamps

    return request, session.close


async def _llmbench_client(url: str, litellm: bool) -> tuple[RequestFn, CloseFn]:
    """llmbench's real path: a transport's ``stream`` then ``measure.fill_record``."""
    import uuid

    from llmbench_jupyter.core.measure import fill_record
    from llmbench_jupyter.core.records import RequestRecord
    from llmbench_jupyter.core.tokens import get_tokenizer
    from llmbench_jupyter.core.transports import RequestSpec

    session: Any = None
    if litellm:
        from llmbench_jupyter.core.transports import litellm as transport

        transport.load_litellm()
    else:
        from llmbench_jupyter.core.transports import openai as transport  # type: ignore[no-redef]
        from llmbench_jupyter.core.transports.http import make_session

        session = make_session()
    stream = transport.stream
    tokenizers: dict[str, Any] = {}

    async def request(model: str, max_tokens: int | None) -> tuple[str | None, list[int]]:
        tokenizer = tokenizers.get(model) or tokenizers.setdefault(model, get_tokenizer(model))
        spec = RequestSpec(
            url=url + "/chat/completions",
            api_model=model,
            messages=MESSAGES,
            max_tokens=max_tokens,
            api_key="sim",
            litellm_model=f"openai/{model}" if litellm else None,
            api_base=url if litellm else None,
        )
        send_ns, result = await stream(session, spec)
        record = fill_record(
            RequestRecord(request_id=uuid.uuid4().hex),
            result,
            origin_ns=send_ns,
            tokenizer=tokenizer,
        )
        if record.status != "ok":
            raise RuntimeError(f"{record.error_category}: {record.error_message}")
        # Stamps as the product reports them; its TTFT must be the first content chunk.
        if record.ttft_ms is None or abs(record.ttft_ms - record.chunk_times_ms[0]) > 1e-3:
            raise RuntimeError(f"ttft_ms {record.ttft_ms} is not chunk_times_ms[0]")
        return record.response_id, [send_ns + round(t * 1e6) for t in record.chunk_times_ms]

    async def close() -> None:
        if session is not None:
            await session.close()

    return request, close


async def _make_client(client: str, url: str) -> tuple[RequestFn, CloseFn]:
    if client == "bare-aiohttp":
        return await _bare_client(url)
    return await _llmbench_client(url, litellm=client == "litellm")


async def _accuracy_round(request: RequestFn, streams: int) -> list[dict[str, Any]]:
    """Start ``streams`` requests at once (a burst), wait for all of them."""
    got = await asyncio.gather(*(request(ACCURACY_MODEL, None) for _ in range(streams)))
    return [{"id": rid, "stamps": stamps} for rid, stamps in got]


async def _cpu_run(request: RequestFn, streams: int, n_out: int) -> dict[str, Any]:
    """Client CPU per content chunk while ``streams`` streams arrive as fast as possible."""
    import gc

    model = CPU_MODEL.format(out=n_out)
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    got = await asyncio.gather(*(request(model, None) for _ in range(streams)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    chunks = sum(len(stamps) for _, stamps in got)
    return {
        "chunks": chunks,
        "cpu_s": cpu,
        "wall_s": wall,
        "out": n_out,
        "us_per_chunk": cpu / chunks * 1e6,
        "chunks_per_s": chunks / wall,
    }


def worker_main(client: str, url: str) -> int:
    """Serve commands (one JSON line each on stdin) until EOF; answer one JSON line each.

    A long-lived worker lets the parent interleave clients round by round, so load from
    elsewhere on the machine hits every client alike, while imports stay out of the way.
    """
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # nothing a library prints can corrupt the answers
    with asyncio.Runner() as runner:
        request, close = runner.run(_make_client(client, url))
        # warm-up: connection, lazy imports, tokenizer, first-call paths
        runner.run(request(ACCURACY_MODEL, None))
        runner.run(request(CPU_MODEL.format(out=200), None))
        out.write('{"ready": true}\n')
        out.flush()
        for line in sys.stdin:
            cmd = json.loads(line)
            answer: Any
            if cmd["op"] == "round":
                answer = runner.run(_accuracy_round(request, cmd["streams"]))
            else:
                answer = runner.run(_cpu_run(request, cmd["streams"], cmd["out"]))
            out.write(json.dumps(answer) + "\n")
            out.flush()
        runner.run(close())
    return 0
