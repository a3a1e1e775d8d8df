"""One name, one value and one rounding per field, in every view (issue 11 D).

A benchmark with warm-ups and an eval with k = 3 run on the built-in simulated endpoint
through the CLI; each field is then read back from the store, the DataFrames, the CLI
tables (``results list/show``, ``eval``), the widget snapshot and the exports, and must
carry the same name and the same value everywhere. Percentages use one rounding rule.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmbench_jupyter.analysis import results
from llmbench_jupyter.analysis.display import fmt_pct, fmt_rate_ci, pct_points
from llmbench_jupyter.analysis.eval_history import eval_history, load_eval
from llmbench_jupyter.analysis.eval_result import EvalResult
from llmbench_jupyter.cli._tables import _console, eval_tables
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import SUMMARY_FIELDS, CaseScore
from llmbench_jupyter.store import open_store

RUNS, WARMUP, K, CASES = 3, 2, 3, 44


def llmbench(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{db}"}
    proc = subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", *args],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc


def _wrapped_row(text: str, first_cell: str) -> list[str]:
    """The cells of the first table row starting with ``first_cell``, with cells that rich
    wrapped over several lines joined back (one space between the pieces)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip("│ ").startswith(first_cell))
    parts: list[list[str]] = []
    for ln in lines[start:]:
        if not ln.startswith("│") or (parts and ln.strip("│ ").startswith("local-sim")):
            break
        parts.append([c.strip() for c in ln.strip().strip("│").split("│")])
    return [" ".join(p for p in col if p) for col in zip(*parts, strict=True)]


def _row(text: str, run_id: str) -> list[str]:
    """The cells of ``results list``'s row for ``run_id`` (rich draws │ between cells)."""
    line = next(ln for ln in text.splitlines() if run_id in ln)
    return [c.strip() for c in line.strip("│┃ ").split("│")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("names") / "n.db"
    bench = llmbench(
        "bench", "-m", "sim-fast", "-m", "sim-medium", "--runs", str(RUNS),
        "--warmup", str(WARMUP), "--max-tokens", "16", "--name", "names", db=db,
    )  # fmt: skip
    ev = llmbench("eval", "--suite", "example", "-m", "sim-fast", "--k", str(K), db=db)
    store = open_store(f"sqlite:///{db}")
    listed = {r["kind"]: r for r in store.list_runs(limit=10)}
    return {"db": db, "store": store, "bench_out": bench.stdout, "eval_out": ev.stdout, **listed}


def test_bench_requests_are_measured_everywhere_and_warmups_are_named_apart(
    runs: dict[str, Any],
) -> None:
    db, store, run = runs["db"], runs["store"], runs["bench"]
    records = store.records(run["run_id"])
    measured = [r for r in records if not r.is_warmup]
    n_req, n_warm = len(measured), len(records) - len(measured)
    n_err = sum(r.status != "ok" for r in measured)
    assert (n_req, n_warm) == (2 * RUNS, 2 * WARMUP)
    # DataFrames: history (default and full) and the result's summary
    for df in (results.history(store=store), results.history(store=store, full=True)):
        row = df.set_index("run_id").loc[run["run_id"]]
        assert (row["requests"], row["errors"], row["warmup_requests"]) == (n_req, n_err, n_warm)
    result = results.load(run["run_id"], store=store)
    assert int(result.summary()["requests"].sum()) == n_req
    assert int(result.summary(full=True)["requests"].sum()) == n_req
    # CLI: results list has the same columns with the same values; show says the same
    listing = llmbench("results", "list", db=db).stdout
    head = next(ln for ln in listing.splitlines() if "run_id" in ln)
    cells = [c.strip() for c in head.strip("│┃ ").split("┃")]
    row = dict(zip(cells, _row(listing, run["run_id"]), strict=True))
    assert (row["requests"], row["errors"], row["warmup_requests"]) == (
        str(n_req), str(n_err), str(n_warm))  # fmt: skip
    show = llmbench("results", "show", run["run_id"][:8], db=db).stdout
    assert f"{n_req} requests, {n_err} errors, {n_warm} warm-up" in show
    per_target = re.findall(r"local-sim/sim-\w+\s+0\s+(\d+)\s+(\d+)", show)
    assert [int(r) for r, _ in per_target] == [RUNS, RUNS]
    # the bench command printed the same table
    assert re.findall(r"local-sim/sim-\w+\s+0\s+(\d+)\s+(\d+)", runs["bench_out"]) == per_target
    # export: measured requests by default
    out = db.parent / "export.json"
    llmbench("results", "export", run["run_id"][:8], "--format", "json", "-o", str(out), db=db)
    assert len(json.loads(out.read_text())) == n_req


def test_bench_widget_snapshot_counts_requests_like_the_summary(tmp_path: Path) -> None:
    import llmbench_jupyter as lj
    from llmbench_jupyter.jobs import JobManager, reset_manager

    reset_manager(JobManager(open_store(f"sqlite:///{tmp_path / 'w.db'}")))
    try:
        job = lj.bench(model="sim-fast", runs=RUNS, warmup=WARMUP, max_tokens=16, display=False)
        result = job.wait(120)
        snap = job.progress
    finally:
        reset_manager(None)
    assert (snap["done"], snap["total"]) == (RUNS + WARMUP, RUNS + WARMUP)  # sent
    assert (snap["requests"], snap["warmup_requests"]) == (RUNS, WARMUP)
    assert snap["requests"] == int(result.summary()["requests"].sum()) == len(result.measured)
    assert snap["errors"] == result.error_count
    assert snap["targets"][0]["requests"] == RUNS


def test_eval_summary_fields_have_one_name_and_value_everywhere(runs: dict[str, Any]) -> None:
    store, run = runs["store"], runs["eval"]
    stored = run["summary"]["local-sim/sim-fast"]
    # the store keeps the summary under the canonical names, and nothing under old ones
    assert set(SUMMARY_FIELDS) <= set(stored)
    assert not {"n_cases", "n_attempts", "micro", "macro", "pass", "n_passed"} & set(stored)
    assert (stored["attempts"], stored["cases"]) == (CASES * K, CASES)
    result = load_eval(run["run_id"], store)
    full = result.summary(full=True).set_index("target").loc["local-sim/sim-fast"]
    compact = result.summary().set_index("target").loc["local-sim/sim-fast"]
    hist = eval_history(store=store, full=True).set_index("run_id").loc[run["run_id"]]
    for name in SUMMARY_FIELDS:
        if stored[name] is None:
            continue
        assert full[name] == stored[name], name
        assert compact[name] == pytest.approx(stored[name], abs=5e-4), name
        if name in hist.index:
            assert hist[name] == stored[name], name
    # the CLI table of the eval and of `results show` say the same, rounded the same way
    rate = fmt_rate_ci(stored["pass_rate"], stored["pass_ci_low"], stored["pass_ci_high"])
    for text in (runs["eval_out"], llmbench("results", "show", run["run_id"][:8],
                                        db=runs["db"]).stdout):  # fmt: skip
        assert f"{CASES * K} attempts ({CASES} cases × k={K})" in " ".join(text.split())
        cells = _wrapped_row(text, "local-sim/sim-fast")  # the first table: pass rates
        assert cells[1:4] == [str(CASES * K), str(stored["passed"]), rate]
        assert f"{CASES * K} attempts" in text and f"{CASES * K} cases" not in text
    assert fmt_pct(stored["pass_rate"]) in repr(result)
    assert f"{CASES * K} attempts ({CASES} cases × k={K})" in repr(result)
    assert rate in result._repr_html_()


def test_eval_widget_snapshot_counts_attempts_and_names_cases(tmp_path: Path) -> None:
    import llmbench_jupyter as lj
    from llmbench_jupyter.jobs import JobManager, reset_manager
    from llmbench_jupyter.kernel.eval_widget import EvalWidget

    reset_manager(JobManager(open_store(f"sqlite:///{tmp_path / 'e.db'}")))
    try:

        async def main() -> tuple[Any, EvalWidget]:
            job = lj.evaluate("example", ["sim-fast"], k=K, display=False)
            widget = EvalWidget.for_job(job)
            await job
            return job, widget

        job, widget = asyncio.run(main())
        result = job.result()
        snap = job.progress
    finally:
        reset_manager(None)
    assert (snap["done"], snap["total"]) == (CASES * K, CASES * K)
    assert (snap["suite"]["n_cases"], snap["k"]) == (CASES, K)
    target = snap["targets"][0]
    summary = result.summary(full=True).iloc[0]
    for name in SUMMARY_FIELDS:
        assert target[name] == summary[name] or (target[name] is None and summary[name] is None)
    assert (target["attempts"], target["cases"]) == (CASES * K, CASES)
    assert "pass" not in target and "macro" not in target
    text = repr(widget)
    assert f"{CASES * K}/{CASES * K} attempts ({CASES} cases × k={K})" in text


def _five_of_eight() -> EvalResult:
    """A run whose pass rate is exactly 0.625 (5 of 8): a half that rounds differently
    under half-to-even (62%) and half-up (63%)."""
    cases = [Case(id=f"c{i}", messages=[], expected=[]) for i in range(8)]
    suite = Suite(name="five-of-eight", tools=[], cases=cases)
    runs = []
    for i, case in enumerate(cases):
        passed = i < 5
        outcome = "pass" if passed else "wrong_arguments"
        score = CaseScore(case.id, "single", "default", passed, outcome, None, None, None,
                          None, None)  # fmt: skip
        runs.append(CaseRun("p", "m", case.id, "single", 0, score))
    return EvalResult("r" * 32, suite, ["p/m"], runs)


def test_a_share_of_0_625_is_63_percent_in_every_view() -> None:
    assert pct_points(0.625) == 63 and fmt_pct(0.625) == "63%"
    assert format(0.625, ".0%") == "62%"  # what the views used to print
    result = _five_of_eight()
    s = result.scores()["p/m"].micro
    assert s is not None and s.rate == 0.625
    assert "p/m 63%" in repr(result)
    assert ">63% [" in result._repr_html_()
    console = _console()
    with console.capture() as cap:
        for table in eval_tables(result):
            console.print(table)
    assert "63% [" in cap.get() and "62%" not in cap.get()
    assert result.summary()["pass_rate"].iloc[0] == 0.625
