"""Parquet exports, and exports that stream a run out of the database in constant memory.

Parquet keeps what CSV and JSON lose: nullable integers stay int64 (pandas makes them
float), booleans stay bool, chunk times stay ``list<double>``. A store of a million
records must export without holding them: rows come from the database in batches and
each batch is written before the next is read (one Parquet row group per batch).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import re
import stat
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import Iterator
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llmbench_jupyter.analysis.eval_history import load_eval
from llmbench_jupyter.analysis.eval_result import ROW_COLUMNS, case_row
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import RECORD_FIELDS, RequestRecord
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import CaseScore
from llmbench_jupyter.evals.suites import load_suite
from llmbench_jupyter.store import Store, open_store
from llmbench_jupyter.store.export import FORMATS, write, write_batches
from llmbench_jupyter.store.records_io import EXPORT_BATCH

FORMULA = '=HYPERLINK("http://evil.example/","x")'
#: Parquet type of each RequestRecord annotation (a new annotation must be added here).
_ARROW_OF = {
    "str": pa.string(),
    "str | None": pa.string(),
    "int": pa.int64(),
    "int | None": pa.int64(),
    "float": pa.float64(),
    "float | None": pa.float64(),
    "bool": pa.bool_(),
    "list[float]": pa.list_(pa.float64()),
}


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    """A store on a SQLite file of this test, and its URL (for the CLI)."""
    url = f"sqlite:///{tmp_path / 'local.db'}"
    s = open_store(url)
    yield s, url
    s.close()


def _owner() -> str:
    return f"pq-{uuid.uuid4().hex[:10]}"


def _new_run(
    store: Store, owner: str, kind: str = "bench", spec: dict[str, Any] | None = None
) -> str:
    return store.create_run(
        owner=owner, kind=kind, spec=spec or {}, config_snapshot={}, versions={}, host={}
    )


def _record(run_id: str, owner: str, i: int, **kw: Any) -> RequestRecord:
    """A measured record; ``i`` orders it (send time) and varies its values."""
    times = [12.5 + i % 7 + 0.25 * k for k in range(12)]
    values: dict[str, Any] = {
        "request_id": f"req-{i:07d}-{uuid.uuid4().hex[:6]}",
        "run_id": run_id,
        "owner": owner,
        "provider": "prov",
        "model": "model-x",
        "api_model": "vendor/model-x",
        "transport": "aiohttp-openai",
        "run_index": i,
        "send_mono_ns": 2**40 + i,
        "started_at": "2025-01-02T03:04:05+00:00",
        "ttft_ms": times[0],
        "e2e_ms": times[-1],
        "tpot_ms": 0.25,
        "chunk_times_ms": times,
        "chunk_kinds": "a" * len(times),
        "itl_ms": [b - a for a, b in pairwise(times)],
        "n_chunks": len(times),
        "output_tokens": 12 if i % 3 else None,
        "output_tokens_source": "usage" if i % 3 else None,
        "decode_tps": 4000.0,
        "output_text": f"answer {i} ✓ 日本語",
    }
    values.update(kw)
    return RequestRecord(**values)


def _mixed_run(store: Store, owner: str) -> str:
    """A warm-up with every optional field None and empty lists, a measured record with
    a formula for a model name and an HTTP error, and one with no token count."""
    run_id = _new_run(store, owner)
    store.add_records(
        [
            _record(
                run_id,
                owner,
                2,
                model=FORMULA,
                api_model=FORMULA,
                status="error",
                error_category="http_500",
                error_message="-2+3",
                http_status=500,
                output_tokens_disagree=True,
                rate_rps=2.5,
                cost_usd=1e-6,
            ),
            RequestRecord(
                request_id=f"warm-{uuid.uuid4().hex[:6]}",
                run_id=run_id,
                owner=owner,
                is_warmup=True,
                send_mono_ns=1,
            ),
            _record(run_id, owner, 3),
        ]
    )
    return run_id


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


# ---------------------------------------------------------------- round trip
def test_parquet_round_trip_keeps_names_order_and_types(store: Store, tmp_path: Path) -> None:
    run_id = _mixed_run(store, _owner())
    path = tmp_path / "r.parquet"
    assert store.export(run_id, path) == 3  # format from the extension
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    table = pq.read_table(path)
    df = store.records_df(run_id)

    assert table.column_names == list(df.columns) == list(RECORD_FIELDS)
    for f in dataclasses.fields(RequestRecord):
        assert table.schema.field(f.name).type == _ARROW_OF[str(f.type)], f.name
    # exactly the records, as Python values: ints are ints (None where unknown), not floats
    rows = table.to_pylist()
    assert rows == [r.to_dict() for r in store.records(run_id)]
    assert [r["output_tokens"] for r in rows] == [None, 12, None]
    assert all(type(r["send_mono_ns"]) is int and type(r["is_warmup"]) is bool for r in rows)
    # the same frame as records_df, where pandas turned the nullable ints into floats
    assert str(df["output_tokens"].dtype) == "float64"
    for i, row in enumerate(rows):
        want = df.iloc[i].to_dict()
        for name in RECORD_FIELDS:
            if _missing(want[name]):
                assert row[name] is None, name
            else:
                assert row[name] == want[name], name
                assert isinstance(row[name], list) is isinstance(want[name], list), name
    # cells are data in Parquet: no formula quoting
    assert rows[1]["model"] == FORMULA and rows[1]["error_message"] == "-2+3"

    assert store.export(run_id, tmp_path / "m.data", "parquet", include_warmup=False) == 2
    measured = pq.read_table(tmp_path / "m.data")
    assert measured.column("is_warmup").to_pylist() == [False, False]
    assert measured.schema.equals(table.schema)


def test_an_empty_run_exports_a_parquet_file_with_every_column(
    store: Store, tmp_path: Path
) -> None:
    run_id = _new_run(store, _owner())
    assert store.export(run_id, tmp_path / "e.parquet") == 0
    table = pq.read_table(tmp_path / "e.parquet")
    assert table.num_rows == 0 and table.column_names == list(RECORD_FIELDS)
    assert table.schema.field("output_tokens").type == pa.int64()


def test_batches_change_nothing_in_the_text_formats(store: Store, tmp_path: Path) -> None:
    """Written batch by batch (empty batches included), each format is byte for byte what
    one batch gives, and JSON is exactly ``json.dump`` of the whole list."""
    run_id = _mixed_run(store, _owner())
    rows = [r.to_dict() for r in store.records(run_id)]
    for fmt in ("csv", "json", "jsonl"):
        assert write(rows, tmp_path / f"one.{fmt}", fmt) == 3
        assert write_batches([rows[:1], [], rows[1:]], tmp_path / f"many.{fmt}", fmt) == 3
        store.export(run_id, tmp_path / f"store.{fmt}")
        one = (tmp_path / f"one.{fmt}").read_bytes()
        assert (tmp_path / f"many.{fmt}").read_bytes() == one, fmt
        assert (tmp_path / f"store.{fmt}").read_bytes() == one, fmt
    dumped = json.dumps(rows, ensure_ascii=False, indent=1, default=str) + "\n"
    assert (tmp_path / "one.json").read_text(encoding="utf-8") == dumped
    write([], tmp_path / "none.json", "json")
    assert (tmp_path / "none.json").read_text() == "[]\n"


def test_one_parquet_row_group_per_batch(tmp_path: Path) -> None:
    rows = [_record("r", "o", i).to_dict() for i in range(5)]
    path = tmp_path / "b.parquet"
    assert write_batches([rows[:2], [], rows[2:]], path, "parquet") == 5
    meta = pq.ParquetFile(path).metadata
    assert (meta.num_row_groups, meta.num_rows) == (2, 5)
    assert pq.read_table(path).to_pylist() == rows


# ---------------------------------------------------------------- safe writes
def test_parquet_never_writes_through_a_planted_link(
    local: tuple[Store, str], tmp_path: Path
) -> None:
    store, _ = local
    run_id = _mixed_run(store, _owner())
    shared, victim = tmp_path / "shared", tmp_path / "victim"
    shared.mkdir()
    victim.write_bytes(b"theirs")
    (shared / "r.parquet").symlink_to(victim)
    assert store.export(run_id, shared / "r.parquet") == 3
    assert victim.read_bytes() == b"theirs"
    info = (shared / "r.parquet").lstat()
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert pq.read_table(shared / "r.parquet").num_rows == 3
    assert sorted(p.name for p in shared.iterdir()) == ["r.parquet"]  # no temporary file


def test_a_failed_parquet_export_keeps_the_old_file(tmp_path: Path) -> None:
    rows = [_record("r", "o", i).to_dict() for i in range(3)]
    dest = tmp_path / "r.parquet"
    dest.write_bytes(b"the previous export")

    def batches() -> Iterator[list[dict[str, Any]]]:
        yield rows
        raise LLMBenchError("cannot read records: the server went away")

    with pytest.raises(LLMBenchError, match="went away"):
        write_batches(batches(), dest, "parquet")
    assert dest.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.parquet"]


# ---------------------------------------------------------------- eval runs
def _eval_run(store: Store, owner: str) -> str:
    suite = load_suite(str(files("llmbench_jupyter.evals") / "data" / "example_suite.yaml"))
    saved = store.save_suite(suite, owner)
    run_id = _new_run(store, owner, "eval", {"suite_id": saved["suite_id"], "targets": ["p/m"]})
    runs = []
    for i, case in enumerate(suite.cases[:3]):
        passed = i != 1
        score = CaseScore(
            case_id=case.id,
            category=case.category,
            mode="default",
            passed=passed,
            outcome="pass" if passed else "wrong_call",
            error_type=None if passed else "wrong_function",
            tool_precision=1.0,
            tool_recall=1.0,
            tool_f1=1.0 if passed else 0.0,
            argument_accuracy=None if i == 2 else 0.5,
        )
        calls = [{"name": "get_weather", "arguments": {"city": "=Paris"}}]
        runs.append(
            CaseRun(
                provider="p",
                model="m",
                case_id=case.id,
                category=case.category,
                attempt=0,
                score=score,
                calls=calls,
                transcript=[{"role": "user", "content": "hi ✓"}],
                latency_ms=None if i == 2 else 12.5,
                final_state={"office": 21.0} if i == 0 else None,
            )
        )
    store.add_eval_results(run_id, [case_row(r) for r in runs])
    store.finish_run(run_id, "done")
    return run_id


def _cli(*args: str, db: str, owner: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMBENCH_DB_URL": db, "LLMBENCH_USER": owner}
    return subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def test_cli_exports_an_eval_run_to_parquet_with_json_text_columns(
    local: tuple[Store, str], tmp_path: Path
) -> None:
    (store, db), owner = local, _owner()
    run_id = _eval_run(store, owner)
    out = tmp_path / "cases.out"  # no known extension: --format decides
    proc = _cli(
        "results", "export", run_id[:10], "--format", "parquet", "-o", str(out), db=db, owner=owner
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote 3 case rows of eval run {run_id}" in proc.stdout and "(parquet)" in proc.stdout

    table = pq.read_table(out)
    assert table.column_names == list(ROW_COLUMNS)
    types = {f.name: f.type for f in table.schema}
    assert (types["attempt"], types["passed"], types["tool_f1"]) == (
        pa.int64(),
        pa.bool_(),
        pa.float64(),
    )
    for name in ("score", "calls", "transcript", "final_state", "error", "case_id"):
        assert types[name] == pa.string(), name
    want = [case_row(r, run_id) for r in load_eval(run_id, store, owner=owner).runs]
    got = table.to_pylist()
    for row in got:  # JSON text, decoded; None stays a null
        for name in ("score", "calls", "transcript", "final_state"):
            row[name] = None if row[name] is None else json.loads(row[name])
    assert got == want
    assert [r["passed"] for r in got] == [True, False, True]
    assert got[0]["calls"][0]["arguments"]["city"] == "=Paris"  # not neutralised
    assert got[2]["latency_ms"] is None and got[1]["final_state"] is None


# ---------------------------------------------------------------- the CLI
def test_cli_exports_parquet_from_the_extension_and_names_every_format(
    local: tuple[Store, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (store, db), owner = local, _owner()
    run_id = _mixed_run(store, owner)
    out = tmp_path / "run.parquet"
    proc = _cli("results", "export", run_id[:10], "-o", str(out), db=db, owner=owner)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote 2 records of run {run_id}" in proc.stdout and "(parquet)" in proc.stdout
    measured = [r.to_dict() for r in store.records(run_id, include_warmup=False)]
    assert pq.read_table(out).to_pylist() == measured  # measured requests by default

    # a name that is no format: CSV, as before the extension chose
    from llmbench_jupyter.cli import main

    monkeypatch.setenv("LLMBENCH_USER", owner)
    assert main(["results", "export", run_id, "-o", str(tmp_path / "run.txt"), "--db", db]) == 0
    assert (tmp_path / "run.txt").read_text().startswith(",".join(RECORD_FIELDS) + "\n")

    bad = _cli("results", "export", run_id[:10], "--format", "xlsx", "-o", "x", db=db, owner=owner)
    assert bad.returncode == 2 and "invalid choice: 'xlsx'" in bad.stderr
    assert re.findall(r"\w+", bad.stderr.split("choose from")[1]) == list(FORMATS), bad.stderr

    with pytest.raises(LLMBenchError) as err:
        store.export(run_id, tmp_path / "out" / "r.xlsx")
    assert "unknown format 'xlsx'; expected one of csv, json, jsonl, parquet" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_the_export_help_names_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    from llmbench_jupyter.cli._parser import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["results", "export", "-h"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--format {" + ",".join(FORMATS) + "}" in text
    assert "csv, json, jsonl or parquet (default: the --output extension" in text


# ---------------------------------------------------------------- constant memory
N_BIG = 20_000
BATCH = 1_000  # the exports' batch in this test: small, so the test is quick and telling

_MEASURE = """
import gc, json, sys, tracemalloc
from pathlib import Path
import pyarrow as pa
from llmbench_jupyter.store import open_store, records_io

url, big, small, out, fmt, batch = sys.argv[1:]
records_io.EXPORT_BATCH = int(batch)
store = open_store(url)
store.export(small, Path(out) / f"warm.{fmt}")  # imports, caches: not the export's memory
gc.collect()
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
rows = store.export(big, Path(out) / f"big.{fmt}")
peak = tracemalloc.get_traced_memory()[1] - base
print(json.dumps({"rows": rows, "python": peak, "arrow": pa.default_memory_pool().max_memory()}))
"""


def _held_by_all_rows(store: Store, run_id: str) -> int:
    """Peak bytes of holding every row of the run, as exports did: records and dicts."""
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    rows = [r.to_dict() for r in store.records(run_id)]
    held = tracemalloc.get_traced_memory()[1] - base
    if not tracing:
        tracemalloc.stop()
    assert len(rows) == N_BIG
    return held


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_exports_stream_a_big_run_in_constant_memory(
    local: tuple[Store, str], tmp_path: Path
) -> None:
    """20,000 records to each format, each in its own process (tracemalloc for Python
    objects, Arrow's pool for Parquet buffers): the export's peak is a small fraction of
    what holding the run's rows takes, which is what exports did before."""
    (store, url), owner = local, _owner()
    big, small = _new_run(store, owner), _new_run(store, owner)
    for start in range(0, N_BIG, EXPORT_BATCH):
        store.add_records([_record(big, owner, i) for i in range(start, start + EXPORT_BATCH)])
    store.add_records([_record(small, owner, i) for i in range(10)])
    out = tmp_path / "out"
    out.mkdir()
    procs = {
        fmt: subprocess.Popen(
            [sys.executable, "-c", _MEASURE, url, big, small, str(out), fmt, str(BATCH)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for fmt in FORMATS
    }
    try:
        held = _held_by_all_rows(store, big)  # meanwhile, in this process
        peaks = {}
        for fmt, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=840)
            assert proc.returncode == 0, stderr[-3000:]
            got = json.loads(stdout.splitlines()[-1])
            assert got["rows"] == N_BIG, fmt
            peaks[fmt] = got["python"] + (got["arrow"] if fmt == "parquet" else 0)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print(
        f"holding {N_BIG} rows: {held / 2**20:.1f} MiB; export peaks (MiB): "
        + ", ".join(f"{f} {p / 2**20:.1f}" for f, p in peaks.items())
    )
    for fmt, peak in peaks.items():
        assert peak < held / 4, (fmt, peak, held)

    # and the files are whole
    meta = pq.ParquetFile(out / "big.parquet").metadata
    assert (meta.num_rows, meta.num_row_groups) == (N_BIG, N_BIG // BATCH)
    with (out / "big.jsonl").open(encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == N_BIG
    with (out / "big.csv").open(encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == N_BIG + 1
    text = (out / "big.json").read_text(encoding="utf-8")
    assert text.startswith('[\n {\n  "request_id": ') and text.endswith("\n }\n]\n")
    assert text.count('\n  "request_id": ') == N_BIG
