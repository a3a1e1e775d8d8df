"""The ``llmbench`` command as a user runs it: real processes, real HTTP, a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmbench_jupyter.core.records import RECORD_FIELDS
from llmbench_jupyter.sim import SimServer


def llmbench(
    *args: str, db: Path | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    if db is not None:
        full_env["LLMBENCH_DB_URL"] = f"sqlite:///{db}"
    return subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=full_env,
        cwd=cwd,
    )


def test_adhoc_target_writes_one_jsonl_record_per_request(sim: SimServer, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = llmbench(
        "bench",
        "--api-base",
        sim.base_url,
        "--model",
        "sim:ttft=20,itl=2,out=12,role=1",
        "--runs",
        "6",
        "--concurrency",
        "3",
        "--output",
        str(out),
        "--no-save",
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 6
    for line in lines:
        record = json.loads(line)
        assert list(record) == list(RECORD_FIELDS)
        assert record["status"] == "ok" and record["is_warmup"] is False
        assert record["response_id"].startswith("chatcmpl-")
        assert record["output_tokens"] == 12 and record["output_tokens_source"] == "usage"
        # the role-only chunk at ~0 ms is not the first token
        assert record["ttft_ms"] >= 15
        log = sim.send_log(record["response_id"])
        first = next(c for c in log["chunks"] if c["kind"] == "answer")
        assert record["chunk_times_ms"][0] == pytest.approx(
            (first["sent_ns"] - record["send_mono_ns"]) / 1e6, abs=25
        )
    assert "summary" in proc.stdout and "TTFT" in proc.stdout


def test_exit_code_is_nonzero_when_every_request_failed(sim: SimServer, tmp_path: Path) -> None:
    proc = llmbench(
        "bench",
        "--api-base",
        sim.base_url,
        "--model",
        "sim:fault=500",
        "--runs",
        "2",
        "--warmup",
        "0",
        db=tmp_path / "db.sqlite",
    )
    assert proc.returncode == 1
    assert "all 2 measured requests failed" in proc.stderr
    assert "http_500" in proc.stdout


def test_malformed_config_is_a_precise_error_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text(
        "providers:\n  mine:\n    api_base: http://x\n    models:\n"
        "      - id: m\n        context_window: lots\n"
    )
    proc = llmbench("bench", "--config", str(bad), "--provider", "mine", "--no-save")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr and "context_window" in proc.stderr and "lots" in proc.stderr


def test_bad_flags_and_unknown_targets_are_explained(tmp_path: Path) -> None:
    proc = llmbench("bench", "--runs", "0")
    assert proc.returncode == 2 and "expected an integer >= 1" in proc.stderr
    proc = llmbench("bench", "--context-tiers", "1k,2k")
    assert proc.returncode == 2 and "comma-separated" in proc.stderr
    proc = llmbench("bench", "--provider", "opnai", "--no-save")
    assert proc.returncode == 2 and "openai" in proc.stderr and "Traceback" not in proc.stderr
    proc = llmbench("bench", "--model", "sim-fastest", "--no-save")
    assert proc.returncode == 2 and "sim-fast" in proc.stderr
    proc = llmbench("bench", "--api-base", "localhost:8000", "--model", "m", "--no-save")
    assert proc.returncode == 2 and "http(s) base URL" in proc.stderr


def test_results_list_show_and_export_use_the_stored_field_names(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    proc = llmbench(
        "bench",
        "--model",
        "sim-fast",
        "--runs",
        "2",
        "--warmup",
        "1",
        "--max-tokens",
        "16",
        "--name",
        "cli-test",
        db=db,
    )
    assert proc.returncode == 0, proc.stderr
    assert "stored run" in proc.stdout
    listing = llmbench("results", "list", db=db)
    assert listing.returncode == 0 and "cli-test" in listing.stdout
    run_id = proc.stdout.split("stored run ")[1].split()[0]
    show = llmbench("results", "show", run_id[:8], db=db)
    assert show.returncode == 0 and "local-sim/sim-fast" in show.stdout
    for fmt in ("csv", "json", "jsonl"):
        target = tmp_path / f"export.{fmt}"
        exp = llmbench("results", "export", run_id[:8], "--format", fmt, "-o", str(target), db=db)
        assert exp.returncode == 0, exp.stderr
    header = (tmp_path / "export.csv").read_text().splitlines()[0].split(",")
    assert header == list(RECORD_FIELDS)
    rows = json.loads((tmp_path / "export.json").read_text())
    assert len(rows) == 2 and not any(r["is_warmup"] for r in rows)  # measured only, by default
    assert list(rows[0]) == list(RECORD_FIELDS)
    missing = llmbench("results", "show", "zzzz", db=db)
    assert missing.returncode == 2 and "zzzz" in missing.stderr


def test_api_keys_never_reach_output_or_the_store(sim: SimServer, tmp_path: Path) -> None:
    secret = "sk-proj-" + "Z" * 40
    srv = SimServer(require_key="right-key").start_in_thread()
    try:
        db = tmp_path / "db.sqlite"
        out = tmp_path / "out.jsonl"
        proc = llmbench(
            "bench",
            "--api-base",
            srv.base_url,
            "--model",
            "sim-fast",
            "--api-key",
            secret,
            "--runs",
            "1",
            "--warmup",
            "0",
            "-v",
            "--output",
            str(out),
            db=db,
        )
        assert proc.returncode == 1
        assert "auth_failed" in proc.stdout + proc.stderr
        assert secret not in proc.stdout + proc.stderr + out.read_text()
        assert secret.encode() not in db.read_bytes()
    finally:
        srv.stop_thread()


def test_tune_prints_trials_best_and_held_out_verdict_and_resumes(tmp_path: Path) -> None:
    db = tmp_path / "tune.db"
    flags = ("tune", "-m", "sim-fast", "--space", "temperature=0.05,1.5", "--space",
             "top_p=0.95", "--sampler", "grid", "--name", "cli-grid", "--no-prune")  # fmt: skip
    first = llmbench(*flags, "--trials", "2", db=db)
    assert first.returncode == 0, first.stderr
    assert "0 (baseline)" in first.stdout and "best: trial" in first.stdout
    assert "stopped: trial budget reached (2 of 2 trials)" in first.stderr
    again = llmbench(*flags, "--trials", "5", "--resume", db=db)
    assert again.returncode == 0, again.stderr
    assert "stopped: every grid point was tried" in again.stderr
    assert "held-out test: significant improvement" in again.stdout
    search_id = first.stderr.split("stored as search ")[1].split()[0]
    assert f"stored as search {search_id}" in again.stderr  # the same search, continued


def test_tune_bad_space_is_a_clear_error(tmp_path: Path) -> None:
    done = llmbench("tune", "-m", "sim-fast", "--space", "temprature=0..1", db=tmp_path / "x.db")
    assert done.returncode == 2
    assert "space['temprature']: unknown parameter" in done.stderr
    assert "Traceback" not in done.stderr


def test_tune_with_a_proposer_searches_system_prompts(tmp_path: Path) -> None:
    done = llmbench(
        "tune", "-m", "sim-fast", "--proposer", "sim-medium", "--method", "reflect",
        "--name", "cli-prompts", db=tmp_path / "p.db",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "stopped: the reflect search is complete" in done.stderr
    assert "best prompt: You are a weather assistant. The user wants metric units" in done.stdout
    assert "held-out test: significant improvement" in done.stdout
    both = llmbench("tune", "-m", "sim-fast", "--proposer", "sim-medium", "--space",
                    "temperature=0..1", db=tmp_path / "p.db")  # fmt: skip
    assert both.returncode == 2 and "drop --space" in both.stderr
