"""Statistics that do not overstate certainty or invent numbers (issue 11, part C).

Repeated attempts get an interval clustered by case; cost per 1k output tokens uses the
same requests above and below the fraction; paired pass rates cover the paired cases;
an unknown price, missing overhead and an empty lag sample stay None, shown as "—".
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from llmbench_jupyter.analysis import results
from llmbench_jupyter.analysis.display import overhead_html
from llmbench_jupyter.analysis.eval_result import EvalResult
from llmbench_jupyter.cli._tables import _overhead_line
from llmbench_jupyter.core import pricing
from llmbench_jupyter.core.overhead import OverheadMonitor
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import CaseScore, score_suite
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.specs import build_bench_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.stats import (
    clustered_proportion,
    judge_mean,
    loop_lag_summary,
    summarize,
    wilson_interval,
)
from llmbench_jupyter.store import open_store


def _score(case_id: str, passed: bool, category: str = "single") -> CaseScore:
    outcome = "pass" if passed else "wrong_arguments"
    return CaseScore(case_id, category, "default", passed, outcome, None, None, None, None, None)


# ------------------------------------------------------------------ clustered interval
#: k = 3 attempts at four cases that disagree within cases: passes 3, 1, 0, 2 of 3.
DISAGREE = {"a": [1, 1, 1], "b": [1, 0, 0], "c": [0, 0, 0], "d": [1, 1, 0]}


def test_clustered_interval_matches_the_hand_computed_value() -> None:
    # p = 6/12 = 0.5; V = Σ(s_i − p·m_i)²/M² = (1.5² + 0.5² + 1.5² + 0.5²)/144 = 5/144;
    # n_eff = p(1−p)/V = 0.25·144/5 = 7.2; Wilson at 3.6 of 7.2:
    # half = 1.96·√(0.25/7.2 + 1.96²/(4·7.2²)) / (1 + 1.96²/7.2) = 0.294924, centre 0.5.
    r = clustered_proportion({k: [bool(v) for v in vs] for k, vs in DISAGREE.items()})
    assert (r["rate"], r["successes"], r["n"], r["n_cases"]) == (0.5, 6, 12, 4)
    assert r["n_eff"] == pytest.approx(7.2)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.205076, 0.794924), abs=1e-6)
    naive = wilson_interval(6, 12)  # the old micro interval: 12 "independent" trials
    assert r["ci_high"] - r["ci_low"] > (naive[1] - naive[0]) * 1.15


def test_suite_micro_and_category_intervals_are_clustered_by_case() -> None:
    """Fails on the old code, whose micro interval was wilson_interval(6, 12)."""
    scores = [_score(c, bool(v)) for c, vs in DISAGREE.items() for v in vs]
    suite = score_suite(scores, ["single"])
    assert suite.micro is not None and suite.micro.rate == 0.5 and suite.micro.n == 12
    assert (suite.micro.ci_low, suite.micro.ci_high) == pytest.approx(
        (0.205076, 0.794924), abs=1e-6
    )
    assert suite.micro.n_cases == 4 and suite.micro.n_eff == pytest.approx(7.2)
    single = suite.categories["single"]
    assert single is not None and single.ci_low == pytest.approx(suite.micro.ci_low)
    assert suite.to_dict()["micro"]["n_eff"] == pytest.approx(7.2)


def test_agreeing_attempts_give_the_per_case_interval_not_k_times_the_cases() -> None:
    verdicts = {f"c{i}": [i < 30] * 3 for i in range(44)}  # 30 of 44 cases, k = 3, no flips
    r = clustered_proportion(verdicts)
    assert (r["successes"], r["n"], r["n_eff"]) == (90, 132, 44.0)
    assert (r["ci_low"], r["ci_high"]) == wilson_interval(30, 44)
    assert r["ci_high"] - r["ci_low"] > (lambda lo, hi: hi - lo)(*wilson_interval(90, 132))
    # k = 1: exactly the plain Wilson interval
    single = clustered_proportion({f"c{i}": [i < 7] for i in range(10)})
    assert (single["ci_low"], single["ci_high"]) == wilson_interval(7, 10)


def test_clustered_interval_never_narrower_than_the_naive_one_and_edge_cases() -> None:
    same_share = clustered_proportion({"a": [True, False], "b": [False, True]})
    assert same_share["n_eff"] == 4.0  # V = 0: falls back to the count of attempts
    assert (same_share["ci_low"], same_share["ci_high"]) == wilson_interval(2, 4)
    all_pass = clustered_proportion({"a": [True] * 3, "b": [True] * 3})
    assert all_pass["ci_high"] == 1.0 and all_pass["n_eff"] == 2.0
    empty = clustered_proportion({})
    assert empty["rate"] is None and empty["ci_low"] is None and empty["n"] == 0


# ------------------------------------------------------------------------ cost per 1k
def _records(run_id: str = "") -> list[RequestRecord]:
    ok = RequestRecord("r1", run_id=run_id, provider="p", model="m", output_tokens=1000,
                       input_tokens=10, cost_usd=0.002)  # fmt: skip
    # failed mid-stream: billed (a cost), its tokens not counted among successful output
    failed = RequestRecord("r2", run_id=run_id, provider="p", model="m", status="error",
                           error_category="stream_error", output_tokens=500, input_tokens=10,
                           cost_usd=0.001)  # fmt: skip
    unpriced = RequestRecord("r3", run_id=run_id, provider="p", model="m", output_tokens=4000,
                             input_tokens=10)  # fmt: skip
    return [ok, failed, unpriced]


def test_cost_per_1k_output_uses_the_same_requests_above_and_below() -> None:
    """Old leaderboard: (0.002 + 0.001) / (5000 ok tokens) — or 0.003 USD/1k without r3."""
    row = summarize(_records(), metrics=("output_tokens", "cost_usd")).iloc[0]
    assert row["total_cost_usd"] == pytest.approx(0.003)  # every known cost, errors included
    assert row["cost_per_1k_output_usd"] == pytest.approx(0.002)  # r1 only: 0.002 per 1000
    none = summarize([dataclasses.replace(_records()[2])], metrics=("cost_usd",)).iloc[0]
    assert none["cost_per_1k_output_usd"] is None


def test_leaderboard_cost_per_1k_excludes_errored_requests(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'cost.db'}")
    run_id = store.create_run(spec={}, config_snapshot={}, versions={}, host={})
    store.add_records(_records(run_id))
    store.finish_run(run_id, "done")
    board = results.leaderboard(by="cost", store=store)
    assert board.iloc[0]["cost_per_1k_output_usd"] == pytest.approx(0.002)


# ------------------------------------------------------------------ paired comparison
def _eval(run_id: str, verdicts: dict[str, bool]) -> EvalResult:
    cases = [Case(id=c, messages=[], expected=[]) for c in verdicts]
    suite = Suite(name="paired", tools=[], cases=cases)
    runs = [CaseRun("p", "m", c, "single", 0, _score(c, v)) for c, v in verdicts.items()]
    return EvalResult(run_id, suite, ["p/m"], runs)


def test_paired_pass_rates_cover_only_the_cases_both_runs_attempted() -> None:
    """Old code: a_pass_rate over all of a's cases (3/4), b's over all of b's (1/3)."""
    a = _eval("a", {"c1": True, "c2": True, "c3": False, "only_a": True})
    b = _eval("b", {"c1": True, "c2": False, "c3": False, "only_b": False})
    out = a.compare(b)
    assert out["cases"] == 3
    assert out["a_pass_rate"] == pytest.approx(2 / 3)
    assert out["b_pass_rate"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------- invented zeros
def test_a_missing_output_price_is_none_not_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        pricing, "litellm_price_map", lambda: {"m-in": {"input_cost_per_token": 2e-6}}
    )
    price = pricing.price_for("openai", "m-in")
    assert price is not None and price.input_per_mtok == pytest.approx(2.0)
    assert price.output_per_mtok is None  # the old code said 0.0: free output


def test_unpriced_output_stores_no_cost(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bench run through the store: an output price the map lacks gives cost None."""
    half = adhoc(sim.base_url, "sim:ttft=2,itl=1,out=6")
    full = adhoc(sim.base_url, "sim:ttft=2,itl=1,out=7")
    table = {
        half.api_model: {"input_cost_per_token": 1e-6},
        full.api_model: {"input_cost_per_token": 1e-6, "output_cost_per_token": 3e-6},
    }
    monkeypatch.setattr(pricing, "litellm_price_map", lambda: table)
    spec, _ = build_bench_spec(model=["sim-fast"], runs=2, warmup=0, max_tokens=8)
    spec.targets = [half, full]
    store = open_store(f"sqlite:///{tmp_path / 'price.db'}")
    result = asyncio.run(arun(spec, store=store, owner="me", sim_url=sim.base_url))
    df = store.records_df([result.run_id])
    ok = df[df["status"] == "ok"]
    unpriced = ok[ok["model"] == half.model]
    priced = ok[ok["model"] == full.model]
    assert len(unpriced) == 2 and len(priced) == 2
    assert unpriced["cost_usd"].isna().all() and unpriced["cost_source"].isna().all()
    assert (priced["cost_usd"] > 0).all() and set(priced["cost_source"]) == {"litellm"}
    board = results.leaderboard(by="cost", store=store, all_owners=True)
    by_model = board.set_index("model")["cost_per_1k_output_usd"]
    assert math.isnan(by_model[half.model]) and by_model[full.model] > 0


def test_no_lag_samples_and_no_overhead_stay_missing() -> None:
    assert loop_lag_summary([])["p99"] is None
    report = OverheadMonitor().report()  # never started: no loop-lag sample at all
    assert report["loop_lag_ms"]["n"] == 0
    assert report["loop_lag_p99_ms"] is None  # the old code stored 0.0 ms
    assert report["client_bound"] is False


@pytest.mark.parametrize(
    ("overhead", "expected"),
    [
        (None, "client overhead: not recorded"),
        ({}, "client overhead: not recorded"),
        (
            {"client_cpu_share": 0.25, "loop_lag_p99_ms": None, "client_bound": False},
            "client overhead: CPU 25% of one core, event-loop lag p99 — ms",
        ),
        (
            {"client_cpu_share": None, "loop_lag_p99_ms": 1.25, "client_bound": False},
            "client overhead: CPU —% of one core, event-loop lag p99 1.2 ms",
        ),
    ],
)
def test_cli_overhead_line_never_prints_invented_zeros(overhead: Any, expected: str) -> None:
    """The old line printed "CPU 0% ... lag 0.0 ms" for a run without overhead data."""
    assert _overhead_line(SimpleNamespace(overhead=overhead)) == expected


def test_notebook_overhead_shows_a_dash_for_missing_lag() -> None:
    line = overhead_html({"client_cpu_share": 0.1, "loop_lag_p99_ms": None})
    assert "event-loop lag p99 — ms" in line and " 0.0" not in line
    assert "not recorded" in overhead_html(None)


# ----------------------------------------------------------------------- judge mean
def test_judge_mean_counts_valid_case_scores_of_one_target_only() -> None:
    rows: list[dict[str, Any]] = [
        {"kind": "case", "status": "ok", "subject": {"target": "p/a"}, "parsed": {"score": 8}},
        {"kind": "case", "status": "ok", "subject": {"target": "p/a"}, "parsed": {"score": 5}},
        {"kind": "case", "status": "invalid", "subject": {"target": "p/a"}, "parsed": None},
        {"kind": "report", "status": "ok", "subject": {"target": "p/a"}, "parsed": {"score": 1}},
        {"kind": "case", "status": "ok", "subject": {"target": "p/b"}, "parsed": {"score": 2}},
    ]
    assert judge_mean(rows, "p/a") == 6.5
    assert judge_mean(rows, "p/c") is None
    result = _eval("x", {"c1": True})
    result.judgements = rows
    assert result.judge_mean("p/a") == 6.5
