"""tune(workload=...): parameter searches over a bench workload, on the simulated endpoint.

The sim's reasoning models think a quarter as long at ``reasoning_effort=low`` and twice
as long at ``high`` (``sim.params.EFFORT_SCALE``), so the time to the first answer token
has a known optimum. Real HTTP, the real bench engine, real Optuna, a real store.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any, ClassVar

import pytest
import yaml

import llmbench_jupyter as lj
from llmbench_jupyter.cli import main as cli_main
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.tune import build_tune_spec
from llmbench_jupyter.jobs.tune.bench_confirm import confirm_best
from llmbench_jupyter.jobs.tune.bench_trial import BenchTrial
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

#: 5 ms to the first token, 40 reasoning tokens at 1 ms (10 at low effort, 80 at high),
#: then 8 answer tokens: the first answer token at ~15, ~45 or ~85 ms.
MODEL = "sim:ttft=5,itl=1,out=8,reason=40,params=reasoning,jitter=0"
EFFORTS = {"reasoning_effort": ["low", "medium", "high"]}
WORKLOAD = {"runs": 6, "warmup": 0, "context_tiers": [0], "concurrency": 2, "max_tokens": 128}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A config whose one simulated model is a fast reasoning model with a price."""
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    model = {"id": MODEL, "input_cost_per_mtok": 1.0, "output_cost_per_mtok": 4.0}
    provider = {"kind": "openai", "simulated": True, "api_base": "http://127.0.0.1:9/v1",
                "api_key": "sim", "models": [model]}  # fmt: skip
    path.write_text(yaml.safe_dump({"providers": {"local-sim": provider}}))
    return str(path)


@pytest.fixture
def sim():  # type: ignore[no-untyped-def]
    """A fresh endpoint per test, so its request count is this test's."""
    srv = SimServer(seed=0).start_in_thread()
    yield srv
    srv.stop_thread()


@pytest.fixture
def manager(db_url: str):  # type: ignore[no-untyped-def]
    mgr = JobManager(open_store(db_url), owner=f"tune-bench-{id(db_url)}")
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


def sent(srv: SimServer) -> int:
    with urllib.request.urlopen(f"{srv.base_url.rsplit('/v1', 1)[0]}/sim/stats") as resp:
        return int(json.load(resp)["requests"])


def tune(srv: SimServer, config: str, **kw: Any) -> Any:
    kw.setdefault("space", EFFORTS)
    kw.setdefault("workload", dict(WORKLOAD))
    kw.setdefault("objectives", ["ttfat_ms"])
    kw.setdefault("display", False)
    return lj.tune(model=MODEL, config=config, sim_url=srv.base_url, **kw)


# ------------------------------------------------------------------ the sim's effort
def test_the_sims_reasoning_effort_sets_how_long_it_thinks(sim, config) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, config, space=EFFORTS, sampler="grid", prune=False, confirm=False,
                  save=False).wait(120)  # fmt: skip
    by_effort = {r["params"].get("reasoning_effort"): r["metrics"] for r in result.trials}
    assert by_effort["low"]["reasoning_tokens"] == 10
    assert by_effort["medium"]["reasoning_tokens"] == 40
    assert by_effort["high"]["reasoning_tokens"] == 80
    assert by_effort[None]["reasoning_tokens"] == 40  # the baseline sends none: medium
    assert (
        by_effort["low"]["ttfat_ms"]
        < by_effort["medium"]["ttfat_ms"]
        < by_effort["high"]["ttfat_ms"]
    )


# ------------------------------------------------------------------ the search
def test_a_workload_search_finds_the_fastest_effort_and_confirms_it(
    manager, sim, config, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, config, sampler="grid", prune=False, name="effort").wait(180)
    df = result.trials_df()
    assert df["number"].tolist() == [0, 1, 2, 3] and df.loc[0, "baseline"]
    assert result.stop_reason == "every grid point was tried"
    assert result.best_params == {"reasoning_effort": "low"}
    assert {"ttfat_ms", "ttfat_ms_ci_low", "ttfat_ms_ci_high", "requests", "ok"} <= set(df.columns)
    assert (df["n_requests"] == 6).all() and (df["ok"] == 6).all()
    best = result.best["metrics"]
    assert best["ttfat_ms_ci_low"] <= best["ttfat_ms"] <= best["ttfat_ms_ci_high"]
    held = result.holdout
    assert held["kind"] == "confirmation" and held["best_trial"] == result.best["number"]
    assert held["order"] == ["baseline", "best", "best", "baseline"]
    test = held["compare"]
    assert test["n_a"] == test["n_b"] == 6  # two blocks of 3 runs a side
    assert test["diff_ci_high"] < 0 and held["verdict"] == "significant improvement"
    # every request went to the endpoint: 4 trials of 6, and 4 blocks of 3
    assert sent(sim) == 4 * 6 + 4 * 3
    stored = lj.load_tune(result.study_id, store=manager.store)
    assert stored.study["kind"] == "bench" and stored.verdict == "significant improvement"
    assert stored.trials_df()["ttfat_ms"].tolist() == df["ttfat_ms"].tolist()
    # and out to an Optuna study, as a suite search goes (the baseline was not Optuna's)
    import optuna

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    stored.to_optuna(storage, study_name="effort")
    study = optuna.load_study(study_name="effort", storage=storage)
    assert [t.value for t in study.trials] == df["ttfat_ms"].tolist()[1:]


def test_a_search_whose_variants_are_no_better_claims_nothing(sim, config) -> None:  # type: ignore[no-untyped-def]
    # the only variant thinks twice as long as the baseline (medium): the baseline stays best
    result = tune(sim, config, space={"reasoning_effort": ["high"]}, sampler="grid",
                  save=False).wait(120)  # fmt: skip
    assert result.best["number"] == 0
    assert result.verdict == (
        "no significant improvement: no trial beat the baseline in the search"
    )
    assert sent(sim) == 2 * 6  # no confirmation runs: there is nothing to confirm


def test_the_confirmation_reports_no_improvement_when_the_fresh_runs_do_not_differ(
    config,
) -> None:  # type: ignore[no-untyped-def]
    """The best trial won its search by luck; fresh runs from the same distribution
    leave the interval around zero, and the verdict says so."""
    import asyncio

    spec, _ = build_tune_spec(
        None, MODEL, config=config, space=EFFORTS, workload=WORKLOAD, objectives=["ttfat_ms"]
    )
    values = iter([40.0, 52.0, 47.0, 44.0, 50.0, 41.0, 49.0, 46.0, 43.0, 51.0, 45.0, 48.0] * 2)

    class Book:
        rows: ClassVar[list[dict[str, Any]]] = [
            {"number": 0, "state": "complete", "values": [47.0], "params": {}},
            {"number": 1, "state": "complete", "values": [41.0],
             "params": {"reasoning_effort": "low"}},
        ]  # fmt: skip

        def row(self, number: int) -> dict[str, Any]:
            return self.rows[number]

    async def block(params: dict[str, Any], runs: int, seed: int) -> BenchTrial:
        records = [RequestRecord(request_id=f"{seed}-{i}", run_id="r", ttfat_ms=next(values))
                   for i in range(runs)]  # fmt: skip
        return BenchTrial(records)

    out = asyncio.run(confirm_best(Book(), spec, block))
    assert out["best_trial"] == 1 and out["compare"]["significant"] is False
    assert out["verdict"] == "no significant improvement"


def test_a_clearly_slower_trial_is_pruned_and_sends_less(sim, config) -> None:  # type: ignore[no-untyped-def]
    # the pruner compares with the best Optuna trial (the seeded grid runs low first)
    workload = {**WORKLOAD, "runs": 12, "concurrency": 1}
    result = tune(sim, config, sampler="grid", workload=workload, confirm=False, save=False,
                  space={"reasoning_effort": ["low", "high"]}, seed=1).wait(180)  # fmt: skip
    order = [r["params"].get("reasoning_effort") for r in result.trials]
    assert order == [None, "low", "high"]
    high = result.trials[2]
    assert high["state"] == "pruned"
    assert high["n_requests"] < 12  # stopped early: the rest were never sent
    assert len(high["intermediate"]) >= 5  # compared request by request first
    assert sent(sim) == sum(r["n_requests"] for r in result.trials)


# ------------------------------------------------------------------ budgets
def test_the_request_budget_is_never_exceeded(sim, config) -> None:  # type: ignore[no-untyped-def]
    # 6 a trial, 12 kept for the confirmation: room for 3 trials in 30
    result = tune(sim, config, budget={"requests": 30}, save=False).wait(180)
    spent = sum(r["n_requests"] for r in result.trials)
    assert len(result.trials) == 3 and "request budget reached" in (result.stop_reason or "")
    assert sent(sim) <= 30 and sent(sim) == spent + 12 * ("compare" in result.holdout)


def test_the_dollar_budget_is_never_exceeded(sim, config) -> None:  # type: ignore[no-untyped-def]
    one = tune(sim, config, budget={"trials": 1}, confirm=False, save=False).wait(120)
    trial = one.trials[0]["cost_usd"]
    assert trial > 0
    limit = 0.02  # each trial is booked at its most (128 output tokens a request) first
    result = tune(sim, config, budget={"dollars": limit}, confirm=False, save=False).wait(180)
    spent = sum(r["cost_usd"] for r in result.trials)
    assert spent <= limit and "dollar budget reached" in (result.stop_reason or "")
    assert len(result.trials) >= 2


def test_the_time_budget_stops_a_trial_at_its_deadline(sim, config) -> None:  # type: ignore[no-untyped-def]
    workload = {**WORKLOAD, "runs": 400, "concurrency": 1}
    started = time.monotonic()
    result = tune(sim, config, workload=workload, budget={"minutes": 0.05}, confirm=False,
                  save=False).wait(120)  # fmt: skip
    assert time.monotonic() - started < 30
    assert "time budget reached" in (result.stop_reason or "")
    cut = result.trials[0]
    assert cut["state"] == "fail" and 0 < cut["n_requests"] < 400
    assert sent(sim) <= sum(r["n_requests"] for r in result.trials)


# ------------------------------------------------------------------ resume
def test_an_interrupted_workload_search_resumes(manager, sim, config) -> None:  # type: ignore[no-untyped-def]
    first = tune(sim, config, name="resume-bench", budget={"trials": 2}, confirm=False).wait(120)
    again = tune(sim, config, name="resume-bench", budget={"trials": 4}, confirm=False,
                 resume=True).wait(120)  # fmt: skip
    assert again.study_id == first.study_id
    assert [r["number"] for r in again.trials] == [0, 1, 2, 3]
    assert again.trials[0]["started_at"] == first.trials[0]["started_at"]


def test_a_cancelled_workload_search_keeps_what_it_sent(manager, sim, config) -> None:  # type: ignore[no-untyped-def]
    job = tune(sim, config, name="cancel-bench", workload={**WORKLOAD, "runs": 200},
               prune=False)  # fmt: skip
    deadline = time.monotonic() + 60
    while job.progress.get("study_id") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # into the baseline's run
    assert job.cancel()
    while not job.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = manager.store.trials(job.progress["study_id"])
    assert len(rows) == 1 and rows[0]["state"] == "fail"
    assert rows[0]["error"] == "cancelled while this trial ran"
    # what finished is kept; the (at most 2) requests in flight count as sent
    assert 0 < rows[0]["n_requests"] <= 200 and sent(sim) <= rows[0]["n_requests"]


# ------------------------------------------------------------------ input
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"space": {"tool_choice": ["auto", "none"]}}, "does not take it"),
        ({"objectives": ["pass_rate"]}, "unknown 'pass_rate' for a search over a bench"),
        ({"workload": {"runz": 3}}, r"unknown option\(s\) \['runz'\]"),
        ({"workload": "fast"}, "workload= must be a dict"),
        ({"workload": {"runs": 0}}, "runs: found 0"),
        ({"suite": "tuning-example"}, "a suite or a workload"),
    ],
)
def test_bad_workload_searches_are_refused_before_anything_is_sent(
    config: str, options: dict[str, Any], message: str
) -> None:
    kw: dict[str, Any] = {"space": EFFORTS, "workload": WORKLOAD, **options}
    suite = kw.pop("suite", None)
    with pytest.raises(LLMBenchError, match=message):
        build_tune_spec(suite, MODEL, config=config, **kw)


def test_the_cli_runs_a_workload_search(config, capsys) -> None:  # type: ignore[no-untyped-def]
    code = cli_main([
        "tune", "--workload", "--config", config, "--model", MODEL,
        "--space", "reasoning_effort=low,high",
        "--objective", "ttfat_ms", "--sampler", "grid", "--runs", "4", "--warmup", "0",
        "--no-prune", "--no-save",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "reasoning_effort=low" in out and "confirmation: significant improvement" in out


def test_the_cli_refuses_suite_flags_with_a_workload(config, capsys) -> None:  # type: ignore[no-untyped-def]
    code = cli_main(["tune", "--workload", "--config", config, "--model", MODEL,
                     "--proposer", "x", "--no-save"])  # fmt: skip
    assert code != 0
    assert "drop --proposer" in capsys.readouterr().err


def test_the_widget_shows_the_confirmation_and_the_objectives_interval(sim, config) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from llmbench_jupyter.kernel.tune_widget import TuneWidget
    from llmbench_jupyter.kernel.widget import MIN_INTERVAL_S, ROWS_INTERVAL_S

    async def main() -> tuple[Any, TuneWidget]:
        job = tune(sim, config, sampler="grid", prune=False, save=False)
        widget = TuneWidget.for_job(job)
        await job
        await asyncio.sleep(ROWS_INTERVAL_S + 3 * MIN_INTERVAL_S)  # the delayed last rows
        deadline = time.monotonic() + 10  # a loaded machine may take longer
        while len(widget.rows) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return job, widget

    job, widget = asyncio.run(main())
    result = job.result()
    snap = widget.snapshot
    assert snap["kind"] == "bench" and snap["split"] is None
    assert snap["objectives"] == ["ttfat_ms"] and snap["directions"] == ["minimize"]
    m = result.best["metrics"]
    assert snap["best"]["ci"] == [m["ttfat_ms_ci_low"], m["ttfat_ms_ci_high"]]
    assert snap["holdout"]["verdict"] == "significant improvement"
    assert snap["holdout"]["compare"]["metric"] == "ttfat_ms"
    assert [r["number"] for r in widget.rows] == [0, 1, 2, 3]
    assert all(r["ttfat_ms_ci_low"] <= r["ttfat_ms"] for r in widget.rows)
    json.dumps(widget.get_state(["snapshot", "rows"]), allow_nan=False)  # strict JSON
    widget.close()
