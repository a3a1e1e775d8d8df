"""Request rows are stored narrow (labels once per run, ``started_at`` as microseconds,
derived rates left out) and still read back as exactly the record that was written,
whatever the record holds: the engine's own, hand-made, or odd."""

from __future__ import annotations

import dataclasses
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.measure import rates
from llmbench_jupyter.core.records import RECORD_FIELDS, RequestRecord
from llmbench_jupyter.store import Store
from llmbench_jupyter.store.records_io import format_started, started_us


def _run(store: Store) -> str:
    return store.create_run(name="rows", spec={}, config_snapshot={}, versions={}, host={})


def _engine_like(run_id: str, i: int, **kw: object) -> RequestRecord:
    """A record as the engine makes it: rates are what core.measure.rates gives."""
    ttft, e2e, n = 100.0 + i, 400.0 + 3 * i, 20 + i % 5
    rec = RequestRecord(
        request_id=uuid.uuid4().hex, run_id=run_id, provider="p", model=f"m{i % 3}",
        api_model=f"m{i % 3}", transport="aiohttp-openai", context_tier=1000 * (i % 2),
        run_index=i, concurrency=4, started_at=_engine_time(1_790_000_000_000_000 + i * 1013),
        send_mono_ns=10_000 + i, ttft_ms=ttft, ttfat_ms=ttft, e2e_ms=e2e,
        chunk_times_ms=[ttft, ttft + 12.5, e2e], itl_ms=[12.5, e2e - ttft - 12.5],
        chunk_kinds="aaa", n_chunks=3, output_tokens=n, output_tokens_source="usage",
        input_tokens=42, input_tokens_source="usage", cost_usd=1e-4, cost_source="litellm",
        finish_reason="stop", output_text=f"answer {i}",
    )  # fmt: skip
    rec.tpot_ms, rec.decode_tps, rec.total_tps, rec.prefill_tps = rates(n, ttft, e2e, 42)
    return dataclasses.replace(rec, **kw)  # type: ignore[arg-type]


def _engine_time(us: int) -> str:
    """The engine's form of a wall-clock time (core.workload.engine)."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).isoformat(
        timespec="microseconds"
    )


def test_format_started_is_the_engines_form() -> None:
    rng = random.Random(5)
    values = [0, 1, 999_999, 1_000_000, -1, 253_402_300_799_999_999]  # to 9999-12-31
    values += [rng.randrange(0, 4_102_444_800_000_000) for _ in range(2000)]
    assert format_started(values) == [_engine_time(v) for v in values]
    texts = [_engine_time(v) for v in values]
    assert started_us(texts) == (values, [None] * len(values))
    # anything else is kept as it was given
    odd = ["2026-12-03T09:00:00+00:00", "2026-12-03T09:00:00.5Z", "2026-12-03T09:00:00.000001",
           "", "yesterday", "2026-12-03T10:00:00.000001+01:00"]  # fmt: skip
    assert started_us(odd) == ([None] * len(odd), odd)


def test_odd_records_read_back_exactly(store: Store, tmp_path: Path) -> None:
    run_id = _run(store)
    records = [_engine_like(run_id, i) for i in range(6)]
    records += [
        # rates set by hand, not what the counts give: kept as given
        _engine_like(run_id, 6, tpot_ms=1.0, decode_tps=None, total_tps=2.0, prefill_tps=3.0),
        # no rates at all although they could be derived: kept as none
        _engine_like(run_id, 7, tpot_ms=None, decode_tps=None, total_tps=None, prefill_tps=None),
        # times in other forms, or none
        _engine_like(run_id, 8, started_at="2026-12-03T09:00:00Z"),
        _engine_like(run_id, 9, started_at=""),
        _engine_like(run_id, 10, started_at="2026-12-03T09:00:00.000001"),
        # open loop, another tokenizer, an odd finish reason, an error
        _engine_like(
            run_id,
            11,
            rate_rps=2.5,
            time_origin="intended",
            tokenizer="o200k_base",
            finish_reason="content_filter: ☃",
        ),
        RequestRecord(
            request_id="err-1",
            run_id=run_id,
            provider="p",
            model="m0",
            status="error",
            error_category="timeout",
            error_message="read timed out",
            http_status=None,
            started_at=_engine_time(5),
            send_mono_ns=99_999,
        ),
    ]
    store.add_records(records[:7])
    store.add_records(records[7:])  # a second batch: new labels after the first ones
    owner = store.get_run(run_id)["owner"]  # the store stamps the run's owner
    want = sorted(records, key=lambda r: (r.send_mono_ns, r.request_id))
    want = [dataclasses.replace(r, owner=owner) for r in want]
    assert store.records(run_id) == want
    frame = store.records_df(run_id)
    assert list(frame.columns) == list(RECORD_FIELDS)
    as_none = frame.astype(object).where(frame.notna(), None)  # pandas shows None as NaN
    assert as_none.to_dict("records") == [r.to_dict() for r in want]
    store.export(run_id, tmp_path / "r.jsonl")
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert [json.loads(line)["started_at"] for line in lines] == [r.started_at for r in want]
    assert [json.loads(line)["tpot_ms"] for line in lines] == [r.tpot_ms for r in want]


def test_the_engines_records_are_stored_narrow(store: Store) -> None:
    run_id = _run(store)
    store.add_records([_engine_like(run_id, i) for i in range(40)])
    with store._engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT count(*), sum(CASE WHEN rates_derived THEN 1 ELSE 0 END), "
                "count(tpot_ms), count(started_at), count(started_us) "
                "FROM requests WHERE run_id = :r"
            ),
            {"r": run_id},
        ).one()
        labels = conn.execute(
            sa.text("SELECT count(*) FROM request_labels WHERE run_id = :r"), {"r": run_id}
        ).scalar()
    assert tuple(row) == (40, 40, 0, 0, 40)  # rates and text rebuilt on read
    assert labels == 6  # 3 models x 2 tiers, once each


def test_writers_of_one_run_through_two_stores_share_its_labels(db_url: str) -> None:
    """Each store caches a run's labels; one that another store extended meanwhile is
    reloaded before new numbers are given out, so no two combinations share one."""
    a, b = Store(db_url), Store(db_url)
    try:
        run_id = _run(a)
        sent = [_engine_like(run_id, 0, model="first")]
        a.add_records(sent[-1:])
        sent.append(_engine_like(run_id, 1, model="second"))
        b.add_records(sent[-1:])
        sent.append(_engine_like(run_id, 2, model="third"))  # a's cache lacks "second"
        a.add_records(sent[-1:])
        sent.append(_engine_like(run_id, 3, model="second"))
        b.add_records(sent[-1:])
        sent.append(_engine_like(run_id, 5, model="second"))  # a lacks this summary row
        a.add_records(sent[-1:])
        got = a.records(run_id)
        assert [r.model for r in got] == ["first", "second", "third", "second", "second"]
        assert got == [dataclasses.replace(r, owner=got[0].owner) for r in sent]
        summary = {(s["model"], s["requests"]) for s in a.summary_rows([run_id])}
        assert summary == {("first", 1), ("second", 3), ("third", 1)}
    finally:
        a.close()
        b.close()


def test_a_failed_batch_leaves_no_label_behind(store: Store) -> None:
    run_id = _run(store)
    good = _engine_like(run_id, 0, model="kept")
    stray = _engine_like("no-such-run", 1, model="lost")
    with pytest.raises(Exception, match="no run"):
        store.add_records([_engine_like(run_id, 2, model="rolled-back"), stray])
    store.add_records([good, _engine_like(run_id, 3, model="rolled-back")])
    assert [r.model for r in store.records(run_id)] == ["kept", "rolled-back"]


def test_values_of_other_types_are_stored_as_given(store: Store) -> None:
    """PostgreSQL takes the engine's values by binary COPY; a record holding other types
    (an int where the engine puts a float) goes as text, as before, and an integer too
    large for its column is refused: binary COPY would wrap it around."""
    run_id = _run(store)
    store.add_records([_engine_like(run_id, 0), _engine_like(run_id, 1, ttft_ms=100, e2e_ms=400)])
    got = store.records(run_id)
    assert [r.ttft_ms for r in got] == [100.0, 100.0] and isinstance(got[1].e2e_ms, float)
    huge = _engine_like(run_id, 2, output_tokens=2**40)
    if store._engine.dialect.name == "postgresql":  # an INTEGER column
        with pytest.raises(LLMBenchError, match="out of range"):
            store.add_records([_engine_like(run_id, 3), huge])
        assert len(store.records(run_id)) == 2  # neither record
    else:  # SQLite keeps any 64-bit integer
        store.add_records([huge])
        assert store.records(run_id)[-1].output_tokens == 2**40
