"""The shipped notebooks: saved small and clean, executed by nbval and parameterised by papermill.

nbval runs in a subprocess on a copy of ``notebooks/`` (so a run never writes into the
repository) with the store on a temporary SQLite file; lax mode, because timings differ
on every run. The papermill test reports on two runs made here and checks the comparison.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SHIPPED = ("quickstart.ipynb", "benchmark_report.ipynb", "tool_eval.ipynb", "tuning.ipynb",
           "experiment_report.ipynb", "load_sweep.ipynb")  # fmt: skip
MAX_BYTES = 1_000_000

pytestmark = pytest.mark.slow


def _env(db: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LLMBENCH_DB_URL"] = f"sqlite:///{db}"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _outputs_text(cell: Any) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        for value in out.get("data", {}).values():
            parts.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(parts)


def _cells_in_plan(code: list[Any], plan: list[str]) -> dict[str, Any]:
    """The first code cell holding each step of ``plan``; the steps come in that order."""
    positions = [next(i for i, c in enumerate(code) if step in c.source) for step in plan]
    assert positions == sorted(positions), dict(zip(plan, positions, strict=True))
    return {step: code[i] for step, i in zip(plan, positions, strict=True)}


@pytest.mark.parametrize("name", SHIPPED)
def test_saved_notebook_is_small_has_outputs_and_nothing_flaky(name: str) -> None:
    path = NOTEBOOKS / name
    assert path.stat().st_size < MAX_BYTES, f"{name} is {path.stat().st_size} bytes"
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert sum(bool(c.get("outputs")) for c in code) >= len(code) // 2, "saved without outputs"
    text = "\n".join(_outputs_text(c) for c in code)
    assert not re.search(r" at 0x[0-9a-fA-F]+", text), "an output holds an object address"
    assert not re.search(r"/tmp/|/pytest-of-", text), "an output holds a temporary path"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
    # plotly figures go through the mimetype renderer, never an embedded plotly.js
    assert "cdn.plot.ly" not in text and "plotly.min.js" not in text


def test_quickstart_follows_the_cell_plan() -> None:
    nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    plan = [
        "lj.onboarding()",
        "SimServer(seed=0).start_in_thread()",
        "lj.bench(",
        "await job",
        "result.summary()",
        "result.to_pandas().head()",
        "result.plot()",
        "lj.history(",
        "lj.leaderboard(",
        "sim.stop_thread()",
    ]
    _cells_in_plan(code, plan)
    assert "api_key" not in "\n".join(c.source for c in code)


def test_tool_eval_follows_the_cell_plan_and_shows_the_verdicts() -> None:
    nb = nbformat.read(NOTEBOOKS / "tool_eval.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    plan = [
        "SimServer(rules=rules_path)",
        "lj.evaluate(",
        "await job",
        "result.summary()",
        "result.by_category()",
        "result.failures()",
        "result.plot()",
        "result.compare_models(",
        "judge_pairwise(",
        "judge_report(",
        "lj.eval_history(",
        "%llmbench eval",
        "sim.stop_thread()",
    ]
    cells = _cells_in_plan(code, plan)
    text = {step: _outputs_text(cell) for step, cell in cells.items()}
    assert "EvalWidget(job" in text["lj.evaluate("]  # the live widget, no address
    assert "local-sim/sim-fast 68%, local-sim/sim-medium 64%" in text["await job"]
    assert "'p_value': 0.625" in text["result.compare_models("]
    assert "'ties': 44" in text["judge_pairwise("] and "'rate': 0.0" in text["judge_pairwise("]
    assert "'grade': 'C+'" in text["judge_report("]


def test_tuning_follows_the_cell_plan_and_shows_the_verdicts() -> None:
    nb = nbformat.read(NOTEBOOKS / "tuning.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    plan = [
        "lj.tune(",
        "await job",
        "result.trials_df()",
        "result.best_params",
        "result.holdout",
        "result.plot_history()",
        'objectives=["pass_rate", "cost_usd"]',
        "pareto.pareto_df()",
        "pareto.plot_pareto()",
        "resume=True",
        "await job3",
        "lj.load_tune(",
        "to_optuna(",
        "optuna.visualization",
    ]
    cells = _cells_in_plan(code, plan)
    text = {step: _outputs_text(cell) for step, cell in cells.items()}
    assert "TuneWidget(job" in text["lj.tune("]  # the live widget, no address
    assert "held-out: no significant improvement" in text["await job"]
    assert "'verdict': 'no significant improvement'" in text["result.holdout"]
    assert "'p_value': 0.125" in text["result.holdout"]
    assert "application/vnd.plotly.v1+json" in json.dumps(cells["result.plot_history()"].outputs)
    verdict = next(_outputs_text(c) for c in code if "pareto.verdict" in c.source)
    assert "('significant improvement', 0.03125, 6)" in verdict
    assert "same study: True; trials 0 to 34; baselines: 1" in text["await job3"]
    assert "34 trials, directions ['MAXIMIZE']" in text["to_optuna("]
    sources = "\n".join(c.source for c in code)
    assert "api_key" not in sources and "sim_url" not in sources  # the job starts its sim


def test_load_sweep_follows_the_cell_plan_and_finds_the_known_capacity() -> None:
    """The saved report: a sweep, then an SLO search whose limit is within 10% of the
    simulator's known capacity (100 req/s), bracketed by a failed rate, then reloaded."""
    nb = nbformat.read(NOTEBOOKS / "load_sweep.ipynb", as_version=4)
    assert "parameters" in nb.cells[2].metadata.get("tags", [])
    code = [c for c in nb.cells if c.cell_type == "code"]
    plan = ["parse_config(", "lj.sweep(", "sweep.plot()", "lj.slo_search(",
            "search.to_pandas()", "search.plot()", "lj.load_sweep("]  # fmt: skip
    cells = _cells_in_plan(code, plan)
    text = {step: _outputs_text(cell) for step, cell in cells.items()}
    assert "known capacity: 100 requests/s" in text["parse_config("]
    assert "JobWidget(job" in text["lj.sweep("] and "goodput_rps" in text["lj.sweep("]
    for chart in ("sweep.plot()", "search.plot()"):
        assert "application/vnd.plotly.v1+json" in json.dumps(cells[chart].outputs)
    found = re.search(r"found ([\d.]+) req/s .*, ([\d.]+) req/s, failed", text["lj.slo_search("])
    assert found, text["lj.slo_search("]
    limit, above = float(found.group(1)), float(found.group(2))
    assert abs(limit / 100 - 1) <= 0.10 and limit < above
    assert f"limit: {limit:g} req/s meets p99 TTFT ≤ 150 ms" in text["lj.slo_search("]
    assert f"limit {limit:g} req/s, same table: True" in text["lj.load_sweep("]


#: A newcomer's order, all against one store: the quickstart, the tool eval, the report,
#: the quickstart once more (its history and leaderboard now see an eval run too),
#: parameter tuning, the experiment report and the load sweep.
NEWCOMER_ORDER = (
    "quickstart.ipynb",
    "tool_eval.ipynb",
    "benchmark_report.ipynb",
    "quickstart_again.ipynb",
    "tuning.ipynb",
    "experiment_report.ipynb",
    "load_sweep.ipynb",
)


def test_notebooks_pass_nbval(tmp_path: Path) -> None:
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns("*.html", ".ipynb_checkpoints"))
    shutil.copy(work / "quickstart.ipynb", work / "quickstart_again.ipynb")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval-lax",
        "--nbval-cell-timeout=300",
        "--nbval-kernel-name=python3",
        "-p",
        "no:cacheprovider",
        "-q",
        *(str(work / name) for name in NEWCOMER_ORDER),
    ]
    proc = subprocess.run(
        cmd,
        cwd=tmp_path,
        env=_env(tmp_path / "nbval.db"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    passed = re.search(r"(\d+) passed", proc.stdout)
    code_cells = sum(
        c.cell_type == "code" for n in NEWCOMER_ORDER for c in nbformat.read(work / n, 4).cells
    )
    assert passed and int(passed.group(1)) == code_cells, tail
    assert "failed" not in proc.stdout.splitlines()[-1], tail
    assert (work / "benchmark_report.html").is_file()  # the report exported its HTML
    assert (work / "experiment_report.html").is_file()


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[str, list[str]]:
    """Two stored runs on the simulated endpoint: the second adds a model."""
    from llmbench_jupyter.jobs.bench_run import arun
    from llmbench_jupyter.jobs.specs import build_bench_spec
    from llmbench_jupyter.sim import SimServer
    from llmbench_jupyter.store import open_store

    url = f"sqlite:///{tmp_path / 'papermill.db'}"
    store = open_store(url)
    sim = SimServer(seed=1).start_in_thread()
    try:
        ids = []
        for models in (["sim-fast"], ["sim-fast", "sim-medium"]):
            spec, _ = build_bench_spec(model=models, runs=3, warmup=0, max_tokens=16)
            result = asyncio.run(arun(spec, store=store, sim_url=sim.base_url))
            assert result.run_id
            ids.append(result.run_id)
    finally:
        sim.stop_thread()
    return url, ids


def test_report_notebook_with_papermill_compares_two_runs(
    tmp_path: Path, two_runs: tuple[str, list[str]]
) -> None:
    import papermill as pm

    url, (first, second) = two_runs
    out = tmp_path / "report-out.ipynb"
    html = tmp_path / "report.html"
    pm.execute_notebook(
        str(NOTEBOOKS / "benchmark_report.ipynb"),
        str(out),
        parameters={
            "run_ids": [first[:10], second],
            "db_url": url,
            "title": "Two-run report",
            "output_html": str(html),
        },
        kernel_name="python3",
        cwd=str(tmp_path),
        execution_timeout=300,
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    by_tag = {t: c for c in nb.cells for t in c.metadata.get("tags", [])}
    assert "injected-parameters" in by_tag
    comparison = _outputs_text(by_tag["comparison"])
    assert f"{second[:8]} minus {first[:8]}" in comparison
    assert "diff_ci_low" in comparison and "sim-fast" in comparison
    assert "give two run ids" not in comparison
    provenance = "\n".join(_outputs_text(c) for c in nb.cells if c.cell_type == "code")
    assert first in provenance and second in provenance
    assert "stored demo run" not in provenance  # the store had runs: no demo was added
    page = html.read_text()
    assert "Two-run report" in page and first[:8] in page


def test_experiment_report_notebook_with_papermill(
    tmp_path: Path, two_runs: tuple[str, list[str]]
) -> None:
    """Papermill picks a stored experiment by name: its runs, the comparison against its
    baseline, and the HTML report."""
    import papermill as pm

    from llmbench_jupyter.analysis.experiments import experiment
    from llmbench_jupyter.store import open_store

    url, (first, second) = two_runs
    experiment("papermill", store=open_store(url)).add(first, baseline=True).add(second)
    out, html = tmp_path / "exp-out.ipynb", tmp_path / "exp.html"
    pm.execute_notebook(
        str(NOTEBOOKS / "experiment_report.ipynb"), str(out),
        parameters={"experiment": "papermill", "db_url": url, "output_html": str(html)},
        kernel_name="python3", cwd=str(tmp_path), execution_timeout=300, progress_bar=False,
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    text = "\n".join(_outputs_text(c) for c in nb.cells if c.cell_type == "code")
    assert "<Experiment 'papermill': 2 bench; baseline " + first in text
    assert second in text and "diff_ci_low" in text and "demo run" not in text
    assert html.is_file() and html.stat().st_size < 5 * 2**20
