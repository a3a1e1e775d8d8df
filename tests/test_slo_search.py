"""SLO search: bisection over the request rate finds the simulated server's known knee.

The model has 24 decode slots and holds each for 100 + 3 · 100 = 400 ms, so it serves
at most 24 / 0.4 = 60 requests/s (``sim.capacity``). With constant arrivals the queue is
empty below that rate and grows without bound above it: over 299 requests at 1.1× the
knee the last ones wait ~450 ms. So a p99 TTFT target 350 ms above the 100 ms service
TTFT is met up to the knee and missed by ~1.08× past it, and a client stall shorter than
350 ms (a loaded 2-core machine) changes no verdict. Each step is decided by a binomial
bound, not a wall-clock threshold. Real HTTP to the simulator in its own process, the
real engine and store.
"""

from __future__ import annotations

import pytest
import yaml

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.stats import (
    SLO,
    StatsInputError,
    exceedance_bounds,
    exceedance_decision,
    min_requests_to_pass,
    slo_check,
)
from llmbench_jupyter.store import open_store

MODEL = "sim:slots=24,ttft=100,itl=100,out=4,jitter=0"
KNEE = 60.0


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    provider = {"kind": "openai", "simulated": True, "api_base": "http://127.0.0.1:9/v1",
                "api_key": "sim", "models": [{"id": MODEL}]}  # fmt: skip
    path.write_text(yaml.safe_dump({"providers": {"local-sim": provider}}))
    return str(path)


def test_the_search_finds_the_sims_known_knee_within_ten_percent(config: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 's.db'}"
    reset_manager(JobManager(open_store(db), owner="slo-search"))
    try:
        job = lj.slo_search(
            model=MODEL, config=config, slo="ttft_ms=450,tpot_ms=250,error_rate=0.01",
            low=45, high=90, arrivals="constant", name="knee", display=False,
        )  # fmt: skip
        result = job.wait(240)
    finally:
        reset_manager(None)
    print(result)
    assert result.known_knee_rps == pytest.approx(KNEE)
    assert result.limit is not None and abs(result.limit / KNEE - 1) <= 0.10, result
    assert result.limit_above is not None and result.limit_above / result.limit - 1 <= 0.06
    df = result.to_pandas()
    # every step decided with >= 299 requests; TTFT p99 grows sharply past the knee
    assert (df["requests"] >= min_requests_to_pass(0.01)).all()
    below = df[df["load"] <= 0.95 * KNEE]
    above = df[df["load"] >= 1.12 * KNEE]
    assert len(below) and len(above)
    assert (below["decision"] == "pass").all() and (above["decision"] == "fail").all()
    assert above["ttft_ms_p99"].min() > 2 * below["ttft_ms_p99"].max()
    # goodput: every request good below the knee, fewer above it, most not far above
    assert (below["good"] == below["requests"]).all()
    assert (above["goodput_rps"] < above["throughput_rps"]).all()
    top = df.loc[df["load"].idxmax()]
    assert top["goodput_rps"] < 0.5 * top["throughput_rps"]
    # stored: each step a run tagged with the sweep; reloaded, the same table and limit
    again = lj.load_sweep(result.sweep_id[:10], db=db, owner="slo-search")
    assert again.limit == result.limit and again.search and again.mode == "rate"
    cols = ["load", "decision", "requests", "ttft_ms_p99", "goodput_rps", "run_ids"]
    assert again.to_pandas()[cols].equals(df[cols])
    fig = result.plot()
    names = {t.name for t in fig.data}
    assert {"TTFT p50", "TTFT p99", "goodput (req/s)"} <= names
    assert "limit" in repr(result) and f"{result.limit:g}" in result.verdict()


@pytest.mark.parametrize(
    ("slo", "expected"),
    [
        ("ttft_ms=-5", "SLO ttft_ms: found -5.0, expected milliseconds > 0"),
        ("ttft_ms=abc", "'abc' is not a number"),
        ("latency=5", "unknown key(s) latency"),
        ("error_rate=1.5", "SLO error_rate: found 1.5, expected a fraction"),
        ("ttft_ms", "expected key=value"),
        ({}, "none given"),
        ({"tpot_ms": 50, "quantile": 1.0}, "SLO quantile: found 1.0"),
        (42, "expected a mapping or text"),
    ],
)
def test_bad_slo_input_is_a_clear_error(slo: object, expected: str) -> None:
    with pytest.raises(StatsInputError) as info:
        SLO.parse(slo)  # type: ignore[arg-type]
    assert expected in str(info.value)
    with pytest.raises(LLMBenchError, match="SLO"):  # the same error from the public call
        lj.slo_search(model=MODEL, slo=slo, low=1, display=False)


def test_search_without_an_slo_or_a_low_rate_is_refused(config: str) -> None:
    with pytest.raises(LLMBenchError, match="an SLO search needs one"):
        lj.slo_search(model=MODEL, config=config, slo=None, low=10, display=False)
    with pytest.raises(LLMBenchError, match="low: found 0"):
        lj.slo_search(model=MODEL, config=config, slo="ttft=100", low=0, display=False)
    with pytest.raises(LLMBenchError, match="high: found 5"):
        lj.slo_search(model=MODEL, config=config, slo="ttft=100", low=10, high=5, display=False)


def test_the_binomial_decision_is_distribution_free_and_honest() -> None:
    assert min_requests_to_pass(0.01, 0.95) == 299
    assert exceedance_decision(0, 298, 0.01)["decision"] == "undecided"
    assert exceedance_decision(0, 299, 0.01)["decision"] == "pass"
    assert exceedance_decision(3, 300, 0.01)["decision"] == "undecided"  # 1 %: cannot tell
    assert exceedance_decision(9, 300, 0.01)["decision"] == "fail"
    lo, hi = exceedance_bounds(5, 100, 0.95)
    assert 0.019 < lo < 0.05 < hi < 0.105
    assert exceedance_decision(0, 10, 0.0)["decision"] == "pass"  # no errors allowed, none seen
    assert exceedance_decision(1, 1000, 0.0)["decision"] == "fail"


def test_slo_check_counts_failures_as_over_every_latency_target() -> None:
    ok = [{"ttft_ms": 10.0, "tpot_ms": 5.0, "e2e_ms": 50.0} for _ in range(400)]
    bad = [{"status": "error", "ttft_ms": None} for _ in range(10)]
    found = slo_check(ok + bad, "ttft_ms=100,error_rate=0.05")
    assert found["n"] == 410 and found["errors"] == 10
    assert found["ttft_ms_exceed"] == 10 and found["ttft_ms_decision"] == "fail"
    assert found["error_rate_decision"] == "pass" and found["decision"] == "fail"
    assert found["ttft_ms_p99"] == 10.0  # percentiles over successful requests
    assert found["good"] == 400
