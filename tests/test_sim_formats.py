"""The simulated endpoint, over real HTTP: the OpenAI and Anthropic wire formats."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from sim_client import RULES, USER, anthropic_events, content_deltas, deltas, openai_stream, run

from llmbench_jupyter.sim import SimServer

# --- OpenAI streaming --------------------------------------------------------------------


def test_role_first_chunk_is_content_free_then_chunks_carry_tpc_tokens() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(srv, s, "sim:ttft=5,itl=1,tpc=3,out=10,role=1,jitter=0")
        assert deltas(events)[0] == {"role": "assistant", "content": ""}
        texts = [d["content"] for d in content_deltas(events)]
        assert [len(t.split()) for t in texts] == [3, 3, 3, 1]
        assert all(t.startswith(" ") for t in texts)
        finals = [
            e["choices"][0]["finish_reason"]
            for _, e in events
            if isinstance(e, dict) and e["choices"]
        ]
        assert finals[-1] == "stop" and set(finals[:-1]) == {None}
        assert events[-1][1] == "[DONE]"
        ids = {e["id"] for _, e in events if isinstance(e, dict)}
        assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-")

    run(body)


def test_without_role_first_the_first_content_chunk_carries_the_role() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(srv, s, "sim:ttft=1,itl=0,out=3,role=0")
        first = deltas(events)[0]
        assert first["role"] == "assistant" and first["content"].strip()

    run(body)


def test_reasoning_precedes_answer_and_usage_chunk_counts_both() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(
            srv, s, "sim:ttft=2,itl=0,tpc=2,reason=5,out=7", stream_options={"include_usage": True}
        )
        kinds = ["r" if "reasoning_content" in d else "a" for d in content_deltas(events)]
        assert kinds == ["r"] * 3 + ["a"] * 4
        usage_events = [e for _, e in events if isinstance(e, dict) and "usage" in e]
        assert len(usage_events) == 1 and usage_events[0]["choices"] == []
        assert events[-2][1] is usage_events[0]  # usage is the last chunk before [DONE]
        usage = usage_events[0]["usage"]
        assert usage["completion_tokens"] == 12
        assert usage["completion_tokens_details"] == {"reasoning_tokens": 5}
        assert usage["prompt_tokens"] == 2  # "hello world"
        assert usage["total_tokens"] == 14

    run(body)


def test_no_usage_chunk_unless_requested() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(srv, s, "sim:ttft=1,itl=0,out=3")
        assert not any(isinstance(e, dict) and "usage" in e for _, e in events)

    run(body)


def test_builtin_reasoning_model_shape() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(
            srv, s, "sim-reasoning", stream_options={"include_usage": True}
        )
        usage = events[-2][1]["usage"]
        assert usage["completion_tokens"] == 48 + 96
        assert usage["completion_tokens_details"]["reasoning_tokens"] == 48

    run(body)


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_caps_output_including_reasoning(param: str) -> None:
    cap: dict[str, Any] = {param: 7}
    big: dict[str, Any] = {param: 100}

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(
            srv,
            s,
            "sim:ttft=1,itl=0,reason=4,out=50",
            stream_options={"include_usage": True},
            **cap,
        )
        words = "".join(
            d.get("content", "") + d.get("reasoning_content", "") for d in content_deltas(events)
        ).split()
        assert len(words) == 7
        finish = [
            e["choices"][0]["finish_reason"]
            for _, e in events
            if isinstance(e, dict) and e["choices"]
        ][-1]
        assert finish == "length"
        assert events[-2][1]["usage"]["completion_tokens"] == 7
        uncapped = await openai_stream(srv, s, "sim:ttft=1,itl=0,out=5", **big)
        assert uncapped[-2][1]["choices"][0]["finish_reason"] == "stop"

    run(body)


def test_non_stream_completion() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        payload = {"model": "sim:ttft=3,itl=1,reason=2,out=6", "messages": USER}
        async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
            data = await resp.json()
        assert data["object"] == "chat.completion"
        message = data["choices"][0]["message"]
        assert len(message["content"].split()) == 6
        assert len(message["reasoning_content"].split()) == 2
        assert data["usage"]["completion_tokens"] == 8
        log = srv.send_log(data["id"])
        assert log is not None and sum(c["tokens"] for c in log["chunks"]) == 8

    run(body)


# --- Anthropic -----------------------------------------------------------------------------


def test_anthropic_stream_event_order_and_usage() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await anthropic_events(srv, s, "sim:ttft=2,itl=0,tpc=2,reason=3,out=5")
        names = [n for n, _ in events]
        assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
        start = events[0][1]["message"]
        assert start["id"].startswith("msg_") and start["usage"]["input_tokens"] == 2
        body_names = names[1:-2]
        assert body_names == (
            ["content_block_start"]
            + ["content_block_delta"] * 2
            + ["content_block_stop", "content_block_start"]
            + ["content_block_delta"] * 3
            + ["content_block_stop"]
        )
        blocks = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
        assert blocks == ["thinking", "text"]
        kinds = [d["delta"]["type"] for n, d in events if n == "content_block_delta"]
        assert kinds == ["thinking_delta"] * 2 + ["text_delta"] * 3
        final = events[-2][1]
        assert final["delta"]["stop_reason"] == "end_turn"
        assert final["usage"]["output_tokens"] == 8

        capped = await anthropic_events(srv, s, "sim:ttft=0,itl=0,out=30", max_tokens=4)
        assert capped[-2][1]["delta"]["stop_reason"] == "max_tokens"
        assert capped[-2][1]["usage"]["output_tokens"] == 4

    run(body)


def test_anthropic_tool_use_blocks_and_non_stream() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        msgs = [{"role": "user", "content": [{"type": "text", "text": "weather please"}]}]
        events = await anthropic_events(srv, s, "sim:ttft=0,itl=0", msgs)
        starts = [d["content_block"] for n, d in events if n == "content_block_start"]
        assert [b["name"] for b in starts] == ["get_weather", "get_time"]
        assert all(b["type"] == "tool_use" and b["id"].startswith("toolu_") for b in starts)
        partial: dict[int, str] = {}
        for n, d in events:
            if n == "content_block_delta":
                assert d["delta"]["type"] == "input_json_delta"
                partial[d["index"]] = partial.get(d["index"], "") + d["delta"]["partial_json"]
        assert [json.loads(partial[i]) for i in sorted(partial)] == [
            {"city": "Paris", "unit": "celsius"},
            {"tz": "Europe/Paris"},
        ]
        assert events[-2][1]["delta"]["stop_reason"] == "tool_use"

        payload = {"model": "sim:ttft=0,itl=0,out=4", "max_tokens": 100, "messages": USER}
        async with s.post(srv.base_url + "/messages", json=payload) as resp:
            data = await resp.json()
        assert data["type"] == "message" and data["stop_reason"] == "end_turn"
        assert len(data["content"][0]["text"].split()) == 4
        assert data["usage"] == {"input_tokens": 2, "output_tokens": 4}

    run(body, rules=RULES)


def test_anthropic_errors_use_anthropic_shape() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        payload = {"model": "nope", "max_tokens": 10, "messages": USER}
        async with s.post(srv.base_url + "/messages", json=payload) as resp:
            assert resp.status == 404
            data = await resp.json()
        assert data["type"] == "error" and "nope" in data["error"]["message"]

    run(body)
