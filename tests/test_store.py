"""The results store on SQLite and PostgreSQL: schema, round trips, exports, owners."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import LIST_FIELDS, RECORD_FIELDS, RequestRecord
from llmbench_jupyter.store import Store, current_owner, default_db_url, open_store
from llmbench_jupyter.store.models import RUN_COLUMNS, Base, Run
from llmbench_jupyter.store.records_io import LABEL_FIELDS, ROW_COLUMNS


def _new_run(store: Store, owner: str, **kw: Any) -> str:
    args: dict[str, Any] = {
        "spec": {"runs": 3},
        "config_snapshot": {"providers": {"p": {"base_url": "http://127.0.0.1"}}},
        "versions": {"llmbench": "0.1"},
        "host": {"cpus": 2},
    }
    args.update(kw)
    return store.create_run(owner=owner, **args)


def _full_record(run_id: str, owner: str) -> RequestRecord:
    """A record with every field set to a non-default value."""
    return RequestRecord(
        request_id=f"req-full-{uuid.uuid4().hex[:8]}",
        run_id=run_id,
        owner=owner,
        provider='prov, "quoted"',
        model="model-x",
        api_model="vendor/model-x:latest",
        transport="aiohttp-openai",
        response_id="resp-123",
        context_tier=150_000,
        run_index=7,
        is_warmup=False,
        concurrency=64,
        rate_rps=2.5,
        scheduled_ms=1234.5678,
        send_lag_ms=0.125,
        time_origin="intended",
        started_at="2025-01-02T03:04:05.678901+00:00",
        send_mono_ns=2**62 + 12345,
        ttft_ms=123.456789012345,
        ttfat_ms=150.1,
        e2e_ms=2000.000001,
        tpot_ms=9.87654321,
        chunk_times_ms=[123.456, 130.0, 130.001, 1999.999],  # stored to the microsecond
        chunk_kinds="rrat",
        itl_ms=[130.0 - 123.456, 130.001 - 130.0, 1999.999 - 130.001],
        n_chunks=4,
        output_tokens=200,
        output_tokens_source="usage",
        output_tokens_usage=200,
        output_tokens_tokenizer=198,
        output_tokens_chunks=4,
        output_tokens_disagree=True,
        reasoning_tokens=50,
        input_tokens=150_123,
        input_tokens_source="usage",
        padding_tokens=150_000,
        tokenizer="o200k_base",
        decode_tps=106.2,
        total_tps=100.0,
        prefill_tps=1215999.5,
        cost_usd=0.000123456,
        cost_source="override",
        status="error",
        error_category="timeout",
        error_message='boom, "quoted"\nsecond line ünïcødé',
        http_status=504,
        finish_reason="length",
        output_text='Hello, "world"\n\ttab, comma; ✓ 日本語',
    )


def _sparse_record(run_id: str, owner: str) -> RequestRecord:
    """A warm-up record with every optional field None and empty lists."""
    return RequestRecord(
        request_id=f"req-sparse-{uuid.uuid4().hex[:8]}",
        run_id=run_id,
        owner=owner,
        provider="p",
        model="m",
        is_warmup=True,
        started_at="2025-01-02T03:04:00+00:00",
        send_mono_ns=5,
    )


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _assert_same_values(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Field by field; a missing value may read back as None or NaN (pandas)."""
    assert list(got) == list(want)
    for name, value in want.items():
        if _missing(value):
            assert _missing(got[name]), name
        else:
            assert got[name] == value, name
            assert type(got[name]) is not str or isinstance(value, str), name


# ---------------------------------------------------------------- schema


def test_migrations_match_models(store: Store, db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
            # The comparison can fail: a column the migrations lack is reported.
            drifted = sa.MetaData()
            for table in Base.metadata.tables.values():
                table.to_metadata(drifted)
            drifted.tables["requests"].append_column(sa.Column("new_metric", sa.Float))
            diffs = compare_metadata(ctx, drifted)
            assert any(d[0] == "add_column" and d[3].name == "new_metric" for d in diffs)
    finally:
        engine.dispose()


def test_request_columns_are_record_fields(store: Store, db_url: str) -> None:
    # every field is a column under its own name, of the request row or of its run's
    # labels, except itl_ms: the gaps between the chunk times by definition, rebuilt on read
    row_fields = set(ROW_COLUMNS) & set(RECORD_FIELDS)
    assert set(RECORD_FIELDS) - row_fields - set(LABEL_FIELDS) == {"itl_ms"}
    assert not row_fields & set(LABEL_FIELDS)
    assert set(ROW_COLUMNS) - set(RECORD_FIELDS) == {"label", "started_us", "rates_derived"}
    engine = sa.create_engine(db_url)
    try:
        inspector = sa.inspect(engine)
        reflected = {c["name"] for c in inspector.get_columns("requests")}
        labels = {c["name"] for c in inspector.get_columns("request_labels")}
    finally:
        engine.dispose()
    assert reflected == {"seq", *ROW_COLUMNS}
    assert labels == {"run_id", "label", "owner", *LABEL_FIELDS}


def test_reopening_is_idempotent_and_cached(db_url: str) -> None:
    first = open_store(db_url)
    assert open_store(db_url) is first
    first.close()
    second = open_store(db_url)  # migrations already at head: no error
    assert second is not first
    second.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    open_store(url).close()
    with sqlite3.connect(tmp_path / "new.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(LLMBenchError, match="newer than this llmbench-jupyter"):
        open_store(url)


# ------------------------------------------------------------ round trip


def test_round_trip_store_dataframe_and_exports(store: Store, owner: str, tmp_path: Path) -> None:
    run_id = _new_run(store, owner, run_id=f"run-rt-{uuid.uuid4().hex[:12]}")
    full, sparse = _full_record(run_id, owner), _sparse_record(run_id, owner)
    store.add_record(full)
    store.add_record(sparse)
    want = [sparse, full]  # send order (send_mono_ns)

    assert store.records(run_id) == want
    assert store.records(run_id, include_warmup=False) == [full]

    df = store.records_df(run_id)
    assert list(df.columns) == list(RECORD_FIELDS)
    assert len(df) == 2
    for i, rec in enumerate(want):
        _assert_same_values(df.iloc[i].to_dict(), rec.to_dict())
        for name in LIST_FIELDS:
            assert isinstance(df.iloc[i][name], list)
    assert list(store.records_df([run_id], include_warmup=False)["request_id"]) == [full.request_id]

    # CSV: list fields as JSON text, empty cell for None, same names and values.
    assert store.export(run_id, tmp_path / "r.csv", "csv") == 2
    back = pd.read_csv(tmp_path / "r.csv", float_precision="round_trip")
    assert list(back.columns) == list(RECORD_FIELDS)
    for i, rec in enumerate(want):
        row = back.iloc[i].to_dict()
        for name in LIST_FIELDS:
            row[name] = json.loads(row[name])
        # CSV cannot tell "" from None: both are an empty cell and read back as NaN.
        expected = {k: (None if v == "" else v) for k, v in rec.to_dict().items()}
        _assert_same_values(row, expected)

    # JSON: one list of records; JSONL: one record per line. Exactly the same dicts.
    assert store.export(run_id, tmp_path / "r.json") == 2  # format from the extension
    loaded = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert loaded == [r.to_dict() for r in want]
    assert [list(d) for d in loaded] == [list(RECORD_FIELDS)] * 2

    assert store.export(run_id, tmp_path / "r.jsonl", "jsonl", include_warmup=False) == 1
    lines = (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [full.to_dict()]
    assert list(pd.read_json(tmp_path / "r.jsonl", lines=True).columns) == list(RECORD_FIELDS)


def test_export_rejects_unknown_format(store: Store, owner: str, tmp_path: Path) -> None:
    run_id = _new_run(store, owner)
    with pytest.raises(LLMBenchError, match="unknown format 'xlsx'"):
        store.export(run_id, tmp_path / "out" / "r.xlsx")
    assert not (tmp_path / "out").exists()


def test_empty_run_dataframe_has_all_columns(store: Store, owner: str) -> None:
    run_id = _new_run(store, owner)
    df = store.records_df(run_id)
    assert list(df.columns) == list(RECORD_FIELDS) and df.empty


def test_record_owner_defaults_to_run_owner(store: Store, owner: str) -> None:
    run_id = _new_run(store, owner)
    rec = dataclasses.replace(_full_record(run_id, owner), owner="")
    store.add_record(rec)
    assert store.records(run_id)[0].owner == owner
    other = dataclasses.replace(_full_record(run_id, owner), owner="someone-else")
    with pytest.raises(LLMBenchError, match="belongs to"):
        store.add_record(other)


def test_add_record_commits_at_once(store: Store, owner: str, db_url: str) -> None:
    run_id = _new_run(store, owner)
    store.add_record(_full_record(run_id, owner))
    engine = sa.create_engine(db_url)  # another connection, as after a crash
    try:
        with engine.connect() as conn:
            n = conn.execute(
                sa.text("SELECT count(*) FROM requests WHERE run_id = :r"), {"r": run_id}
            ).scalar()
    finally:
        engine.dispose()
    assert n == 1


def test_add_record_to_unknown_run(store: Store, owner: str) -> None:
    with pytest.raises(LLMBenchError, match="no run 'nope-"):
        store.add_record(_full_record(f"nope-{uuid.uuid4().hex}", owner))


# ------------------------------------------------------ atomicity, counters


def test_add_records_is_all_or_nothing(store: Store, owner: str) -> None:
    run_id = _new_run(store, owner)
    a, b = _full_record(run_id, owner), _sparse_record(run_id, owner)
    dup = dataclasses.replace(_full_record(run_id, owner), request_id=a.request_id)
    with pytest.raises(LLMBenchError, match="cannot save records"):
        store.add_records([a, b, dup])
    assert store.records(run_id) == []
    assert store.get_run(run_id, owner=owner)["n_requests"] == 0

    store.add_records([a])
    c = _sparse_record(run_id, owner)
    stray = dataclasses.replace(b, run_id="no-such-run")  # fails after c's rows went in
    with pytest.raises(LLMBenchError, match="no run 'no-such-run'"):
        store.add_records([c, stray])
    assert [r.request_id for r in store.records(run_id)] == [a.request_id]
    run = store.get_run(run_id, owner=owner)
    assert (run["n_requests"], run["n_errors"]) == (1, 1)


def test_counters_follow_inserts(store: Store, owner: str) -> None:
    run_id = _new_run(store, owner)
    ok = dataclasses.replace(_full_record(run_id, owner), status="ok", error_category=None)
    store.add_record(ok)
    store.add_record(_full_record(run_id, owner))  # status=error
    store.add_record(_sparse_record(run_id, owner))  # warm-up, ok
    run = store.get_run(run_id, owner=owner)
    assert (run["n_requests"], run["n_errors"]) == (3, 1)
    store.add_records([_full_record(run_id, owner), _full_record(run_id, owner)])
    run = store.get_run(run_id, owner=owner)
    assert (run["n_requests"], run["n_errors"]) == (5, 3)


# -------------------------------------------------------------- run rows


def test_run_lifecycle(store: Store, owner: str) -> None:
    run_id = _new_run(
        store,
        owner,
        name="first",
        config_snapshot={
            "api_key": "sk-should-not-be-stored",
            "providers": [{"name": "p", "API_KEY": "x", "base_url": "u"}],
            "nested": {"api_key": "y", "keep": 1},
        },
    )
    assert len(run_id) == 16 and int(run_id, 16) >= 0  # core.records.new_id
    run = store.get_run(run_id, owner=owner)
    assert list(run) == list(RUN_COLUMNS)
    assert run["status"] == "running" and run["kind"] == "bench" and run["name"] == "first"
    assert run["created_at"].tzinfo is not None
    assert run["created_at"].utcoffset() == UTC.utcoffset(None)
    assert run["finished_at"] is None and run["overhead"] is None
    assert run["config_snapshot"] == {
        "providers": [{"name": "p", "base_url": "u"}],
        "nested": {"keep": 1},
    }
    assert run["spec"] == {"runs": 3} and run["host"] == {"cpus": 2}

    with pytest.raises(LLMBenchError, match=r"unknown final status 'bogus'.*done"):
        store.finish_run(run_id, "bogus")
    overhead = {"client_cpu_share": 0.12, "loop_lag_p99_ms": 1.5, "client_bound": False}
    store.finish_run(run_id, "done", overhead=overhead)
    run = store.get_run(run_id, owner=owner)
    assert run["status"] == "done" and run["overhead"] == overhead
    assert run["finished_at"].tzinfo is not None and run["finished_at"] >= run["created_at"]
    with pytest.raises(LLMBenchError, match="already 'done'"):
        store.finish_run(run_id, "failed")
    with pytest.raises(LLMBenchError, match="no run"):
        store.finish_run("missing-run", "done")


def test_delete_cascades_to_records(store: Store, owner: str, db_url: str) -> None:
    run_id = _new_run(store, owner)
    keep = _new_run(store, owner)
    store.add_records([_full_record(run_id, owner), _sparse_record(run_id, owner)])
    store.add_record(_full_record(keep, owner))
    store.delete_run(run_id)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            count = sa.text("SELECT count(*) FROM requests WHERE run_id = :r")
            assert conn.execute(count, {"r": run_id}).scalar() == 0
            assert conn.execute(count, {"r": keep}).scalar() == 1
    finally:
        engine.dispose()
    with pytest.raises(LLMBenchError, match="no run"):
        store.records(run_id)
    with pytest.raises(LLMBenchError, match="no run"):
        store.delete_run(run_id)


def test_owner_filtering(store: Store, owner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob = f"{owner}-alice", f"{owner}-bob"
    a1 = _new_run(store, alice)
    a2 = _new_run(store, alice)
    b1 = _new_run(store, bob)
    assert [r["run_id"] for r in store.list_runs(owner=alice)] == [a2, a1]  # newest first
    assert [r["run_id"] for r in store.list_runs(owner=bob)] == [b1]
    assert [r["run_id"] for r in store.list_runs(owner=alice, limit=1)] == [a2]
    everyone = {r["run_id"] for r in store.list_runs(all_owners=True, limit=10_000)}
    assert {a1, a2, b1} <= everyone
    with pytest.raises(LLMBenchError, match="no run"):
        store.get_run(b1, owner=alice)

    monkeypatch.setenv("LLMBENCH_USER", bob)
    assert current_owner() == bob
    b2 = _new_run(store, None)  # type: ignore[arg-type]
    assert store.get_run(b2)["owner"] == bob
    assert [r["run_id"] for r in store.list_runs()] == [b2, b1]
    df = store.runs_df()
    assert list(df.columns) == list(RUN_COLUMNS) and list(df["run_id"]) == [b2, b1]


def test_prefix_lookup(store: Store, owner: str) -> None:
    tag = uuid.uuid4().hex[:8]
    r1 = _new_run(store, owner, run_id=f"{tag}a1", name="one")
    r2 = _new_run(store, owner, run_id=f"{tag}a2")
    _new_run(store, owner, run_id=f"{tag}_b")
    assert store.get_run(r1, owner=owner)["run_id"] == r1
    assert store.get_run(f"{tag}a2"[:-1] + "2", owner=owner)["run_id"] == r2
    assert store.get_run(f"{tag}_", owner=owner)["run_id"] == f"{tag}_b"
    with pytest.raises(LLMBenchError, match="ambiguous") as err:
        store.get_run(f"{tag}a", owner=owner)
    assert r1 in str(err.value) and r2 in str(err.value) and "'one'" in str(err.value)
    with pytest.raises(LLMBenchError, match="no run id starts with"):
        store.get_run(f"{tag}zz", owner=owner)
    with pytest.raises(LLMBenchError, match="no run id starts with"):
        store.get_run("%", owner=owner)  # LIKE wildcards are matched literally
    with pytest.raises(LLMBenchError, match="give a run id"):
        store.get_run("", owner=owner)


# ---------------------------------------------------- URLs and defaults


def test_env_db_url_is_honoured(db_url: str, owner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBENCH_DB_URL", db_url)
    assert default_db_url() == db_url
    s = open_store()
    try:
        assert s.url == db_url  # no password in these URLs, so nothing masked
        run_id = _new_run(s, owner)
    finally:
        s.close()
    with Store(db_url) as again:
        assert again.get_run(run_id, owner=owner)["owner"] == owner


def test_default_sqlite_file_in_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = tmp_path / "xdg" / "llmbench-jupyter" / "llmbench.db"
    assert default_db_url() == f"sqlite:///{expected}"
    assert not expected.parent.exists()
    s = open_store()
    try:
        assert s.url == f"sqlite:///{expected}"
        assert expected.is_file()
        with sqlite3.connect(expected) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        s.close()


def test_bad_urls_give_clear_errors() -> None:
    with pytest.raises(LLMBenchError, match="not a database URL"):
        open_store("definitely not a url")
    with pytest.raises(LLMBenchError, match="cannot open results store"):
        open_store("nosuchdb+driver://u:hunter2secret@127.0.0.1/x")


def test_unreachable_postgres_masks_password() -> None:
    url = "postgresql://postgres:hunter2secret@127.0.0.1:1/llmbench"
    with pytest.raises(LLMBenchError) as err:
        open_store(url)
    text = str(err.value)
    assert "cannot open results store" in text
    assert "postgresql+psycopg://postgres:***@127.0.0.1:1/llmbench" in text
    assert "hunter2secret" not in text
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_store_url_masks_password(pg_url: str) -> None:
    url = sa.make_url(pg_url).set(password="pw-not-needed-with-trust")
    s = Store(url.render_as_string(hide_password=False))
    try:
        assert "pw-not-needed" not in s.url and "***" in s.url
        assert "pw-not-needed" not in repr(s)
    finally:
        s.close()


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    s = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    s.close()
    with pytest.raises(LLMBenchError, match="closed"):
        s.list_runs()


def test_store_import_does_not_load_pandas() -> None:
    code = (
        "import sys, llmbench_jupyter.store; "
        "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_run_model_columns_match_run_dict_keys() -> None:
    assert tuple(Run.__table__.columns.keys()) == RUN_COLUMNS
    assert set(RUN_COLUMNS) >= {"run_id", "owner", "n_requests", "n_errors", "overhead"}
