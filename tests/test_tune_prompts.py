"""tune_prompts(): system-prompt searches over the simulated endpoint.

``tuning-example``'s rules make the prompt matter (a prompt asking for "metric units"
fixes tickets 00-09, one asking for "celsius" tickets 10-19, both fix all) and script the
proposer (sim-medium writes useful prompts, sim-slow useless ones), so every method has a
known outcome. Real HTTP, a real store on both backends.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.evals.suites import example_files
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.tune import build_prompt_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

SUITE, RULES = example_files("tuning-example")
BOTH = "metric units and give temperatures in celsius"


@pytest.fixture
def sim():  # type: ignore[no-untyped-def]
    srv = SimServer(rules=RULES).start_in_thread()
    yield srv
    srv.stop_thread()


def sent(srv: SimServer) -> int:
    with urllib.request.urlopen(f"{srv.base_url.rsplit('/v1', 1)[0]}/sim/stats") as resp:
        return int(json.load(resp)["requests"])


def tune(srv: SimServer, method: str, **kw: Any) -> Any:
    kw.setdefault("proposer", "sim-medium")
    kw.setdefault("save", False)
    return lj.tune_prompts(
        "tuning-example", "sim-fast", method=method, sim_url=srv.base_url, display=False, **kw
    ).wait(300)


def test_quick_evaluates_the_baseline_first_then_each_variant(sim) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, "quick")
    rows = result.trials
    assert rows[0]["number"] == 0 and rows[0]["prompt_origin"] == "baseline"
    assert rows[0]["values"] == [0.0]  # no system prompt: every answer in fahrenheit
    assert [r["prompt_origin"] for r in rows[1:]] == ["quick"] * 4
    assert all(r["prompt_parent"] == 0 for r in rows[1:])
    best = result.best
    assert "celsius" in best["prompt"] and 0 < best["values"][0] < 1
    assert result.stop_reason == "the quick search is complete"
    # held out: 6 cases; the best prompt fixes only those among tickets 10-19 it holds
    test = result.holdout["mcnemar"]
    assert test["a_only"] == 0 and test["b_only"] < 6
    assert result.verdict == ("significant improvement" if test["significant"]
                              else "no significant improvement")  # fmt: skip


def test_variants_no_better_than_the_baseline_are_reported_as_such(sim) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, "quick", proposer="sim-slow")
    assert {tuple(r["values"]) for r in result.trials} == {(0.0,)}
    assert result.best["number"] == 0
    assert result.verdict.startswith("no significant improvement")


def test_evolve_keeps_elites_and_crosses_whole_parents_to_the_optimum(sim) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, "evolve", population=5, generations=3, elite=2, seed=1)
    rows = result.trials
    gen0 = [r for r in rows if r["number"] > 0 and r["system_attrs"]["generation"] == 0]
    assert len(gen0) == 4 and {r["prompt_origin"] for r in gen0} == {"quick"}
    children = [r for r in rows if r["system_attrs"].get("generation", 0) >= 1]
    assert children and len(children) <= 3 * 2  # population - elite per generation
    assert {r["prompt_origin"] for r in children} <= {"crossover", "mutation"}
    for child in children:
        parents = child["system_attrs"]["parents"]
        assert len(parents) == (2 if child["prompt_origin"] == "crossover" else 1)
        assert all(p < child["number"] for p in parents)
    assert result.best["values"] == [1.0] and BOTH in result.best["prompt"]
    assert result.verdict == "significant improvement"


def test_reflect_shows_the_failures_and_stops_when_nothing_fails(sim) -> None:  # type: ignore[no-untyped-def]
    """The proposer's rule answers a repair only when the failures it is shown say
    "fahrenheit": the failed cases' calls reached it."""
    result = tune(sim, "reflect", iterations=4)
    rows = result.trials
    assert [r["prompt_origin"] for r in rows] == ["baseline", "reflection"]
    assert rows[1]["values"] == [1.0] and rows[1]["prompt_parent"] == 0
    assert "fahrenheit" in rows[0]["metrics"]["failures"][0]
    assert result.stop_reason == "the reflect search is complete"


def test_parents_are_passed_whole(sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rules = yaml.safe_load(Path(RULES).read_text())
    long_tail = "Finally: remember the house style ZQX-END."
    fixed = f"<prompt>Use metric units; temperatures in celsius. {long_tail}</prompt>"
    repair = {"model": "^sim-medium$", "match": "(?s)reflection.*ZQX-END.*fahrenheit",
              "content": fixed}  # fmt: skip
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump([repair, *rules]))
    srv = SimServer(rules=str(path)).start_in_thread()
    try:
        base = "Be a good assistant. " * 400 + long_tail  # ~8,400 characters
        result = tune(srv, "reflect", iterations=1, system_prompt=base)
    finally:
        srv.stop_thread()
    assert result.trials[0]["prompt"] == base
    assert result.trials[1]["values"] == [1.0] and long_tail in result.trials[1]["prompt"]


def test_the_proposers_requests_count_against_the_budget(sim) -> None:  # type: ignore[no-untyped-def]
    result = tune(sim, "quick", budget={"requests": 50}, holdout=0)
    spent = sum(r["n_requests"] + r["metrics"].get("proposer_requests", 0) for r in result.trials)
    assert spent == sent(sim) <= 50
    assert result.trials[1]["metrics"]["proposer_requests"] == 1  # one request, 4 variants
    assert "request budget reached" in (result.stop_reason or "")


def test_an_interrupted_evolution_resumes_from_its_stored_trials(db_url: str, sim) -> None:  # type: ignore[no-untyped-def]
    mgr = JobManager(open_store(db_url), owner=f"prompts-{id(db_url)}")
    reset_manager(mgr)
    try:
        kw = {"population": 5, "generations": 3, "seed": 0, "name": "evolving", "save": True}
        first = tune(sim, "evolve", budget={"trials": 6}, **kw)  # gen 0, one child of gen 1
        assert len(first.trials) == 6 and first.best["values"] < [1.0]
        again = tune(sim, "evolve", budget={"trials": 30}, resume=True, **kw)
    finally:
        reset_manager(None)
    assert again.study_id == first.study_id
    numbers = [r["number"] for r in again.trials]
    assert numbers == list(range(len(numbers))) and len(numbers) > 6
    assert [r["prompt"] for r in again.trials[:6]] == [r["prompt"] for r in first.trials]
    generations = [r["system_attrs"].get("generation") for r in again.trials[6:8]]
    assert generations == [1, 1]  # generation 1 is completed first
    assert again.stop_reason == "the evolve search is complete"
    assert max(r["system_attrs"].get("generation", 0) for r in again.trials) <= 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "proposer= names the model"),
        ({"proposer": "sim-medium", "method": "genetic"}, "unknown 'genetic'"),
        ({"proposer": "sim-medium", "population": 3, "elite": 3}, "elite must be"),
        ({"proposer": "sim-medium", "iterations": 0}, "iterations must be"),
        ({"proposer": "nope"}, "nope"),
        ({"proposer": "sim-medium", "space": {"temperature": (0, 1)}}, "unknown option"),
    ],
)
def test_bad_prompt_searches_are_refused_before_anything_is_sent(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(LLMBenchError, match=message):
        build_prompt_spec(SUITE, "sim-fast", **options)


def test_a_hostile_proposer_cannot_break_the_search(tmp_path: Path) -> None:
    """A NUL in a proposed prompt is replaced (the store cannot hold it); an answer with
    no <prompt> block stops the search with the reason, keeping what was found."""
    rules = yaml.safe_load(Path(RULES).read_text())
    nul = {"model": "^sim-medium$", "match": "reflection",
           "content": "<prompt>Use metric units\x00 and celsius.</prompt>"}  # fmt: skip
    empty = {"model": "^sim-slow$", "match": "proposer", "content": "Sure! Here you go."}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump([nul, empty, *rules]))
    srv = SimServer(rules=str(path)).start_in_thread()
    try:
        repaired = tune(srv, "reflect", iterations=1)
        refused = tune(srv, "quick", proposer="sim-slow")
    finally:
        srv.stop_thread()
    assert repaired.trials[1]["prompt"] == "Use metric units\ufffd and celsius."
    assert [r["number"] for r in refused.trials] == [0]
    assert "answered without a <prompt> block" in (refused.stop_reason or "")
    assert refused.status == "done"
