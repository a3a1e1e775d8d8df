"""A tool-use eval (and its judge) against endpoints that misbehave on purpose, over real
HTTP: the job ends ``done`` with every healthy result, a categorised error for every
malformed answer, and no key that an endpoint echoed anywhere in the store."""

from __future__ import annotations

import dataclasses
import json
from importlib.resources import files
from pathlib import Path

import pytest
from hostile_helpers import KEYS, hostile_config, leaked

import llmbench_jupyter as lj
from llmbench_jupyter.evals.suites import load_suite
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

RULES = str(files("llmbench_jupyter.evals") / "data" / "example_sim_rules.yaml")
CASES = ("single-weather-paris", "mt-bedroom-night")
MALFORMED = {
    "sim:hostile=bad_utf8": "malformed",
    "sim:hostile=scalar_choice": "malformed",
    "sim:hostile=deep_json": "malformed",
    "sim:hostile=endless_line": "response_too_large",
    "sim:hostile=endless_body": "response_too_large",
    "sim:hostile=endless_error": "http_500",
}


@pytest.fixture(scope="module")
def rules_sim():  # type: ignore[no-untyped-def]
    srv = SimServer(rules=RULES).start_in_thread()
    yield srv
    srv.stop_thread()


@pytest.fixture
def manager(db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLMBENCH_DB_URL", db_url)
    mgr = JobManager(open_store(db_url), owner=f"hostile-{id(db_url)}")
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


def _suite():  # type: ignore[no-untyped-def]
    suite = load_suite("example")
    cases = [c for c in suite.cases if c.id in CASES]
    assert [c.id for c in cases] == list(CASES)
    return dataclasses.replace(suite, cases=cases)


def test_an_eval_over_healthy_and_malformed_targets_ends_done(
    manager: JobManager, rules_sim: SimServer, tmp_path: Path
) -> None:
    models = ["sim-fast", "sim:hostile=bad_tool_args", "sim:hostile=nan_usage", *MALFORMED]
    config = hostile_config(
        tmp_path, rules_sim.base_url, models, limits={"response_bytes": 1024 * 1024}
    )
    job = lj.evaluate(_suite(), models, provider="hostile", config=str(config), display=False)
    result = job.wait(180)
    assert job.state == "done" and result.status == "done"
    by_model: dict[str, list] = {}
    for r in result.runs:
        by_model.setdefault(r.model, []).append(r)
    assert sorted(by_model) == sorted(models) and all(len(v) == 2 for v in by_model.values())
    healthy = by_model["sim-fast"]
    assert all(r.error is None and r.score.passed for r in healthy)
    for model, category in MALFORMED.items():
        assert {(r.error_category, r.score.outcome) for r in by_model[model]} == {
            (category, "api_error")
        }, model
    # wrong-shaped arguments reach the stateful mock, which answers with an error result
    odd = next(r for r in by_model["sim:hostile=bad_tool_args"] if r.case_id == CASES[1])
    assert odd.error is None and not odd.score.passed
    tool_results = [m["content"] for m in odd.transcript if m.get("role") == "tool"]
    assert any("expected a JSON object" in t for t in tool_results)  # the list
    assert any("failed: AttributeError" in t for t in tool_results)  # nested where text goes
    assert all(r.error is None for r in by_model["sim:hostile=nan_usage"])
    stored = manager.store.eval_results(result.run_id)
    assert len(stored) == len(models) * 2
    assert {r["error_category"] for r in stored} == {None, *MALFORMED.values()}
    run = manager.store.get_run(result.run_id, owner=manager.owner)
    assert run["status"] == "done"


def test_keys_echoed_to_an_eval_and_its_judge_are_masked_everywhere(
    manager: JobManager, rules_sim: SimServer, tmp_path: Path
) -> None:
    secrets = [KEYS["no-prefix"], KEYS["anthropic"], KEYS["huggingface"]]
    config = hostile_config(
        tmp_path,
        rules_sim.base_url,
        ["sim:hostile=echo"],
        api_key=KEYS["no-prefix"],
        extra_headers={"X-Org-Key": KEYS["anthropic"], "X-Proxy-Auth": KEYS["huggingface"]},
    )
    job = lj.evaluate(
        _suite(),
        ["sim:hostile=echo"],
        provider="hostile",
        config=str(config),
        judge="hostile/sim:hostile=echo",
        display=False,
    )
    result = job.wait(120)
    assert job.state == "done" and all(r.error is None for r in result.runs)
    assert any("You sent" in json.dumps(r.transcript) for r in result.runs)  # it did echo
    stored = manager.store.eval_results(result.run_id)
    judgements = manager.store.judgements(result.run_id)
    assert len(judgements) == 2 and all("You sent" in (j["raw_output"] or "") for j in judgements)
    dumped = json.dumps([stored, judgements, job.case_rows(), job.progress], default=str)
    assert "[REDACTED]" in dumped
    assert leaked(dumped, secrets) == []
