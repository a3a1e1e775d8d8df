"""The predecessor's exported benchmark results, in its own CSV formats, imported into the
store on both backends: values kept under the right names, runs at their own time, a
second import refused run by run, and the runs exported back by our exporter unchanged."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.store.import_predecessor import CAVEATS, import_predecessor

# benchmark_history.csv as its /api/export/history writes it: one row per measurement
HEADER = "timestamp,prompt,model,provider,tokens_per_second,ttft_ms,cost,context_tokens,"
HISTORY = (
    HEADER
    + """output_tokens
2026-10-01T09:00:00,Write a haiku,gpt-4o-mini,OpenAI,85.2,412.5,0.000131,0,212
2026-10-01T09:00:00,Write a haiku,gpt-4o-mini,OpenAI,91.0,388.0,0.000129,0,208
2026-10-01T09:00:00,Write a haiku,claude-haiku,Anthropic,60.4,701.9,0.000402,0,240
2026-10-01T09:00:00,Write a haiku,claude-haiku,Anthropic,,,,0,
2026-10-02T17:30:00Z,"Summarise, please",gpt-4o-mini,OpenAI,88.8,395.1,0.001190,5000,230
"""
)
# benchmark_run_<id>.csv as /api/export/run/{id} writes it: no time of its own
ONE_RUN = """model,provider,tokens_per_second,ttft_ms,cost,context_tokens,output_tokens,input_tokens
llama-3.1-8b,Groq,512.3,102.4,0.00001,0,256,31
"""


def test_a_history_export_becomes_runs_at_their_own_time(store, owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "benchmark_history.csv"
    path.write_text(HISTORY)
    done = import_predecessor(store, path, owner=owner)
    assert len(done["imported"]) == 2 and done["skipped"] == []
    first, second = (store.get_run(r, owner=owner) for r in done["imported"])
    assert first["created_at"] == datetime(2026, 10, 1, 9, tzinfo=UTC)
    assert second["created_at"] == datetime(2026, 10, 2, 17, 30, tzinfo=UTC)
    assert first["spec"]["imported"]["caveats"] == list(CAVEATS)
    assert first["name"] == "imported: Write a haiku"
    records = store.records(first["run_id"])
    assert len(records) == 4
    r = records[0]
    assert (r.provider, r.model, r.ttft_ms, r.total_tps, r.cost_usd, r.output_tokens) == (
        "OpenAI", "gpt-4o-mini", 412.5, 85.2, 0.000131, 212)  # fmt: skip
    assert r.decode_tps is None  # its tokens/s included TTFT: never our decode speed
    failed = [x for x in records if x.status == "error"]
    assert len(failed) == 1 and failed[0].model == "claude-haiku"
    assert store.records(second["run_id"])[0].context_tier == 5000
    # imported again: every run refused as already there, nothing doubled
    again = import_predecessor(store, path, owner=owner)
    assert again == {"imported": [], "skipped": done["imported"]}
    assert len(store.records(first["run_id"])) == 4
    # and out again through our own exporter: the same values
    out = tmp_path / "out.csv"
    store.export(first["run_id"], out)
    rows = list(csv.DictReader(out.open()))
    assert [float(x["ttft_ms"]) for x in rows if x["status"] == "ok"] == [412.5, 388.0, 701.9]
    assert [float(x["total_tps"]) for x in rows if x["status"] == "ok"] == [85.2, 91.0, 60.4]


def test_two_users_import_the_same_file_into_one_store(store, owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A team shares the export: each importer gets runs of their own, and each one's
    second import is skipped; nobody is refused because of the other's runs."""
    import hashlib

    path = tmp_path / "benchmark_history.csv"
    path.write_text(HISTORY)
    other = f"{owner}-colleague"
    mine = import_predecessor(store, path, owner=owner)
    theirs = import_predecessor(store, path, owner=other)
    assert len(theirs["imported"]) == 2 and not set(theirs["imported"]) & set(mine["imported"])
    assert {store.get_run(r, owner=other)["owner"] for r in theirs["imported"]} == {other}
    assert import_predecessor(store, path, owner=other)["skipped"] == theirs["imported"]
    assert import_predecessor(store, path, owner=owner)["skipped"] == mine["imported"]
    # a run imported before ids named their importer is recognised, not imported twice
    legacy = tmp_path / "legacy.csv"
    legacy.write_text(ONE_RUN)
    when = datetime(2026, 9, 1, tzinfo=UTC)
    key = f"{hashlib.sha256(ONE_RUN.encode()).hexdigest()}:{when.isoformat()}:"
    old_id = hashlib.sha256(key.encode()).hexdigest()[:16]
    store.create_run(run_id=old_id, owner=owner, name="imported before", spec={},
                     config_snapshot={}, versions={}, host={})  # fmt: skip
    assert import_predecessor(store, legacy, when=when, owner=owner) == {
        "imported": [], "skipped": [old_id]}  # fmt: skip


def test_a_one_run_export_needs_its_time_and_keeps_input_tokens(
    store, owner, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "benchmark_run_abc.csv"
    path.write_text(ONE_RUN)
    with pytest.raises(InputError, match="has no timestamp: give when="):
        import_predecessor(store, path, owner=owner)
    when = datetime(2026, 9, 9, 12, tzinfo=UTC)
    (run_id,) = import_predecessor(store, path, when=when, owner=owner)["imported"]
    (r,) = store.records(run_id)
    assert (r.input_tokens, r.output_tokens, r.ttft_ms) == (31, 256, 102.4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n", "not a llm-benchmark-studio export: expected the columns"),
        (HISTORY.replace("412.5", "fast"), "row 2: ttft_ms 'fast' is not a number"),
        (HISTORY.replace("2026-10-02T17:30:00Z", "yesterday"), "row 6: timestamp 'yesterday'"),
        (HISTORY.replace("85.2", "-1"), "row 2: tokens_per_second '-1' is not a finite"),
        (HISTORY.splitlines()[0] + "\n", "no rows"),
    ],
)
def test_bad_exports_say_what_and_where(
    store,
    owner,
    tmp_path: Path,
    text: str,  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        import_predecessor(store, path, owner=owner)
    assert store.list_runs(owner=owner) == []  # nothing half-imported


def test_the_cli_imports_an_export(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from llmbench_jupyter.cli import main

    path, db = tmp_path / "benchmark_run_1.csv", f"sqlite:///{tmp_path / 'cli.db'}"
    path.write_text(ONE_RUN)
    assert main(["results", "import", str(path), "--when", "2026-09-09T12:00", "--db", db]) == 0
    assert "imported run " in capsys.readouterr().out
    assert main(["results", "import", str(path), "--when", "2026-09-09T12:00", "--db", db]) == 0
    assert "imported from this file before" in capsys.readouterr().out
    assert main(["results", "import", str(path), "--db", db]) == 2  # no time: a usage error
    assert "give when=" in capsys.readouterr().err
