"""history(), load() and leaderboard() over a SQLite store filled by real runs against the sim."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pandas.testing as pd_testing
import pytest

from llmbench_jupyter.analysis import results
from llmbench_jupyter.analysis.bench_result import BenchResult
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.specs import build_bench_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.stats import RELATIVE_ACCURACY, summarize
from llmbench_jupyter.store import Store, open_store

ME = "results-tester"


def _run(spec: BenchSpec, store: Store, sim: SimServer, owner: str = ME) -> BenchResult:
    return asyncio.run(arun(spec, store=store, owner=owner, sim_url=sim.base_url))


@pytest.fixture(scope="module")
def filled(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three runs of ours (one with a failing target and two tiers) and one of another owner."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('results') / 'r.db'}")
    first, _ = build_bench_spec(
        model=["sim-fast", "sim-medium"], runs=3, warmup=1, max_tokens=24, name="first"
    )
    r1 = _run(first, store, sim)
    broken = adhoc(sim.base_url, "sim:ttft=5,itl=1,out=8,fault=500")
    small = dataclasses.replace(adhoc(sim.base_url, "sim:ttft=5,itl=1,out=8"), context_window=100)
    second, _ = build_bench_spec(
        model=["sim-fast"], runs=2, warmup=0, max_tokens=24, context_tiers=[0, 200], name="second"
    )
    second.targets += [broken, small]
    r2 = _run(second, store, sim)
    theirs, _ = build_bench_spec(model=["sim-fast"], runs=2, warmup=0, max_tokens=24)
    r3 = _run(theirs, store, sim, owner="someone-else")
    return {"store": store, "first": r1, "second": r2, "other": r3, "broken": broken}


@pytest.fixture(autouse=True)
def _as_me(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBENCH_USER", ME)


def test_history_lists_my_runs_newest_first_with_measured_counts(filled: dict[str, Any]) -> None:
    df = results.history(store=filled["store"], full=True)
    assert list(df.columns) == list(results.HISTORY_COLUMNS)
    assert list(df["run_id"]) == [filled["second"].run_id, filled["first"].run_id]
    first = df[df["run_id"] == filled["first"].run_id].iloc[0]
    assert first["name"] == "first" and first["status"] == "done"
    assert first["targets"] == "local-sim/sim-fast, local-sim/sim-medium"
    assert first["requests"] == 6 and first["errors"] == 0  # warm-ups are not counted
    second = df[df["run_id"] == filled["second"].run_id].iloc[0]
    assert second["requests"] == len(filled["second"].measured)
    assert second["errors"] == 4  # the broken target fails at both tiers, twice each
    # the medians are summarize()'s over the run's measured requests, read from the
    # run's quantile sketches: within their documented relative accuracy
    expected = summarize(filled["first"].records, by=("run_id",)).iloc[0]
    assert first["ttft_ms_p50"] == pytest.approx(expected["ttft_ms_p50"], rel=RELATIVE_ACCURACY)
    assert first["decode_tps_p50"] == pytest.approx(
        expected["decode_tps_p50"], rel=RELATIVE_ACCURACY
    )
    assert df.attrs["source"] == results.SOURCE
    ttfts = [r.ttft_ms for r in filled["first"].measured]
    assert min(ttfts) <= first["ttft_ms_p50"] <= max(ttfts)
    warmups = sum(r.is_warmup for r in filled["first"].records)
    assert warmups > 0 and first["warmup_requests"] == warmups
    # the default view: the same rows, no eval-only column, milliseconds to 0.1
    compact = results.history(store=filled["store"])
    assert "attempts" not in compact.columns and list(compact["run_id"]) == list(df["run_id"])
    shown = compact[compact["run_id"] == filled["first"].run_id].iloc[0]
    assert shown["ttft_ms_p50"] == round(first["ttft_ms_p50"], 1)


def test_history_limit_owners_and_bad_limit(filled: dict[str, Any]) -> None:
    assert len(results.history(limit=1, store=filled["store"])) == 1
    everyone = results.history(all_owners=True, store=filled["store"])
    assert filled["other"].run_id in set(everyone["run_id"])
    assert set(everyone["owner"]) == {ME, "someone-else"}
    with pytest.raises(LLMBenchError, match="limit"):
        results.history(limit=0, store=filled["store"])


def test_history_of_an_empty_store_is_an_empty_frame(tmp_path: Path) -> None:
    df = results.history(store=f"sqlite:///{tmp_path / 'empty.db'}")
    assert df.empty and list(df.columns) == list(results.HISTORY_COLUMNS)


def test_load_rebuilds_the_run_from_the_store(filled: dict[str, Any]) -> None:
    original: BenchResult = filled["second"]
    loaded = results.load(original.run_id[:10], store=filled["store"])
    assert isinstance(loaded, BenchResult)
    assert loaded.run_id == original.run_id and loaded.status == original.status
    assert sorted(r.request_id for r in loaded.records) == sorted(
        r.request_id for r in original.records
    )
    assert loaded.spec["name"] == "second"
    assert [s["context_tier"] for s in loaded.skipped] == [200]  # 200 + 24 > window of 100
    assert loaded.overhead.keys() >= {"client_cpu_share"}
    keys, cols = ["provider", "model", "context_tier"], ["requests", "errors", "ttft_ms_p50"]

    def table(result: BenchResult) -> Any:
        return result.summary().sort_values(keys).reset_index(drop=True)[keys + cols]

    pd_testing.assert_frame_equal(table(loaded), table(original))


def test_load_unknown_or_other_owners_run_fails_clearly(filled: dict[str, Any]) -> None:
    with pytest.raises(LLMBenchError, match="no run id starts with 'zzzz'"):
        results.load("zzzz", store=filled["store"])
    with pytest.raises(LLMBenchError, match="no run id starts with"):
        results.load(filled["other"].run_id, store=filled["store"])


def _rows(df: Any, tier: int = 0) -> list[str]:
    return list(df[df["context_tier"] == tier]["model"])


def test_leaderboard_ranks_by_each_metric(filled: dict[str, Any]) -> None:
    store = filled["store"]
    board = results.leaderboard(store=store, full=True)
    assert list(board.columns) == list(results.LEADERBOARD_COLUMNS)
    shown = results.leaderboard(store=store)  # the default view: rank is the index
    assert shown.index.name == "rank" and list(shown.index) == list(board["rank"])
    assert list(shown.columns) == list(results.LEADERBOARD_COLUMNS[1:])
    tier0 = board[board["context_tier"] == 0]
    assert list(tier0["rank"]) == list(range(1, len(tier0) + 1))
    ok = tier0[tier0["success_rate"] > 0]
    assert list(ok["decode_tps_p50"]) == sorted(ok["decode_tps_p50"], reverse=True)
    # the broken target has no timing: it ranks last, whatever the metric
    assert tier0.iloc[-1]["model"] == filled["broken"].model
    assert tier0.iloc[-1]["success_rate"] == 0
    by_ttft = results.leaderboard(by="ttft_ms", store=store)
    ttft0 = by_ttft[(by_ttft["context_tier"] == 0) & by_ttft["ttft_ms_p50"].notna()]
    assert list(ttft0["ttft_ms_p50"]) == sorted(ttft0["ttft_ms_p50"])
    assert _rows(by_ttft).index("sim-fast") < _rows(by_ttft).index("sim-medium")
    by_cost = results.leaderboard(by="cost", store=store)
    priced = by_cost[(by_cost["context_tier"] == 0) & by_cost["cost_per_1k_output_usd"].notna()]
    assert list(priced["model"]) == ["sim-fast", "sim-medium"]  # $0.40 vs $1.50 per Mtok out
    fast = priced.iloc[0]["cost_per_1k_output_usd"]
    assert 0.40 / 1000 < fast < 0.40 / 1000 * 2  # output price plus a little input cost
    by_success = results.leaderboard(by="success_rate", store=store)
    assert by_success[by_success["context_tier"] == 0].iloc[-1]["success_rate"] == 0


def test_leaderboard_counts_runs_and_filters(filled: dict[str, Any]) -> None:
    store = filled["store"]
    board = results.leaderboard(store=store, full=True)
    fast0 = board[(board["model"] == "sim-fast") & (board["context_tier"] == 0)].iloc[0]
    assert fast0["n_runs"] == 2 and fast0["requests"] == 5  # 3 + 2 measured
    assert set(board["context_tier"]) == {0, 200}
    assert list(board[board["context_tier"] == 200]["rank"]) == [1, 2]  # ranks restart per tier
    only_200 = results.leaderboard(context_tier=200, store=store)
    assert set(only_200["context_tier"]) == {200}
    first_only = results.leaderboard(runs=[filled["first"].run_id[:8]], store=store)
    assert set(first_only["model"]) == {"sim-fast", "sim-medium"}
    assert set(first_only["n_runs"]) == {1}
    everyone = results.leaderboard(all_owners=True, store=store)
    assert (
        everyone[(everyone["model"] == "sim-fast") & (everyone["context_tier"] == 0)].iloc[0][
            "n_runs"
        ]
        == 3
    )
    assert results.leaderboard(since_days=1e-9, store=store).empty
    assert len(results.leaderboard(since_days=1, store=store)) == len(board)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "speed"}, "unknown value 'speed'; expected one of decode_tps, ttft_ms, cost"),
        ({"context_tier": -1}, "context_tier"),
        ({"since_days": 0}, "since_days"),
        ({"store": 42}, "expected a Store"),
    ],
)
def test_leaderboard_bad_arguments(
    filled: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    kwargs.setdefault("store", filled["store"])
    with pytest.raises(LLMBenchError, match=message):
        results.leaderboard(**kwargs)
