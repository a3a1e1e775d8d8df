"""A store written by the previous schema (0005) upgrades through Alembic without loss.

``tests/data/store_0005.db`` was written by llmbench-jupyter itself at schema 0005 (the
CLI: two benchmark runs with warm-ups, two context tiers and concurrency, a run whose
every request failed to connect, and a tool-calling eval). The same rows are also
copied into a PostgreSQL database at 0005. Opening either with today's package migrates
it; every record must read back the same (chunk times to the microsecond), and the new
summaries must agree with ``stats.summarize`` over the old records.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from pg_admin import PG_ADMIN_URL

from llmbench_jupyter.analysis import results
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.stats import RELATIVE_ACCURACY, summarize
from llmbench_jupyter.store import Store
from llmbench_jupyter.store.db import alembic_config, parse_url, schema_heads

FIXTURE = Path(__file__).parent / "data" / "store_0005.db"
TABLES = ("runs", "requests", "jobs", "suites", "eval_results", "judgements", "audit_log")


def _old_rows() -> dict[str, list[dict[str, Any]]]:
    with sqlite3.connect(FIXTURE) as conn:
        conn.row_factory = sqlite3.Row
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0005"
        return {t: [dict(r) for r in conn.execute(f"SELECT * FROM {t}")] for t in TABLES}


OLD = _old_rows()


def _old_records() -> list[RequestRecord]:
    out = []
    for row in OLD["requests"]:
        row = dict(row)
        row["chunk_times_ms"] = json.loads(row["chunk_times_ms"])
        row["itl_ms"] = json.loads(row["itl_ms"])
        row["is_warmup"] = bool(row["is_warmup"])
        row["output_tokens_disagree"] = bool(row["output_tokens_disagree"])
        out.append(RequestRecord(**row))
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_0005(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a store at schema 0005 holding the fixture's rows, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "old.db"
        shutil.copy(FIXTURE, path)
        yield f"sqlite:///{path}"
    else:
        yield from _pg_0005()


def _pg_0005() -> Iterator[str]:
    """A fresh PostgreSQL database at schema 0005 holding the fixture's rows."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"llmbench_upgrade_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(parse_url(url))
    try:
        with engine.begin() as conn:
            cfg = alembic_config(engine.url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005")
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.begin() as conn:
            for table in TABLES:  # parents first
                rows = [_pg_value(meta.tables[table], r) for r in OLD[table]]
                if rows:
                    conn.execute(meta.tables[table].insert(), rows)
        yield url
    finally:
        engine.dispose()
        from llmbench_jupyter.store import close_all

        close_all()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _pg_value(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """A SQLite row as PostgreSQL takes it: JSON text decoded, 0/1 as booleans, aware times."""
    from datetime import UTC, datetime

    out = {}
    for name, value in row.items():
        col_type = table.c[name].type
        if isinstance(col_type, sa.JSON) and isinstance(value, str):
            value = json.loads(value)
        elif isinstance(col_type, sa.Boolean) and value is not None:
            value = bool(value)
        elif isinstance(col_type, sa.DateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value).replace(tzinfo=UTC)
        out[name] = value
    return out


def _missing(value: Any) -> bool:
    return value is None or value != value


def _check_upgraded(url: str) -> None:
    store = Store(url)
    try:
        with store._engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            assert version == max(schema_heads())
        old = _old_records()
        bench_runs = [r for r in OLD["runs"] if r["kind"] == "bench"]
        for run in OLD["runs"]:
            new = store.get_run(run["run_id"], owner=run["owner"])
            assert new["n_requests"] == run["n_requests"] and new["status"] == run["status"]
        # every record reads back: chunk times to the microsecond, ITL their gaps
        for run in bench_runs:
            want = sorted(
                (r for r in old if r.run_id == run["run_id"]),
                key=lambda r: (r.send_mono_ns, r.request_id),
            )
            got = store.records(run["run_id"])
            assert [r.request_id for r in got] == [r.request_id for r in want]
            for g, w in zip(got, want, strict=True):
                gd, wd = g.to_dict(), w.to_dict()
                for name in ("chunk_times_ms", "itl_ms"):
                    assert len(gd[name]) == len(wd[name])
                    pairs = zip(gd[name], wd[name], strict=True)
                    assert all(abs(a - b) <= 0.0011 for a, b in pairs), name
                    gd.pop(name), wd.pop(name)
                assert gd == wd
            df = store.records_df(run["run_id"])
            assert len(df) == len(want) and list(df["chunk_kinds"]) == [w.chunk_kinds for w in want]
        # eval rows are untouched
        evals = [r for r in OLD["runs"] if r["kind"] == "eval"]
        assert evals and len(store.eval_results(evals[0]["run_id"])) == len(OLD["eval_results"])
        # the backfilled summaries agree with summarize() over the old records
        board = results.leaderboard(store=store, full=True, all_owners=True)
        exact = summarize(old, metrics=("ttft_ms", "decode_tps", "tpot_ms"))
        assert len(board) == len(exact)
        for _, row in board.iterrows():
            e = exact[
                (exact["provider"] == row["provider"])
                & (exact["model"] == row["model"])
                & (exact["context_tier"] == row["context_tier"])
            ].iloc[0]
            assert row["requests"] == e["requests"]
            assert row["success_rate"] == pytest.approx(e["success_rate"])
            for m in ("ttft_ms_p50", "decode_tps_p50", "tpot_ms_p50", "cost_per_1k_output_usd"):
                rel = RELATIVE_ACCURACY if m.endswith("_p50") else 1e-9  # sketch vs exact sums
                if _missing(e[m]):
                    assert _missing(row[m]), m
                else:
                    assert row[m] == pytest.approx(e[m], rel=rel), m
        hist = results.history(store=store, full=True, all_owners=True).set_index("run_id")
        for run in bench_runs:
            mine = [r for r in old if r.run_id == run["run_id"]]
            measured = [r for r in mine if not r.is_warmup]
            assert hist.loc[run["run_id"], "requests"] == len(measured)
            assert hist.loc[run["run_id"], "warmup_requests"] == len(mine) - len(measured)
            assert hist.loc[run["run_id"], "errors"] == sum(r.status != "ok" for r in measured)
        # and the upgraded store takes new records like a new one
        run = bench_runs[0]["run_id"]
        extra = RequestRecord(
            request_id=uuid.uuid4().hex, run_id=run, provider="p", model="m",
            send_mono_ns=1, ttft_ms=5.0, chunk_times_ms=[5.0, 6.5], chunk_kinds="aa",
            itl_ms=[1.5], n_chunks=2,
        )  # fmt: skip
        store.add_records([extra])
        assert store.records(run)[0].itl_ms == [1.5]
    finally:
        store.close()


def test_a_store_of_schema_0005_upgrades_without_loss(store_0005: str) -> None:
    _check_upgraded(store_0005)


def test_the_fixture_is_what_the_docstring_says() -> None:
    kinds = sorted(r["kind"] for r in OLD["runs"])
    assert kinds == ["bench", "bench", "bench", "eval"]
    records = _old_records()
    assert any(r.is_warmup for r in records) and any(r.status != "ok" for r in records)
    assert {r.context_tier for r in records} == {0, 1000}
    assert any(r.concurrency > 1 for r in records) and OLD["eval_results"]


def _bench_records_then_close(store: Store) -> tuple[list[str], dict[str, Any]]:
    """The bench runs' records as the store reads them now; then every engine closed, so
    Alembic can take the database."""
    from llmbench_jupyter.store import close_all

    runs = [r["run_id"] for r in OLD["runs"] if r["kind"] == "bench"]
    before = {run: store.records(run) for run in runs}
    store.close()
    close_all()
    return runs, before


def _downgrade(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as conn:
        cfg = alembic_config(engine.url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_a_store_goes_back_to_0006_and_up_again_unchanged(store_0005: str) -> None:
    """0007 undone and redone: every record the same afterwards."""
    url = store_0005
    runs, before = _bench_records_then_close(Store(url))
    engine = sa.create_engine(parse_url(url))
    try:
        _downgrade(engine, "0006")
        with engine.connect() as conn:  # the wide rows are back, one per record
            wide = conn.execute(sa.text("SELECT count(*), count(DISTINCT provider) FROM requests"))
            assert tuple(wide.one()) == (
                len(OLD["requests"]),
                len({r["provider"] for r in OLD["requests"]}),
            )
            assert not sa.inspect(conn).has_table("request_labels")
    finally:
        engine.dispose()
    store = Store(url)  # upgrades again
    try:
        assert {run: store.records(run) for run in runs} == before
    finally:
        store.close()


def test_a_store_goes_back_to_0007_and_up_again_unchanged(store_0005: str) -> None:
    """0008 undone and redone: the tuning tables go and come back, nothing else changes."""
    url = store_0005
    store = Store(url)
    study = store.create_study(
        name="s", kind="params", target="p/m", directions=["maximize"], objectives=["score"],
        spec={}, owner="u",
    )  # fmt: skip
    store.start_trial(study, 0, params={"t": 0.5}, distributions={})
    runs, before = _bench_records_then_close(store)
    engine = sa.create_engine(parse_url(url))
    try:
        _downgrade(engine, "0007")
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert not tables & {"tune_studies", "tune_trials"}
            assert {"runs", "requests", "request_labels", "run_summaries"} <= tables
    finally:
        engine.dispose()
    store = Store(url)  # upgrades again: empty tuning tables, the runs as they were
    try:
        assert store.study(study) is None and store.list_studies(all_owners=True) == []
        again = store.create_study(
            name="s", kind="params", target="p/m", directions=["maximize"], objectives=["score"],
            spec={}, owner="u",
        )  # fmt: skip
        store.start_trial(again, 0, params={"t": 0.5}, distributions={})
        assert [t["number"] for t in store.trials(again)] == [0]
        assert {run: store.records(run) for run in runs} == before
    finally:
        store.close()


def test_a_store_goes_back_to_0008_and_up_again_unchanged(store_0005: str) -> None:
    """0009 undone and redone: PostgreSQL's ``requests`` gets its key index back and
    loses it again; the records read the same throughout, and new ones still go in."""
    url = store_0005
    runs, before = _bench_records_then_close(Store(url))
    engine = sa.create_engine(parse_url(url))
    postgres = engine.dialect.name == "postgresql"

    def keyed() -> bool:
        with engine.connect() as conn:
            return bool(sa.inspect(conn).get_pk_constraint("requests")["constrained_columns"])

    try:
        assert keyed() is not postgres  # SQLite's seq is its rowid: a key, no index
        _downgrade(engine, "0008")
        assert keyed()
    finally:
        engine.dispose()
    store = Store(url)  # upgrades again
    try:
        assert {run: store.records(run) for run in runs} == before
        extra = store.records(runs[0])[0]
        extra.request_id = "after-0009"
        store.add_records([extra])
        assert any(r.request_id == "after-0009" for r in store.records(runs[0]))
    finally:
        store.close()
    engine = sa.create_engine(parse_url(url))
    try:
        assert keyed() is not postgres
    finally:
        engine.dispose()
