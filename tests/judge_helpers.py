"""Shared by the judge tests (tests/test_judge_*.py): a tiny suite, its scripted runs, judges.

The judged runs come from a tiny suite run through ``runner.run_suite``: "tool-good"
answers every case right (and writes the marker ZEBRA), "tool-weak" gets three wrong in
different ways. Each judge model is a sim scenario with one scripted reply. The fixtures
``sim`` and ``runs`` are module-scoped: each test module binds them by name.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import yaml

from llmbench_jupyter.core.targets import Target, adhoc
from llmbench_jupyter.evals.model import Suite
from llmbench_jupyter.evals.runner import CaseRun, run_suite
from llmbench_jupyter.sim import SimServer

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


def _block(label: str, text: str) -> str:
    return f"[{label}]\n{text}\n[end of {label}]"
