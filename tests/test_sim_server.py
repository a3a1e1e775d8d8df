"""The simulated endpoint: send log and timing plan, models, auth, errors, processes."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from sim_client import USER, anthropic_events, content_deltas, openai_stream, run

from llmbench_jupyter.sim import Scenario, ScenarioError, SimServer, parse_model_spec
from llmbench_jupyter.sim.scenarios import Fault

# --- send log ------------------------------------------------------------------------------


def test_send_log_matches_what_the_client_received() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        events = await openai_stream(
            srv, s, "sim:ttft=5,itl=2,tpc=2,reason=3,out=6", stream_options={"include_usage": True}
        )
        chunks = [(t, e) for t, e in events if isinstance(e, dict)]
        rid = chunks[0][1]["id"]
        log = srv.send_log(rid)
        assert log is not None and log["id"] == rid and log["model"].startswith("sim:")
        sent = log["chunks"]
        assert len(sent) == len(chunks)
        assert [c["kind"] for c in sent] == (
            ["role"] + ["reasoning"] * 2 + ["answer"] * 3 + ["finish", "usage"]
        )
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
        logged = [
            n for n, _ in events if n in ("message_start", "content_block_delta", "message_delta")
        ]
        assert len(log["chunks"]) == len(logged) == 1 + 5 + 1
        assert [c["kind"] for c in log["chunks"]] == ["role"] + ["reasoning"] * 2 + [
            "answer"
        ] * 3 + ["usage"]

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
        events = await openai_stream(
            srv,
            s,
            "sim:ttft=0,itl=0,out=1",
            [{"role": "user", "content": text}],
            stream_options={"include_usage": True},
        )
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
        async with s.post(  # the Messages API requires max_tokens
            srv.base_url + "/messages",
            json={**payload, "max_tokens": 16},
            headers={"x-api-key": key},
        ) as resp:
            assert resp.status == 200

    run(body, require_key=key)


def test_parse_model_spec() -> None:
    sc = parse_model_spec(
        "sim:ttft=50,itl=2,tpc=3,out=30,role=0,reason=5,jitter=0,"
        "prefill=1.5,fault=cut@10,fault_rate=0.25,stall=2"
    )
    assert sc == Scenario(
        ttft_ms=50,
        itl_ms=2,
        tokens_per_chunk=3,
        output_tokens=30,
        role_first=False,
        reasoning_tokens=5,
        jitter=0,
        prefill_ms_per_1k_tokens=1.5,
        fault=Fault("cut", 10),
        fault_rate=0.25,
        stall_s=2,
    )
    assert parse_model_spec("sim:") == Scenario()
    for bad, needle in [
        ("sim:bogus=1", "bogus"),
        ("sim:tpc=0", "tpc"),
        ("sim:ttft", "key=value"),
        ("sim:fault=boom", "unknown fault"),
        ("sim:fault=cut@x", "integer"),
        ("sim:jitter=2", "jitter"),
        ("sim:role=maybe", "role"),
    ]:
        with pytest.raises(ScenarioError, match=needle):
            parse_model_spec(bad)


def test_start_in_thread_serves_sync_callers() -> None:
    srv = SimServer().start_in_thread()
    try:
        with urllib.request.urlopen(srv.base_url + "/models", timeout=10) as resp:
            ids = [m["id"] for m in json.load(resp)["data"]]
        assert "sim-fast" in ids
        req = urllib.request.Request(
            srv.base_url + "/chat/completions",
            method="POST",
            data=json.dumps({"model": "sim:ttft=0,itl=0,out=3", "messages": USER}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = json.load(resp)
        assert srv.send_log(data["id"]) is not None
    finally:
        srv.stop_thread()
    with pytest.raises(OSError):
        urllib.request.urlopen(srv.base_url + "/models", timeout=2)


def test_module_runs_as_a_subprocess() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmbench_jupyter.sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
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
    proc = subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter.sim", "--port", "0", "--rules", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
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
