"""tune(): parameter searches over the simulated endpoint, whose answers depend on the
parameters (``tuning-example``: right only with a low temperature and a high top_p), so a
search has a known optimum. Real HTTP, real Optuna, a real store on both backends.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from typing import Any

import optuna
import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.evals.suites import example_files
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.tune import build_tune_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.stats import wilson_interval
from llmbench_jupyter.store import open_store

TUNING_SUITE, TUNING_RULES = example_files("tuning-example")
SPACE = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0)}
#: Two points of this grid pass every case: temperature 0.05 with top_p 0.95.
GRID = {"temperature": [0.05, 0.6, 1.5], "top_p": [0.5, 0.95]}


@pytest.fixture
def manager(db_url: str):  # type: ignore[no-untyped-def]
    mgr = JobManager(open_store(db_url), owner=f"tune-{id(db_url)}")
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


@pytest.fixture
def sim():  # type: ignore[no-untyped-def]
    """A fresh endpoint per test, so its request count is this test's."""
    srv = SimServer(rules=TUNING_RULES).start_in_thread()
    yield srv
    srv.stop_thread()


def sent(srv: SimServer) -> int:
    with urllib.request.urlopen(f"{srv.base_url.rsplit('/v1', 1)[0]}/sim/stats") as resp:
        return int(json.load(resp)["requests"])


def tune(srv: SimServer, **kw: Any) -> Any:
    kw.setdefault("space", SPACE)
    kw.setdefault("display", False)
    return lj.tune("tuning-example", "sim-fast", sim_url=srv.base_url, **kw)


# ----------------------------------------------------------------------- the search
def test_a_grid_search_finds_the_known_optimum_and_beats_the_baseline_held_out(
    manager, sim
) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, space=GRID, sampler="grid", name="grid", prune=False).wait(300)
    df = result.trials_df()
    assert df["number"].tolist() == list(range(7))  # the baseline, then 6 grid points
    assert df.loc[0, "baseline"] and df.loc[0, "state"] == "complete"
    assert result.stop_reason == "every grid point was tried"
    assert result.best_params == {"temperature": 0.05, "top_p": 0.95}
    assert result.best["values"] == [1.0]
    assert result.best["metrics"]["pass_rate_ci_low"] == wilson_interval(14, 14)[0]
    # held out: 6 of 20 cases; the baseline (temperature 0, no top_p) fails them all
    held = result.holdout
    assert len(held["cases"]) == 6 and held["best"]["pass_rate"] == 1.0
    assert held["baseline"]["pass_rate"] == 0.0
    assert held["mcnemar"]["b_only"] == 6 and held["verdict"] == "significant improvement"
    # every trial is in the store, as the result shows it
    stored = lj.load_tune(result.study_id, store=manager.store)
    assert stored.trials_df()["state"].tolist() == df["state"].tolist()
    assert stored.status == "done" and stored.verdict == "significant improvement"


def test_variants_no_better_than_the_baseline_are_reported_as_such(db_url: str) -> None:
    """The example suite's answers ignore parameters: no trial can be better."""
    suite, rules = example_files()
    srv = SimServer(rules=rules).start_in_thread()
    mgr = JobManager(open_store(db_url), owner="no-better")
    reset_manager(mgr)
    try:
        job = lj.tune(suite, "sim-fast", space={"temperature": (0.0, 1.0)}, sampler="random",
                      budget={"trials": 4}, sim_url=srv.base_url, display=False)  # fmt: skip
        result = job.wait(300)
    finally:
        reset_manager(None)
        srv.stop_thread()
    values = {tuple(r["values"]) for r in result.trials if r["state"] == "complete"}
    assert len(values) == 1  # every trial scored the same
    assert result.verdict.startswith("no significant improvement")


def test_pruning_stops_clearly_worse_trials_early_and_saves_requests(sim) -> None:  # type: ignore[no-untyped-def]
    """Seed 1 runs the grid's good point first; the two bad ones then lose every case to
    it, and are stopped after the pruner's 5 startup cases (of 14)."""
    space = {"temperature": [0.05, 1.9, 1.95], "top_p": [0.95]}
    result = tune(sim, space=space, sampler="grid", seed=1, concurrency=1, save=False).wait(300)
    rows = [r for r in result.trials if r["number"] > 0]
    assert [r["params"]["temperature"] for r in rows] == [0.05, 1.95, 1.9]
    assert rows[0]["state"] == "complete" and rows[0]["values"] == [1.0]
    assert rows[0]["n_requests"] == 14  # 14 search cases, one request each
    assert [r["state"] for r in rows[1:]] == ["pruned", "pruned"]
    assert [r["n_requests"] for r in rows[1:]] == [5, 5]
    assert result.best_params == {"temperature": 0.05, "top_p": 0.95}


def test_tpe_and_nsga2_run_several_objectives_to_a_pareto_front(sim) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, objectives=["pass_rate", "cost_usd"], sampler="nsga2",
                  budget={"trials": 6}, save=False).wait(300)  # fmt: skip
    assert result.directions == ["maximize", "minimize"]
    front = result.pareto()
    assert front and all(r["state"] == "complete" for r in front)
    df = result.pareto_df()
    assert {"pass_rate", "cost_usd", "temperature", "top_p"} <= set(df.columns)
    assert result.plot_pareto().data  # a figure with the trials in it


# ----------------------------------------------------------------------- budgets
@pytest.mark.parametrize("limit", [1, 3])
def test_the_trial_budget_is_never_exceeded(sim, limit: int) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, budget={"trials": limit}, save=False).wait(300)
    assert len(result.trials) == limit
    assert result.trials[0]["number"] == 0  # the baseline is always the first
    assert "trial budget reached" in (result.stop_reason or "")


def test_the_request_budget_is_never_exceeded_even_mid_trial(sim) -> None:  # type: ignore[no-untyped-def]
    # 14 search cases + 6 held out (12 requests kept for the final test): 14 for the
    # baseline, one more whole trial would need 14 -> the search stops before it
    result = tune(sim, budget={"requests": 41}, save=False).wait(300)
    spent = sum(r["n_requests"] for r in result.trials)
    assert spent <= 41 and sent(sim) == spent + 12 * ("best" in result.holdout)
    assert sent(sim) <= 41
    assert "request budget reached" in (result.stop_reason or "")


def test_the_dollar_budget_is_never_exceeded(sim) -> None:  # type: ignore[no-untyped-def]
    """Each request is booked at its most (payload bytes as input tokens, max_tokens as
    output) before it is sent, so the limit holds though the sim's answers cost less."""
    space = {**SPACE, "max_tokens": [16, 32]}
    capped = {"temperature": 0, "max_tokens": 16}
    one = tune(sim, space=space, baseline=capped, budget={"trials": 1}, save=False).wait(300)
    trial_cost = one.trials[0]["cost_usd"]
    assert trial_cost > 0  # sim-fast has a price in config.yaml
    limit = 0.0015
    result = tune(sim, space=space, baseline=capped, budget={"dollars": limit}, holdout=0,
                  concurrency=2, save=False).wait(300)  # fmt: skip
    spent = sum(r["cost_usd"] for r in result.trials)
    assert spent <= limit and len(result.trials) >= 2
    assert "dollar budget reached" in (result.stop_reason or "")


def test_a_dollar_budget_without_a_price_or_an_output_cap_is_refused() -> None:
    with pytest.raises(LLMBenchError, match="needs a cap on output tokens"):
        build_tune_spec(TUNING_SUITE, "sim-fast", space=SPACE, budget={"dollars": 1.0})


def test_the_time_budget_starts_nothing_after_its_deadline(sim) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, budget={"minutes": 0.02}, holdout=0, save=False).wait(300)
    assert "time budget reached" in (result.stop_reason or "")
    first = result.trials[0]["started_at"]
    assert all(r["started_at"] - first < timedelta(minutes=0.02) for r in result.trials)


# ----------------------------------------------------------------------- resume
def test_an_interrupted_search_resumes_where_it_stopped(manager, sim) -> None:  # type: ignore[no-untyped-def]
    first = tune(sim, name="resumable", budget={"trials": 3}, holdout=0).wait(300)
    assert [r["number"] for r in first.trials] == [0, 1, 2]
    store = manager.store
    study_id = first.study_id
    # a kernel killed mid-trial leaves a trial "running", with the requests it may send
    store.start_trial(study_id, 3, params={"temperature": 0.1, "top_p": 0.9},
                      distributions={}, planned_requests=20)  # fmt: skip
    again = tune(sim, name="resumable", budget={"trials": 6}, holdout=0, resume=True).wait(300)
    assert again.study_id == study_id
    numbers = [r["number"] for r in again.trials]
    assert numbers == [0, 1, 2, 3, 4, 5]  # the baseline was not run again
    interrupted = again.trials[3]
    assert interrupted["state"] == "fail" and "interrupted" in interrupted["error"]
    assert interrupted["n_requests"] == 20  # counted as spent: it cannot know how many went
    assert again.trials[0]["started_at"] == first.trials[0]["started_at"]


def test_resuming_with_other_arguments_is_refused(manager, sim) -> None:  # type: ignore[no-untyped-def]
    tune(sim, name="fixed", budget={"trials": 1}, holdout=0).wait(300)
    with pytest.raises(LLMBenchError, match="exists, but with another"):
        tune(sim, name="fixed", budget={"trials": 2}, holdout=0, resume=True,
             space={"temperature": (0.0, 1.0)}).wait(300)  # fmt: skip


# ----------------------------------------------------------------------- export, input
def test_a_search_exports_to_an_optuna_study(sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, budget={"trials": 4}, save=False).wait(300)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    result.to_optuna(storage, study_name="exported")
    loaded = optuna.load_study(study_name="exported", storage=storage)
    ours = [r for r in result.trials if r["number"] > 0]
    assert len(loaded.trials) == len(ours)
    for theirs, mine in zip(loaded.trials, ours, strict=True):
        assert theirs.params == mine["params"]
        assert theirs.user_attrs["llmbench_trial"] == mine["number"]
        if mine["state"] == "complete":
            assert theirs.values == mine["values"]
    with pytest.raises(LLMBenchError, match="already has a study"):
        result.to_optuna(storage, study_name="exported")


@pytest.mark.parametrize(
    ("space", "options", "message"),
    [
        ({"temprature": (0, 1)}, {}, "unknown parameter"),
        ({"temperature": (0, 3)}, {}, "accepts 0 to 2"),
        ({"temperature": (1, 0.5)}, {}, "low must be below high"),
        ({"temperature": (0, 1)}, {"sampler": "grid"}, "grid sampler needs a step"),
        ({"temperature": (0, 1)}, {"sampler": "nsga2"}, "nsga2 searches several"),
        ({"temperature": (0, 1)}, {"objectives": ["speed"]}, "unknown 'speed'"),
        ({"temperature": (0, 1)}, {"budget": {"trials": 0}}, "trials must be a positive"),
        ({"temperature": (0, 1)}, {"budget": {"hours": 1}}, "unknown key"),
        ({"temperature": (0, 1)}, {"holdout": 1.0}, "holdout must be a share"),
        ({"tool_choice": ["auto", "sometimes"]}, {}, "'sometimes' is not accepted"),
    ],
)
def test_bad_searches_are_refused_before_anything_is_sent(
    space: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(LLMBenchError, match=message):
        build_tune_spec(TUNING_SUITE, "sim-fast", space=space, **options)


def test_the_space_records_provider_passthrough_and_grid_steps() -> None:
    spec, _ = build_tune_spec(
        TUNING_SUITE, "sim-fast", sampler="grid",
        space={"temperature": {"low": 0, "high": 1, "step": 0.5}, "max_tokens": [64, 128],
               "extra.frequency_penalty": [0.0, 0.5]},
    )  # fmt: skip
    assert spec.built.grid() == {
        "temperature": [0.0, 0.5, 1.0],
        "max_tokens": [64, 128],
        "extra.frequency_penalty": [0.0, 0.5],
    }
    assert any("sent unchecked" in n for n in spec.built.notes)


def test_a_cancelled_search_keeps_what_its_last_trial_sent(manager, sim) -> None:  # type: ignore[no-untyped-def]
    import time

    job = tune(sim, name="cancelled", budget={"trials": 200}, concurrency=1, prune=False)
    deadline = time.monotonic() + 120
    while len(job.records) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # into the next trial
    assert job.cancel()
    while not job.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    study_id = job.progress["study_id"]
    rows = manager.store.trials(study_id)
    assert rows and all(r["state"] != "running" for r in rows)
    cut = [r for r in rows if r["state"] == "fail"]
    assert all(r["error"] == "cancelled while this trial ran" for r in cut)
    for r in rows:  # one request a case; the cut trial also counts the one in flight
        in_flight = 1 if r["state"] == "fail" else 0
        assert len(r["case_scores"]) <= r["n_requests"] <= len(r["case_scores"]) + in_flight
    assert manager.store.study(study_id)["status"] == "cancelled"


def test_the_judge_score_objective_grades_every_case_within_budget(sim) -> None:  # type: ignore[no-untyped-def]
    """The sim's judge (sim-medium) scores a case 9 when it is right, else 2: the grid's
    good point has the best judge score, and the judge's calls count as requests."""
    result = tune(sim, space=GRID, sampler="grid", objectives=["judge_score"],
                  judge="sim-medium", prune=False, holdout=0, save=False).wait(300)  # fmt: skip
    assert result.best_params == {"temperature": 0.05, "top_p": 0.95}
    assert result.best["values"] == [9.0]
    assert result.trials[0]["values"] == [2.0]  # the baseline answers in fahrenheit
    assert all(r["metrics"]["judged"] == 20 for r in result.trials)
    assert all(r["n_requests"] == 40 for r in result.trials)  # 20 cases + 20 judge calls
    assert sent(sim) == sum(r["n_requests"] for r in result.trials)
    with pytest.raises(LLMBenchError, match="needs a judge model"):
        build_tune_spec(TUNING_SUITE, "sim-fast", space=SPACE, objectives=["judge_score"])
