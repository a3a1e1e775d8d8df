"""Tuning searches in experiments: a search's best trial against the baseline run by the
same tests as a run (checked against scipy and by hand), over real HTTP to the simulator,
with the real bench and eval engines, Optuna and a real store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

WORKLOAD = {"runs": 8, "warmup": 0, "context_tiers": [0], "max_tokens": 16}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('exps') / 'e.db'}")
    reset_manager(JobManager(store))
    sim = SimServer(seed=0).start_in_thread()
    try:
        bench = lj.bench(model="sim-medium", runs=8, warmup=0, max_tokens=16, display=False,
                         sim_url=sim.base_url, experiment="speed").wait(120)  # fmt: skip
        lj.experiment("speed", store=store).set_baseline(bench.run_id)
        tuned = lj.tune(model="sim-medium", space={"temperature": [0.0, 1.0]}, sampler="grid",
                        workload=dict(WORKLOAD), confirm=False, sim_url=sim.base_url,
                        experiment="speed", display=False).wait(180)  # fmt: skip
        evaluated = lj.evaluate("example", ["sim-fast"], sim_url=sim.base_url,
                                experiment="quality", display=False).wait(180)  # fmt: skip
        lj.experiment("quality", store=store).set_baseline(evaluated.run_id)
        suite = lj.tune("example", model="sim-fast", space={"temperature": [0.0, 1.0]},
                        sampler="grid", sim_url=sim.base_url, experiment="quality",
                        display=False).wait(180)  # fmt: skip
        yield {"store": store, "bench": bench, "tuned": tuned, "eval": evaluated,
               "suite": suite}  # fmt: skip
    finally:
        sim.stop_thread()
        reset_manager(None)
        store.close()


def test_a_workload_search_joins_and_is_tested_against_the_bench_baseline(world) -> None:  # type: ignore[no-untyped-def]
    from scipy.stats import mannwhitneyu

    store, bench, tuned = world["store"], world["bench"], world["tuned"]
    exp = lj.experiment("speed", create=False, store=store)
    runs = exp.runs().set_index("run_id")
    assert runs.loc[tuned.study_id, "kind"] == "tune" and not runs.loc[tuned.study_id, "baseline"]
    assert "1 bench, 1 tune" in repr(exp)
    row = exp.compare("ttft_ms").set_index("run_id").loc[tuned.study_id]
    best = tuned.best
    mine = [float(v) for v in best["intermediate"].values()]
    theirs = bench.to_pandas().query("status == 'ok'")["ttft_ms"].astype(float).tolist()
    assert row["target"] == "local-sim/sim-medium" and row["context_tier"] == 0
    assert row["p_value"] == pytest.approx(mannwhitneyu(theirs, mine).pvalue)
    assert row["note"].startswith(f"best trial {best['number']}")
    assert row["verdict"] in ("better", "worse", "no significant difference")
    # another metric than the one it optimised: not tested, said why
    other = exp.compare("decode_tps").set_index("run_id").loc[tuned.study_id]
    assert other["note"] == "the search optimised ttft_ms, not decode_tps"
    best_ttft = exp.best("ttft_ms")
    assert len(best_ttft) == 1 and best_ttft.loc[0, "run_id"] in {bench.run_id, tuned.study_id}


def test_a_suite_search_is_tested_by_mcnemar_on_the_cases_both_ran(world) -> None:  # type: ignore[no-untyped-def]
    store, evaluated, suite = world["store"], world["eval"], world["suite"]
    exp = lj.experiment("quality", create=False, store=store)
    row = exp.compare("pass_rate").set_index("run_id").loc[suite.study_id]
    base = {r.case_id: bool(r.score.passed) for r in evaluated.runs
            if r.attempt == 0 and r.model == "sim-fast"}  # fmt: skip
    mine = {c: s >= 1.0 for c, s in suite.best["case_scores"].items()}
    common = sorted(set(base) & set(mine))
    b_only = sum(mine[c] and not base[c] for c in common)
    a_only = sum(base[c] and not mine[c] for c in common)
    assert row["test"] == "McNemar exact, paired cases", row["note"]
    assert row["effect"] == b_only - a_only
    assert f"{len(common)} paired cases: {b_only} only this run passed" in row["note"]
    assert row["value"] == pytest.approx(sum(mine[c] for c in common) / len(common))
    assert exp.compare("ttft_ms").set_index("run_id").loc[suite.study_id, "note"] == (
        "the baseline is a eval run; ttft_ms needs a bench baseline")  # fmt: skip


def test_a_search_is_never_the_baseline_and_can_be_removed(world) -> None:  # type: ignore[no-untyped-def]
    store, tuned = world["store"], world["tuned"]
    exp = lj.experiment("speed", create=False, store=store)
    with pytest.raises(InputError, match="a tuning search cannot be the baseline"):
        exp.set_baseline(tuned.study_id)
    other = lj.experiment("other", store=store)
    with pytest.raises(InputError, match="a tuning search cannot be the baseline"):
        other.add(tuned, baseline=True)
    other.add(tuned)
    assert list(other.runs()["kind"]) == ["tune"]
    other.remove(tuned.study_id)
    assert other.runs().empty
