"""The hub database the isolation tests attack: alice, bob and carol (an admin), seeded.

Shared by test_isolation_pg.py (attacks from a kernel) and test_isolation_pg_provision.py
(provisioning and the store as a hub user); each of them seeds its own database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from hub_pg import HubDB, hub_database

from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.store import Store

DENIED = "42501"  # insufficient_privilege: also what a row-level security violation raises


@dataclass
class Seeded:
    hub: HubDB
    stores: dict[str, Store]
    runs: dict[str, str]  # a_priv, a_pub, b_priv, b_pub -> run_id


def _record(run_id: str, i: int, ttft: float) -> RequestRecord:
    return RequestRecord(
        request_id=uuid.uuid4().hex,
        run_id=run_id,
        provider="sim",
        model="m1",
        run_index=i,
        started_at="2026-01-01T00:00:00+00:00",
        send_mono_ns=i,
        status="ok",
        ttft_ms=ttft,
        e2e_ms=ttft * 10,
        output_tokens=100,
        decode_tps=1000.0 / ttft,
    )


def _eval_result(case: str) -> dict[str, Any]:
    return {
        "provider": "sim",
        "model": "m1",
        "case_id": case,
        "category": "simple",
        "attempt": 0,
        "passed": True,
        "outcome": "pass",
        "score": {},
        "calls": [],
        "transcript": [],
    }


def _seed(store: Store, prefix: str) -> dict[str, str]:
    ids = {}
    for label in ("priv", "pub"):
        run_id = store.create_run(
            name=f"{prefix}-{label}", spec={}, config_snapshot={}, versions={}, host={}
        )
        store.add_records([_record(run_id, i, 50.0 + i) for i in range(3)])
        store.add_eval_results(run_id, [_eval_result(f"{prefix}-{label}-case")])
        store.add_judgements(run_id, [{"kind": "case", "judge": "j", "status": "ok"}])
        store.finish_run(run_id, "done")
        ids[f"{prefix}_{label}"] = run_id
    store.publish(ids[f"{prefix}_pub"])
    store.create_job(job_id=uuid.uuid4().hex, kind="bench", spec={}, pid=1, host="h")
    store.audit("test.seed", prefix, {"n": 2})
    store.put_api_key("openai", f"ciphertext-of-{prefix}")
    return ids


def seeded_hub() -> Iterator[Seeded]:
    """The body of each test module's ``seeded`` fixture (module scope: one database each)."""
    with hub_database({"alice": False, "bob": False, "carol": True}) as hub:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LLMBENCH_DB_MIGRATE", "0")  # what the hub gives user servers
            stores = {name: Store(url) for name, url in hub.urls.items()}
        runs = {**_seed(stores["alice"], "a"), **_seed(stores["bob"], "b")}
        try:
            yield Seeded(hub, stores, runs)
        finally:
            for store in stores.values():
                store.close()


def _ids(conn: psycopg.Connection[Any], query: str, *args: Any) -> set[str]:
    return {row[0] for row in conn.execute(query, args or None).fetchall()}


def _denied(conn: psycopg.Connection[Any], statement: str, *args: Any) -> str:
    """Run ``statement``; it must fail with insufficient_privilege. Returns the message."""
    with pytest.raises(psycopg.Error) as err:
        conn.execute(statement, args or None)
    assert err.value.sqlstate == DENIED, (statement, err.value.sqlstate, str(err.value))
    return str(err.value)


def _bob_rows_intact(seeded: Seeded) -> None:
    with seeded.hub.connect() as su:
        runs = su.execute(
            "SELECT run_id, name, published FROM runs WHERE owner = %s ORDER BY name",
            (seeded.hub.role("bob"),),
        ).fetchall()
        n_requests = su.execute(
            "SELECT count(*) FROM requests WHERE owner = %s", (seeded.hub.role("bob"),)
        ).fetchone()
        summarized = su.execute(
            "SELECT sum(requests) FROM run_summaries WHERE owner = %s", (seeded.hub.role("bob"),)
        ).fetchone()
        models = su.execute(
            "SELECT DISTINCT model FROM request_labels WHERE owner = %s", (seeded.hub.role("bob"),)
        ).fetchall()
    assert runs == [(seeded.runs["b_priv"], "b-priv", False), (seeded.runs["b_pub"], "b-pub", True)]
    assert n_requests == (6,)
    assert summarized == (6,)  # bob's summaries still agree with his records
    assert "pwned" not in {m for (m,) in models}  # nor were his records relabelled
