"""The example suite against the simulated endpoint's scripted answers, scored end to end.

The rules file scripts 29 right answers and 13 typical mistakes; scoring must find exactly
those, each with the outcome that names the mistake.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from importlib.resources import files
from typing import Any

import aiohttp

from llmbench_jupyter.evals.parsing import parse_tool_calls
from llmbench_jupyter.evals.scoring import score_case, score_suite
from llmbench_jupyter.evals.suites import load_suite
from llmbench_jupyter.sim import SimServer

DATA = files("llmbench_jupyter.evals") / "data"


async def _run_case(session: aiohttp.ClientSession, url: str, suite: Any, case: Any) -> list[Any]:
    tools = [t for t in suite.tools if case.tools is None or t["function"]["name"] in case.tools]
    messages = list(case.messages)
    calls: list[Any] = []
    used: Counter[str] = Counter()
    for round_no in range(case.max_rounds):
        payload = {"model": "sim-fast", "messages": messages, "tools": tools, "tool_choice": "auto"}
        async with session.post(url + "/chat/completions", json=payload) as resp:
            body = await resp.json()
        got = parse_tool_calls(body)
        calls += got
        if not got or round_no == case.max_rounds - 1:
            break
        message = body["choices"][0]["message"]
        messages.append(message)
        for call in message.get("tool_calls") or []:
            name = call["function"]["name"]
            result = case.mock_responses.get(name, {"ok": True})
            if isinstance(result, list):
                result = result[min(used[name], len(result) - 1)]
            used[name] += 1
            messages.append(
                {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)}
            )
    return calls


def test_example_suite_scores_the_scripted_mix() -> None:
    suite = load_suite(str(DATA / "example_suite.yaml"))
    assert len(suite.cases) >= 40
    srv = SimServer(rules=str(DATA / "example_sim_rules.yaml")).start_in_thread()
    try:

        async def main() -> list[Any]:
            async with aiohttp.ClientSession() as session:
                return [
                    score_case(
                        case, await _run_case(session, srv.base_url, suite, case), tools=suite.tools
                    )
                    for case in suite.cases
                ]

        scores = asyncio.run(main())
    finally:
        srv.stop_thread()
    outcomes = Counter(s.outcome for s in scores)
    assert outcomes["pass"] == 29
    assert outcomes["should_not_call"] == 2  # tool calls on irrelevance cases
    assert outcomes["wrong_tool"] == 2 and outcomes["missing_call"] == 2
    assert outcomes["missing_argument"] == 2 and outcomes["hallucinated_argument"] == 1
    assert outcomes["wrong_arguments"] == 4
    summary = score_suite(scores, sorted({c.category for c in suite.cases}))
    assert summary.micro.rate == 29 / 42 and summary.micro.n == 42
    assert all(rate is not None for rate in summary.categories.values())
    assert 0 < summary.micro.ci_low < summary.micro.rate < summary.micro.ci_high < 1


def test_cli_eval_runs_the_example_suite_offline(tmp_path: Any) -> None:
    import subprocess
    import sys

    out = tmp_path / "eval.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", "eval", "-m", "sim-fast", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "69% [54%–81%]" in proc.stdout  # 29/42 with its Wilson interval
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 42
    assert sum(r["score"]["passed"] for r in rows) == 29
    failed = [r for r in rows if not r["score"]["passed"]]
    assert all(r["score"]["explanation"] for r in failed)  # every verdict says why
    assert all(r["transcript"] for r in rows)  # full traces are kept


def test_cli_eval_reports_consistency_over_repeats(tmp_path: Any) -> None:
    import subprocess
    import sys

    out = tmp_path / "eval.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmbench_jupyter",
            "eval",
            "-m",
            "sim-fast",
            "--k",
            "2",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pass^k" in proc.stdout and "flip rate" in proc.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 84 and {r["attempt"] for r in rows} == {0, 1}
    # the simulated endpoint is deterministic: both attempts agree on every case
    by_case: dict[str, set[bool]] = {}
    for r in rows:
        by_case.setdefault(r["case_id"], set()).add(r["score"]["passed"])
    assert all(len(v) == 1 for v in by_case.values())
