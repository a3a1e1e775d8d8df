"""The CLI as a newcomer meets it: a version, help on every run flag, one warm-up rule for
exports, and the cause of a run where every request failed, without -v."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from llmbench_jupyter.sim import SimServer


def _cli(*args: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if db is not None:
        env["LLMBENCH_DB_URL"] = f"sqlite:///{db}"
    return subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", *args],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip


def test_version_and_help_on_every_bench_flag() -> None:
    version = _cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("llmbench 0.")
    helptext = _cli("bench", "--help").stdout
    entries = re.split(r"\n  (?=-)", helptext)  # one entry per option, help lines included
    for flag in ("--max-tokens", "--temperature", "--seed", "--config"):
        entry = next(e for e in entries if e.startswith(flag))
        words = entry.split()[2:]  # past the flag and its metavar
        assert len(words) >= 2, f"{flag} has no help text: {entry!r}"


def test_exports_leave_out_warmups_unless_asked(sim: SimServer, tmp_path: Path) -> None:
    db, out = tmp_path / "w.db", tmp_path / "bench.jsonl"
    bench = _cli(
        "bench", "--api-base", sim.base_url, "--model", "sim:ttft=1,itl=0,out=4",
        "--runs", "3", "--warmup", "2", "--output", str(out), db=db,
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    run_id = bench.stdout.split("stored run ")[1].split()[0]
    assert len(out.read_text().splitlines()) == 3
    measured, everything = tmp_path / "m.jsonl", tmp_path / "a.jsonl"
    assert _cli("results", "export", run_id, "-o", str(measured), "--format", "jsonl", db=db)
    _cli("results", "export", run_id, "-o", str(everything), "--format", "jsonl",
         "--include-warmup", db=db)  # fmt: skip
    rows = [json.loads(x) for x in measured.read_text().splitlines()]
    assert len(rows) == 3 and not any(r["is_warmup"] for r in rows)
    assert len(everything.read_text().splitlines()) == 5


def test_a_run_where_everything_failed_says_why_without_verbose(tmp_path: Path) -> None:
    proc = _cli(
        "bench", "--api-base", "http://127.0.0.1:9/v1", "--model", "m", "--runs", "2",
        "--warmup", "0", "--no-save",
    )  # fmt: skip
    assert proc.returncode == 1
    assert "all 2 measured requests failed" in proc.stderr
    assert "2 × connection: cannot connect to 127.0.0.1:9" in proc.stderr


def test_an_ad_hoc_endpoint_keeps_one_leaderboard_row_across_restarts(tmp_path: Path) -> None:
    """Each restart of a local server may take another port: a label keeps the key."""
    import llmbench_jupyter as lj

    db = tmp_path / "lb.db"
    for label in ("my-sim", "my-sim", None):
        srv = SimServer().start_in_thread()  # a fresh port each time
        try:
            flags = ["--provider", label] if label else []
            proc = _cli(
                "bench", "--api-base", srv.base_url, "--model", "sim:ttft=1,itl=0,out=4",
                "--runs", "2", "--warmup", "0", *flags, db=db,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
        finally:
            srv.stop_thread()
    board = lj.leaderboard(store=f"sqlite:///{db}")
    assert sorted(board["provider"]) == sorted(["my-sim", f"127.0.0.1:{srv.port}"])
    assert board.set_index("provider").loc["my-sim", "n_runs"] == 2
    bad = _cli("bench", "--api-base", "http://127.0.0.1:9/v1", "--model", "m",
               "-p", "a", "-p", "b", "--no-save")  # fmt: skip
    assert bad.returncode == 2 and "give one name" in bad.stderr
