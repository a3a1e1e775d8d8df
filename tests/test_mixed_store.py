"""Every read surface on a store that holds every kind of run at once.

The store holds, for alice: a finished benchmark, a benchmark where every request failed,
a cancelled benchmark, one interrupted mid-run (its kernel died: status ``running``), and
an eval with an inline judge; and bob's published benchmark and published eval. Each
surface (history, leaderboard, load, eval history, ``llmbench results list|show|export``,
``%llmbench results|leaderboard``, the job widgets, the report notebook) must work on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.analysis.bench_result import BenchResult
from llmbench_jupyter.analysis.eval_result import EvalResult
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.evals.suites import load_suite
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.specs import build_bench_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

RULES = str(files("llmbench_jupyter.evals") / "data" / "example_sim_rules.yaml")


@dataclasses.dataclass
class Mixed:
    url: str
    db: Path
    ids: dict[str, str]
    jobs: dict[str, Any]


def _as(user: str) -> None:
    os.environ["LLMBENCH_USER"] = user


def _suite():  # type: ignore[no-untyped-def]
    suite = load_suite("example")
    return dataclasses.replace(suite, cases=suite.cases[:4])


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mixed]:
    db = tmp_path_factory.mktemp("mixed") / "mixed.db"
    url = f"sqlite:///{db}"
    old_env = {k: os.environ.get(k) for k in ("LLMBENCH_USER", "LLMBENCH_DB_URL")}
    os.environ["LLMBENCH_DB_URL"] = url
    store = open_store(url)
    sim = SimServer(rules=RULES, seed=3).start_in_thread()
    ids: dict[str, str] = {}
    jobs: dict[str, Any] = {}
    try:
        for user in ("bob", "alice"):
            _as(user)
            spec, _ = build_bench_spec(
                model=["sim-fast"], runs=3, warmup=1, max_tokens=16, name=f"{user} bench"
            )
            ids[f"{user}-bench"] = asyncio.run(
                arun(spec, store=store, owner=user, sim_url=sim.base_url)
            ).run_id
            reset_manager(JobManager(store, owner=user))
            job = lj.evaluate(
                _suite(), ["sim-fast"], judge="local-sim/sim-medium", sim_url=sim.base_url,
                name=f"{user} eval", display=False,
            )  # fmt: skip
            ids[f"{user}-eval"] = job.wait(180).run_id
            jobs[f"{user}-eval"] = job
        _as("bob")
        lj.publish(ids["bob-bench"], store=store)
        lj.publish(ids["bob-eval"], store=store)
        _as("alice")
        failed = lj.BenchSpec(targets=[adhoc(sim.base_url, "sim:fault=500")], runs=2, warmup=0)
        ids["failed"] = asyncio.run(arun(failed, store=store, owner="alice")).run_id
        manager = JobManager(store, owner="alice")
        reset_manager(manager)
        slow = adhoc(sim.base_url, "sim:ttft=5,itl=20,out=100")
        job = lj.bench(
            api_base=sim.base_url, model=slow.model, runs=30, warmup=0, name="cancelled",
            display=False,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while job.progress.get("done", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert job.cancel() is True
        assert job.wait(60).status == "cancelled"
        ids["cancelled"] = str(job.run_id)
        jobs["cancelled"] = job
        # a kernel that died mid-run: the run row stays "running" with the records so far
        interrupted = asyncio.run(
            arun(
                lj.BenchSpec(targets=[adhoc(sim.base_url, "sim-fast")], runs=2, warmup=0),
                save=False,
            )
        )
        ids["interrupted"] = store.create_run(
            owner="alice", kind="bench", name="interrupted", spec=interrupted.spec,
            config_snapshot={}, versions={}, host={},
        )  # fmt: skip
        records = [dataclasses.replace(r, run_id=ids["interrupted"]) for r in interrupted.records]
        store.add_records(records)
        reset_manager(JobManager(store, owner="alice"))
        _more_kinds(store, sim, ids, jobs, db.parent)
        yield Mixed(url, db, ids, jobs)
    finally:
        sim.stop_thread()
        reset_manager(None)
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


PREDECESSOR_CSV = (
    "timestamp,prompt,model,provider,tokens_per_second,ttft_ms,cost,context_tokens,"
    """output_tokens
2025-06-01T10:00:00,Say hi,sim-fast,local-sim,110.5,41.2,0.0001,0,64
2025-06-01T10:00:00,Say hi,sim-fast,local-sim,,,,0,
"""
)


def _more_kinds(store: Any, sim: SimServer, ids: dict[str, str], jobs: dict[str, Any],
                folder: Path) -> None:  # fmt: skip
    """Alice's other kinds of run: a tuning search over a workload, an imported
    predecessor run, a scheduled run fired by the scheduler, and an experiment over all."""
    from datetime import timedelta

    from llmbench_jupyter.jobs.scheduler import run_due

    tuned = lj.tune(
        model="sim-fast", space={"temperature": [0.0, 1.0]}, sampler="grid", confirm=False,
        workload={"runs": 3, "warmup": 0, "context_tiers": [0], "max_tokens": 16},
        sim_url=sim.base_url, name="mixed tune", display=False,
    ).wait(180)  # fmt: skip
    jobs["tune"] = tuned  # a search: a study, not a run
    csv = folder / "benchmark_history.csv"
    csv.write_text(PREDECESSOR_CSV)
    imported = lj.import_results(csv, store=store)
    (ids["imported"],) = imported["imported"]
    made = lj.schedule("nightly", "0 6 * * *", model="sim-fast", runs=2, warmup=0,
                       max_tokens=16)  # fmt: skip
    (fired,) = run_due(store, now=made["next_due_at"] + timedelta(seconds=1))
    assert fired["status"] == "done", fired
    ids["scheduled"] = fired["run_id"]
    exp = lj.experiment("everything", store=store)
    exp.add(ids["alice-bench"], baseline=True)
    exp.add(*(ids[k] for k in ("alice-eval", "failed", "cancelled", "interrupted", "imported",
                               "scheduled")), tuned)  # fmt: skip


@pytest.fixture(autouse=True)
def _as_alice(mixed: Mixed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBENCH_DB_URL", mixed.url)
    monkeypatch.setenv("LLMBENCH_USER", "alice")


def test_the_store_holds_every_kind_of_run(mixed: Mixed) -> None:
    store = open_store(mixed.url)
    runs = {r["run_id"]: r for r in store.list_runs(all_owners=True, limit=50)}
    status = {k: runs[v]["status"] for k, v in mixed.ids.items()}
    assert status == {
        "bob-bench": "done", "bob-eval": "done", "alice-bench": "done", "alice-eval": "done",
        "failed": "failed", "cancelled": "cancelled", "interrupted": "running",
        "imported": "done", "scheduled": "done",
    }  # fmt: skip
    assert runs[mixed.ids["bob-bench"]]["published"] and runs[mixed.ids["bob-eval"]]["published"]
    assert store.judgements(mixed.ids["alice-eval"])  # the eval was judged


def test_history_and_leaderboard(mixed: Mixed) -> None:
    mine = lj.history()
    alices = ("alice-bench", "alice-eval", "failed", "cancelled", "interrupted", "imported",
              "scheduled")  # fmt: skip
    assert set(mine["run_id"]) == {mixed.ids[k] for k in alices}
    row = mine.set_index("run_id").loc[mixed.ids["alice-eval"]]
    assert row["targets"] == "local-sim/sim-fast" and row["status"] == "done"
    shared = lj.history(include_published=True)
    assert {mixed.ids["bob-bench"], mixed.ids["bob-eval"]} <= set(shared["run_id"])
    everyone = lj.history(all_owners=True)
    assert len(everyone) == len(mixed.ids)
    board = lj.leaderboard(include_published=True)
    assert not board.empty and (board["n_runs"] >= 1).all()
    assert "sim-fast" in set(board["model"])


def test_every_run_loads_shows_and_summarises(mixed: Mixed) -> None:
    for key, run_id in mixed.ids.items():
        if key.startswith("bob"):
            continue
        result = lj.load(run_id)
        html = result._repr_html_()
        assert run_id[:8] in html
        if key == "alice-eval":
            assert isinstance(result, EvalResult) and result.judgements
            assert not result.summary().empty
        else:
            assert isinstance(result, BenchResult)
            summary = result.summary()
            assert isinstance(summary, pd.DataFrame)
            result.plot()
    evals = lj.eval_history(all_owners=True)
    assert {mixed.ids["alice-eval"], mixed.ids["bob-eval"]} <= set(evals["run_id"])


def _cli(mixed: Mixed, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMBENCH_DB_URL": mixed.url, "LLMBENCH_USER": "alice"}
    return subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", *args],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip


def test_cli_results_list_show_and_export(mixed: Mixed, tmp_path: Path) -> None:
    listed = _cli(mixed, "results", "list", "--all")
    assert listed.returncode == 0, listed.stderr
    for key in ("alice-bench", "alice-eval", "failed", "cancelled", "interrupted"):
        run_id = mixed.ids[key]
        assert run_id[:8] in listed.stdout
        shown = _cli(mixed, "results", "show", run_id)
        assert shown.returncode == 0, (key, shown.stderr)
        out = tmp_path / f"{key}.csv"
        exported = _cli(mixed, "results", "export", run_id, "--output", str(out))
        assert exported.returncode == 0, (key, exported.stderr)
        assert out.read_text().count("\n") >= 1


def test_magics_results_and_leaderboard(mixed: Mixed) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "llmbench_jupyter")
    history = ip.run_line_magic("llmbench", "results")
    assert mixed.ids["alice-eval"] in set(history["run_id"])
    loaded = ip.run_line_magic("llmbench", f"results {mixed.ids['alice-eval']}")
    assert isinstance(loaded, EvalResult)
    board = ip.run_line_magic("llmbench", "leaderboard")
    assert isinstance(board, pd.DataFrame)


def test_report_notebook_on_the_mixed_store(mixed: Mixed, tmp_path: Path) -> None:
    import papermill as pm

    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "benchmark_report.ipynb"
    pm.execute_notebook(
        str(notebook),
        str(tmp_path / "report.ipynb"),
        parameters={
            "run_ids": [mixed.ids["alice-bench"], mixed.ids["interrupted"]],
            "db_url": mixed.url,
            "title": "Mixed store",
            "output_html": str(tmp_path / "report.html"),
        },
        kernel_name="python3", cwd=str(tmp_path), execution_timeout=300, progress_bar=False,
    )  # fmt: skip
    assert "Mixed store" in (tmp_path / "report.html").read_text()


def test_job_widgets_show_the_finished_and_cancelled_jobs(mixed: Mixed) -> None:
    from llmbench_jupyter.kernel.widget import widget_for

    evaluated = widget_for(mixed.jobs["alice-eval"])
    assert evaluated.snapshot["state"] == "done" and evaluated.snapshot["run_id"]
    assert len(evaluated.rows) == evaluated.snapshot["done"] > 0  # type: ignore[attr-defined]
    assert any(row["judge"] for row in evaluated.rows)  # type: ignore[attr-defined]
    cancelled = widget_for(mixed.jobs["cancelled"])
    assert cancelled.snapshot["state"] == "cancelled"
    assert 2 <= cancelled.snapshot["done"] < cancelled.snapshot["total"]
    assert "cancelled" in repr(cancelled)


def test_an_experiment_over_every_kind_of_run(mixed: Mixed, tmp_path: Path) -> None:
    """Each run against the baseline where the metric applies; the reason where not."""
    from llmbench_jupyter.kernel.experiment_widget import experiment_widget

    exp = lj.experiment("everything", create=False)
    table = exp.compare("ttft_ms")
    by_run = {run: part for run, part in table.groupby("run_id")}
    ids = mixed.ids
    study = mixed.jobs["tune"].study_id
    kinds = ("alice-eval", "failed", "cancelled", "interrupted", "imported", "scheduled")
    assert set(by_run) == {study} | {ids[k] for k in kinds}
    assert by_run[ids["alice-eval"]]["note"].iloc[0] == "a eval run has no ttft_ms"
    assert by_run[study]["note"].iloc[0].startswith("best trial")  # tested: same metric
    assert by_run[study]["p_value"].notna().all()
    assert by_run[ids["failed"]]["note"].eq("not in both runs").all()  # no successful request
    for key in ("cancelled", "interrupted"):  # ad-hoc endpoints: other targets than the base
        assert by_run[ids[key]]["note"].eq("not in both runs").all(), key
    assert by_run[ids["scheduled"]]["verdict"].notna().all()  # local-sim/sim-fast, tier 0
    imported = by_run[ids["imported"]].iloc[0]  # its one successful TTFT, same target
    assert imported["target"] == "local-sim/sim-fast" and imported["value"] == 41.2
    best = exp.best("ttft_ms")
    # a search's best trial competes too (its id is the study's): on a loaded machine it can
    # beat the runs of its target
    assert not best.empty and set(best["run_id"]) <= set(ids.values()) | {study}
    assert set(ids.values()) & set(best["run_id"])
    assert exp.compare("pass_rate")["note"].str.contains("needs a eval baseline").all()
    widget = experiment_widget(exp)
    assert widget.figure is not None and "#b00020" not in widget.status.value
    widget.metric.value = "pass_rate"
    assert "needs a eval baseline" in widget.compare_html.value
    path = exp.report(str(tmp_path / "everything.html"))
    assert path.stat().st_size < 5 * 2**20
    side = lj.compare_runs([ids["alice-bench"], ids["cancelled"], ids["scheduled"],
                            ids["imported"]])  # fmt: skip
    assert ("local-sim/sim-fast", 0) in side.index


def test_trends_changes_and_quality_on_every_kind_of_run(mixed: Mixed) -> None:
    trend = lj.trends("ttft_ms", days=3650)
    assert {"local-sim"} <= set(trend["provider"])
    changed = lj.changes("ttft_ms", days=3650, recent_days=7)
    assert isinstance(changed, pd.DataFrame)
    board = lj.leaderboard(quality=_suite().name)
    assert "sim-fast" in set(board["model"])
