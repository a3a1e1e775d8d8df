"""LLM-as-judge over real HTTP: the scripted runs as scored, pairwise comparisons in both orders."""

from __future__ import annotations

import asyncio
import json

import judge_helpers
import pytest
from judge_helpers import SUITE, _block, _in_order, _target, _with_session

from llmbench_jupyter.evals.judge import (
    PairVerdict,
    answer_text,
    compare_runs,
    judge_pair,
)
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import case_value
from llmbench_jupyter.sim import SimServer

# judge_helpers' module-scoped fixtures, bound here: they override conftest's ``sim``.
sim = judge_helpers.sim
runs = judge_helpers.runs


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
    assert s["first_win_rate"] == {
        "rate": None,
        "ci_low": None,
        "ci_high": None,
        "successes": 0,
        "n": 0,
    }
    assert s["position_consistency"]["n"] == 0 and s["position_consistency"]["rate"] is None
    for v in report.verdicts:
        assert (v.winner, v.consistent) == ("invalid", None)
        assert v.forward.status == "invalid" and v.forward.parsed is None
        assert v.forward.raw_output == '{"winner": "C", "reasoning": "Neither."}'
        assert v.forward.error == 'winner: expected "A", "B" or "tie", got "C"'
