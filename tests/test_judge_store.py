"""Judge calls made after a run land in the store the run came from, and a judge that
cannot be reached fails the call with a clear error instead of silent failed verdicts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.analysis.eval_history import load_eval
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store


def _cli(*args: str, default_db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{default_db}"}
    return subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


def test_cli_eval_report_and_compare_judge_into_the_given_store(tmp_path: Path) -> None:
    given, default = tmp_path / "given.db", tmp_path / "default.db"
    url = f"sqlite:///{given}"
    ids = []
    for name in ("first", "second"):
        proc = _cli(
            "eval", "--db", url, "--model", "sim-fast", "--judge", "local-sim/sim-medium",
            "--judge-threshold", "0", "--report", "--name", name, default_db=default,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "judge report for local-sim/sim-fast" in proc.stdout
        ids.append(proc.stderr.split("stored as eval run ")[1].split()[0])
    compared = _cli(
        "eval-compare", ids[0], ids[1], "--db", url, "--judge", "local-sim/sim-medium",
        default_db=default,
    )  # fmt: skip
    assert compared.returncode == 0, compared.stderr
    assert "pairwise judge local-sim/sim-medium" in compared.stdout
    store = open_store(url)
    reports = store.judgements(ids[0], kind="report")
    assert len(reports) == 1 and reports[0]["status"] != "api_error"
    assert store.judgements(ids[0], kind="pairwise")
    assert not default.exists() or open_store(f"sqlite:///{default}").list_runs() == []


def test_a_loaded_eval_judges_into_its_own_store_and_an_unreachable_judge_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("LLMBENCH_DB_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    sim = SimServer().start_in_thread()
    try:
        from llmbench_jupyter.jobs import JobManager, reset_manager

        reset_manager(JobManager(open_store(url)))
        run_id = (
            lj.evaluate("example", ["sim-fast"], sim_url=sim.base_url, display=False)
            .wait(120)
            .run_id
        )
        reset_manager(None)
        loaded = load_eval(run_id, store=open_store(url))
        judge = adhoc(sim.base_url, "sim-medium")
        rows = asyncio.run(loaded.judge_cases(judge, threshold=0.5))
        assert rows and len(open_store(url).judgements(run_id, kind="case")) == len(rows)
        assert open_store(f"sqlite:///{tmp_path / 'elsewhere.db'}").list_runs() == []
    finally:
        sim.stop_thread()
    gone = adhoc(sim.base_url, "sim-medium")  # its endpoint has stopped
    with pytest.raises(lj.JudgeError, match=r"could not be used: all \d+ calls failed"):
        asyncio.run(loaded.judge_cases(gone))
    with pytest.raises(lj.JudgeError, match="is its endpoint"):
        asyncio.run(loaded.judge_report(gone))
