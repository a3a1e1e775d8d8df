"""The simulated endpoint, over real HTTP: wire formats, timing plan, faults, rules, send log."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from llmbench_jupyter.sim import (
    RulesError,
    Scenario,
    ScenarioError,
    SimServer,
    load_rules,
    parse_model_spec,
)
from llmbench_jupyter.sim.scenarios import Fault

USER = [{"role": "user", "content": "hello world"}]


def run(body: Callable[..., Awaitable[Any]], **server_kw: Any) -> Any:
    """Run ``body(srv, session)`` against a fresh server in a fresh loop."""

    async def main() -> Any:
        async with SimServer(**server_kw) as srv, aiohttp.ClientSession() as session:
            return await body(srv, session)

    return asyncio.run(main())


async def openai_stream(srv: SimServer, session: aiohttp.ClientSession, model: str,
                        messages: list[dict[str, Any]] | None = None,
                        **extra: Any) -> list[tuple[int, Any]]:
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
    return [d for d in deltas(events) if d.get("content") or d.get("reasoning_content")
            or d.get("tool_calls")]


# --- OpenAI streaming --------------------------------------------------------------------

def test_role_first_chunk_is_content_free_then_chunks_carry_tpc_tokens() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(srv, s, "sim:ttft=5,itl=1,tpc=3,out=10,role=1,jitter=0")
        assert deltas(events)[0] == {"role": "assistant", "content": ""}
        texts = [d["content"] for d in content_deltas(events)]
        assert [len(t.split()) for t in texts] == [3, 3, 3, 1]
        assert all(t.startswith(" ") for t in texts)
        finals = [e["choices"][0]["finish_reason"] for _, e in events
                  if isinstance(e, dict) and e["choices"]]
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
        events = await openai_stream(srv, s, "sim:ttft=2,itl=0,tpc=2,reason=5,out=7",
                                     stream_options={"include_usage": True})
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
        events = await openai_stream(srv, s, "sim-reasoning",
                                     stream_options={"include_usage": True})
        usage = events[-2][1]["usage"]
        assert usage["completion_tokens"] == 48 + 96
        assert usage["completion_tokens_details"]["reasoning_tokens"] == 48

    run(body)


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_caps_output_including_reasoning(param: str) -> None:
    cap: dict[str, Any] = {param: 7}
    big: dict[str, Any] = {param: 100}

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(srv, s, "sim:ttft=1,itl=0,reason=4,out=50",
                                     stream_options={"include_usage": True}, **cap)
        words = "".join(d.get("content", "") + d.get("reasoning_content", "")
                        for d in content_deltas(events)).split()
        assert len(words) == 7
        finish = [e["choices"][0]["finish_reason"] for _, e in events
                  if isinstance(e, dict) and e["choices"]][-1]
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


# --- faults --------------------------------------------------------------------------------

@pytest.mark.parametrize(("fault", "status"), [("429", 429), ("500", 500), ("401", 401)])
def test_http_faults_return_openai_errors(fault: str, status: int) -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        payload = {"model": f"sim:fault={fault}", "stream": True, "messages": USER}
        async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
            assert resp.status == status
            data = await resp.json()
            assert isinstance(data["error"]["message"], str) and data["error"]["type"]
            if status == 429:
                assert resp.headers["Retry-After"] == "1"

    run(body)


def test_cut_fault_truncates_the_chunked_body() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        payload = {"model": "sim:ttft=1,itl=1,out=20,fault=cut@4", "stream": True,
                   "messages": USER}
        lines: list[bytes] = []
        with pytest.raises(aiohttp.ClientPayloadError):
            async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
                async for line in resp.content:
                    lines.append(line)
        chunks = [json.loads(x[6:]) for x in lines if x.startswith(b"data: {")]
        assert len([c for c in chunks if c["choices"][0]["delta"].get("content")]) == 4
        assert not any(b"[DONE]" in x for x in lines)

    run(body)


def test_malformed_fault_sends_one_broken_chunk_then_finishes() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(srv, s, "sim:ttft=1,itl=0,out=5,fault=malformed@2")
        broken = [i for i, (_, e) in enumerate(events) if isinstance(e, str) and e != "[DONE]"]
        assert len(broken) == 1
        assert broken[0] == 3  # role chunk + 2 content chunks before it
        assert len(content_deltas(events)) == 5 and events[-1][1] == "[DONE]"

    run(body)


def test_stall_fault_trips_client_timeout_and_server_cleans_up() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        payload = {"model": "sim:ttft=1,itl=1,out=5,fault=stall@2,stall=60", "stream": True,
                   "messages": USER}
        received = 0
        timeout = aiohttp.ClientTimeout(sock_read=0.5)
        with pytest.raises(asyncio.TimeoutError):
            async with s.post(srv.base_url + "/chat/completions", json=payload,
                              timeout=timeout) as resp:
                async for line in resp.content:
                    received += line.startswith(b"data: {")
        assert received == 3  # role + 2 chunks, then silence
        for _ in range(100):  # the stalled handler is cancelled when the client goes away
            if srv.active == 0:
                break
            await asyncio.sleep(0.02)
        assert srv.active == 0
        # and the server still answers others
        assert len(content_deltas(await openai_stream(srv, s, "sim:ttft=1,itl=0,out=2"))) == 2

    started = time.monotonic()
    run(body)
    assert time.monotonic() - started < 30  # stop() did not wait for the 60 s stall


def test_short_stall_resumes_and_finishes() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(srv, s, "sim:ttft=1,itl=1,out=4,fault=stall@2,stall=0.2")
        assert len(content_deltas(events)) == 4
        assert events[3][0] - events[2][0] >= 150_000_000  # ns: the stall after 2 chunks

    run(body)


def test_fault_rate_is_seeded_and_reproducible() -> None:
    async def statuses(srv: SimServer, s: aiohttp.ClientSession) -> list[int]:
        out = []
        for _ in range(24):
            payload = {"model": "sim:ttft=0,itl=0,out=1,fault=429,fault_rate=0.5",
                       "messages": USER}
            async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
                out.append(resp.status)
        return out

    first, again, other = run(statuses, seed=3), run(statuses, seed=3), run(statuses, seed=4)
    assert set(first) == {200, 429}
    assert first == again
    assert first != other


# --- rules ---------------------------------------------------------------------------------

RULES = [
    {"match": "(?i)weather", "tool_calls": [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        {"name": "get_time", "arguments": {"tz": "Europe/Paris"}}]},
    {"match": "(?i)weather", "tool_result": "sunny", "content": "It is sunny in Paris."},
    {"match": "capital", "model": "^sim-", "content": "Paris is the capital.",
     "reasoning": "The user asks a geography question."},
]


def test_rule_content_is_scripted_and_chunked_like_filler() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        msgs = [{"role": "user", "content": "What is the capital of France?"}]
        events = await openai_stream(srv, s, "sim-fast", msgs)
        cd = content_deltas(events)
        assert "".join(d.get("reasoning_content", "") for d in cd) == \
            "The user asks a geography question."  # scripted text arrives verbatim
        assert "".join(d.get("content", "") for d in cd) == "Paris is the capital."
        assert len(cd) == 6 + 4  # one word per chunk for sim-fast
        # the model regex excludes ad-hoc models: filler instead
        other = await openai_stream(srv, s, "sim:ttft=0,itl=0,out=3", msgs)
        assert "Paris" not in "".join(d.get("content", "") for d in content_deltas(other))

    run(body, rules=RULES)


def test_rule_parallel_tool_calls_stream_as_valid_json_fragments() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        msgs = [{"role": "user", "content": "Weather in Paris?"}]
        events = await openai_stream(srv, s, "sim:ttft=1,itl=0", msgs)
        calls: dict[int, dict[str, Any]] = {}
        fragments: dict[int, int] = {}
        for d in content_deltas(events):
            for tc in d["tool_calls"]:
                call = calls.setdefault(tc["index"], {"arguments": ""})
                if "id" in tc:
                    assert tc["type"] == "function" and tc["id"].startswith("call_")
                    call["name"] = tc["function"]["name"]
                call["arguments"] += tc["function"]["arguments"]
                fragments[tc["index"]] = fragments.get(tc["index"], 0) + 1
        assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
        assert json.loads(calls[0]["arguments"]) == {"city": "Paris", "unit": "celsius"}
        assert json.loads(calls[1]["arguments"]) == {"tz": "Europe/Paris"}
        assert min(fragments.values()) >= 3  # name chunk + at least two argument fragments
        finish = [e["choices"][0]["finish_reason"] for _, e in events
                  if isinstance(e, dict) and e["choices"]][-1]
        assert finish == "tool_calls"

        payload = {"model": "sim:ttft=1,itl=0", "messages": msgs}
        async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
            data = await resp.json()
        choice = data["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        assert [json.loads(c["function"]["arguments"]) for c in choice["message"]["tool_calls"]] \
            == [{"city": "Paris", "unit": "celsius"}, {"tz": "Europe/Paris"}]

    run(body, rules=RULES)


def test_tool_result_rule_ends_a_multi_turn_chain() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        msgs: list[dict[str, Any]] = [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 24C"},
        ]
        events = await openai_stream(srv, s, "sim:ttft=1,itl=0", msgs)
        assert "".join(d.get("content", "") for d in content_deltas(events)) == \
            "It is sunny in Paris."

    run(body, rules=RULES)


def test_rules_from_yaml_file_and_errors_name_file_and_rule(tmp_path: Path) -> None:
    good = tmp_path / "rules.yaml"
    good.write_text("- match: hi\n  content: hello there\n")
    assert load_rules(good)[0].content == "hello there"
    cases = {
        "- match: '('\n  content: x\n": "rule 0: 'match' is not a valid regex",
        "- match: a\n  content: x\n- content: y\n": "rule 1: needs 'match'",
        "- match: a\n": "rule 0: needs 'content', 'reasoning' or 'tool_calls'",
        "- match: a\n  contnet: x\n": "rule 0: unknown keys ['contnet']",
        "- match: a\n  tool_calls: [{arguments: {}}]\n": "tool_calls[0] needs a string 'name'",
        "match: a\n": "expected a list of rules",
    }
    for i, (text, expected) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.yaml"
        path.write_text(text)
        with pytest.raises(RulesError) as info:
            load_rules(path)
        assert str(path) in str(info.value) and expected in str(info.value)
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    with pytest.raises(RulesError, match="rules list, rule 0"):
        SimServer(rules=[{"match": "["}])


# --- Anthropic -----------------------------------------------------------------------------

async def anthropic_events(srv: SimServer, s: aiohttp.ClientSession, model: str,
                           messages: list[dict[str, Any]] | None = None,
                           **extra: Any) -> list[tuple[str, dict[str, Any]]]:
    payload = {"model": model, "stream": True, "max_tokens": 1000,
               "messages": messages or USER, **extra}
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


def test_anthropic_stream_event_order_and_usage() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await anthropic_events(srv, s, "sim:ttft=2,itl=0,tpc=2,reason=3,out=5")
        names = [n for n, _ in events]
        assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
        start = events[0][1]["message"]
        assert start["id"].startswith("msg_") and start["usage"]["input_tokens"] == 2
        body_names = names[1:-2]
        assert body_names == (["content_block_start"] + ["content_block_delta"] * 2
                              + ["content_block_stop", "content_block_start"]
                              + ["content_block_delta"] * 3 + ["content_block_stop"])
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
            {"city": "Paris", "unit": "celsius"}, {"tz": "Europe/Paris"}]
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


# --- send log ------------------------------------------------------------------------------

def test_send_log_matches_what_the_client_received() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(srv, s, "sim:ttft=5,itl=2,tpc=2,reason=3,out=6",
                                     stream_options={"include_usage": True})
        chunks = [(t, e) for t, e in events if isinstance(e, dict)]
        rid = chunks[0][1]["id"]
        log = srv.send_log(rid)
        assert log is not None and log["id"] == rid and log["model"].startswith("sim:")
        sent = log["chunks"]
        assert len(sent) == len(chunks)
        assert [c["kind"] for c in sent] == (["role"] + ["reasoning"] * 2 + ["answer"] * 3
                                             + ["finish", "usage"])
        assert [c["tokens"] for c in sent] == [0, 2, 1, 2, 2, 2, 0, 0]
        times = [c["sent_ns"] for c in sent]
        assert log["arrived_ns"] <= times[0]
        assert all(a < b for a, b in itertools.pairwise(times))
        for (arrival, _), c in zip(chunks, sent, strict=True):
            assert arrival >= c["sent_ns"]  # same host, same monotonic clock
        planned = [c["planned_ns"] for c in sent if c["kind"] in ("reasoning", "answer")]
        assert planned == [5_000_000 + i * 2_000_000 for i in range(5)]
        for c in sent:  # the first content chunk is not sent before its target
            if c["planned_ns"] >= 0:
                assert c["sent_ns"] - log["arrived_ns"] >= c["planned_ns"] - 600_000
        url = f"http://127.0.0.1:{srv.port}/sim/sendlog/{rid}"
        async with s.get(url) as resp:
            assert await resp.json() == log
        async with s.get(f"http://127.0.0.1:{srv.port}/sim/sendlog/nope") as resp:
            assert resp.status == 404
        async with s.get(f"http://127.0.0.1:{srv.port}/sim/stats") as resp:
            stats = await resp.json()
        assert stats["requests"] == 1 and stats["by_status"] == {"200": 1}

    run(body)


def test_anthropic_send_log_counts_logged_events() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await anthropic_events(srv, s, "sim:ttft=1,itl=0,reason=2,out=3")
        log = srv.send_log(events[0][1]["message"]["id"])
        assert log is not None
        logged = [n for n, _ in events
                  if n in ("message_start", "content_block_delta", "message_delta")]
        assert len(log["chunks"]) == len(logged) == 1 + 5 + 1
        assert [c["kind"] for c in log["chunks"]] == ["role"] + ["reasoning"] * 2 + \
            ["answer"] * 3 + ["usage"]

    run(body)


def test_seeded_jitter_and_filler_are_reproducible() -> None:
    model = "sim:ttft=20,itl=3,out=8,jitter=0.3"

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> tuple[list[int], str]:
        events = await openai_stream(srv, s, model)
        log = srv.send_log(events[0][1]["id"])
        assert log is not None
        text = "".join(d.get("content", "") for d in content_deltas(events))
        return [c["planned_ns"] for c in log["chunks"] if c["kind"] == "answer"], text

    a, b, c = run(body, seed=11), run(body, seed=11), run(body, seed=12)
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]
    planned = a[0]
    assert all(x <= y for x, y in itertools.pairwise(planned))
    assert 14_000_000 <= planned[0] <= 26_000_000  # ttft 20 ms ± 30 %
    assert planned != [20_000_000 + i * 3_000_000 for i in range(8)]


def test_prefill_cost_scales_with_prompt_tokens() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> list[int]:
        out = []
        for words in (10, 2000):
            msgs = [{"role": "user", "content": " ".join(["hello"] * words)}]
            events = await openai_stream(srv, s, "sim:ttft=1,itl=0,out=1,prefill=50", msgs)
            log = srv.send_log(events[0][1]["id"])
            assert log is not None
            out.append(next(c["planned_ns"] for c in log["chunks"] if c["kind"] == "answer"))
        return out

    small, big = run(body)
    assert small == pytest.approx(1e6 + 50 * 10 / 1000 * 1e6, abs=1000)
    assert big == pytest.approx(1e6 + 50 * 2000 / 1000 * 1e6, abs=1000)


def test_large_prompt_is_accepted() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        text = "lorem ipsum dolor sit amet " * 80_000  # ~2 MB, beyond aiohttp's 1 MiB default
        events = await openai_stream(srv, s, "sim:ttft=0,itl=0,out=1",
                                     [{"role": "user", "content": text}],
                                     stream_options={"include_usage": True})
        assert events[-2][1]["usage"]["prompt_tokens"] > 100_000

    run(body)


def test_itl_zero_streams_fast() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        started = time.perf_counter()
        events = await openai_stream(srv, s, "sim:ttft=0,itl=0,out=20000,role=0")
        assert len(content_deltas(events)) == 20000
        assert time.perf_counter() - started < 10  # generous: ~0.3 s when idle

    run(body)


# --- models, auth, errors ------------------------------------------------------------------

def test_models_list_and_unknown_model() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        async with s.get(srv.base_url + "/models") as resp:
            data = await resp.json()
        ids = [m["id"] for m in data["data"]]
        assert data["object"] == "list"
        assert {"sim-fast", "sim-medium", "sim-slow", "sim-reasoning", "my-model"} <= set(ids)
        payload = {"model": "gpt-nope", "messages": USER}
        async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
            assert resp.status == 404
            err = (await resp.json())["error"]
        assert "gpt-nope" in err["message"] and err["code"] == "model_not_found"
        payload = {"model": "sim:ttft=abc", "messages": USER}
        async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
            assert resp.status == 400
            assert "ttft" in (await resp.json())["error"]["message"]
        async with s.post(srv.base_url + "/chat/completions", data=b"{nope") as resp:
            assert resp.status == 400
        events = await openai_stream(srv, s, "my-model")
        assert len(content_deltas(events)) == 2

    run(body, scenarios={"my-model": "sim:ttft=0,itl=0,out=2"})


def test_require_key() -> None:
    key = "test-key-123456"

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        url = srv.base_url + "/chat/completions"
        payload = {"model": "sim:ttft=0,itl=0,out=1", "messages": USER}
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with s.post(url, json=payload, headers=headers) as resp:
                assert resp.status == 401
                text = await resp.text()
                assert "error" in json.loads(text) and key not in text
        async with s.get(srv.base_url + "/models") as resp:
            assert resp.status == 401
        async with s.post(url, json=payload, headers={"Authorization": f"Bearer {key}"}) as r:
            assert r.status == 200
        async with s.post(srv.base_url + "/messages", json=payload,
                          headers={"x-api-key": key}) as resp:
            assert resp.status == 200

    run(body, require_key=key)


def test_parse_model_spec() -> None:
    sc = parse_model_spec("sim:ttft=50,itl=2,tpc=3,out=30,role=0,reason=5,jitter=0,"
                          "prefill=1.5,fault=cut@10,fault_rate=0.25,stall=2")
    assert sc == Scenario(ttft_ms=50, itl_ms=2, tokens_per_chunk=3, output_tokens=30,
                          role_first=False, reasoning_tokens=5, jitter=0,
                          prefill_ms_per_1k_tokens=1.5, fault=Fault("cut", 10),
                          fault_rate=0.25, stall_s=2)
    assert parse_model_spec("sim:") == Scenario()
    for bad, needle in [("sim:bogus=1", "bogus"), ("sim:tpc=0", "tpc"), ("sim:ttft", "key=value"),
                        ("sim:fault=boom", "unknown fault"), ("sim:fault=cut@x", "integer"),
                        ("sim:jitter=2", "jitter"), ("sim:role=maybe", "role")]:
        with pytest.raises(ScenarioError, match=needle):
            parse_model_spec(bad)


def test_start_in_thread_serves_sync_callers() -> None:
    srv = SimServer().start_in_thread()
    try:
        with urllib.request.urlopen(srv.base_url + "/models", timeout=10) as resp:
            ids = [m["id"] for m in json.load(resp)["data"]]
        assert "sim-fast" in ids
        req = urllib.request.Request(
            srv.base_url + "/chat/completions", method="POST",
            data=json.dumps({"model": "sim:ttft=0,itl=0,out=3", "messages": USER}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = json.load(resp)
        assert srv.send_log(data["id"]) is not None
    finally:
        srv.stop_thread()
    with pytest.raises(OSError):
        urllib.request.urlopen(srv.base_url + "/models", timeout=2)


def test_module_runs_as_a_subprocess() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "llmbench_jupyter.sim", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), url
        with urllib.request.urlopen(url + "/models", timeout=10) as resp:
            assert "sim-reasoning" in [m["id"] for m in json.load(resp)["data"]]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_cli_reports_bad_rules_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("- match: '('\n  content: x\n")
    proc = subprocess.run([sys.executable, "-m", "llmbench_jupyter.sim", "--port", "0",
                           "--rules", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "rule 0" in proc.stderr and "Traceback" not in proc.stderr


def test_send_log_is_bounded() -> None:
    from llmbench_jupyter.sim.sendlog import SendLog

    log = SendLog(max_responses=3, max_chunks=10)
    for i in range(5):
        entry = log.open(f"r{i}", "m", i)
        for j in range(4):
            entry.add(2, 1, i * 10 + j, -1)
        log.close(entry)
    assert log.get("r0") is None and log.get("r2") is None  # 12 chunks > 10: oldest dropped
    kept = log.get("r4")
    assert kept is not None and len(kept["chunks"]) == 4 and len(log) == 2
