"""Experiments and schedules on a hub are kept apart by PostgreSQL itself, like runs.

alice groups her private and her published run in an experiment; bob (a user) tries to
read it, add to it, or link her runs into his own, through the store and in plain SQL
from a kernel. The database must refuse or show him nothing; carol (an admin) reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from isolation_pg import Seeded, _denied, _ids, seeded_hub

from llmbench_jupyter.core.errors import LLMBenchError

pytestmark = pytest.mark.postgres

_ADD = ("INSERT INTO experiment_runs (owner, experiment, run_id, baseline, added_at) "
        "VALUES (%s, %s, %s, false, now())")  # fmt: skip


_ADD_STUDY = ("INSERT INTO experiment_studies (owner, experiment, study_id, added_at) "
              "VALUES (%s, %s, %s, now())")  # fmt: skip


def _study(store: Any, name: str) -> str:
    made = store.create_study(name=name, kind="params", target="local-sim/sim-fast",
                              directions=["minimize"], objectives=["ttft_ms"], spec={})  # fmt: skip
    return str(made)


@pytest.fixture(scope="module")
def world() -> Iterator[Seeded]:
    for seeded in seeded_hub():
        alice, bob = seeded.stores["alice"], seeded.stores["bob"]
        alice.create_experiment("alice-exp")
        alice.add_experiment_runs("alice-exp", [seeded.runs["a_priv"], seeded.runs["a_pub"]],
                                  baseline=seeded.runs["a_priv"])  # fmt: skip
        seeded.runs["a_study"] = _study(alice, "alice-search")
        alice.add_experiment_studies("alice-exp", [seeded.runs["a_study"]])
        bob.create_experiment("bob-exp")
        bob.add_experiment_runs("bob-exp", [seeded.runs["b_priv"]])
        seeded.runs["b_study"] = _study(bob, "bob-search")
        yield seeded


def test_experiments_are_owned_by_the_login_role_and_hold_their_runs(world: Seeded) -> None:
    alice = world.stores["alice"]
    found = alice.experiment("alice-exp")
    assert found is not None and found["owner"] == world.hub.role("alice")
    assert {r["run_id"] for r in found["runs"]} == {world.runs["a_priv"], world.runs["a_pub"]}


def test_bob_cannot_see_or_use_alices_experiment_through_the_store(world: Seeded) -> None:
    bob, alice_role = world.stores["bob"], world.hub.role("alice")
    assert bob.experiment("alice-exp", owner=alice_role) is None
    assert [e["name"] for e in bob.list_experiments(all_owners=True)] == ["bob-exp"]
    # her published run he may read, but not put in his experiment
    with pytest.raises(LLMBenchError, match="an experiment holds its owner's"):
        bob.add_experiment_runs("bob-exp", [world.runs["a_pub"]])


def test_bob_cannot_reach_alices_experiment_in_sql(world: Seeded) -> None:
    me, alice = world.hub.role("bob"), world.hub.role("alice")
    with world.hub.connect("bob") as bob:
        assert _ids(bob, "SELECT name FROM experiments") == {"bob-exp"}
        # membership of her published run stays hers: no published read on this table
        assert _ids(bob, "SELECT run_id FROM experiment_runs") == {world.runs["b_priv"]}
        for statement in ("UPDATE experiment_runs SET baseline = true WHERE owner = %s",
                          "DELETE FROM experiment_runs WHERE owner = %s",
                          "DELETE FROM experiments WHERE owner = %s"):  # fmt: skip
            assert bob.execute(statement, (alice,)).rowcount == 0, statement
        _denied(bob, _ADD, alice, "alice-exp", world.runs["b_priv"])  # into her experiment
        _denied(bob, _ADD, me, "bob-exp", world.runs["a_pub"])  # her run into his
        _denied(bob, _ADD, me, "bob-exp", world.runs["a_priv"])
        bob.execute(_ADD, (me, "bob-exp", world.runs["b_pub"]))  # his own: fine
    with world.hub.connect("carol") as carol:  # an admin reads everyone's
        assert _ids(carol, "SELECT name FROM experiments") == {"alice-exp", "bob-exp"}


def test_tuning_searches_in_experiments_stay_their_owners(world: Seeded) -> None:
    alice, bob = world.stores["alice"], world.stores["bob"]
    me, her = world.hub.role("bob"), world.hub.role("alice")
    found = alice.experiment("alice-exp")
    assert found is not None and [s["study_id"] for s in found["studies"]] == [
        world.runs["a_study"]]  # fmt: skip
    with pytest.raises(LLMBenchError, match="no tuning search"):  # he cannot even see it
        bob.add_experiment_studies("bob-exp", [world.runs["a_study"]])
    with world.hub.connect("bob") as conn:
        assert _ids(conn, "SELECT study_id FROM experiment_studies") == set()
        assert conn.execute("DELETE FROM experiment_studies WHERE owner = %s",
                            (her,)).rowcount == 0  # fmt: skip
        _denied(conn, _ADD_STUDY, me, "bob-exp", world.runs["a_study"])  # her search, his exp
        _denied(conn, _ADD_STUDY, her, "alice-exp", world.runs["b_study"])  # into hers
        conn.execute(_ADD_STUDY, (me, "bob-exp", world.runs["b_study"]))  # his own: fine
    with world.hub.connect("carol") as carol:
        assert _ids(carol, "SELECT study_id FROM experiment_studies") == {
            world.runs["a_study"], world.runs["b_study"]}  # fmt: skip


def test_schedules_are_their_owners_alone(world: Seeded) -> None:
    from datetime import UTC, datetime, timedelta

    alice, bob = world.stores["alice"], world.stores["bob"]
    now = datetime.now(UTC)
    fields = {"kind": "bench", "options": {"model": "sim-fast"}, "cron": "0 6 * * *",
              "timezone": "UTC", "missed": "skip", "enabled": True,
              "next_due_at": now - timedelta(minutes=1), "created_at": now}  # fmt: skip
    alice.save_schedule("nightly", fields=fields)
    assert alice.schedule("nightly")["owner"] == world.hub.role("alice")
    assert bob.schedule("nightly", owner=world.hub.role("alice")) is None
    assert bob.list_schedules(all_owners=True) == []
    # bob cannot fire it: the claim finds no row of his
    assert not bob.claim_schedule("nightly", now, owner=world.hub.role("alice"))
    with world.hub.connect("bob") as conn:
        assert _ids(conn, "SELECT name FROM schedules") == set()
        assert conn.execute("UPDATE schedules SET enabled = false").rowcount == 0
        assert conn.execute("DELETE FROM schedules").rowcount == 0
    assert alice.claim_schedule("nightly", now)  # still hers, still due
