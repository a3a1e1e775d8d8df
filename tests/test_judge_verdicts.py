"""LLM-as-judge: verdict parsing and the pairwise summary arithmetic (no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from judge_helpers import REPORT

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.evals.judge import (
    JUDGE_STATUSES,
    JudgeError,
    parse_verdict,
)
from llmbench_jupyter.stats import pairwise_summary

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
