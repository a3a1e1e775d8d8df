"""The simulated endpoint, over real HTTP: scripted faults and rules."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sim_client import RULES, USER, content_deltas, openai_stream, run

from llmbench_jupyter.sim import RulesError, SimServer, load_rules

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
        payload = {"model": "sim:ttft=1,itl=1,out=20,fault=cut@4", "stream": True, "messages": USER}
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
        payload = {
            "model": "sim:ttft=1,itl=1,out=5,fault=stall@2,stall=60",
            "stream": True,
            "messages": USER,
        }
        received = 0
        timeout = aiohttp.ClientTimeout(sock_read=0.5)
        with pytest.raises(asyncio.TimeoutError):
            async with s.post(
                srv.base_url + "/chat/completions", json=payload, timeout=timeout
            ) as resp:
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
            payload = {"model": "sim:ttft=0,itl=0,out=1,fault=429,fault_rate=0.5", "messages": USER}
            async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
                out.append(resp.status)
        return out

    first, again, other = run(statuses, seed=3), run(statuses, seed=3), run(statuses, seed=4)
    assert set(first) == {200, 429}
    assert first == again
    assert first != other


# --- rules ---------------------------------------------------------------------------------


def test_rule_content_is_scripted_and_chunked_like_filler() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        msgs = [{"role": "user", "content": "What is the capital of France?"}]
        events = await openai_stream(srv, s, "sim-fast", msgs)
        cd = content_deltas(events)
        assert (
            "".join(d.get("reasoning_content", "") for d in cd)
            == "The user asks a geography question."
        )  # scripted text arrives verbatim
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
        finish = [
            e["choices"][0]["finish_reason"]
            for _, e in events
            if isinstance(e, dict) and e["choices"]
        ][-1]
        assert finish == "tool_calls"

        payload = {"model": "sim:ttft=1,itl=0", "messages": msgs}
        async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
            data = await resp.json()
        choice = data["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        assert [
            json.loads(c["function"]["arguments"]) for c in choice["message"]["tool_calls"]
        ] == [{"city": "Paris", "unit": "celsius"}, {"tz": "Europe/Paris"}]

    run(body, rules=RULES)


def test_tool_result_rule_ends_a_multi_turn_chain() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        msgs: list[dict[str, Any]] = [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 24C"},
        ]
        events = await openai_stream(srv, s, "sim:ttft=1,itl=0", msgs)
        assert (
            "".join(d.get("content", "") for d in content_deltas(events)) == "It is sunny in Paris."
        )

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


# --- rules that depend on how the model is asked -------------------------------------------
ASKED = [
    {"match": "(?i)weather in", "system": "metric units", "params": {"temperature": [0, 0.3]},
     "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]},
    {"match": "(?i)weather in",
     "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "fahrenheit"}}]},
]  # fmt: skip
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]


def test_answers_depend_on_the_system_prompt_and_the_temperature() -> None:
    async def unit(srv: SimServer, s: aiohttp.ClientSession, system: str | None,
                   role: str = "system", **params: Any) -> str:  # fmt: skip
        msgs = [{"role": role, "content": system}] if system else []
        msgs.append({"role": "user", "content": "Weather in Paris?"})
        payload = {"model": "sim-fast", "messages": msgs, "tools": TOOLS, **params}
        async with s.post(srv.base_url + "/chat/completions", json=payload) as resp:
            assert resp.status == 200, await resp.text()
            call = (await resp.json())["choices"][0]["message"]["tool_calls"][0]
        return str(json.loads(call["function"]["arguments"])["unit"])

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        rule = "Always answer in metric units."
        assert await unit(srv, s, rule, temperature=0.2) == "celsius"
        assert await unit(srv, s, rule, temperature=0.3) == "celsius"  # bounds included
        assert await unit(srv, s, rule, role="developer", temperature=0) == "celsius"
        assert await unit(srv, s, rule, temperature=0.31) == "fahrenheit"
        assert await unit(srv, s, rule) == "fahrenheit"  # not sent: not met
        assert await unit(srv, s, None, temperature=0.2) == "fahrenheit"
        assert await unit(srv, s, "Be brief.", temperature=0.2) == "fahrenheit"
        # the Anthropic wire reads its top-level system prompt
        for system, want in (("Use metric units.", "celsius"), ("Be brief.", "fahrenheit")):
            tool = {"name": "get_weather", "input_schema": {"type": "object"}}
            ask = [{"role": "user", "content": "Weather in Rome?"}]
            payload = {"model": "sim-fast", "max_tokens": 64, "system": system,
                       "temperature": 0.1, "messages": ask, "tools": [tool]}  # fmt: skip
            async with s.post(srv.base_url + "/messages", json=payload) as resp:
                assert resp.status == 200, await resp.text()
                blocks = (await resp.json())["content"]
            assert [b["input"]["unit"] for b in blocks if b["type"] == "tool_use"] == [want]

    run(body, rules=ASKED)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["temperature"], "'params' must be a mapping"),
        ({"temperature": [0.5, 0.1]}, "low <= high"),
        ({"temperature": [0, 1, 2]}, "must be [low, high]"),
        ({"temperature": {"max": 1}}, "must be a value or [low, high]"),
    ],
)
def test_bad_params_conditions_name_the_rule(params: Any, message: str) -> None:
    with pytest.raises(RulesError, match=r"rules list, rule 0: .*" + re.escape(message)):
        load_rules([{"match": "x", "params": params, "content": "y"}])
