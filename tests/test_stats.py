"""The statistics module: hand-computed cases for every statistic the product shows."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from llmbench_jupyter import stats
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.stats import StatsInputError
from llmbench_jupyter.stats._describe import _boot_medians

# ----------------------------------------------------------------------------- describe


def test_describe_hand_computed_odd_sample():
    d = stats.describe([4, 1, 100, 3, 2])
    assert d["n"] == 5
    assert d["mean"] == pytest.approx(22.0)
    # sample SD: squared deviations 441+400+361+324+6084 = 7610, / (n-1) = 1902.5
    assert d["sd"] == pytest.approx(math.sqrt(1902.5))
    assert (d["min"], d["max"]) == (1.0, 100.0)
    # linear interpolation at rank q*(n-1) of the sorted sample [1, 2, 3, 4, 100]
    assert d["p50"] == pytest.approx(3.0)
    assert d["p90"] == pytest.approx(4 + 0.6 * 96)  # rank 3.6
    assert d["p95"] == pytest.approx(4 + 0.8 * 96)  # rank 3.8
    assert d["p99"] == pytest.approx(4 + 0.96 * 96)  # rank 3.96
    assert d["cv"] == pytest.approx(math.sqrt(1902.5) / 22.0)
    # Q1 = 2, Q3 = 4, IQR = 2, fences [-1, 7]: only 100 is outside
    assert d["iqr_outliers"] == 1


def test_describe_hand_computed_even_sample():
    d = stats.describe([3.0, 1.0, 4.0, 2.0])
    assert d["mean"] == pytest.approx(2.5)
    assert d["sd"] == pytest.approx(math.sqrt(5 / 3))
    assert d["p50"] == pytest.approx(2.5)
    assert d["p90"] == pytest.approx(3.7)  # rank 2.7 between 3 and 4
    assert d["iqr_outliers"] == 0


def test_describe_iqr_outliers_on_both_sides():
    # sorted [-50, 1, 2, 3, 4, 5, 60]: Q1 = 1.5, Q3 = 4.5, IQR = 3, fences [-3, 9]
    assert stats.describe([1, 2, 3, 4, 5, -50, 60])["iqr_outliers"] == 2


def test_describe_percentiles_match_numpy_linear_method():
    rng = np.random.default_rng(7)
    for n in (2, 3, 10, 101, 1000):
        x = rng.lognormal(3, 1, n)
        d = stats.describe(x)
        expected = np.percentile(x, [50, 90, 95, 99])
        assert [d["p50"], d["p90"], d["p95"], d["p99"]] == pytest.approx(list(expected))


def test_describe_drops_none_and_nan():
    assert stats.describe([1, None, 2.0, float("nan"), 3]) == stats.describe([1, 2, 3])
    assert stats.describe(np.array([1.0, np.nan, 2.0, 3.0])) == stats.describe([1, 2, 3])


@pytest.mark.parametrize("values", [[], [None, float("nan")], np.array([])])
def test_describe_empty(values):
    d = stats.describe(values)
    assert d["n"] == 0
    assert all(v is None for k, v in d.items() if k != "n")
    assert set(d) == set(stats.STATS)


def test_describe_single_value_has_no_spread():
    d = stats.describe([5.0])
    assert d["n"] == 1
    assert d["mean"] == d["min"] == d["max"] == d["p50"] == d["p99"] == 5.0
    assert d["sd"] is None and d["cv"] is None
    assert d["median_ci_low"] is None and d["median_ci_high"] is None
    assert d["iqr_outliers"] == 0


def test_describe_cv_none_when_mean_is_zero():
    d = stats.describe([-1.0, 1.0])
    assert d["mean"] == 0 and d["sd"] == pytest.approx(math.sqrt(2))
    assert d["cv"] is None


def test_describe_rejects_non_numbers():
    with pytest.raises(StatsInputError, match="numbers"):
        stats.describe(["fast", "slow"])
    with pytest.raises(StatsInputError, match="sequence"):
        stats.describe("123")
    with pytest.raises(StatsInputError, match="n_boot"):
        stats.describe([1, 2], n_boot=0)


def test_bootstrap_ci_contains_median_and_is_reproducible():
    x = np.random.default_rng(3).exponential(50, 200)
    d = stats.describe(x, seed=11)
    assert d["median_ci_low"] < d["p50"] < d["median_ci_high"]
    assert stats.describe(x, seed=11) == d
    assert stats.describe(x, seed=12)["median_ci_low"] != d["median_ci_low"]
    # more data, narrower interval
    big = stats.describe(np.random.default_rng(3).exponential(50, 20000), seed=11)
    assert (big["median_ci_high"] - big["median_ci_low"]) < (
        d["median_ci_high"] - d["median_ci_low"]
    )


@pytest.mark.parametrize(
    "sample",
    [list(range(9)), [5.0, 1, 1, 3, 9, 2, 2, 8], [0.5, 7, 3, 3, 10, 2]],
)
def test_bootstrap_medians_match_naive_resampling_distribution(sample):
    """The O(B) order-statistic draw has the same distribution as resampling n of n."""
    x = np.asarray(sample, dtype=float)
    n_boot = 40000
    ours = _boot_medians(x, n_boot, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    naive = np.median(x[rng.integers(0, x.size, size=(n_boot, x.size))], axis=1)
    for value in np.union1d(ours, naive):
        assert np.mean(ours == value) == pytest.approx(np.mean(naive == value), abs=0.015)


# ----------------------------------------------------------------------------- summarize


def _rec(**kw) -> RequestRecord:
    kw.setdefault("request_id", "r")
    return RequestRecord(**kw)


def _records() -> list:
    return [
        _rec(provider="b", model="m", ttft_ms=10.0, itl_ms=[10.0, 20.0], cost_usd=0.01),
        _rec(provider="a", model="m", ttft_ms=5.0, itl_ms=[1.0], cost_usd=0.02),
        # a dict with the RecordRecord fields works too
        {"request_id": "r", "provider": "b", "model": "m", "ttft_ms": 30.0, "itl_ms": [30.0]},
        _rec(provider="b", model="m", ttft_ms=9999.0, itl_ms=[9999.0], is_warmup=True),
        _rec(provider="b", model="m", status="error", error_category="timeout", ttft_ms=1e6),
        _rec(provider="b", model="m", status="error", error_category="timeout", itl_ms=[1e6]),
        _rec(provider="b", model="m", status="error", error_category="rate_limited"),
    ]


def test_summarize_groups_in_first_seen_order_with_counts():
    df = stats.summarize(_records())
    assert list(df["provider"]) == ["b", "a"]
    b = df.iloc[0]
    assert (b["requests"], b["ok"], b["errors"]) == (5, 2, 3)
    assert b["error_categories"] == {"timeout": 2, "rate_limited": 1}
    assert b["success_rate"] == pytest.approx(0.4)
    # warm-up and failed requests never enter timing statistics
    assert b["ttft_ms_n"] == 2
    assert b["ttft_ms_mean"] == pytest.approx(20.0)
    assert b["ttft_ms_max"] == 30.0
    assert b["total_cost_usd"] == pytest.approx(0.01)
    a = df.iloc[1]
    assert (a["requests"], a["ok"], a["errors"], a["success_rate"]) == (1, 1, 0, 1.0)
    assert a["error_categories"] == {}


def test_summarize_pools_itl_over_successful_requests():
    b = stats.summarize(_records()).iloc[0]
    assert b["itl_ms_n"] == 3  # [10, 20] + [30]; warm-up and error gaps excluded
    assert b["itl_ms_mean"] == pytest.approx(20.0)
    assert b["itl_ms_p50"] == pytest.approx(20.0)
    assert b["itl_ms_max"] == 30.0


def test_summarize_include_warmup():
    b = stats.summarize(_records(), include_warmup=True).iloc[0]
    assert b["requests"] == 6 and b["ttft_ms_n"] == 3 and b["ttft_ms_max"] == 9999.0
    assert b["itl_ms_n"] == 4


def test_summarize_columns():
    df = stats.summarize(_records())
    head = ["provider", "model", "context_tier", "requests", "ok", "errors"]
    assert list(df.columns[:6]) == head
    for metric in (*stats.METRICS, "itl_ms"):
        for stat in stats.STATS:
            assert f"{metric}_{stat}" in df.columns
    assert df.columns[-1] == "total_cost_usd"


def test_summarize_unknown_values_stay_none():
    df = stats.summarize([_rec(provider="x", ttft_ms=1.0)])
    row = df.iloc[0]
    assert row["decode_tps_n"] == 0 and row["decode_tps_mean"] is None
    assert row["total_cost_usd"] is None  # unknown cost is never 0
    assert row["itl_ms_n"] == 0


def test_summarize_dataframe_input_matches_records():
    recs = _records()
    rows = [r.to_dict() if isinstance(r, RequestRecord) else r for r in recs]
    frame = pd.DataFrame(rows)
    frame["itl_ms"] = [json.dumps(v) if isinstance(v, list) else v for v in frame["itl_ms"]]
    from_frame = stats.summarize(frame)
    from_list = stats.summarize(recs)
    pd.testing.assert_frame_equal(from_frame, from_list)


def test_summarize_custom_grouping_and_empty_input():
    one = stats.summarize(_records(), by=(), metrics=("ttft_ms",))
    assert len(one) == 1 and one.iloc[0]["requests"] == 6
    assert "e2e_ms_mean" not in one.columns
    empty = stats.summarize([])
    assert len(empty) == 0 and "ttft_ms_p50" in empty.columns


def test_summarize_bad_input_is_explained():
    with pytest.raises(StatsInputError, match="'providr'"):
        stats.summarize(_records(), by=("providr",))
    with pytest.raises(StatsInputError, match=r"records\[1\]"):
        stats.summarize([_rec(), 42])
    with pytest.raises(StatsInputError, match="ttft_ms of record 0"):
        stats.summarize([{"request_id": "r", "ttft_ms": "slow"}])


# ----------------------------------------------------------------------------- run level


def test_aggregate_throughput_over_the_run_window():
    s = 1_000_000_000  # ns per second
    recs = [
        _rec(send_mono_ns=1 * s, e2e_ms=1000.0, output_tokens=100),
        _rec(send_mono_ns=3 * s // 2, e2e_ms=1000.0, output_tokens=200),
        _rec(send_mono_ns=2 * s, e2e_ms=500.0, output_tokens=300),
        _rec(send_mono_ns=s // 10, e2e_ms=9000.0, output_tokens=999, is_warmup=True),
        _rec(send_mono_ns=2 * s, e2e_ms=9000.0, status="error", error_category="timeout"),
    ]
    agg = stats.aggregate_throughput(recs)
    # window: first send 1.0 s -> last end 2.5 s
    assert agg["duration_s"] == pytest.approx(1.5)
    assert agg["requests"] == 3 and agg["errors"] == 1
    assert agg["output_tokens"] == 600
    assert agg["output_tps"] == pytest.approx(400.0)
    assert agg["requests_per_s"] == pytest.approx(2.0)


def test_aggregate_throughput_open_loop_counts_from_intended_send():
    s = 1_000_000_000
    recs = [
        # sent 100 ms late: its timings (and the window) start at the intended time 0.9 s
        _rec(
            send_mono_ns=s,
            send_lag_ms=100.0,
            time_origin="intended",
            e2e_ms=600.0,
            output_tokens=50,
        ),
        _rec(send_mono_ns=s, e2e_ms=1000.0, output_tokens=50),
    ]
    agg = stats.aggregate_throughput(recs)
    assert agg["duration_s"] == pytest.approx(1.1)
    assert agg["output_tps"] == pytest.approx(100 / 1.1)


def test_aggregate_throughput_without_successes():
    agg = stats.aggregate_throughput([_rec(status="error", error_category="timeout")])
    assert agg["requests"] == 0 and agg["errors"] == 1
    assert agg["duration_s"] is None and agg["output_tps"] is None


def test_loop_lag_summary():
    lag = stats.loop_lag_summary([float(v) for v in range(1, 101)])
    assert lag == {"n": 100, "p50": pytest.approx(50.5), "p99": pytest.approx(99.01), "max": 100.0}
    assert stats.loop_lag_summary([]) == {"n": 0, "p50": None, "p99": None, "max": None}


def test_cpu_share():
    assert stats.cpu_share(1.5, 3.0) == pytest.approx(0.5)
    assert stats.cpu_share(3.0, 2.0) == pytest.approx(1.5)  # several threads: above one core
    with pytest.raises(StatsInputError, match="wall_s"):
        stats.cpu_share(1.0, 0.0)


@pytest.mark.parametrize(
    ("cpu", "lag", "expected"),
    [
        (0.90, 1.0, True),
        (0.85, 0.0, True),  # the limit itself counts
        (0.50, 12.0, True),
        (0.50, 10.0, True),
        (0.50, 9.9, False),
        (0.84, 5.0, False),
        (0.50, None, False),
    ],
)
def test_is_client_bound_thresholds(cpu, lag, expected):
    assert stats.is_client_bound(cpu, lag) is expected


def test_is_client_bound_custom_limits():
    assert stats.is_client_bound(0.5, 3.0, cpu_limit=0.4) is True
    assert stats.is_client_bound(0.5, 3.0, lag_limit_ms=2.0) is True
    assert stats.is_client_bound(0.5, 3.0, cpu_limit=0.6, lag_limit_ms=4.0) is False


# ----------------------------------------------------------------------------- compare


def test_compare_clearly_different_samples():
    rng = np.random.default_rng(5)
    a = list(rng.normal(100, 5, 200))
    b = list(rng.normal(150, 5, 200))
    res = stats.compare(a, b)
    assert res["diff"] == pytest.approx(50, abs=3)
    assert 0 < res["diff_ci_low"] < res["diff"] < res["diff_ci_high"]
    assert res["significant"] is True
    assert res["ratio"] == pytest.approx(1.5, abs=0.05)
    assert res["ratio_ci_low"] < res["ratio"] < res["ratio_ci_high"]
    rev = stats.compare(b, a)
    assert rev["diff_ci_high"] < 0 and rev["significant"] is True
    assert stats.compare(a, b, seed=0) == res


def test_compare_same_sample_is_not_significant():
    a = list(np.random.default_rng(6).exponential(100, 300))
    res = stats.compare(a, a)
    assert res["diff"] == 0 and res["diff_ci_low"] <= 0 <= res["diff_ci_high"]
    assert res["significant"] is False


def test_compare_records_use_successful_measured_requests():
    a = [_rec(ttft_ms=v) for v in (10.0, 11.0, 12.0)]
    a += [_rec(ttft_ms=1e6, is_warmup=True), _rec(ttft_ms=1e6, status="error")]
    b = [_rec(ttft_ms=v) for v in (20.0, 21.0, 22.0)]
    res = stats.compare(a, b, metric="ttft_ms")
    assert (res["n_a"], res["n_b"]) == (3, 3)
    assert (res["median_a"], res["median_b"], res["diff"]) == (11.0, 21.0, 10.0)
    assert res["ratio"] == pytest.approx(21 / 11)


def test_compare_small_or_empty_samples():
    res = stats.compare([1.0], [2.0])
    assert res["diff"] == 1.0 and res["diff_ci_low"] is None and res["significant"] is None
    empty = stats.compare([], [2.0, 3.0])
    assert empty["median_a"] is None and empty["diff"] is None
    with pytest.raises(StatsInputError, match="unknown field"):
        stats.compare([1.0], [2.0], metric="ttft")


def test_import_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, llmbench_jupyter.stats; "
        "print(any(m in sys.modules for m in ('numpy', 'pandas')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_repeat_rates_pass_at_k_pass_hat_k_and_flips() -> None:
    from llmbench_jupyter.stats import repeat_rates

    out = repeat_rates(
        {
            "a": [True, True, True],
            "b": [True, False, True],
            "c": [False, False, False],
            "d": [False, True, False],
        }
    )
    assert out["k"] == 3 and out["cases"] == 4
    assert out["pass_at_k"]["rate"] == 0.75 and out["pass_hat_k"]["rate"] == 0.25
    assert out["flip_rate"]["rate"] == 0.5
    assert out["pass_at_k"]["ci_low"] < 0.75 < out["pass_at_k"]["ci_high"]
    with pytest.raises(StatsInputError, match="same number"):
        repeat_rates({"a": [True], "b": [True, False]})


def test_mcnemar_exact_p_values() -> None:
    from llmbench_jupyter.stats import mcnemar

    # 10 discordant pairs all favouring b: p = 2 / 2**10
    a = {f"c{i}": False for i in range(10)} | {"same": True}
    b = {f"c{i}": True for i in range(10)} | {"same": True}
    out = mcnemar(a, b)
    assert (out["a_only"], out["b_only"], out["cases"]) == (0, 10, 11)
    assert out["p_value"] == pytest.approx(2 / 1024) and out["significant"]
    # 3 vs 1 discordant: p = 2 * (1 + 4) / 16 = 0.625, not significant
    a = {"w": True, "x": True, "y": True, "z": False}
    b = {"w": False, "x": False, "y": False, "z": True}
    out = mcnemar(a, b)
    assert out["p_value"] == pytest.approx(0.625)
    assert not out["significant"] and out["verdict"] == "no significant difference"
    assert mcnemar({"a": True}, {"a": True})["p_value"] == 1.0


def test_client_bound_is_judged_against_the_idle_lag_and_says_why() -> None:
    """A shared 2-core machine whose loop lags 9.8 ms idle is not made CLIENT-BOUND by a
    run at 11.4 ms (the issue's idle demo); a run 21 ms above idle is, and says so."""
    assert stats.client_bound_reason(0.05, 11.4, 9.8) is None
    assert stats.is_client_bound(0.05, 11.4, 9.8) is False
    reason = stats.client_bound_reason(0.05, 24.1, 3.1)
    assert reason is not None
    assert "p99 24.1 ms, 21.0 ms above the 3.1 ms measured idle (limit +10 ms)" in reason
    assert "overstated" in reason
    cpu = stats.client_bound_reason(0.93, 1.0, 0.5)
    assert cpu is not None and cpu.startswith("the client used 93% of one core (limit 85%)")
