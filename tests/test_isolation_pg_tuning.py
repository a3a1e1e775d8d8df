"""Tuning studies and model profiles on a hub are kept apart by PostgreSQL itself, like runs.

alice owns a study with trials and a model profile; bob (a user) and carol (an admin) try
to read, change, finish, replace, delete or add to them, through the store and in plain
SQL from a kernel. The database must refuse, or show them nothing (carol: read only).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from isolation_pg import Seeded, _denied, _ids, seeded_hub

from llmbench_jupyter.core.errors import LLMBenchError

pytestmark = pytest.mark.postgres

_TRIAL_COLS = (
    "study_id, number, owner, state, params, distributions, system_attrs, metrics, "
    "case_scores, intermediate, planned_requests, n_requests, cost_usd, resolved, started_at"
)
_TRIAL_VALUES = "%s, %s, %s, 'complete', '{}', '{}', '{}', '{}', '{}', '{}', 0, 0, 0, '{}', now()"


def _new_study(store: Any, name: str) -> str:
    return str(
        store.create_study(
            name=name,
            kind="params",
            target="sim/m1",
            directions=["maximize"],
            objectives=["score"],
            spec={"space": {"temperature": [0, 1]}},
        )
    )


def _trial(store: Any, study_id: str, number: int) -> None:
    store.start_trial(study_id, number, params={"temperature": 0.5}, distributions={})


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Seeded, str, str]]:
    """The seeded hub with a study of alice's (two trials, one finished) and one of bob's."""
    for seeded in seeded_hub():
        alice, bob = seeded.stores["alice"], seeded.stores["bob"]
        a_study = _new_study(alice, "alice-search")
        _trial(alice, a_study, 0)
        alice.finish_trial(a_study, 0, state="complete", values=[0.9])
        _trial(alice, a_study, 1)
        b_study = _new_study(bob, "bob-search")
        _trial(bob, b_study, 0)
        yield seeded, a_study, b_study


def _alice_study_intact(seeded: Seeded, a_study: str) -> None:
    with seeded.hub.connect() as su:
        study = su.execute(
            "SELECT owner, name, status, finished_at FROM tune_studies WHERE study_id = %s",
            (a_study,),
        ).fetchone()
        trials = su.execute(
            "SELECT number, owner, state, values::text FROM tune_trials WHERE study_id = %s "
            "ORDER BY number",
            (a_study,),
        ).fetchall()
    me = seeded.hub.role("alice")
    assert study == (me, "alice-search", "running", None)
    assert trials == [(0, me, "complete", "[0.9]"), (1, me, "running", "null")]


def test_studies_are_owned_by_the_login_role(world: tuple[Seeded, str, str]) -> None:
    seeded, a_study, _ = world
    alice = seeded.stores["alice"]
    study = alice.study(a_study)
    assert study is not None and study["owner"] == seeded.hub.role("alice")
    assert {t["owner"] for t in alice.trials(a_study)} == {seeded.hub.role("alice")}
    # owner= cannot put a study in someone else's name: the login role wins
    forged = alice.create_study(
        name="forged",
        kind="params",
        target="p/m",
        directions=["maximize"],
        objectives=["s"],
        spec={},
        owner=seeded.hub.role("bob"),
    )
    try:
        assert alice.study(forged)["owner"] == seeded.hub.role("alice")  # type: ignore[index]
    finally:
        alice.delete_study(forged)
    assert [s["study_id"] for s in alice.list_studies(all_owners=True)] == [a_study]
    assert [s["n_trials"] for s in alice.list_studies()] == [2]


def test_bob_cannot_see_or_touch_alices_study_through_the_store(
    world: tuple[Seeded, str, str],
) -> None:
    seeded, a_study, b_study = world
    bob = seeded.stores["bob"]
    assert bob.study(a_study) is None
    assert bob.find_study("alice-search", owner=seeded.hub.role("alice")) is None
    assert [s["study_id"] for s in bob.list_studies(all_owners=True)] == [b_study]
    assert [s["study_id"] for s in bob.list_studies(owner=seeded.hub.role("alice"))] == []
    with pytest.raises(LLMBenchError, match="trials: no study"):
        bob.trials(a_study)
    with pytest.raises(LLMBenchError, match="update_study: no study"):
        bob.update_study(a_study, status="cancelled", finished=True)
    with pytest.raises(LLMBenchError, match="start_trial: no study"):
        _trial(bob, a_study, 2)
    with pytest.raises(LLMBenchError, match="start_trial: no study"):
        _trial(bob, a_study, 1)  # nor replace her running trial
    with pytest.raises(LLMBenchError, match="finish_trial: no study"):
        bob.finish_trial(a_study, 1, state="fail", error="sabotage")
    with pytest.raises(LLMBenchError, match="delete_study: no study"):
        bob.delete_study(a_study)
    _alice_study_intact(seeded, a_study)


def test_bob_cannot_reach_alices_study_in_sql(world: tuple[Seeded, str, str]) -> None:
    seeded, a_study, b_study = world
    me, alice = seeded.hub.role("bob"), seeded.hub.role("alice")
    with seeded.hub.connect("bob") as bob:
        assert _ids(bob, "SELECT study_id FROM tune_studies") == {b_study}
        assert _ids(bob, "SELECT DISTINCT study_id FROM tune_trials") == {b_study}
        sets = (
            "UPDATE tune_studies SET status = 'cancelled' WHERE study_id = %s",
            "UPDATE tune_trials SET state = 'fail' WHERE study_id = %s",
            "DELETE FROM tune_trials WHERE study_id = %s",
            "DELETE FROM tune_studies WHERE study_id = %s",
        )
        for statement in sets:
            assert bob.execute(statement, (a_study,)).rowcount == 0, statement
        insert = f"INSERT INTO tune_trials ({_TRIAL_COLS}) VALUES ({_TRIAL_VALUES})"
        # a trial in his own name hung off her study: foreign keys bypass row-level
        # security, so the policy itself must refuse it
        _denied(bob, insert, a_study, 7, me)
        _denied(bob, insert, a_study, 7, alice)  # nor in her name
        _denied(bob, insert, b_study, 7, alice)  # nor in her name on his own study
        # nor move one of his trials under her study, or give his study to her
        _denied(
            bob,
            "UPDATE tune_trials SET study_id = %s WHERE study_id = %s AND number = 0",
            a_study,
            b_study,
        )
        _denied(bob, "UPDATE tune_studies SET owner = %s WHERE study_id = %s", alice, b_study)
        _denied(
            bob,
            "INSERT INTO tune_studies (study_id, owner, name, kind, target, directions, "
            "objectives, spec, status, spent, created_at) VALUES (%s, %s, 'x', 'params', "
            "'p/m', '[]', '[]', '{}', 'running', '{}', now())",
            uuid.uuid4().hex,
            alice,
        )
        # his own trials he may add, on his own study
        bob.execute(insert, (b_study, 9, me))
        bob.execute("DELETE FROM tune_trials WHERE study_id = %s AND number = 9", (b_study,))
    _alice_study_intact(seeded, a_study)


def test_admin_reads_every_study_but_changes_none(world: tuple[Seeded, str, str]) -> None:
    seeded, a_study, b_study = world
    carol = seeded.stores["carol"]
    assert {a_study, b_study} <= {s["study_id"] for s in carol.list_studies(all_owners=True)}
    assert [t["number"] for t in carol.trials(a_study)] == [0, 1]
    with pytest.raises(LLMBenchError, match="only its owner can change its trials"):
        _trial(carol, a_study, 1)
    with pytest.raises(LLMBenchError, match="only its owner can change its trials"):
        carol.finish_trial(a_study, 1, state="fail")
    with pytest.raises(LLMBenchError, match="update_study: no study"):
        carol.update_study(a_study, status="cancelled")
    with pytest.raises(LLMBenchError, match="delete_study: no study"):
        carol.delete_study(a_study)
    with seeded.hub.connect("carol") as conn:
        assert (
            conn.execute(
                "UPDATE tune_trials SET state = 'fail' WHERE study_id = %s", (a_study,)
            ).rowcount
            == 0
        )
    _alice_study_intact(seeded, a_study)


def test_tuning_tables_are_locked_down(world: tuple[Seeded, str, str]) -> None:
    seeded = world[0]
    with seeded.hub.connect() as su:
        for table in ("tune_studies", "tune_trials", "model_profiles"):
            row = su.execute(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
                (f"public.{table}",),
            ).fetchone()
            assert row == (True, True), table
            policies = _ids(
                su, "SELECT policyname::text FROM pg_policies WHERE tablename = %s", table
            )
            prefix = seeded.hub.prefix
            assert policies == {f"{prefix}_own", f"{prefix}_hub", f"{prefix}_admin_read"}, table
    with seeded.hub.connect("alice") as alice:
        _denied(alice, "TRUNCATE tune_trials")
        _denied(alice, "TRUNCATE model_profiles")
        _denied(alice, "ALTER TABLE tune_studies DISABLE ROW LEVEL SECURITY")


# ---------------------------------------------------------------- profiles
_ALICE_PARAMS = {"temperature": 0.2, "top_p": 0.9}


@pytest.fixture(scope="module")
def profiled(world: tuple[Seeded, str, str]) -> Seeded:
    """The seeded hub with alice's profile ``tuned`` (from her study) and bob's ``bob-own``."""
    seeded, a_study, _ = world
    seeded.stores["alice"].save_profile(
        "tuned",
        target="sim/m1",
        params=_ALICE_PARAMS,
        system_prompt="Be brief.",
        source={"study_id": a_study, "trial": 0},
    )
    seeded.stores["bob"].save_profile("bob-own", target="sim/m1", params={"temperature": 0.7})
    return seeded


def _alice_profile_intact(seeded: Seeded) -> None:
    me = seeded.hub.role("alice")
    with seeded.hub.connect() as su:
        rows = su.execute(
            "SELECT owner, name, target, params::text, system_prompt, created_at = updated_at "
            "FROM model_profiles WHERE owner = %s",
            (me,),
        ).fetchall()
    assert [(*r[:3], json.loads(r[3]), *r[4:]) for r in rows] == [
        (me, "tuned", "sim/m1", _ALICE_PARAMS, "Be brief.", True)
    ]


def test_profiles_are_owned_by_the_login_role(profiled: Seeded) -> None:
    alice, me = profiled.stores["alice"], profiled.hub.role("alice")
    mine = alice.profile("tuned")
    assert mine is not None and mine["owner"] == me and mine["params"] == _ALICE_PARAMS
    # owner= cannot put a profile in someone else's name: the login role wins
    forged = alice.save_profile("forged", target="p/m", params={}, owner=profiled.hub.role("bob"))
    try:
        assert forged["owner"] == me
        assert alice.profile("forged", owner=profiled.hub.role("bob")) is None
    finally:
        alice.delete_profile("forged")
    assert [p["name"] for p in alice.list_profiles(all_owners=True)] == ["tuned"]
    assert alice.list_profiles() == [mine]
    _alice_profile_intact(profiled)


def test_bob_cannot_read_replace_or_delete_alices_profile(profiled: Seeded) -> None:
    bob, alice = profiled.stores["bob"], profiled.hub.role("alice")
    me = profiled.hub.role("bob")
    assert bob.profile("tuned", owner=alice) is None
    assert bob.profile("tuned") is None
    assert [p["name"] for p in bob.list_profiles(all_owners=True)] == ["bob-own"]
    assert bob.list_profiles(owner=alice) == []
    with pytest.raises(LLMBenchError, match=f"delete_profile: no profile 'tuned' of '{me}'"):
        bob.delete_profile("tuned", owner=alice)
    # replacing "her" profile saves one in his own name, which he may: names are per owner
    evil = {"temperature": 2.0}
    his = bob.save_profile("tuned", target="sim/m1", params=evil, owner=alice, replace=True)
    try:
        assert (his["owner"], his["params"]) == (me, evil)
        assert bob.profile("tuned") == his
        with pytest.raises(LLMBenchError, match="a profile named 'tuned' already exists"):
            bob.save_profile("tuned", target="sim/m1", params=evil)
        _alice_profile_intact(profiled)
    finally:
        bob.delete_profile("tuned", owner=alice)  # deletes his own, whatever owner says
    assert bob.profile("tuned") is None
    _alice_profile_intact(profiled)


def test_bob_creates_his_own_profile_with_her_name(profiled: Seeded) -> None:
    bob, me = profiled.stores["bob"], profiled.hub.role("bob")
    his = bob.save_profile("tuned", target="sim/m2", params={"top_k": 5})
    try:
        assert his["owner"] == me and his["target"] == "sim/m2"
        assert [p["name"] for p in bob.list_profiles()] == ["bob-own", "tuned"]
        alices = profiled.stores["alice"].profile("tuned")
        assert alices is not None and alices["target"] == "sim/m1"
    finally:
        bob.delete_profile("tuned")
    _alice_profile_intact(profiled)


def test_bob_cannot_reach_alices_profile_in_sql(profiled: Seeded) -> None:
    me, alice = profiled.hub.role("bob"), profiled.hub.role("alice")
    with profiled.hub.connect("bob") as bob:
        assert _ids(bob, "SELECT owner FROM model_profiles") == {me}
        for statement in (
            "UPDATE model_profiles SET params = '{\"temperature\": 2}' WHERE owner = %s",
            "UPDATE model_profiles SET system_prompt = 'pwned' WHERE owner = %s",
            "DELETE FROM model_profiles WHERE owner = %s",
        ):
            assert bob.execute(statement, (alice,)).rowcount == 0, statement
        insert = (
            "INSERT INTO model_profiles (owner, name, target, params, source, created_at, "
            "updated_at) VALUES (%s, %s, 'sim/m1', '{}', '{}', now(), now())"
        )
        _denied(bob, insert, alice, "planted")  # nor a profile in her name
        _denied(bob, insert, alice, "tuned")
        _denied(bob, "UPDATE model_profiles SET owner = %s WHERE name = 'bob-own'", alice)
        bob.execute(insert, (me, "sql-own"))  # his own he may add
        bob.execute("DELETE FROM model_profiles WHERE name = 'sql-own'")
    _alice_profile_intact(profiled)


def test_admin_reads_every_profile_but_changes_none(profiled: Seeded) -> None:
    carol, alice = profiled.stores["carol"], profiled.hub.role("alice")
    me = profiled.hub.role("carol")
    everyone = {(p["owner"], p["name"]) for p in carol.list_profiles(all_owners=True)}
    assert {(alice, "tuned"), (profiled.hub.role("bob"), "bob-own")} <= everyone
    theirs = carol.profile("tuned", owner=alice)
    assert theirs is not None and theirs["params"] == _ALICE_PARAMS
    assert carol.list_profiles() == []  # her own: none
    with pytest.raises(LLMBenchError, match=f"delete_profile: no profile 'tuned' of '{me}'"):
        carol.delete_profile("tuned", owner=alice)
    hers = carol.save_profile("tuned", target="p/m", params={}, owner=alice, replace=True)
    try:
        assert hers["owner"] == me  # her own, not alice's
    finally:
        carol.delete_profile("tuned")
    with profiled.hub.connect("carol") as conn:
        for statement in (
            "UPDATE model_profiles SET system_prompt = 'x' WHERE owner = %s",
            "DELETE FROM model_profiles WHERE owner = %s",
        ):
            assert conn.execute(statement, (alice,)).rowcount == 0, statement
    _alice_profile_intact(profiled)
