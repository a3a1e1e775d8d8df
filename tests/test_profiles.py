"""Model profiles: saved from a search's best trial or by hand, applied by name in bench,
evaluate, tune and tune_prompts. ``tuning-example`` on the simulated endpoint answers
right only with the parameters (or the prompt) the profile carries, so applying it shows.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.evals.suites import example_files
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

_, RULES = example_files("tuning-example")
GRID = {"temperature": [0.05, 1.5], "top_p": [0.95]}
#: Profile names are per owner; the PostgreSQL database is shared by the test session.
TAG = uuid.uuid4().hex[:8]


@pytest.fixture
def manager(db_url: str):  # type: ignore[no-untyped-def]
    mgr = JobManager(open_store(db_url), owner=f"profiles-{id(db_url)}")
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


@pytest.fixture(scope="module")
def sim():  # type: ignore[no-untyped-def]
    srv = SimServer(rules=RULES).start_in_thread()
    yield srv
    srv.stop_thread()


def passed(job: Any) -> int:
    return int(job.wait(120).scores()["local-sim/sim-fast"].n_passed)


def test_a_searched_profile_applies_in_evaluate_tune_and_bench(manager, sim) -> None:  # type: ignore[no-untyped-def]
    store = manager.store
    url = sim.base_url
    found = lj.tune("tuning-example", "sim-fast", space=GRID, sampler="grid", prune=False,
                    sim_url=url, display=False).wait(120)  # fmt: skip
    saved = lj.save_profile(f"fast-best-{TAG}", found, store=store)
    assert saved["target"] == "local-sim/sim-fast"
    assert saved["params"] == {"temperature": 0.05, "top_p": 0.95}
    assert saved["source"]["trial"] == found.best["number"]
    assert saved["source"]["verdict"] == found.verdict
    # evaluate: every case right with the profile, none without
    plain = lj.evaluate("tuning-example", "sim-fast", sim_url=url, display=False)
    profiled = lj.evaluate("tuning-example", profile=f"fast-best-{TAG}", sim_url=url, display=False)
    assert (passed(plain), passed(profiled)) == (0, 20)
    stored = store.get_run(profiled.run_id, owner=manager.owner)
    assert stored["spec"]["profiles"]["local-sim/sim-fast"]["profile"] == f"fast-best-{TAG}"
    # tune: the profile is the baseline, and nothing beats it
    again = lj.tune("tuning-example", "sim-fast", profile=f"fast-best-{TAG}", space=GRID,
                    sampler="grid", prune=False, sim_url=url, display=False).wait(120)  # fmt: skip
    assert again.trials[0]["values"] == [1.0]
    assert again.verdict.startswith("no significant improvement")
    # bench: the profile's parameters are what the requests carried
    run = lj.bench("local-sim", "sim-fast", profile=f"fast-best-{TAG}", runs=1, warmup=0,
                   sim_url=url, display=False).wait(60)  # fmt: skip
    stored_spec = store.get_run(run.run_id, owner=manager.owner)["spec"]
    sent = stored_spec["plan"]["params"]["local-sim/sim-fast"]
    assert sent["payload"]["top_p"] == 0.95 and sent["payload"]["temperature"] == 0.05


def test_a_prompt_profile_is_the_prompt_searches_baseline(manager, sim) -> None:  # type: ignore[no-untyped-def]
    store = manager.store
    lj.save_profile(f"metric-{TAG}", target="local-sim/sim-fast", params={"temperature": 0},
                    system_prompt="Report the weather in metric units.", store=store)  # fmt: skip
    job = lj.tune_prompts("tuning-example", profile=f"metric-{TAG}", proposer="sim-medium",
                          method="reflect", sim_url=sim.base_url, display=False)  # fmt: skip
    result = job.wait(120)
    base = result.trials[0]
    assert base["prompt"] == "Report the weather in metric units."
    assert 0 < base["values"][0] < 1  # tickets 00-09 only
    versions = result.versions()
    assert versions.loc[1, "parent"] == 0 and versions.loc[1, "origin"] == "reflection"
    assert "+You are a weather assistant" in versions.loc[1, "diff"]
    assert "-Report the weather in metric units." in versions.loc[1, "diff"]


def test_profiles_are_listed_replaced_only_on_request_and_checked(manager) -> None:  # type: ignore[no-untyped-def]
    store = manager.store
    lj.save_profile(f"p1-{TAG}", target="local-sim/sim-fast", params={"top_p": 0.9}, store=store)
    with pytest.raises(LLMBenchError, match="replace=True"):
        lj.save_profile(f"p1-{TAG}", target="local-sim/sim-fast", params={}, store=store)
    lj.save_profile(f"p1-{TAG}", target="local-sim/sim-fast", params={"top_p": 0.8}, replace=True,
                    store=store)  # fmt: skip
    table = lj.profiles(store=store)
    mine = table[table["name"] == f"p1-{TAG}"].reset_index(drop=True)
    assert len(mine) == 1 and mine.loc[0, "params"] == {"top_p": 0.8}
    with pytest.raises(LLMBenchError, match="no model profile named 'nope'"):
        lj.evaluate("tuning-example", profile="nope", display=False)
    with pytest.raises(LLMBenchError, match="is for local-sim/sim-fast, which is not among"):
        lj.evaluate("tuning-example", "sim-medium", profile=f"p1-{TAG}", display=False)
    lj.delete_profile(f"p1-{TAG}", store=store)
    assert f"p1-{TAG}" not in lj.profiles(store=store)["name"].tolist()
