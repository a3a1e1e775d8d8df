"""evaluate(): the eval as a background job, stored as it goes, judged inline, compared.

Real HTTP to the simulated endpoint (started by the job in its own process, or the test's
own server), a real store on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import copy
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

import llmbench_jupyter as lj
from llmbench_jupyter.analysis.eval_history import load_eval
from llmbench_jupyter.analysis.eval_result import ROW_COLUMNS, EvalResult
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.evals.scoring import case_value
from llmbench_jupyter.evals.suites import example_files, load_suite
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store
from llmbench_jupyter.store.models import EVAL_RESULT_COLUMNS

DATA = files("llmbench_jupyter.evals") / "data"
RULES = str(DATA / "example_sim_rules.yaml")


@pytest.fixture
def manager(db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLMBENCH_DB_URL", db_url)
    mgr = JobManager(open_store(db_url), owner=f"eval-{id(db_url)}")
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


@pytest.fixture(scope="module")
def example_sim():  # type: ignore[no-untyped-def]
    srv = SimServer(rules=RULES).start_in_thread()
    yield srv
    srv.stop_thread()


def test_evaluate_runs_as_a_job_and_stores_everything(manager, example_sim) -> None:  # type: ignore[no-untyped-def]
    job = lj.evaluate(
        "example", ["sim-fast"], name="store test", sim_url=example_sim.base_url, display=False
    )
    assert job.kind == "eval"
    result = job.wait(120)
    assert isinstance(result, EvalResult) and job.state == "done"
    s = result.scores()["local-sim/sim-fast"]
    assert (s.n_passed, s.n_attempts) == (30, 44)
    store = manager.store
    run = store.get_run(result.run_id, owner=manager.owner)
    assert run["kind"] == "eval" and run["status"] == "done" and run["name"] == "store test"
    assert run["n_requests"] == 44 and run["n_errors"] == 0
    assert run["summary"]["local-sim/sim-fast"]["passed"] == 30
    rows = store.eval_results(result.run_id)
    assert len(rows) == 44 and sum(r["passed"] for r in rows) == 30
    assert [r["seq"] for r in rows] == list(range(44))
    assert all(r["transcript"] for r in rows)  # full traces kept
    office = next(r for r in rows if r["case_id"] == "mt-office-evening")
    assert office["final_state"]["thermostats"] == {"office": 21.0}
    # DataFrames use the store's column names, never renamed
    df = result.to_pandas()
    assert list(df.columns) == list(ROW_COLUMNS) and set(ROW_COLUMNS) <= set(EVAL_RESULT_COLUMNS)
    assert len(df) == 44 and int(df["passed"].sum()) == 30
    # reloading gives the same verdicts
    again = load_eval(result.run_id, store, owner=manager.owner)
    assert again.scores()["local-sim/sim-fast"].to_dict() == s.to_dict()
    assert again.suite == result.suite
    # the job's last snapshot carries the widget's numbers
    snap = job.progress
    t = snap["targets"][0]
    assert (snap["done"], snap["total"]) == (44, 44)
    assert t["passed"] == 30 and 0 < t["pass_ci_low"] < 30 / 44 < t["pass_ci_high"]
    assert set(t["categories"]) == set(snap["categories"])
    assert len(job.case_rows()) == 44


def test_suites_are_versioned_by_content(db_url: str) -> None:
    store = open_store(db_url)
    owner = f"suites-{id(store)}-{db_url[:5]}"
    suite = load_suite(str(DATA / "example_suite.yaml"))
    first = store.save_suite(suite, owner)
    assert first["version"] == 1
    assert store.save_suite(copy.deepcopy(suite), owner)["suite_id"] == first["suite_id"]
    changed = copy.deepcopy(suite)
    changed.cases = changed.cases[:3]
    second = store.save_suite(changed, owner)
    assert second["version"] == 2 and second["n_cases"] == 3
    assert len(store.get_suite(suite.name, owner=owner).cases) == 3
    assert len(store.get_suite(suite.name, version=1, owner=owner).cases) == len(suite.cases)
    assert [r["version"] for r in store.list_suites(owner)] == [2, 1]
    with pytest.raises(LLMBenchError, match="no suite 'nope'"):
        store.get_suite("nope", owner=owner)


def _judge_rules(tmp_path: Path) -> str:
    """The example answers for sim-fast, and sim-medium acting as a strict judge."""
    rules = yaml.safe_load(Path(RULES).read_text())
    judge = {
        "model": "^sim-medium$",
        "match": ".",
        "content": '{"score": 4, "passed": false, "reasoning": "scripted strict judge"}',
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump([judge, *rules]))
    return str(path)


def test_inline_judge_grades_cases_below_the_threshold(manager, tmp_path) -> None:  # type: ignore[no-untyped-def]
    job = lj.evaluate(
        "example",
        ["local-sim/sim-fast"],
        judge="local-sim/sim-medium",
        judge_threshold=0.8,
        sim_rules=_judge_rules(tmp_path),
        display=False,
    )
    result = job.wait(180)
    below = [r for r in result.runs if case_value(r.score) < 0.8]
    assert 0 < len(below) < len(result.runs)
    judged = [j for j in result.judgements if j["kind"] == "case"]
    assert sorted(j["case_id"] for j in judged) == sorted(r.case_id for r in below)
    assert all(j["status"] == "ok" and j["parsed"]["score"] == 4 for j in judged)
    assert result.judge_mean("local-sim/sim-fast") == 4.0
    stored = manager.store.judgements(result.run_id, kind="case")
    assert len(stored) == len(below)
    assert all(j["messages"] and j["raw_output"] for j in stored)  # inputs and outputs kept
    assert job.progress["targets"][0]["judge_mean"] == 4.0
    judged_rows = [r for r in job.case_rows() if r["judge"]]
    assert len(judged_rows) == len(below) and judged_rows[0]["judge"]["score"] == 4
    assert result.summary()["judge_mean"].tolist() == [4.0]


def test_two_runs_compare_with_mcnemar(manager, example_sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = lj.evaluate("example", ["sim-fast"], sim_url=example_sim.base_url, display=False).wait(120)
    # a second "model" whose answers differ: the same sim with three rules made worse
    rules = yaml.safe_load(Path(RULES).read_text())
    worse = {"Calculate 17 times 23", "weather in Paris right now", "Convert 5 miles to kilometers"}
    for rule in rules:
        if rule.get("match") in worse and "tool_result" not in rule:
            rule["tool_calls"] = [{"name": "web_search", "arguments": {"query": "no idea"}}]
    path = tmp_path / "worse.yaml"
    path.write_text(yaml.safe_dump(rules))
    srv = SimServer(rules=str(path)).start_in_thread()
    try:
        b = lj.evaluate("example", ["sim-fast"], sim_url=srv.base_url, display=False).wait(120)
    finally:
        srv.stop_thread()
    res = a.compare(b)
    assert (res["a_only"], res["b_only"], res["cases"]) == (3, 0, 44)
    assert res["p_value"] == pytest.approx(0.25) and not res["significant"]
    assert res["verdict"] == "no significant difference"
    with pytest.raises(LLMBenchError, match="name the one to use"):
        two = lj.evaluate(
            "example", ["sim-fast", "sim-medium"], sim_url=example_sim.base_url, display=False
        ).wait(120)
        two.compare(a)


def test_cancel_keeps_finished_cases_and_marks_the_run(manager, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rules = tmp_path / "slow.yaml"
    rules.write_text(yaml.safe_dump([{"match": ".", "content": "thinking about it"}]))
    srv = SimServer(rules=str(rules)).start_in_thread()
    try:

        async def main() -> EvalResult:
            job = lj.evaluate(
                "example",
                ["sim:ttft=150,itl=1,out=3"],
                api_base=srv.base_url,
                concurrency=1,
                display=False,
            )
            while len(job.records) < 2:
                await asyncio.sleep(0.02)
            snap = job.progress
            ran = {r.category for r in job.records}
            assert any(v is None for c, v in snap["targets"][0]["categories"].items()
                       if c not in ran)  # fmt: skip
            job.cancel()
            result: EvalResult = await job
            return result

        result = asyncio.run(main())
    finally:
        srv.stop_thread()
    assert result.status == "cancelled" and 2 <= len(result.runs) < 44
    run = manager.store.get_run(result.run_id, owner=manager.owner)
    assert run["status"] == "cancelled"
    assert len(manager.store.eval_results(result.run_id)) == len(result.runs)


def test_bad_options_are_refused_before_anything_runs(manager) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LLMBenchError, match="unknown option"):
        lj.evaluate("example", ["sim-fast"], kk=2)
    with pytest.raises(LLMBenchError, match="k must be an integer >= 1"):
        lj.evaluate("example", ["sim-fast"], k=0)
    with pytest.raises(LLMBenchError, match="judge_threshold needs a judge"):
        lj.evaluate("example", ["sim-fast"], judge_threshold=0.5)
    with pytest.raises(LLMBenchError, match="not configured"):
        lj.evaluate("example", ["no-such-model"])
    assert manager.jobs() == []


def test_example_models_differ_and_the_scripted_judge_is_caught(manager) -> None:  # type: ignore[no-untyped-def]
    """sim-medium is scripted to differ from sim-fast on four cases; sim-reasoning is a
    naive judge that always prefers the first answer: both orders expose it."""
    _, rules = example_files()
    srv = SimServer(rules=rules).start_in_thread()
    try:
        result = lj.evaluate(
            "example",
            ["sim-fast", "sim-medium"],
            judge="local-sim/sim-reasoning",
            judge_threshold=0.8,
            sim_url=srv.base_url,
            display=False,
        ).wait(180)
        judge = lj.target("local-sim/sim-reasoning", sim_url=srv.base_url)
        pairwise = asyncio.run(
            result.judge_pairwise(
                result, judge, target="local-sim/sim-fast", other_target="local-sim/sim-medium"
            )
        )
        report = asyncio.run(result.judge_report(judge, "local-sim/sim-medium"))
    finally:
        srv.stop_thread()
    scores = result.scores()
    assert scores["local-sim/sim-medium"].n_passed == 28
    cmp = result.compare_models("local-sim/sim-fast", "local-sim/sim-medium")
    assert (cmp["a_only"], cmp["b_only"]) == (3, 1) and not cmp["significant"]
    # the cases below the threshold were judged, and a failing verdict is never a pass
    below = sum(case_value(r.score) < 0.8 for r in result.runs)
    judged = [j for j in result.judgements if j["kind"] == "case"]
    assert len(judged) == below > 0 and all(j["parsed"]["passed"] is False for j in judged)
    s = pairwise.summary
    assert s["first_wins"] == 0 and s["second_wins"] == 0 and s["ties"] == 44
    assert s["position_consistency"]["rate"] == 0.0
    assert report["status"] == "ok" and report["parsed"]["grade"] == "C+"
    stored = manager.store.judgements(result.run_id)
    assert {j["kind"] for j in stored} == {"case", "pairwise", "report"}
    assert sum(j["kind"] == "pairwise" for j in stored) == 88  # 44 pairs, both orders


def test_cancelling_an_eval_stops_its_inline_judge_cleanly(manager, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import gc
    import warnings

    from llmbench_jupyter.core.targets import adhoc

    rules = tmp_path / "slow.yaml"
    rules.write_text(yaml.safe_dump([{"match": ".", "content": "not JSON at all"}]))
    srv = SimServer(rules=str(rules)).start_in_thread()
    try:

        async def main() -> EvalResult:
            job = lj.evaluate(
                "example",
                ["sim:ttft=60,itl=1,out=3"],
                api_base=srv.base_url,
                judge=adhoc(srv.base_url, "sim:ttft=2000,itl=1,out=3"),
                concurrency=2,
                display=False,
            )
            while len(job.records) < 3:
                await asyncio.sleep(0.02)
            job.cancel()
            result: EvalResult = await job
            return result

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = asyncio.run(main())
            gc.collect()
    finally:
        srv.stop_thread()
    assert result.status == "cancelled"
    assert not [w for w in caught if "Unclosed" in str(w.message)]
    assert manager.store.get_run(result.run_id, owner=manager.owner)["status"] == "cancelled"
