"""Tuning studies and trials in the store, on SQLite and PostgreSQL: what a resumable search
needs (round trips, restarting an interrupted trial, listing) and the errors it gets."""

from __future__ import annotations

import math
import uuid
from datetime import UTC
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from llmbench_jupyter.core.errors import REDACTED, InputError, LLMBenchError
from llmbench_jupyter.store import Store
from llmbench_jupyter.store.models import STUDY_COLUMNS, TRIAL_COLUMNS


def _study(store: Store, owner: str, **kw: Any) -> str:
    args: dict[str, Any] = {
        "name": "temp-search",
        "kind": "params",
        "target": "sim/sim-fast",
        "directions": ["maximize", "minimize"],
        "objectives": ["pass_rate", "cost_usd"],
        "spec": {"space": {"temperature": [0.0, 1.0]}, "budget": {"trials": 20}},
        "owner": owner,
    }
    args.update(kw)
    return store.create_study(**args)


def _start(store: Store, study_id: str, number: int, **kw: Any) -> None:
    args: dict[str, Any] = {
        "params": {"temperature": 0.1 * number},
        "distributions": {"temperature": {"name": "FloatDistribution", "low": 0.0, "high": 1.0}},
    }
    args.update(kw)
    store.start_trial(study_id, number, **args)


def _count_trials(db_url: str, study_id: str) -> int:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT count(*) FROM tune_trials WHERE study_id = :s")
            return int(conn.execute(query, {"s": study_id}).scalar_one())
    finally:
        engine.dispose()


# ------------------------------------------------------------ round trip
def test_study_and_trials_round_trip(store: Store, owner: str) -> None:
    spec = {
        "providers": {"p": {"api_base": "https://user:hunter2secret@llm.example/v1"}},
        "space": {"temperature": [0.0, 1.0]},
    }
    sid = _study(store, owner, spec=spec, suite="weather-tools", kind="prompt")
    study = store.study(sid)
    assert study is not None and list(study) == list(STUDY_COLUMNS)
    assert study["study_id"] == sid and study["owner"] == owner
    assert (study["name"], study["kind"], study["target"], study["suite"]) == (
        "temp-search",
        "prompt",
        "sim/sim-fast",
        "weather-tools",
    )
    assert study["directions"] == ["maximize", "minimize"]
    assert study["objectives"] == ["pass_rate", "cost_usd"]
    assert study["status"] == "running" and study["spent"] == {} and study["result"] is None
    assert study["stop_reason"] is None and study["finished_at"] is None
    assert study["created_at"].tzinfo is not None
    # the spec is redacted like a run's: the URL's credentials never reach the database
    assert "hunter2secret" not in repr(study["spec"])
    assert REDACTED in study["spec"]["providers"]["p"]["api_base"]
    assert study["spec"]["space"] == {"temperature": [0.0, 1.0]}

    _start(
        store,
        sid,
        0,
        system_attrs={"fixed_params": {"temperature": 0.0}},
        planned_requests=40,
        prompt="You are a careful assistant.",
        prompt_origin="seed",
    )
    _start(store, sid, 1, prompt="Be brief.", prompt_parent=0, prompt_origin="mutation")
    store.finish_trial(
        sid,
        0,
        state="complete",
        values=[np.float64(0.75), 0.0125],  # numpy numbers are stored as plain floats
        metrics={"p50_ms": 120.5, "undefined": float("nan"), "nested": {"x": np.int64(3)}},
        case_scores={"case-a": 1.0, "case-b": 0.5},
        intermediate={0: 0.5, 3: 0.75},
        n_requests=38,
        cost_usd=0.0125,
        resolved={"temperature": {"sent": True, "as": "temperature"}},
    )
    store.finish_trial(sid, 1, state="fail", error="endpoint said\x00no", n_requests=2)

    first, second = store.trials(sid)
    assert list(first) == list(TRIAL_COLUMNS)
    assert (first["study_id"], first["number"], first["owner"]) == (sid, 0, owner)
    assert first["state"] == "complete"
    assert first["params"] == {"temperature": 0.0}
    assert first["distributions"]["temperature"]["high"] == 1.0
    assert first["system_attrs"] == {"fixed_params": {"temperature": 0.0}}
    assert first["values"] == [0.75, 0.0125]
    # NaN in metrics is stored as null; numpy integers as plain integers
    assert first["metrics"] == {"p50_ms": 120.5, "undefined": None, "nested": {"x": 3}}
    assert first["case_scores"] == {"case-a": 1.0, "case-b": 0.5}
    assert first["intermediate"] == {0: 0.5, 3: 0.75}  # steps come back as ints
    assert (first["planned_requests"], first["n_requests"], first["cost_usd"]) == (40, 38, 0.0125)
    assert first["prompt"] == "You are a careful assistant."
    assert (first["prompt_parent"], first["prompt_origin"]) == (None, "seed")
    assert first["resolved"] == {"temperature": {"sent": True, "as": "temperature"}}
    assert first["error"] is None
    assert first["started_at"].tzinfo is UTC and first["finished_at"] >= first["started_at"]

    assert second["state"] == "fail" and second["values"] is None
    assert second["error"] == "endpoint said\ufffdno"  # NUL cannot be stored in PostgreSQL text
    assert (second["prompt_parent"], second["prompt_origin"]) == (0, "mutation")
    assert second["metrics"] == {} and second["intermediate"] == {} and second["resolved"] == {}
    assert [s["n_trials"] for s in store.list_studies(owner=owner)] == [2]


def test_a_pruned_trial_keeps_its_intermediate_values(store: Store, owner: str) -> None:
    sid = _study(store, owner, directions=["maximize"], objectives=["score"])
    _start(store, sid, 0)
    store.finish_trial(sid, 0, state="pruned", intermediate={1: 0.2, 2: 0.1})
    (trial,) = store.trials(sid)
    assert trial["state"] == "pruned" and trial["values"] is None
    assert trial["intermediate"] == {1: 0.2, 2: 0.1}


# ------------------------------------------------------------------ resume
def test_a_running_trial_can_be_restarted_a_finished_one_cannot(
    store: Store, owner: str, db_url: str
) -> None:
    sid = _study(store, owner)
    _start(store, sid, 0, params={"temperature": 0.3}, planned_requests=10)
    # the search was interrupted: the resumed search runs trial 0 again, afresh
    _start(store, sid, 0, params={"temperature": 0.9}, planned_requests=12)
    (trial,) = store.trials(sid)
    assert trial["state"] == "running" and trial["params"] == {"temperature": 0.9}
    assert trial["planned_requests"] == 12 and trial["finished_at"] is None
    assert _count_trials(db_url, sid) == 1
    store.finish_trial(sid, 0, state="complete", values=[0.5, 0.01])
    with pytest.raises(LLMBenchError, match=r"trial 0 of study .* is already 'complete'"):
        _start(store, sid, 0)
    with pytest.raises(LLMBenchError, match=r"already 'complete'; only a running trial"):
        store.finish_trial(sid, 0, state="fail")
    (trial,) = store.trials(sid)
    assert trial["state"] == "complete" and trial["values"] == [0.5, 0.01]
    with pytest.raises(LLMBenchError, match="has no trial 7"):
        store.finish_trial(sid, 7, state="fail")


# ------------------------------------------------------------------ update
def test_update_study(store: Store, owner: str) -> None:
    sid = _study(store, owner)
    store.update_study(sid, spent={"trials": 3, "requests": 120, "dollars": 0.42})
    study = store.study(sid)
    assert study is not None
    assert study["spent"] == {"trials": 3, "requests": 120, "dollars": 0.42}
    assert study["status"] == "running" and study["finished_at"] is None
    store.update_study(
        sid,
        status="stopped",
        stop_reason="budget: dollars",
        result={"best_trials": [2], "pareto": [[0.8, 0.01]]},
        finished=True,
    )
    study = store.study(sid)
    assert study is not None
    assert (study["status"], study["stop_reason"]) == ("stopped", "budget: dollars")
    assert study["result"] == {"best_trials": [2], "pareto": [[0.8, 0.01]]}
    assert study["finished_at"] is not None and study["finished_at"] >= study["created_at"]
    assert study["spent"]["trials"] == 3  # untouched when not given
    # resuming: running again, so no longer finished
    store.update_study(sid, status="running")
    study = store.study(sid)
    assert study is not None and study["status"] == "running" and study["finished_at"] is None
    assert study["stop_reason"] == "budget: dollars"
    store.update_study(sid)  # nothing to change: fine for a study that exists
    with pytest.raises(LLMBenchError, match="update_study: no study 'nope'"):
        store.update_study("nope", status="done")
    with pytest.raises(LLMBenchError, match="update_study: no study 'nope'"):
        store.update_study("nope")
    with pytest.raises(InputError, match="status must be one of running, done, stopped"):
        store.update_study(sid, status="finished")
    with pytest.raises(InputError, match="spent must be a dict"):
        store.update_study(sid, spent=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="result\\['best'\\] is nan; JSON has no NaN"):
        store.update_study(sid, result={"best": math.nan})
    with pytest.raises(InputError, match="'running' cannot be finished"):
        store.update_study(sid, status="running", finished=True)


# --------------------------------------------------------------- list, find
def test_list_and_find_are_newest_first_and_per_owner(store: Store, owner: str) -> None:
    old = _study(store, owner, name="search")
    other = _study(store, owner, name="other")
    new = _study(store, owner, name="search")
    someone = f"{owner}-else"
    theirs = _study(store, someone, name="search")
    _start(store, new, 0)
    _start(store, new, 1)
    listed = store.list_studies(owner=owner)
    assert [s["study_id"] for s in listed] == [new, other, old]
    assert [s["n_trials"] for s in listed] == [2, 0, 0]
    assert set(listed[0]) == {*STUDY_COLUMNS, "n_trials"}
    assert [s["study_id"] for s in store.list_studies(2, owner=owner)] == [new, other]
    found = store.find_study("search", owner=owner)
    assert found is not None and found["study_id"] == new
    found = store.find_study("search", owner=someone)
    assert found is not None and found["study_id"] == theirs
    assert store.find_study("missing", owner=owner) is None
    everyone = [s["study_id"] for s in store.list_studies(500, all_owners=True)]
    assert {old, other, new, theirs} <= set(everyone)
    assert everyone.index(theirs) < everyone.index(new) < everyone.index(old)
    with pytest.raises(InputError, match="limit must be a positive integer"):
        store.list_studies(0)


def test_owner_defaults_to_the_current_user(
    store: Store, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBENCH_USER", owner)
    sid = store.create_study(
        name="mine", kind="params", target="p/m", directions=["maximize"], objectives=["s"], spec={}
    )
    study = store.study(sid)
    assert study is not None and study["owner"] == owner
    assert [s["study_id"] for s in store.list_studies()] == [sid]
    assert store.find_study("mine") == study


# ------------------------------------------------------------------ delete
def test_delete_cascades_to_trials(store: Store, owner: str, db_url: str) -> None:
    sid = _study(store, owner)
    keep = _study(store, owner)
    for n in range(3):
        _start(store, sid, n)
    _start(store, keep, 0)
    assert _count_trials(db_url, sid) == 3
    store.delete_study(sid)
    assert store.study(sid) is None
    assert _count_trials(db_url, sid) == 0
    assert len(store.trials(keep)) == 1  # another study's trials stay
    with pytest.raises(LLMBenchError, match="trials: no study"):
        store.trials(sid)
    with pytest.raises(LLMBenchError, match="delete_study: no study"):
        store.delete_study(sid)
    with pytest.raises(LLMBenchError, match="start_trial: no study"):
        _start(store, sid, 0)


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "name must be a non-empty string of at most 200"),
        ({"name": "x" * 201}, "name must be a non-empty string of at most 200"),
        ({"name": None}, "name must be a non-empty string"),
        ({"kind": "grid"}, "kind must be one of params, prompt, bench, got 'grid'"),
        ({"target": ""}, "target must be a non-empty 'provider/model' key"),
        ({"directions": ["maximize", "up"]}, "directions must each be 'maximize' or 'minimize'"),
        ({"directions": "maximize"}, "directions must be a non-empty list of strings"),
        ({"directions": []}, "directions must be a non-empty list of strings"),
        ({"objectives": ["pass_rate"]}, "same length .* got 2 directions and 1 objectives"),
        ({"objectives": ["a", "a"]}, "objectives must be distinct non-empty names"),
        ({"spec": [("a", 1)]}, "spec must be a dict, got list"),
        ({"spec": {"when": object()}}, r"spec\['when'\] is a object; expected JSON data"),
        ({"spec": {1: "x"}}, "spec has key 1; keys must be strings"),
        ({"suite": 3}, "suite must be a string or None"),
        ({"study_id": "x" * 65}, "study_id must be a non-empty string of at most 64"),
    ],
)
def test_create_study_names_the_bad_argument(
    store: Store, owner: str, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        _study(store, owner, **change)
    assert store.list_studies(owner=owner) == []


def test_a_study_id_is_taken_once(store: Store, owner: str) -> None:
    sid = _study(store, owner, study_id=f"fixed-{uuid.uuid4().hex[:8]}")
    with pytest.raises(LLMBenchError, match="cannot create study"):
        _study(store, owner, study_id=sid)
    assert len(store.list_studies(owner=owner)) == 1


@pytest.mark.parametrize(
    ("number", "change", "message"),
    [
        (-1, {}, "number must be a non-negative integer"),
        (True, {}, "number must be a non-negative integer"),
        (0, {"params": [0.1]}, "params must be a dict, got list"),
        (0, {"distributions": None}, "distributions must be a dict, got NoneType"),
        (0, {"params": {"t": math.inf}}, r"params\['t'\] is inf; JSON has no NaN"),
        (0, {"planned_requests": -5}, "planned_requests must be a non-negative integer"),
        (0, {"prompt": "a\x00b"}, "prompt contains a NUL character"),
        (0, {"prompt": 3}, "prompt must be a string"),
        (0, {"prompt_parent": "0"}, "prompt_parent must be a non-negative integer"),
    ],
)
def test_start_trial_names_the_bad_argument(
    store: Store, owner: str, number: Any, change: dict[str, Any], message: str
) -> None:
    sid = _study(store, owner)
    with pytest.raises(InputError, match=message):
        _start(store, sid, number, **change)
    assert store.trials(sid) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": "done"}, "state must be one of complete, pruned, fail, got 'done'"),
        ({"state": "running"}, "state must be one of complete, pruned, fail"),
        ({"values": None}, "a complete trial needs values"),
        ({"values": [0.5]}, r"has 2 objective\(s\) \(pass_rate, cost_usd\), got 1 value"),
        ({"values": [math.nan, 0.1]}, r"values\[0\] is nan; only finite numbers"),
        ({"values": [0.5, -math.inf]}, r"values\[1\] is -inf; only finite numbers"),
        ({"values": [0.5, "0.1"]}, r"values\[1\] must be a number"),
        ({"values": [True, 0.1]}, r"values\[0\] must be a number"),
        ({"values": "0.5"}, "values must be a list of numbers"),
        ({"case_scores": {"c1": math.nan}}, r"case_scores\['c1'\] is nan"),
        ({"case_scores": {1: 0.5}}, "case_scores has key 1; keys must be strings"),
        ({"intermediate": {"1": 0.5}}, "intermediate steps must be non-negative integers"),
        ({"intermediate": {2: math.inf}}, r"intermediate\[2\] is inf"),
        ({"metrics": {"m": object()}}, r"metrics\['m'\] is a object"),
        ({"cost_usd": -0.5}, "cost_usd must not be negative"),
        ({"cost_usd": math.nan}, "cost_usd is nan"),
        ({"n_requests": 1.5}, "n_requests must be a non-negative integer"),
        ({"error": 42}, "error must be a string"),
    ],
)
def test_finish_trial_names_the_bad_argument(
    store: Store, owner: str, change: dict[str, Any], message: str
) -> None:
    sid = _study(store, owner)
    _start(store, sid, 0)
    args: dict[str, Any] = {"state": "complete", "values": [0.5, 0.1], **change}
    with pytest.raises(InputError, match=message):
        store.finish_trial(sid, 0, **args)
    (trial,) = store.trials(sid)
    assert trial["state"] == "running" and trial["values"] is None  # nothing was written


def test_trials_of_a_missing_study_are_refused(store: Store) -> None:
    assert store.study("no-such-study") is None
    with pytest.raises(LLMBenchError, match="start_trial: no study 'no-such-study'"):
        _start(store, "no-such-study", 0)
    with pytest.raises(LLMBenchError, match="finish_trial: no study 'no-such-study'"):
        store.finish_trial("no-such-study", 0, state="fail")
    with pytest.raises(LLMBenchError, match="trials: no study 'no-such-study'"):
        store.trials("no-such-study")
    with pytest.raises(InputError, match="find_study: name must be a non-empty string"):
        store.find_study("")
