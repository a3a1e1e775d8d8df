"""Eval runs export the way benchmark runs do: case rows stream out of the database a
batch at a time (a BFCL-sized run times several targets is tens of thousands of rows
with transcripts), and the file holds every row in completion order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from importlib.resources import files
from pathlib import Path

import pyarrow.parquet as pq

from llmbench_jupyter.analysis.eval_history import load_eval
from llmbench_jupyter.analysis.eval_result import case_row
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import CaseScore
from llmbench_jupyter.evals.suites import load_suite
from llmbench_jupyter.store import Store

N = 2_500


def _big_eval_run(store: Store, owner: str) -> str:
    suite = load_suite(str(files("llmbench_jupyter.evals") / "data" / "example_suite.yaml"))
    saved = store.save_suite(suite, owner)
    spec = {"suite_id": saved["suite_id"], "targets": ["p/m"]}
    run_id = store.create_run(
        owner=owner, kind="eval", spec=spec, config_snapshot={}, versions={}, host={}
    )
    rows = []
    for i in range(N):
        case = suite.cases[i % len(suite.cases)]
        passed = i % 3 != 0
        score = CaseScore(
            case_id=case.id, category=case.category, mode="default", passed=passed,
            outcome="pass" if passed else "wrong_call", tool_f1=1.0 if passed else 0.0,
            error_type=None if passed else "wrong_function", tool_precision=1.0,
            tool_recall=1.0, argument_accuracy=0.5,
        )  # fmt: skip
        run = CaseRun(
            provider="p", model="m", case_id=case.id, category=case.category, attempt=i,
            score=score, calls=[{"name": "f", "arguments": {"i": i}}],
            transcript=[{"role": "user", "content": f"case {i} " + "x" * 200}], latency_ms=1.0 + i,
        )  # fmt: skip
        rows.append(case_row(run))
    for start in range(0, N, 1000):
        store.add_eval_results(run_id, rows[start : start + 1000])
    store.finish_run(run_id, "done")
    return run_id


def test_eval_results_come_in_batches_in_completion_order(store: Store) -> None:
    owner = f"ev-{uuid.uuid4().hex[:8]}"
    run_id = _big_eval_run(store, owner)
    parts = list(store.iter_eval_results(run_id, batch=1000))
    assert [len(p) for p in parts] == [1000, 1000, 500]
    assert [r for p in parts for r in p] == store.eval_results(run_id)
    assert [r["attempt"] for p in parts for r in p] == list(range(N))


def test_the_cli_streams_an_eval_export_with_every_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evals.db'}"
    owner = f"ev-{uuid.uuid4().hex[:8]}"
    store = Store(url)
    try:
        run_id = _big_eval_run(store, owner)
        want = [case_row(r, run_id) for r in load_eval(run_id, store, owner=owner).runs]
    finally:
        store.close()
    env = {**os.environ, "LLMBENCH_DB_URL": url, "LLMBENCH_USER": owner}
    for fmt in ("parquet", "jsonl"):
        out = tmp_path / f"cases.{fmt}"
        proc = subprocess.run(
            [sys.executable, "-m", "llmbench_jupyter", "results", "export", run_id,
             "-o", str(out)],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert f"wrote {N} case rows of eval run {run_id}" in proc.stdout
        if fmt == "parquet":
            got = pq.read_table(out).to_pylist()
            assert pq.ParquetFile(out).metadata.num_row_groups == 1  # one 5,000-row batch
            for row in got:
                for name in ("score", "calls", "transcript", "final_state"):
                    row[name] = None if row[name] is None else json.loads(row[name])
        else:
            got = [json.loads(line) for line in out.read_text().splitlines()]
        assert got == want, fmt
