"""LLM-as-judge over real HTTP: per-case grades, provider failures, auto-judge, reports."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import judge_helpers
import pytest
from aiohttp import web
from judge_helpers import FAKE_KEY, REPORT, SUITE, _block, _in_order, _target, _with_session

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.evals.judge import (
    InlineJudge,
    JudgeError,
    Judgement,
    PairVerdict,
    compare_runs,
    judge_case,
    judge_pair,
    judge_report,
    judge_runs,
)
from llmbench_jupyter.evals.runner import CaseRun, run_suite
from llmbench_jupyter.sim import SimServer

# judge_helpers' module-scoped fixtures, bound here: they override conftest's ``sim``.
sim = judge_helpers.sim
runs = judge_helpers.runs


# --------------------------------------------------------------------------- per-case judging


def _judge_one(sim: SimServer, runs: dict[str, dict[str, CaseRun]], model: str) -> Judgement:
    case = SUITE.cases[1]
    run = runs["weak"]["w_rome"]
    return asyncio.run(
        _with_session(lambda s: judge_case(s, _target(sim, model), SUITE, case, run))
    )


def test_case_judgement_keeps_messages_and_parses_a_fenced_verdict(
    sim: SimServer, runs: dict[str, dict[str, CaseRun]]
) -> None:
    j = _judge_one(sim, runs, "judge-grader")
    assert j.status == "ok" and j.error is None
    assert j.parsed == {"score": 4, "passed": False, "reasoning": "Wrong argument."}
    assert j.kind == "case" and j.case_id == "w_rome" and j.judge.endswith("/judge-grader")
    assert j.subject == {
        "provider": sim.base_url.split("/")[2],
        "model": "tool-weak",
        "attempt": 0,
        "outcome": "wrong_arguments",
        "case_value": 0.5,
    }
    assert j.raw_output is not None and j.raw_output.startswith("Verdict:\n```json")
    user = j.messages[1]["content"]
    assert "[user] What is the weather in Rome?" in user
    assert "- call get_weather(city: text 'Rome' (any case/spacing))" in user
    assert "outcome wrong_arguments (passed: no; tool F1 1.00, argument accuracy 0.00)" in user
    assert user.endswith(_block("Answer", 'tool call: get_weather({"city": "Milan"})'))
    assert j.usage is not None and j.usage["completion_tokens"] > 0
    assert json.loads(json.dumps(j.to_dict()))["messages"] == j.messages


@pytest.mark.parametrize(
    ("model", "raw", "error"),
    [
        (
            "judge-prose",
            "The answer looks fine to me; I would give it 8 out of 10.",
            "no JSON object found in the output",
        ),
        (
            "judge-score11",
            '{"score": 11, "passed": true, "reasoning": "Perfect."}',
            "score: expected an integer 1..10, got 11",
        ),
        (
            "judge-missing",
            '{"score": 7}',
            "passed: missing (expected true or false); "
            "reasoning: missing (expected a non-empty string)",
        ),
    ],
)
def test_invalid_case_outputs_are_invalid_not_passes(
    sim: SimServer, runs: dict[str, dict[str, CaseRun]], model: str, raw: str, error: str
) -> None:
    j = _judge_one(sim, runs, model)
    assert (j.status, j.parsed, j.raw_output, j.error) == ("invalid", None, raw, error)


# --------------------------------------------------------------------------- provider failures


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _echo_key_server() -> web.AppRunner:
    """A server that fails with the caller's Authorization header in its error body."""

    async def fail(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        return web.Response(status=500, text=f"upstream rejected {auth} for key {auth[7:]}")

    app = web.Application()
    app.add_routes([web.post("/v1/chat/completions", fail)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def test_api_errors_are_scrubbed_and_the_run_goes_on(
    sim: SimServer, runs: dict[str, dict[str, CaseRun]]
) -> None:
    weak = _in_order(runs["weak"])
    closed = adhoc(f"http://127.0.0.1:{_closed_port()}/v1", "judge", api_key=FAKE_KEY)
    got: list[Judgement] = []
    judged = asyncio.run(judge_runs(closed, SUITE, weak, on_judgement=got.append))
    assert [j.case_id for j in judged] == [r.case_id for r in weak] and len(got) == 5
    for j in judged:
        assert (j.status, j.parsed, j.raw_output) == ("api_error", None, None)
        assert j.error is not None and "ClientConnectorError" in j.error
        assert FAKE_KEY not in j.error

    fault = asyncio.run(
        judge_runs(adhoc(sim.base_url, "sim:fault=500", api_key=FAKE_KEY), SUITE, weak[:2])
    )
    assert [j.status for j in fault] == ["api_error", "api_error"]
    assert all(j.error is not None and j.error.startswith("RequestFailed: HTTP 500") for j in fault)

    async def echoed() -> tuple[Judgement, PairVerdict]:
        server = await _echo_key_server()
        try:
            port = server.addresses[0][1]
            judge = adhoc(f"http://127.0.0.1:{port}/v1", "judge", api_key=FAKE_KEY)
            async with aiohttp.ClientSession() as session:
                case, run = SUITE.cases[1], runs["weak"]["w_rome"]
                one = await judge_case(session, judge, SUITE, case, run)
                pair = await judge_pair(session, judge, SUITE, case, run, runs["good"]["w_rome"])
            return one, pair
        finally:
            await server.cleanup()

    one, pair = asyncio.run(echoed())
    assert one.status == "api_error" and one.error is not None
    assert one.error.startswith("RequestFailed: HTTP 500: upstream rejected")
    assert FAKE_KEY not in one.error and "[REDACTED]" in one.error
    assert (pair.winner, pair.consistent) == ("invalid", None)
    assert pair.forward.status == pair.backward.status == "api_error"
    assert all(FAKE_KEY not in json.dumps(j.to_dict()) for j in (one, pair.forward, pair.backward))


def test_only_openai_compatible_judges_are_accepted(runs: dict[str, dict[str, CaseRun]]) -> None:
    judge = adhoc("http://127.0.0.1:9/v1", "claude", kind="litellm")
    with pytest.raises(LLMBenchError, match=r"kind 'litellm' is not supported"):
        asyncio.run(judge_runs(judge, SUITE, _in_order(runs["weak"])))
    with pytest.raises(LLMBenchError, match=r"kind 'litellm' is not supported"):
        asyncio.run(compare_runs(judge, SUITE, [], []))


# --------------------------------------------------------------------------- auto-judge


def test_auto_judge_picks_exactly_the_cases_below_the_threshold(
    sim: SimServer, runs: dict[str, dict[str, CaseRun]]
) -> None:
    judge = _target(sim, "judge-grader")
    weak = _in_order(runs["weak"])

    def judged(threshold: float | None) -> list[str | None]:
        out = asyncio.run(judge_runs(judge, SUITE, weak, threshold=threshold, concurrency=2))
        assert all(j.status == "ok" for j in out)
        return [j.case_id for j in out]

    assert judged(0.6) == ["w_rome", "t_tokyo"]
    assert judged(0.75) == ["w_rome", "t_tokyo"]  # strictly below
    assert judged(0.8) == ["w_rome", "t_tokyo", "w_oslo"]
    assert judged(1.0) == ["w_rome", "t_tokyo", "w_oslo"]  # every failure
    assert judged(None) == [c.id for c in SUITE.cases]
    assert judged(0.0) == []
    with pytest.raises(JudgeError, match=r"threshold: found 1.5, expected a number in \[0, 1\]"):
        judged(1.5)
    stray = CaseRun("p", "m", "nope", "single", 0, weak[0].score)
    with pytest.raises(JudgeError, match="case 'nope' is not in suite 'judge-mini'"):
        asyncio.run(judge_runs(judge, SUITE, [*weak, stray]))


def test_inline_judge_during_run_suite(sim: SimServer) -> None:
    judge = _target(sim, "judge-grader")
    landed: list[Judgement] = []

    async def main() -> tuple[list[CaseRun], list[Judgement]]:
        inline = InlineJudge(judge, SUITE, threshold=0.6, on_judgement=landed.append)
        made = await run_suite([_target(sim, "tool-weak")], SUITE, on_case=inline.submit)
        return made, await inline.finish()

    made, judgements = asyncio.run(main())
    assert len(made) == 5
    assert sorted(j.case_id or "" for j in judgements) == ["t_tokyo", "w_rome"]
    assert len(landed) == 2 and all(j.status == "ok" for j in judgements)


# --------------------------------------------------------------------------- report


def test_report_parses_a_structured_report_from_a_small_prompt(
    sim: SimServer, runs: dict[str, dict[str, CaseRun]]
) -> None:
    weak = _in_order(runs["weak"])
    j = asyncio.run(
        _with_session(
            lambda s: judge_report(s, _target(sim, "judge-report"), SUITE, weak, max_examples=2)
        )
    )
    assert j.status == "ok" and j.kind == "report" and j.case_id is None
    assert j.parsed == REPORT
    assert j.subject["model"] == "tool-weak" and j.subject["n_failing"] == 3
    # One example per outcome before a second of the same: worst wrong_arguments, then wrong_tool.
    assert j.subject["examples"] == ["w_rome", "t_tokyo"]
    user = j.messages[1]["content"]
    numbers = json.loads(user.split("## Aggregate scores\n")[1].split("\n\n## Failing")[0])
    assert (numbers["case_runs_scored"], numbers["passed"]) == (5, 2)
    assert numbers["micro_pass_rate"]["rate"] == 0.4
    assert numbers["per_category_pass_rate"]["irrelevance"]["rate"] == 1.0
    assert numbers["per_category_pass_rate"]["single"]["rate"] == 0.25
    assert numbers["error_types"] == {"wrong_tool": 1, "wrong_value": 2}
    assert "## Failing cases: 2 shown of 3" in user
    assert "case w_oslo" not in user and "case w_rome (single), outcome wrong_arguments" in user

    bad = asyncio.run(
        _with_session(lambda s: judge_report(s, _target(sim, "judge-grade-z"), SUITE, weak))
    )
    assert bad.status == "invalid" and bad.parsed is None
    assert bad.error == (
        'grade: expected a letter grade A, B, C, D (optionally with + or -) or F, got "Z"'
    )

    mixed = [*weak, runs["good"]["w_paris"]]
    with pytest.raises(JudgeError, match="grades one model; the runs come from 2 targets"):
        asyncio.run(
            _with_session(lambda s: judge_report(s, _target(sim, "judge-report"), SUITE, mixed))
        )
