"""Model profiles in the store, on SQLite and PostgreSQL: saving by name, replacing,
listing and deleting, the redaction of what is stored, and the errors bad input gets."""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

import numpy as np
import pytest

from llmbench_jupyter.core.errors import REDACTED, InputError, LLMBenchError
from llmbench_jupyter.store import Store
from llmbench_jupyter.store.models import PROFILE_COLUMNS


def _save(store: Store, owner: str, name: str = "fast", **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "target": "sim/sim-fast",
        "params": {"temperature": 0.2, "top_p": 0.9},
        "owner": owner,
    }
    args.update(kw)
    return store.save_profile(name, **args)


# ------------------------------------------------------------ round trip
def test_profile_round_trip(store: Store, owner: str) -> None:
    saved = _save(
        store,
        owner,
        "weather-best",
        target="openrouter/meta-llama/llama-3.1-8b",  # the model part may hold a '/'
        params={
            "temperature": np.float64(0.2),  # numpy numbers are stored as plain ones
            "max_tokens": np.int64(512),
            "stop": ("\n\n", "END"),
            "response_format": {"type": "json_object"},
            "seed": None,
            "stream": True,
        },
        system_prompt="You are a careful assistant.\nCall tools only when needed.",
        source={"study_id": "abc123", "trial": 7, "verdict": "significant improvement"},
        notes="found overnight\x00",
    )
    assert list(saved) == list(PROFILE_COLUMNS)
    assert (saved["owner"], saved["name"]) == (owner, "weather-best")
    assert saved["target"] == "openrouter/meta-llama/llama-3.1-8b"
    assert saved["params"] == {
        "temperature": 0.2,
        "max_tokens": 512,
        "stop": ["\n\n", "END"],  # JSON has lists, not tuples
        "response_format": {"type": "json_object"},
        "seed": None,
        "stream": True,
    }
    assert type(saved["params"]["max_tokens"]) is int
    assert saved["system_prompt"] == "You are a careful assistant.\nCall tools only when needed."
    verdict = "significant improvement"
    assert saved["source"] == {"study_id": "abc123", "trial": 7, "verdict": verdict}
    assert saved["notes"] == "found overnight\ufffd"  # NUL cannot be stored in PostgreSQL text
    assert saved["created_at"].tzinfo is UTC and saved["updated_at"] == saved["created_at"]
    assert store.profile("weather-best", owner=owner) == saved
    assert store.list_profiles(owner=owner) == [saved]


def test_optional_fields_default_to_empty(store: Store, owner: str) -> None:
    saved = _save(store, owner, params={})
    assert saved["params"] == {} and saved["source"] == {}
    assert saved["system_prompt"] is None and saved["notes"] is None
    assert store.profile("fast", owner=owner) == saved


def test_secrets_are_redacted_like_a_runs_spec(store: Store, owner: str) -> None:
    saved = _save(
        store,
        owner,
        params={
            "temperature": 0.1,
            "extra_headers": {"Authorization": "Bearer sk-hunter2secret"},
        },
        source={
            "study_id": "s1",
            "spec": {"providers": {"p": {"api_base": "https://u:pw-hunter3@llm.example/v1"}}},
            "headers": {"X-Api-Key": "hunter4secret"},
        },
    )
    stored = store.profile("fast", owner=owner)
    assert stored == saved
    for secret in ("hunter2secret", "hunter3", "hunter4secret"):
        assert secret not in repr(stored)
    assert saved["params"] == {"temperature": 0.1, "extra_headers": {"Authorization": REDACTED}}
    assert REDACTED in saved["source"]["spec"]["providers"]["p"]["api_base"]
    assert saved["source"]["headers"] == {"X-Api-Key": REDACTED}
    assert saved["source"]["study_id"] == "s1"


def test_nan_in_source_is_stored_as_null(store: Store, owner: str) -> None:
    # source is descriptive (like a trial's metrics); params are sent, so NaN is refused
    saved = _save(store, owner, source={"delta": math.nan, "p_value": math.inf, "trial": 3})
    assert saved["source"] == {"delta": None, "p_value": None, "trial": 3}


# ----------------------------------------------------------------- replace
def test_a_name_is_taken_once_unless_replaced(store: Store, owner: str) -> None:
    first = _save(
        store,
        owner,
        system_prompt="Be brief.",
        source={"study_id": "s1", "trial": 2},
        notes="first try",
    )
    with pytest.raises(
        LLMBenchError, match=r"a profile named 'fast' already exists .*pass replace=True"
    ):
        _save(store, owner, params={"temperature": 0.9})
    assert store.profile("fast", owner=owner) == first  # untouched
    second = _save(store, owner, target="sim/sim-slow", params={"top_k": 40}, replace=True)
    # every field is what the replacing call gave: nothing is merged from the old profile
    assert second["target"] == "sim/sim-slow" and second["params"] == {"top_k": 40}
    assert second["system_prompt"] is None and second["source"] == {}
    assert second["notes"] is None
    assert second["created_at"] == first["created_at"]  # created once
    assert second["updated_at"] > first["updated_at"]  # changed now
    assert store.profile("fast", owner=owner) == second
    assert len(store.list_profiles(owner=owner)) == 1
    third = _save(store, owner, params={"top_k": 20}, replace=True)
    assert third["created_at"] == first["created_at"]
    assert third["updated_at"] > second["updated_at"]


def test_replace_saves_a_new_name_too(store: Store, owner: str) -> None:
    saved = _save(store, owner, "brand-new", replace=True)
    assert saved["created_at"] == saved["updated_at"]
    assert store.profile("brand-new", owner=owner) == saved


def test_names_are_per_owner(store: Store, owner: str) -> None:
    someone = f"{owner}-else"
    mine = _save(store, owner, params={"temperature": 0.1})
    theirs = _save(store, someone, params={"temperature": 0.7})  # same name: no conflict
    assert store.profile("fast", owner=owner) == mine
    assert store.profile("fast", owner=someone) == theirs
    store.delete_profile("fast", owner=someone)
    assert store.profile("fast", owner=owner) == mine  # deleting theirs left mine


# ------------------------------------------------------------ list, delete
def test_list_is_ordered_by_name_and_per_owner(store: Store, owner: str) -> None:
    someone = f"{owner}-else"
    for name in ("gamma", "Zeta", "alpha", "beta"):
        _save(store, owner, name)
    _save(store, someone, "alpha")
    _save(store, someone, "delta")
    # code point order on both backends (not the database's collation)
    assert [p["name"] for p in store.list_profiles(owner=owner)] == [
        "Zeta",
        "alpha",
        "beta",
        "gamma",
    ]
    assert [p["name"] for p in store.list_profiles(owner=someone)] == ["alpha", "delta"]
    assert store.list_profiles(owner=f"{owner}-nobody") == []
    everyone = [
        (p["name"], p["owner"])
        for p in store.list_profiles(all_owners=True)
        if p["owner"] in (owner, someone)
    ]
    assert everyone == [
        ("Zeta", owner),
        ("alpha", owner),
        ("alpha", someone),
        ("beta", owner),
        ("delta", someone),
        ("gamma", owner),
    ]
    assert set(store.list_profiles(owner=owner)[0]) == set(PROFILE_COLUMNS)


def test_delete(store: Store, owner: str) -> None:
    _save(store, owner, "fast")
    keep = _save(store, owner, "careful")
    store.delete_profile("fast", owner=owner)
    assert store.profile("fast", owner=owner) is None
    assert store.list_profiles(owner=owner) == [keep]
    with pytest.raises(LLMBenchError, match="delete_profile: no profile 'fast' of "):
        store.delete_profile("fast", owner=owner)
    again = _save(store, owner, "fast")  # the name is free again
    assert again["name"] == "fast"


def test_owner_defaults_to_the_current_user(
    store: Store, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBENCH_USER", owner)
    saved = store.save_profile("mine", target="p/m", params={"temperature": 0.0})
    assert saved["owner"] == owner
    assert store.profile("mine") == saved
    assert store.list_profiles() == [saved]
    store.delete_profile("mine")
    assert store.profile("mine") is None


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "name must be a non-empty string of at most 200"),
        ({"name": "   "}, "name must be a non-empty string of at most 200"),
        ({"name": "x" * 201}, "name must be a non-empty string of at most 200"),
        ({"name": None}, "name must be a non-empty string"),
        ({"name": "two\nlines"}, "name contains the control character U\\+000A"),
        ({"name": "nul\x00"}, "name contains the control character U\\+0000"),
        ({"name": "bell\x07"}, "name contains the control character U\\+0007"),
        ({"name": "c1\x85"}, "name contains the control character U\\+0085"),
        ({"target": ""}, "target must be a 'provider/model' key"),
        ({"target": "sim-fast"}, "target must be a 'provider/model' key"),
        ({"target": "/sim-fast"}, "target must be a 'provider/model' key"),
        ({"target": "sim/"}, "target must be a 'provider/model' key"),
        ({"target": None}, r"target must be a 'provider/model' key .*, got None"),
        ({"params": None}, "params must be a dict, got NoneType"),
        ({"params": [("temperature", 0.2)]}, "params must be a dict, got list"),
        ({"params": {1: 0.2}}, "params has key 1; keys must be strings"),
        ({"params": {"t": math.nan}}, r"params\['t'\] is nan; JSON has no NaN or infinity"),
        ({"params": {"t": -math.inf}}, r"params\['t'\] is -inf; JSON has no NaN or infinity"),
        ({"params": {"stop": [1, math.inf]}}, r"params\['stop'\]\[1\] is inf"),
        ({"params": {"t": object()}}, r"params\['t'\] is a object; expected JSON data"),
        ({"params": {"o": {2: "x"}}}, r"params\['o'\] has key 2; keys must be strings"),
        ({"system_prompt": "a\x00b"}, "system_prompt contains a NUL character"),
        ({"system_prompt": 3}, "system_prompt must be a string or None, got int"),
        ({"source": "tuned"}, "source must be a dict, got str"),
        ({"source": {1: "x"}}, "source has key 1; keys must be strings"),
        ({"source": {"when": object()}}, r"source\['when'\] is a object"),
        ({"notes": ["a"]}, "notes must be a string or None, got list"),
        ({"replace": "yes"}, "replace must be True or False, got 'yes'"),
    ],
)
def test_save_profile_names_the_bad_argument(
    store: Store, owner: str, change: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"name": "fast", **change}
    with pytest.raises(InputError, match=message):
        _save(store, owner, **args)
    assert store.list_profiles(owner=owner) == []  # nothing was written


def test_a_bad_replacement_leaves_the_profile_as_it_was(store: Store, owner: str) -> None:
    saved = _save(store, owner)
    with pytest.raises(InputError, match=r"params\['t'\] is nan"):
        _save(store, owner, params={"t": math.nan}, replace=True)
    assert store.profile("fast", owner=owner) == saved


@pytest.mark.parametrize("name", ["", "x" * 201, None, "a\tb"])
def test_reading_and_deleting_check_the_name(store: Store, name: Any) -> None:
    with pytest.raises(InputError, match=r"^profile: name"):
        store.profile(name)
    with pytest.raises(InputError, match=r"^delete_profile: name"):
        store.delete_profile(name)


def test_a_missing_profile(store: Store, owner: str) -> None:
    assert store.profile("nope", owner=owner) is None
    with pytest.raises(LLMBenchError, match=f"delete_profile: no profile 'nope' of '{owner}'"):
        store.delete_profile("nope", owner=owner)
