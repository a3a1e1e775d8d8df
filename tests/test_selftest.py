"""The timing self-test: its statistics, its report on the real simulated endpoint, and its
verdict on a client whose event loop is made busy on purpose. No speed is asserted."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.jobs.selftest import (
    SelftestSpec,
    arun_selftest,
    resolve_mode,
    run_selftest,
    wanted,
)
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.stats import (
    StatsInputError,
    bound_text,
    timing_bound_ms,
    timing_errors,
    timing_verdict,
    within_error,
)

MS = 1_000_000


def test_timing_errors_by_hand() -> None:
    # request 1: first chunk 2 ms late, gaps 10/10 sent, 11/9 received -> gap errors 1, 1
    # request 2: a chunk merged (2 stamps for 3 sends): TTFT counted, gaps not
    pairs = [
        ([102 * MS, 113 * MS, 122 * MS], [100 * MS, 110 * MS, 120 * MS]),
        ([54 * MS, 70 * MS], [50 * MS, 60 * MS, 70 * MS]),
    ]
    e = timing_errors(pairs)
    assert e["requests"] == 2 and e["gap_pairs"] == 2 and e["chunk_count_mismatch"] == 1
    assert e["early_stamps"] == 0
    assert e["ttft_err_max_ms"] == 4.0 and e["ttft_err_p50_ms"] == 3.0
    assert e["gap_err_p50_ms"] == e["gap_err_p99_ms"] == e["gap_err_max_ms"] == 1.0
    assert timing_bound_ms(e) == pytest.approx(e["ttft_err_p99_ms"])


def test_a_first_stamp_before_the_send_is_counted_as_early() -> None:
    e = timing_errors([([95 * MS], [100 * MS])])
    assert e["early_stamps"] == 1 and e["ttft_err_max_ms"] == 5.0  # |error|, flagged


def test_bad_pairs_are_named() -> None:
    with pytest.raises(StatsInputError, match="pair 0"):
        timing_errors([(None, [1])])  # type: ignore[list-item]
    with pytest.raises(StatsInputError, match="no stamps"):
        timing_errors([([], [1])])


def test_verdict_and_bound_text() -> None:
    fine = {"ttft_err_p99_ms": 1.3, "gap_err_p99_ms": 0.4}
    assert timing_verdict(fine, {"client_bound": False}, 10) is None
    assert "too loaded" in (timing_verdict(fine, {}, 1.0) or "")
    busy = timing_verdict(fine, {"client_bound": True, "client_bound_reason": "CPU 99%"})
    assert busy is not None and "bottleneck" in busy and "CPU 99%" in busy
    assert timing_verdict({}, {}) == "no request completed, so nothing was measured"
    text = bound_text({"bound_ms": 1.34, "concurrency": 32, "workers": 1})
    assert text == "timing error ≤ 1.3 ms p99 on this machine at 32 streams"
    loaded = bound_text({"bound_ms": 30, "concurrency": 1, "too_loaded": "x", "limit_ms": 10})
    assert loaded is not None and "1 stream;" in loaded and "below 10 ms" in loaded
    assert bound_text(None) is None
    assert "failed" in (bound_text({"error": "sim did not start"}) or "")


def test_within_error_both_ways() -> None:
    assert within_error(0.5, 1.3) == "within measurement error"
    assert within_error(-1.3, 1.3) == "within measurement error"
    assert within_error(5.0, 1.3) == "larger than measurement error"
    assert within_error(None, 1.3) is None and within_error(1.0, None) is None


def test_spec_copies_a_benchmark_and_refuses_bad_values() -> None:
    spec = BenchSpec(targets=[adhoc("http://127.0.0.1:9/v1", "sim-reasoning")], concurrency=5)
    st = SelftestSpec.for_bench(spec)
    assert (st.concurrency, st.reasoning, st.itl_ms, st.ttft_ms) == (5, True, 8.0, 100.0)
    assert "reason=" in st.model() and "tpc=1" in st.model()
    custom = adhoc("http://127.0.0.1:9/v1", "sim:ttft=20,itl=3,tpc=4")
    st = SelftestSpec.for_bench(BenchSpec(targets=[custom]), concurrency=2)
    assert (st.tokens_per_chunk, st.itl_ms, st.ttft_ms, st.concurrency) == (4, 3.0, 20.0, 2)
    real = SelftestSpec.for_bench(BenchSpec(targets=[adhoc("http://h:1/v1", "gpt-4o")]))
    assert (real.tokens_per_chunk, real.itl_ms) == (1, 10.0)  # unknown chunking: defaults
    with pytest.raises(InputError, match="concurrency: found 0"):
        SelftestSpec(concurrency=0).validate()
    with pytest.raises(InputError, match="itl_ms"):
        SelftestSpec(itl_ms=float("nan")).validate()
    with pytest.raises(InputError, match="workers: found 4, expected at most concurrency"):
        SelftestSpec(workers=4, concurrency=2).validate()
    assert SelftestSpec(concurrency=64).rounds() * 64 <= 128


def test_modes_from_the_option_and_the_config() -> None:
    assert resolve_mode(True, None) == "always" and resolve_mode(False, None) == "off"
    assert resolve_mode(None, {"defaults": {"selftest": "long"}}) == "long"
    assert resolve_mode(None, {"adhoc": True}) == "off"
    with pytest.raises(InputError, match="selftest: found 'sometimes'"):
        resolve_mode("sometimes", None)
    short = BenchSpec(targets=[adhoc("http://h:1/v1", "m")], runs=10)
    long = BenchSpec(targets=[adhoc("http://h:1/v1", "m")], runs=300)
    assert not wanted("long", short) and wanted("long", long) and wanted("always", short)


def _check_report(r: Any, streams: int, workers: int = 1) -> None:
    d = r.to_dict()
    for key in ("ttft", "gap"):
        p50, p99, top = (d[f"{key}_err_{s}_ms"] for s in ("p50", "p99", "max"))
        assert 0 <= p50 <= p99 <= top, (key, p50, p99, top)
    assert d["bound_ms"] == max(d["ttft_err_p99_ms"], d["gap_err_p99_ms"])
    assert d["concurrency"] == streams and d["workers"] == workers
    assert d["requests"] >= 2 * streams and d["failed_requests"] == 0
    assert d["early_stamps"] == 0  # the role chunk the sim sends first was not a token
    assert d["gap_pairs"] == d["requests"] * 9  # 10 answer chunks each, counts agree
    assert d["client_cpu_share"] >= 0 and d["loop_lag_p99_ms"] is not None
    assert isinstance(d["client_bound"], bool) and d["duration_s"] > 0
    assert f"at {streams} stream" in r.bound_text
    json.dumps(d)  # stored as JSON with the run


def test_report_against_the_simulated_endpoint_in_its_own_process() -> None:
    report = run_selftest(SelftestSpec(concurrency=3, seconds=0.3))
    _check_report(report, 3)
    text = repr(report)
    assert "TTFT error" in text and "chunk-gap error" in text and "client-bound" in text


def test_a_run_in_two_worker_processes_is_tested_in_two() -> None:
    bench = BenchSpec(targets=[adhoc("http://127.0.0.1:9/v1", "sim-fast")], concurrency=4,
                      workers=2)  # fmt: skip
    spec = SelftestSpec.for_bench(bench, seconds=0.3)
    assert spec.workers == 2
    _check_report(run_selftest(spec), 4, workers=2)


def test_a_cpu_burning_coroutine_makes_the_machine_too_loaded(sim: SimServer) -> None:
    async def main() -> Any:
        stop = False

        async def burn() -> None:  # holds the loop 30 ms at a time: stamps wait for it
            while not stop:
                end = time.perf_counter() + 0.030
                while time.perf_counter() < end:
                    pass
                await asyncio.sleep(0)

        burner = asyncio.create_task(burn())
        try:
            return await arun_selftest(
                SelftestSpec(concurrency=2, seconds=0.3), sim_url=sim.base_url
            )
        finally:
            stop = True
            await burner

    report = asyncio.run(main())
    assert report.too_loaded is not None
    # the CPU share shows it, or (on a machine shared with other busy processes, where the
    # burner gets less than a core) the stamps it held back, up to 30 ms late
    assert report.client_bound or report.bound_ms > report.limit_ms, repr(report)
    assert "too loaded" in report.bound_text
    assert "TOO LOADED" in repr(report)
