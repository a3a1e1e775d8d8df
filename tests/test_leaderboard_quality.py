"""The leaderboard joins speed, cost and quality: each model's pass rate on a named suite,
from its newest finished eval run of it, beside its benchmark figures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.stats import wilson_interval
from llmbench_jupyter.store import open_store


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('q') / 'q.db'}")
    reset_manager(JobManager(store))
    srv = SimServer().start_in_thread()
    try:
        lj.bench(model=["sim-fast", "sim-medium"], runs=3, warmup=0, sim_url=srv.base_url,
                 display=False).wait(60)  # fmt: skip
        old = lj.evaluate("example", ["sim-fast"], sim_url=srv.base_url, display=False).wait(60)
        new = lj.evaluate("example", ["sim-fast"], sim_url=srv.base_url, display=False).wait(60)
        yield store, old, new
    finally:
        srv.stop_thread()
        reset_manager(None)


def test_each_model_gets_its_newest_pass_rate_on_the_suite(runs) -> None:  # type: ignore[no-untyped-def]
    store, _old, new = runs
    df = lj.leaderboard(quality="example-assistant", store=store, full=True)
    by = df.set_index("model")
    fast = by.loc["sim-fast"]
    s = new.summary(full=True).iloc[0]
    assert fast["eval_run"] == new.run_id  # the newest run, not a pool of both
    assert fast["pass_rate"] == pytest.approx(s["pass_rate"])
    low, high = wilson_interval(round(s["pass_rate"] * fast["eval_cases"]), fast["eval_cases"])
    assert (fast["pass_ci_low"], fast["pass_ci_high"]) == pytest.approx((low, high))
    assert fast["decode_tps_p50"] > 0  # speed beside it
    assert by.loc["sim-medium"]["eval_run"] != by.loc["sim-medium"]["eval_run"]  # NaN: none
    ranked = lj.leaderboard(quality="example-assistant", by="pass_rate", store=store, full=True)
    assert ranked.iloc[0]["model"] == "sim-fast"  # the model without a score ranks last


def test_a_suite_without_runs_or_pass_rate_without_a_suite_is_refused(runs) -> None:  # type: ignore[no-untyped-def]
    store, _old, _new = runs
    with pytest.raises(LLMBenchError, match=r"suites with runs: example-assistant"):
        lj.leaderboard(quality="example", store=store)
    with pytest.raises(LLMBenchError, match="needs quality="):
        lj.leaderboard(by="pass_rate", store=store)
