"""The tune widget follows a real parameter search on the simulated endpoint.

Real HTTP, real Optuna, a real store: snapshots at most 10 a second, trial rows at most
one a second, and the final state of both (every trial, the held-out verdict) arrives.
What the widget shows is what ``TuneResult`` computed: the Pareto front's trial numbers
and each trial's best-so-far value come from the kernel, never from the JS.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.evals.suites import example_files
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.kernel import widget as widget_mod
from llmbench_jupyter.kernel.eval_widget import EvalWidget
from llmbench_jupyter.kernel.tune_widget import TuneWidget
from llmbench_jupyter.kernel.widget import (
    MIN_INTERVAL_S,
    ROWS_INTERVAL_S,
    BaseJobWidget,
    JobWidget,
)
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SPACE = {"temperature": (0.0, 1.0), "top_p": (0.5, 1.0)}
_, TUNING_RULES = example_files("tuning-example")


@pytest.fixture(scope="module")
def tuning_sim() -> Iterator[SimServer]:
    srv = SimServer(rules=TUNING_RULES).start_in_thread()
    yield srv
    srv.stop_thread()


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[JobManager]:
    mgr = JobManager(open_store(f"sqlite:///{tmp_path / 'tune.db'}"))
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


@pytest.fixture(autouse=True)
def _fresh_registries() -> Iterator[None]:
    yield
    for w in list(BaseJobWidget._by_job.values()):
        w.close()


class Recorder:
    """Every update message the widget sends after creation: (monotonic time, state)."""

    def __init__(self, widget: BaseJobWidget) -> None:
        self.msgs: list[tuple[float, dict[str, Any]]] = []
        comm = widget.comm
        original = comm.send

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            if isinstance(data, dict) and data.get("method") == "update":
                self.msgs.append((time.monotonic(), data["state"]))
            original(data=data, metadata=metadata, buffers=buffers)

        comm.send = send

    def of(self, trait: str) -> list[tuple[float, Any]]:
        return [(t, state[trait]) for t, state in self.msgs if trait in state]


def max_per_second(times: list[float]) -> int:
    return max((sum(1 for t in times if s <= t < s + 1.0) for s in times), default=0)


def follow(srv: SimServer, **kw: Any) -> tuple[Any, TuneWidget, Recorder]:
    """Start a search, attach its widget at once, wait for the end and the last rows."""

    async def main() -> tuple[Any, TuneWidget, Recorder]:
        job = lj.tune("tuning-example", "sim-fast", sim_url=srv.base_url, display=False, **kw)
        widget = TuneWidget.for_job(job)
        assert TuneWidget.for_job(job) is widget  # one widget per job
        rec = Recorder(widget)
        await job
        # the final state of both traits is out before the job settles
        assert widget.snapshot["state"] == job.progress["state"]
        assert widget.rows == job.case_rows()
        await asyncio.sleep(ROWS_INTERVAL_S + 3 * MIN_INTERVAL_S)  # nothing more comes
        return job, widget, rec

    return asyncio.run(main())


def test_the_widget_follows_a_search_and_ends_with_every_trial_and_the_verdict(
    tuning_sim: SimServer, manager: JobManager
) -> None:
    job, widget, rec = follow(tuning_sim, space=SPACE, budget={"trials": 12}, seed=0,
                              name="widget-search")  # fmt: skip
    result = job.result()
    snaps, rows = rec.of("snapshot"), rec.of("rows")
    # throttled while running: snapshots ≤10/s, rows ≤1/s (the final state of both at
    # once), one trait per message
    assert all(len(state) == 1 for _, state in rec.msgs)
    snap_times, row_times = [t for t, _ in snaps[:-1]], [t for t, _ in rows[:-1]]
    assert max_per_second(snap_times) <= 10 and max_per_second(row_times) <= 1
    assert all(b - a >= MIN_INTERVAL_S * 0.95 for a, b in itertools.pairwise(snap_times))
    assert all(b - a >= ROWS_INTERVAL_S * 0.95 for a, b in itertools.pairwise(row_times))
    assert len(rows) >= 2 and 0 < len(rows[0][1]) < 12  # partial tables went out live
    assert len({s["done"] for _, s in snaps}) >= 3  # progress moved trial by trial
    # the final state of both traits
    snap = widget.snapshot
    assert snap["state"] == "done" and snap["done"] == snap["total"] == 12
    assert snap["budget"] == {"trials": 12} and snap["spent"]["trials"] == 12
    assert "trial budget reached" in snap["stop_reason"]
    assert snap["split"] == {"search": 14, "holdout": 6}
    assert snap["params"] == ["temperature", "top_p"]
    assert snap["states"] == dict(result.trials_df()["state"].value_counts())
    assert snap["spent"]["seconds"] > 0  # the meter's clock, not a field left at zero
    best = result.best
    assert snap["best"]["number"] == best["number"]
    assert snap["best"]["pass_rate_ci"] == [best["metrics"]["pass_rate_ci_low"],
                                            best["metrics"]["pass_rate_ci_high"]]  # fmt: skip
    assert snap["pareto"] == []  # one objective: no front to show
    held = snap["holdout"]
    assert held["verdict"] == result.verdict and held["mcnemar"]["cases"] == 6
    # the rows: one per trial, the baseline first, the best so far from TuneResult
    assert [r["number"] for r in widget.rows] == list(range(12))
    assert widget.rows[0]["baseline"] is True and widget.rows[0]["temperature"] is None
    history = {p["number"]: p["best"] for p in result.history()}
    for row in widget.rows:
        assert row["best_so_far"] == history.get(row["number"])
        assert row["state"] in {"complete", "pruned", "fail"}
    assert rows[-1][1] == widget.rows
    json.dumps(widget.get_state(["snapshot", "rows"]), allow_nan=False)  # strict JSON
    text = repr(widget)
    assert not ADDRESS.search(text)
    assert text.startswith(f"TuneWidget(job {job.id[:8]} 'widget-search', done 12/12 trials, ")
    assert f"best trial {best['number']}" in text and result.verdict in text


def test_two_objectives_send_the_front_computed_by_the_result(tuning_sim: SimServer) -> None:
    job, widget, _rec = follow(tuning_sim, space=SPACE, objectives=["pass_rate", "cost_usd"],
                               sampler="nsga2", budget={"trials": 8}, seed=0,
                               save=False)  # fmt: skip
    result = job.result()
    snap = widget.snapshot
    assert snap["objectives"] == ["pass_rate", "cost_usd"]
    assert snap["directions"] == ["maximize", "minimize"]
    front = [r["number"] for r in result.pareto()]
    assert front and snap["pareto"] == front
    assert set(result.pareto_df()["number"]) == set(front)
    by_number = {r["number"]: r for r in widget.rows}
    for number in front:  # the scatter's points are in the rows, with both values
        assert by_number[number]["state"] == "complete"
        assert by_number[number]["pass_rate"] is not None
        assert by_number[number]["cost_usd"] is not None


def test_the_cancel_message_stops_the_search_and_the_widget_says_so(
    tuning_sim: SimServer,
) -> None:
    async def main() -> tuple[Any, Any, TuneWidget]:
        job = lj.tune("tuning-example", "sim-fast", space=SPACE, budget={"trials": 200},
                      sim_url=tuning_sim.base_url, display=False, save=False)  # fmt: skip
        widget = widget_mod.widget_for(job)
        assert isinstance(widget, TuneWidget)
        deadline = time.monotonic() + 60
        while job.progress["done"] < 2:
            assert time.monotonic() < deadline, "the search made no progress"
            await asyncio.sleep(0.05)
        # exactly what the front end sends: model.send({type: "cancel"})
        widget._handle_msg(
            {"content": {"data": {"method": "custom", "content": {"type": "cancel"}}},
             "buffers": []}
        )  # fmt: skip
        result = await asyncio.wait_for(asyncio.shield(_finished(job)), 60)
        await asyncio.sleep(ROWS_INTERVAL_S + 3 * MIN_INTERVAL_S)
        return result, job, widget

    result, job, widget = asyncio.run(main())
    assert result.status == "cancelled"
    assert job.state == "cancelled" == widget.snapshot["state"]
    assert 2 <= widget.snapshot["done"] < 200
    assert len(widget.rows) == widget.snapshot["done"]
    assert widget.snapshot["holdout"] is None  # no held-out test after a cancel


async def _finished(job: Any) -> Any:
    return await job


class FakeTuneJob:
    kind = "tune"

    def __init__(self) -> None:
        self.id = "7" * 32
        self.progress = {"state": "pending", "done": 0, "total": 25, "name": "fake",
                         "rows_version": 0, "best": None, "holdout": None}  # fmt: skip

    def subscribe(self, callback: Any) -> Any:
        callback(self.progress)
        return lambda: None

    def case_rows(self) -> list[dict[str, Any]]:
        return []

    def cancel(self) -> bool:
        return True


def test_display_hook_picks_the_tune_widget_for_a_tune_job() -> None:
    job = FakeTuneJob()
    widget = widget_mod.widget_for(job)  # type: ignore[arg-type]
    # (anywidget makes each instance's class a subclass of the widget class)
    assert isinstance(widget, TuneWidget)
    assert not isinstance(widget, EvalWidget | JobWidget)
    assert widget_mod.widget_for(job) is widget  # type: ignore[arg-type]
    assert widget.get_state()["_anywidget_id"].endswith(".TuneWidget")
    bundle = widget_mod.job_bundle(job)  # type: ignore[arg-type]
    assert bundle[WIDGET_MIME]["model_id"] == widget.model_id
    assert bundle["text/plain"] == "TuneWidget(job 77777777 'fake', pending 0/25 trials)"


def test_static_files_ship_with_the_package() -> None:
    static = Path(widget_mod.__file__).parent / "static"
    js = (static / "tune_widget.js").read_text()
    assert "export default" in js and 'data-testid": "llmbench-tune"' in js
    for testid in ("budget", "stop", "best", "verdict", "history", "pareto", "trials", "count"):
        assert f'"llmbench-tune-{testid}"' in js, testid
    # the widget lays out what the kernel computed: no dominance test, no running best
    assert "snap.pareto" in js and "best_so_far" in js
    assert not re.search(r"function\s+\w*dominat", js)
    assert (static / "tune_widget.css").read_text().strip()
    assert len(TuneWidget._esm.splitlines()) > len(js.splitlines())  # common.js in front
