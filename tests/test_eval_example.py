"""The example suite against the simulated endpoint's scripted answers, scored end to end.

The rules file scripts 30 right answers and 14 typical mistakes; scoring must find exactly
those, each with the outcome that names the mistake.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from importlib.resources import files
from typing import Any

from llmbench_jupyter.evals.runner import run_suite
from llmbench_jupyter.evals.scoring import score_suite
from llmbench_jupyter.evals.suites import load_suite
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.targets import adhoc

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
    assert "68% [53%–80%]" in proc.stdout  # 30/44 with its Wilson interval
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
