"""Trends and change detection over a simulated history: real benchmark runs against a
simulator whose clock is set to each run's date, one scenario slowing down 30% a week
ago, on both store backends. And the shift test against scipy on known data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.jobs.sim_history import simulate_history
from llmbench_jupyter.sim.scenarios import ScenarioError, parse_model_spec
from llmbench_jupyter.stats import shift_test

END = datetime(2026, 11, 30, 12, tzinfo=UTC)
SLOW_FROM = END - timedelta(days=7)
BASE = "sim:ttft=40,itl=2,out=8,jitter=0.2"
SLOWING = f"{BASE},slow_after={SLOW_FROM.isoformat()},slow=1.3"


def test_a_provider_that_slowed_down_is_flagged_and_a_steady_one_is_not(store, owner) -> None:  # type: ignore[no-untyped-def]
    simulate_history(store, SLOWING, days=14, seed=1, end=END, owner=owner, provider="slowing")
    simulate_history(store, BASE, days=14, seed=2, end=END, owner=owner, provider="steady")
    found = lj.changes("ttft_ms", days=14, recent_days=7, store=store, owner=owner, now=END)
    by = found.set_index("provider")
    slowing, steady = by.loc["slowing"], by.loc["steady"]
    assert bool(slowing["flagged"]) and slowing["direction"] == "slower"
    assert 1.2 < slowing["ratio"] < 1.4 and slowing["cliffs_delta"] > 0.9
    # daily runs end at END: 6 before the cut, 8 on or after it (all of them slowed)
    assert slowing["runs_reference"] == 6 and slowing["runs_recent"] == 8
    assert slowing["p_threshold"] == pytest.approx(0.01 / 2)  # Bonferroni over two groups
    assert not bool(steady["flagged"]) and abs(steady["ratio"] - 1) < 0.1
    assert found.iloc[0]["provider"] == "slowing"  # flagged first
    # decode speed fell too (ITL 30% longer): the same change, in its own direction
    decode = lj.changes("decode_tps", days=14, recent_days=7, store=store, owner=owner, now=END)
    row = decode.set_index("provider").loc["slowing"]
    assert bool(row["flagged"]) and row["direction"] == "slower" and row["ratio"] < 0.85


def test_trends_give_a_median_per_day_and_a_figure(store, owner) -> None:  # type: ignore[no-untyped-def]
    simulate_history(store, SLOWING, days=10, seed=3, end=END, owner=owner, provider="p")
    df = lj.trends("ttft_ms", days=10, store=store, owner=owner, now=END)
    assert len(df) == 10 and (df["runs"] == 1).all() and (df["requests"] == 8).all()
    before = df[df["period"] < SLOW_FROM.replace(hour=0)]["p50"]
    after = df[df["period"] > SLOW_FROM]["p50"]
    assert before.median() * 1.15 < after.median()
    weekly = lj.trends("ttft_ms", days=10, freq="W", store=store, owner=owner, now=END)
    assert weekly["runs"].sum() == 10
    fig = lj.plot(df)
    assert len(fig.data) == 1 and list(fig.data[0].y) == list(df["p50"])
    assert "merged quantile sketches" in fig.layout.title.text  # where the numbers come from


def test_shift_test_agrees_with_scipy_and_the_hand_computed_effect() -> None:
    from scipy.stats import mannwhitneyu

    reference, recent = [10, 11, 12, 13, 14, 15], [13, 14, 15, 16, 17, 18, 19]
    got = shift_test(reference, recent)
    want = mannwhitneyu(recent, reference, alternative="two-sided")
    assert got["u"] == pytest.approx(want.statistic) and got["p_value"] == pytest.approx(
        want.pvalue
    )
    # pairs recent > reference: 37 of 42, ties 3 (counted half in U): U = 37 + 1.5 = 38.5?
    # counted by hand: recent 13 beats 10,11,12 (3) ties 13; 14 beats 4 ties 1; 15: 5, 1;
    # 16..19: 6 each -> wins 3+4+5+24 = 36, ties 3 -> U = 37.5; delta = 2*37.5/42 - 1
    assert got["u"] == 37.5 and got["cliffs_delta"] == pytest.approx(2 * 37.5 / 42 - 1)
    assert got["ratio"] == pytest.approx(16 / 12.5)
    assert shift_test([5, 5, 5], [5, 5])["p_value"] == 1.0


def test_bad_arguments_and_bad_dates_are_refused(store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="metric 'latency'"):
        lj.changes("latency", store=store)
    with pytest.raises(InputError, match="recent_days"):
        lj.changes("ttft_ms", days=7, recent_days=7, store=store)
    with pytest.raises(ScenarioError, match="expected an ISO date"):
        parse_model_spec("sim:slow_after=yesterday,slow=2")
    with pytest.raises(LLMBenchError, match="not in the future"):
        store.create_run(spec={}, config_snapshot={}, versions={}, host={},
                         created_at=datetime.now(UTC) + timedelta(days=1))  # fmt: skip
    with pytest.raises(LLMBenchError, match="timezone-aware"):
        store.create_run(spec={}, config_snapshot={}, versions={}, host={},
                         created_at=datetime(2026, 1, 1))  # fmt: skip


def test_the_cli_lists_the_changes(store, owner, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from llmbench_jupyter.cli import main

    monkeypatch.setenv("COLUMNS", "250")  # the table whole, as in a wide terminal
    if not store.url.startswith("sqlite"):
        return  # the CLI reads the caller's own runs: one backend is enough here
    end = datetime.now(UTC)
    start = (end - timedelta(days=6.5)).isoformat()  # the last 7 daily runs slowed
    simulate_history(store, f"{BASE},slow_after={start},slow=1.6", days=14, seed=4, end=end,
                     provider="slowing")  # fmt: skip
    assert main(["results", "changes", "--days", "14", "--recent", "7", "--db", store.url]) == 0
    out = capsys.readouterr().out
    assert "slowing" in out and "True" in out and "slower" in out, out
