"""LLM-as-judge over real HTTP: scripted sim judges grade runs made by run_suite against the sim.

The judged runs come from a tiny suite run through ``runner.run_suite``: "tool-good"
answers every case right (and writes the marker ZEBRA), "tool-weak" gets three wrong in
different ways. Each judge model is a sim scenario with one scripted reply.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.targets import Target, adhoc
from llmbench_jupyter.evals.judge import (
    JUDGE_STATUSES,
    InlineJudge,
    JudgeError,
    Judgement,
    PairVerdict,
    answer_text,
    compare_runs,
    judge_case,
    judge_pair,
    judge_report,
    judge_runs,
    parse_verdict,
)
from llmbench_jupyter.evals.model import Suite
from llmbench_jupyter.evals.runner import CaseRun, run_suite
from llmbench_jupyter.evals.scoring import case_value
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.stats import pairwise_summary

FAKE_KEY = "sk-test-9f8e7d6c5b4a39281706"
FAST = "sim:ttft=1,itl=0"
REPORT = {
    "grade": "C+",
    "strengths": ["Abstains correctly on irrelevant requests"],
    "weaknesses": ["Picks the wrong tool for time questions", "Changes argument values"],
    "recommendations": ["Describe get_time more clearly"],
    "summary": "Two of five cases pass.",
}

SUITE = Suite.from_dict(
    {
        "name": "judge-mini",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather for a city.",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "city": {"type": "string"},
                            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                        },
                        "required": ["city"],
                    },
                },
            },
            {
                "type": "function",
                "function": {
                    "name": "get_time",
                    "description": "Current time in an IANA time zone.",
                    "parameters": {
                        "type": "object",
                        "properties": {"tz": {"type": "string"}},
                        "required": ["tz"],
                    },
                },
            },
        ],
        "cases": [
            {
                "id": "w_paris",
                "prompt": "What is the weather in Paris?",
                "expected": [{"name": "get_weather", "params": {"city": {"text": "Paris"}}}],
            },
            {
                "id": "w_rome",
                "prompt": "What is the weather in Rome?",
                "expected": [{"name": "get_weather", "params": {"city": {"text": "Rome"}}}],
            },
            {
                "id": "t_tokyo",
                "prompt": "What time is it in Tokyo?",
                "expected": [{"name": "get_time", "params": {"tz": "Asia/Tokyo"}}],
            },
            {
                "id": "w_oslo",
                "prompt": "Weather in Oslo in celsius please",
                "expected": [
                    {"name": "get_weather", "params": {"city": {"text": "Oslo"}, "unit": "celsius"}}
                ],
            },
            {
                "id": "joke",
                "category": "irrelevance",
                "prompt": "Tell me a joke",
                "should_call": False,
            },
        ],
    }
)


def _call(name: str, **arguments: Any) -> list[dict[str, Any]]:
    return [{"name": name, "arguments": arguments}]


def _rules() -> list[dict[str, Any]]:
    good = [
        ("weather in Paris", _call("get_weather", city="Paris")),
        ("weather in Rome", _call("get_weather", city="Rome")),
        ("time is it in Tokyo", _call("get_time", tz="Asia/Tokyo")),
        ("Oslo", _call("get_weather", city="Oslo", unit="celsius")),
    ]
    weak = [
        ("weather in Paris", _call("get_weather", city="Paris")),
        ("weather in Rome", _call("get_weather", city="Milan")),  # wrong value
        ("time is it in Tokyo", _call("get_weather", city="Tokyo")),  # wrong tool
        ("Oslo", _call("get_weather", city="Oslo", unit="fahrenheit")),  # 1 of 2 args wrong
    ]
    rules: list[dict[str, Any]] = [
        {"model": "^tool-good$", "match": m, "content": "ZEBRA: calling the tool.", "tool_calls": c}
        for m, c in good
    ]
    rules.append({"model": "^tool-good$", "match": "joke", "content": "ZEBRA: a pun, sorry."})
    rules += [{"model": "^tool-weak$", "match": m, "tool_calls": c} for m, c in weak]
    rules.append({"model": "^tool-weak$", "match": "joke", "content": "Knock knock."})

    def judge(model: str, content: str, match: str = ".") -> dict[str, Any]:
        return {"model": f"^{model}$", "match": match, "content": content}

    rules += [
        judge("judge-biased", '{"winner": "A", "reasoning": "The first answer is better."}'),
        # Prefers whichever answer holds the marker, wherever it is shown.
        judge(
            "judge-marker",
            '{"winner": "A", "reasoning": "A is right."}',
            r"(?s)\[Answer A\](?:(?!\[Answer B\]).)*ZEBRA",
        ),
        judge(
            "judge-marker",
            '{"winner": "B", "reasoning": "B is right."}',
            r"(?s)\[Answer B\].*ZEBRA",
        ),
        judge("judge-marker", '{"winner": "tie", "reasoning": "Same."}'),
        judge(
            "judge-grader",
            'Verdict:\n```json\n{"score": 4, "passed": false, "reasoning": "Wrong argument.",'
            ' "confidence": 0.9}\n```\nHope this helps.',
        ),
        judge("judge-prose", "The answer looks fine to me; I would give it 8 out of 10."),
        judge("judge-score11", '{"score": 11, "passed": true, "reasoning": "Perfect."}'),
        judge("judge-winner-c", '{"winner": "C", "reasoning": "Neither."}'),
        judge("judge-missing", '{"score": 7}'),
        judge("judge-report", "Here is my assessment. " + json.dumps(REPORT) + " Done."),
        judge("judge-grade-z", json.dumps({**REPORT, "grade": "Z"})),
    ]
    return rules


MODELS = [
    "tool-good",
    "tool-weak",
    "judge-biased",
    "judge-marker",
    "judge-grader",
    "judge-prose",
    "judge-score11",
    "judge-winner-c",
    "judge-missing",
    "judge-report",
    "judge-grade-z",
]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    path = tmp_path_factory.mktemp("judge") / "rules.yaml"
    path.write_text(yaml.safe_dump(_rules()), encoding="utf-8")
    srv = SimServer(rules=str(path), scenarios=dict.fromkeys(MODELS, FAST)).start_in_thread()
    yield srv
    srv.stop_thread()


def _target(sim: SimServer, model: str) -> Target:
    return adhoc(sim.base_url, model, api_key=FAKE_KEY)


@pytest.fixture(scope="module")
def runs(sim: SimServer) -> dict[str, dict[str, CaseRun]]:
    """``{"good"|"weak": {case_id: CaseRun}}`` made by the real runner against the sim."""
    targets = [_target(sim, "tool-good"), _target(sim, "tool-weak")]
    made = asyncio.run(run_suite(targets, SUITE))
    out: dict[str, dict[str, CaseRun]] = {"good": {}, "weak": {}}
    for run in made:
        out[run.model.removeprefix("tool-")][run.case_id] = run
    return out


def _in_order(by_case: dict[str, CaseRun]) -> list[CaseRun]:
    return [by_case[c.id] for c in SUITE.cases if c.id in by_case]


async def _with_session(coro_fn: Any) -> Any:
    async with aiohttp.ClientSession() as session:
        return await coro_fn(session)


# --------------------------------------------------------------------------- fixtures as scored


def test_fixture_runs_are_scored_as_scripted(runs: dict[str, dict[str, CaseRun]]) -> None:
    assert all(r.score.passed for r in runs["good"].values())
    weak = runs["weak"]
    assert {cid: r.score.outcome for cid, r in weak.items()} == {
        "w_paris": "pass",
        "w_rome": "wrong_arguments",
        "t_tokyo": "wrong_tool",
        "w_oslo": "wrong_arguments",
        "joke": "pass",
    }
    # case_value: 1 when passed, else mean of tool F1 and argument accuracy.
    assert {cid: case_value(r.score) for cid, r in weak.items()} == {
        "w_paris": 1.0,
        "w_rome": 0.5,  # F1 1, accuracy 0
        "t_tokyo": 0.0,  # F1 0, accuracy 0
        "w_oslo": 0.75,  # F1 1, accuracy 0.5
        "joke": 1.0,
    }
    assert "ZEBRA" in answer_text(SUITE.cases[0], runs["good"]["w_paris"])
    assert (
        answer_text(SUITE.cases[1], weak["w_rome"]) == 'tool call: get_weather({"city": "Milan"})'
    )


# --------------------------------------------------------------------------- pairwise


def _block(label: str, text: str) -> str:
    return f"[{label}]\n{text}\n[end of {label}]"


def test_judge_biased_to_the_first_answer_yields_ties_and_zero_consistency(
    sim: SimServer, runs: dict[str, dict[str, CaseRun]]
) -> None:
    judge = _target(sim, "judge-biased")
    seen: list[PairVerdict] = []
    report = asyncio.run(
        compare_runs(
            judge, SUITE, _in_order(runs["good"]), _in_order(runs["weak"]), on_verdict=seen.append
        )
    )
    s = report.summary
    assert (s["n"], s["first_wins"], s["second_wins"], s["ties"], s["invalid"]) == (5, 0, 0, 5, 0)
    assert s["first_win_rate"]["rate"] == 0.5  # ties split: no preference
    pc = s["position_consistency"]
    assert pc["rate"] == 0.0 and pc["n"] == 5
    assert pc["ci_low"] == 0.0 and pc["ci_high"] == pytest.approx(0.4345, abs=1e-4)
    assert s["unpaired"] == []
    assert len(seen) == 5 and [v.case_id for v in report.verdicts] == [c.id for c in SUITE.cases]
    for v, case in zip(report.verdicts, SUITE.cases, strict=True):
        assert (v.winner, v.consistent) == ("tie", False)
        assert (
            v.forward.parsed
            == v.backward.parsed
            == {
                "winner": "A",
                "reasoning": "The first answer is better.",
            }
        )
        good = answer_text(case, runs["good"][case.id])
        weak = answer_text(case, runs["weak"][case.id])
        forward, backward = v.forward.messages[1]["content"], v.backward.messages[1]["content"]
        # Both orders were really sent: the same answers, positions swapped.
        assert forward.endswith(_block("Answer A", good) + "\n\n" + _block("Answer B", weak))
        assert backward.endswith(_block("Answer A", weak) + "\n\n" + _block("Answer B", good))
        assert v.forward.subject["order"] == "forward" and v.forward.subject["A"] == "first"
        assert v.backward.subject["order"] == "backward" and v.backward.subject["A"] == "second"
        assert v.forward.messages[0]["role"] == "system"
        assert "JSON object only" in v.forward.messages[0]["content"]
    assert sim.stats["model"]["judge-biased"] == 10  # 5 cases x 2 orders


def test_consistent_judge_finds_the_winner_in_both_orders(
    sim: SimServer, runs: dict[str, dict[str, CaseRun]]
) -> None:
    judge = _target(sim, "judge-marker")
    good, weak = _in_order(runs["good"]), _in_order(runs["weak"])
    report = asyncio.run(compare_runs(judge, SUITE, good, weak, concurrency=2))
    s = report.summary
    assert (s["first_wins"], s["second_wins"], s["ties"], s["invalid"]) == (5, 0, 0, 0)
    assert s["first_win_rate"]["rate"] == 1.0
    assert s["position_consistency"]["rate"] == 1.0 and s["position_consistency"]["n"] == 5
    assert s["position_consistency"]["ci_low"] == pytest.approx(0.5655, abs=1e-4)
    assert all(v.consistent is True and v.winner == "first" for v in report.verdicts)
    assert {v.forward.parsed["winner"] for v in report.verdicts if v.forward.parsed} == {"A"}
    assert {v.backward.parsed["winner"] for v in report.verdicts if v.backward.parsed} == {"B"}

    # Sides swapped: the same judge now prefers the second run. Missing cases are listed.
    swapped = asyncio.run(compare_runs(judge, SUITE, weak[:3], good))
    t = swapped.summary
    assert (t["n"], t["first_wins"], t["second_wins"]) == (3, 0, 3)
    assert t["first_win_rate"]["rate"] == 0.0
    assert t["unpaired"] == [
        {"case_id": "w_oslo", "missing_from": "first"},
        {"case_id": "joke", "missing_from": "first"},
    ]

    one = asyncio.run(
        _with_session(
            lambda session: judge_pair(
                session,
                judge,
                SUITE,
                SUITE.cases[1],
                runs["weak"]["w_rome"],
                runs["good"]["w_rome"],
            )
        )
    )
    assert (one.winner, one.consistent) == ("second", True)
    assert json.loads(json.dumps(one.to_dict()))["forward"]["subject"]["first"]["model"] == (
        "tool-weak"
    )


def test_invalid_pairwise_outputs_never_count_as_wins(
    sim: SimServer, runs: dict[str, dict[str, CaseRun]]
) -> None:
    judge = _target(sim, "judge-winner-c")
    report = asyncio.run(
        compare_runs(judge, SUITE, _in_order(runs["good"]), _in_order(runs["weak"]))
    )
    s = report.summary
    assert (s["n"], s["n_valid"], s["first_wins"], s["second_wins"], s["ties"], s["invalid"]) == (
        5,
        0,
        0,
        0,
        0,
        5,
    )
    assert s["first_win_rate"] == {"rate": None, "ci_low": None, "ci_high": None, "n": 0}
    assert s["position_consistency"]["n"] == 0 and s["position_consistency"]["rate"] is None
    for v in report.verdicts:
        assert (v.winner, v.consistent) == ("invalid", None)
        assert v.forward.status == "invalid" and v.forward.parsed is None
        assert v.forward.raw_output == '{"winner": "C", "reasoning": "Neither."}'
        assert v.forward.error == 'winner: expected "A", "B" or "tie", got "C"'


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
    assert all(j.error is not None and j.error.startswith("LLMBenchError: HTTP 500") for j in fault)

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
    assert one.error.startswith("LLMBenchError: HTTP 500: upstream rejected")
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


# --------------------------------------------------------------------------- parsing and stats

_CASE_OK = {"score": 7, "passed": True, "reasoning": "Right call."}


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("case", json.dumps(_CASE_OK), _CASE_OK),
        ("case", "Sure.\n```json\n" + json.dumps(_CASE_OK) + "\n```", _CASE_OK),
        ("case", "My verdict: " + json.dumps({**_CASE_OK, "extra": 1}) + " end", _CASE_OK),
        ("case", "{not json} then " + json.dumps(_CASE_OK), _CASE_OK),
        (
            "pairwise",
            '{"winner": "tie", "reasoning": "Equal."}',
            {"winner": "tie", "reasoning": "Equal."},
        ),
        (
            "report",
            json.dumps({**REPORT, "grade": "A-", "strengths": []}),
            {**REPORT, "grade": "A-", "strengths": []},
        ),
    ],
)
def test_parse_verdict_accepts(kind: str, text: str, expected: dict[str, Any]) -> None:
    assert parse_verdict(kind, text) == (expected, None)


@pytest.mark.parametrize(
    ("kind", "text", "error"),
    [
        ("case", "", "empty output"),
        ("case", "[1, 2]", "the output is a JSON list, expected an object"),
        (
            "case",
            json.dumps({**_CASE_OK, "score": True}),
            "score: expected an integer 1..10, got true",
        ),
        (
            "case",
            json.dumps({**_CASE_OK, "score": 7.0}),
            "score: expected an integer 1..10, got 7.0",
        ),
        ("case", json.dumps({**_CASE_OK, "score": 0}), "score: expected an integer 1..10, got 0"),
        (
            "case",
            json.dumps({**_CASE_OK, "passed": "true"}),
            'passed: expected true or false, got "true"',
        ),
        (
            "case",
            json.dumps({**_CASE_OK, "reasoning": " "}),
            'reasoning: expected a non-empty string, got " "',
        ),
        (
            "case",
            json.dumps(_CASE_OK) + " or maybe " + json.dumps({**_CASE_OK, "score": 3}),
            "2 different JSON objects in the output, expected exactly one",
        ),
        (
            "pairwise",
            '{"winner": "a", "reasoning": "x"}',
            'winner: expected "A", "B" or "tie", got "a"',
        ),
        (
            "report",
            json.dumps({**REPORT, "grade": "F+"}),
            'grade: expected a letter grade A, B, C, D (optionally with + or -) or F, got "F+"',
        ),
        (
            "report",
            json.dumps({**REPORT, "weaknesses": ["ok", 3]}),
            'weaknesses: expected a list of non-empty strings, got ["ok", 3]',
        ),
        (
            "report",
            json.dumps({**REPORT, "summary": None}),
            "summary: expected a non-empty string, got null",
        ),
    ],
)
def test_parse_verdict_rejects(kind: str, text: str, error: str) -> None:
    assert parse_verdict(kind, text) == (None, error)


def test_parse_verdict_unknown_kind() -> None:
    with pytest.raises(JudgeError, match="judge kind 'score' is unknown"):
        parse_verdict("score", "{}")
    assert JUDGE_STATUSES == ("ok", "invalid", "api_error")


def test_pairwise_summary_arithmetic() -> None:
    s = pairwise_summary(
        ["first", "first", "tie", "second", "invalid"], [True, True, False, True, None]
    )
    assert (s["n"], s["n_valid"], s["first_wins"], s["second_wins"], s["ties"], s["invalid"]) == (
        5,
        4,
        2,
        1,
        1,
        1,
    )
    assert s["first_win_rate"]["rate"] == 0.625 and s["first_win_rate"]["n"] == 4
    assert s["position_consistency"]["rate"] == 0.75 and s["position_consistency"]["n"] == 4
    low, high = s["position_consistency"]["ci_low"], s["position_consistency"]["ci_high"]
    assert low == pytest.approx(0.3006, abs=1e-4) and high == pytest.approx(0.9544, abs=1e-4)
    with pytest.raises(LLMBenchError, match=r"winners\[0\] is 'A'"):
        pairwise_summary(["A"], [True])
    with pytest.raises(LLMBenchError, match="2 winners but 1 consistency flags"):
        pairwise_summary(["tie", "tie"], [False])
