"""The example suite against the simulated endpoint's scripted answers, scored end to end.

The rules file scripts 30 right answers and 14 typical mistakes; scoring must find exactly
those, each with the outcome that names the mistake.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from importlib.resources import files
from typing import Any

from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.evals.runner import run_suite
from llmbench_jupyter.evals.scoring import score_suite
from llmbench_jupyter.evals.suites import load_suite
from llmbench_jupyter.sim import SimServer

DATA = files("llmbench_jupyter.evals") / "data"


def test_example_suite_scores_the_scripted_mix() -> None:
    suite = load_suite(str(DATA / "example_suite.yaml"))
    assert len(suite.cases) >= 40
    srv = SimServer(rules=str(DATA / "example_sim_rules.yaml")).start_in_thread()
    try:
        target = adhoc(srv.base_url, "sim-fast")
        runs = asyncio.run(run_suite([target], suite, concurrency=8))
    finally:
        srv.stop_thread()
    scores = [r.score for r in runs]
    outcomes = Counter(s.outcome for s in scores)
    assert outcomes["pass"] == 30
    assert outcomes["should_not_call"] == 2  # tool calls on irrelevance cases
    assert outcomes["wrong_tool"] == 2 and outcomes["missing_call"] == 2
    assert outcomes["missing_argument"] == 2 and outcomes["hallucinated_argument"] == 1
    assert outcomes["wrong_arguments"] == 4
    assert outcomes["wrong_state"] == 1  # the thermostat the mock refused to set to 71
    by_id = {r.case_id: r for r in runs}
    office = by_id["mt-office-evening"]
    assert office.final_state is not None and office.final_state["thermostats"] == {"office": 21.0}
    assert office.final_state["devices"]["office/lights"]["state"] == "off"
    assert office.score.error_type == "wrong_value"
    assert "thermostats.office" in " ".join(office.score.explanation)
    bedroom = by_id["mt-bedroom-night"]
    assert bedroom.score.passed and bedroom.final_state["thermostats"] == {"bedroom": 18.0}
    # the tool results the model saw came from the stateful mock, not from static replies
    tool_msgs = [m["content"] for m in office.transcript if m.get("role") == "tool"]
    assert any("outside 5" in t for t in tool_msgs)
    summary = score_suite(scores, sorted({c.category for c in suite.cases}))
    assert summary.micro.rate == 30 / 44 and summary.micro.n == 44
    assert all(rate is not None for rate in summary.categories.values())
    assert 0 < summary.micro.ci_low < summary.micro.rate < summary.micro.ci_high < 1


def test_cli_eval_runs_the_example_suite_offline(tmp_path: Any) -> None:
    import subprocess
    import sys

    out = tmp_path / "eval.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", "eval", "-m", "sim-fast", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "68% [53–80%]" in proc.stdout  # 30/44 with its Wilson interval
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 44
    assert sum(r["score"]["passed"] for r in rows) == 30
    failed = [r for r in rows if not r["score"]["passed"]]
    assert all(r["score"]["explanation"] for r in failed)  # every verdict says why
    assert all(r["transcript"] for r in rows)  # full traces are kept


def test_cli_eval_reports_consistency_over_repeats(tmp_path: Any) -> None:
    import subprocess
    import sys

    out = tmp_path / "eval.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmbench_jupyter",
            "eval",
            "-m",
            "sim-fast",
            "--k",
            "2",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pass^k" in proc.stdout and "flip rate" in proc.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 88 and {r["attempt"] for r in rows} == {0, 1}
    # the simulated endpoint is deterministic: both attempts agree on every case
    by_case: dict[str, set[bool]] = {}
    for r in rows:
        by_case.setdefault(r["case_id"], set()).add(r["score"]["passed"])
    assert all(len(v) == 1 for v in by_case.values())


def _cli(*args: str, db: str) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LLMBENCH_DB_URL": db},
    )


def test_cli_stores_runs_and_compares_them(tmp_path: Any) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    ids = []
    for model in ("sim-fast", "sim-medium"):
        proc = _cli("eval", "-m", model, db=db)
        assert proc.returncode == 0, proc.stderr
        ids.append(proc.stderr.split("stored as eval run ")[1].split()[0])
    proc = _cli("eval-compare", ids[0][:10], ids[1][:10], db=db)
    assert proc.returncode == 0, proc.stderr
    assert "44 paired cases, p = 0.625: no significant difference" in proc.stdout
    assert "(the difference could be chance)" in proc.stdout
    proc = _cli("eval-compare", ids[0], "nope", db=db)
    assert proc.returncode == 2 and "no run id starts with 'nope'" in proc.stderr


def test_cli_suite_imports_predecessor_bfcl_and_mcp(tmp_path: Any) -> None:
    import sys
    from pathlib import Path

    from llmbench_jupyter.store import current_owner, open_store

    fixtures = Path(__file__).parent / "fixtures"
    db = f"sqlite:///{tmp_path / 'suites.db'}"
    out = tmp_path / "pred.yaml"
    proc = _cli("suite", str(fixtures / "predecessor_suite.json"), "--format", "predecessor",
                "-o", str(out), db=db)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert load_suite(str(out)).cases and "stored suite" in proc.stderr
    proc = _cli("suite", str(fixtures / "bfcl_questions.jsonl"), "--format", "bfcl",
                "--answers", str(fixtures / "bfcl_possible_answers.jsonl"), "--name", "b",
                db=db)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    server = f"{sys.executable} {fixtures / 'mcp_demo_server.py'} stdio"
    proc = _cli("suite", server, "--format", "mcp", "--name", "mcp-demo", db=db)
    assert proc.returncode == 0, proc.stderr
    names = {r["name"] for r in open_store(db).list_suites(owner=current_owner())}
    assert {"b", "mcp-demo"} <= names and len(names) == 3
    proc = _cli("suite", "/no/such/file.json", "--format", "predecessor", db=db)
    assert proc.returncode == 2 and "file.json" in proc.stderr


def test_cli_results_show_export_publish_and_audit_an_eval_run(tmp_path: Any) -> None:
    import csv

    db = f"sqlite:///{tmp_path / 'r.db'}"
    proc = _cli("eval", "-m", "sim-fast", db=db)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stderr.split("stored as eval run ")[1].split()[0]
    show = _cli("results", "show", run_id[:10], db=db)
    assert show.returncode == 0 and "68% [53–80%]" in show.stdout
    out = tmp_path / "cases.csv"
    exp = _cli("results", "export", run_id, "--format", "csv", "-o", str(out), db=db)
    assert exp.returncode == 0, exp.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 44 and sum(r["passed"] == "True" for r in rows) == 30
    assert json.loads(rows[0]["score"])["case_id"] == rows[0]["case_id"]
    pub = _cli("results", "publish", run_id[:10], db=db)
    assert pub.returncode == 0 and "published" in pub.stdout
    audit = _cli("results", "audit", db=db)
    assert "run.publish" in audit.stdout and "job.start" in audit.stdout
    assert "job.end" in audit.stdout
