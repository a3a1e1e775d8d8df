"""The eval job widget: two throttled traits, final state of both, cancel, reprs, display hook.

The real eval job is not here yet: ``FakeEvalJob`` has the interface the widget relies on
(id, kind, progress, subscribe, cancel, case_rows) and emits snapshots and rows the way
the job's contract says (rows_version bumps whenever the rows change).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmbench_jupyter.evals.scoring import ERROR_TYPES
from llmbench_jupyter.jobs import job as job_mod
from llmbench_jupyter.kernel import widget as widget_mod
from llmbench_jupyter.kernel.eval_widget import ROWS_INTERVAL_S, EvalWidget
from llmbench_jupyter.kernel.widget import MIN_INTERVAL_S, BaseJobWidget, JobWidget

ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def make_row(i: int) -> dict[str, Any]:
    failed = i % 4 == 0
    return {
        "target": "sim/sim-fast" if i % 2 else "sim/sim-medium",
        "case_id": f"case-{i:04d}",
        "category": "simple",
        "attempt": 1,
        "passed": not failed,
        "outcome": "failed" if failed else "passed",
        "error_type": "wrong_value" if failed else None,
        "expected": ["get_weather(city≈'Paris')"],
        "actual": ["get_weather(city='Lyon')" if failed else "get_weather(city='paris')"],
        "explanation": "city differs." if failed else "matched.",
        "judge": None,
    }


class FakeEvalJob:
    """Enough of an eval job to drive the widget deterministically."""

    kind = "eval"

    def __init__(self, job_id: str = "e" * 32, total: int = 400) -> None:
        self.id = job_id
        self.rows: list[dict[str, Any]] = []
        self.progress: dict[str, Any] = {
            "job_id": job_id,
            "kind": "eval",
            "name": "weather-suite",
            "state": "running",
            "done": 0,
            "total": total,
            "errors": 0,
            "targets": [],
            "rows_version": 0,
        }
        self.callbacks: list[Callable[[dict[str, Any]], None]] = []
        self.case_rows_calls = 0
        self.cancelled = 0

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self.callbacks.append(callback)
        callback(self.progress)
        return lambda: self.callbacks.remove(callback)

    def case_rows(self) -> list[dict[str, Any]]:
        self.case_rows_calls += 1
        return [dict(r) for r in self.rows]

    def cancel(self) -> bool:
        self.cancelled += 1
        return True

    def emit(self, new_rows: int = 0, bump: bool = True, **changes: Any) -> None:
        """Add rows (bumping rows_version unless told not to), update, notify subscribers."""
        start = len(self.rows)
        self.rows.extend(make_row(i) for i in range(start, start + new_rows))
        snap = dict(self.progress, done=len(self.rows), **changes)
        if new_rows and bump:
            snap["rows_version"] = self.progress["rows_version"] + 1
        self.progress = snap
        for cb in list(self.callbacks):
            cb(snap)


class FakeBenchJob:
    kind = "bench"

    def __init__(self) -> None:
        self.id = "b" * 32
        self.progress = {"state": "running", "done": 0, "total": 5}

    def subscribe(self, callback: Any) -> Any:
        callback(self.progress)
        return lambda: None

    def cancel(self) -> bool:
        return True


class Recorder:
    """Every comm message the widget sends after creation: (monotonic time, synced keys)."""

    def __init__(self, widget: BaseJobWidget) -> None:
        self.msgs: list[tuple[float, set[str], dict[str, Any]]] = []
        comm = widget.comm
        original = comm.send

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            if isinstance(data, dict) and data.get("method") == "update":
                self.msgs.append((time.monotonic(), set(data["state"]), data["state"]))
            original(data=data, metadata=metadata, buffers=buffers)

        comm.send = send

    def of(self, trait: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, state[trait]) for t, keys, state in self.msgs if trait in keys]


def max_per_second(times: list[float]) -> int:
    return max((sum(1 for t in times if s <= t < s + 1.0) for s in times), default=0)


@pytest.fixture(autouse=True)
def _fresh_registries() -> Iterator[None]:
    yield
    for w in list(BaseJobWidget._by_job.values()):
        w.close()


def test_both_traits_are_throttled_and_the_final_state_of_both_arrives() -> None:
    async def main() -> tuple[FakeEvalJob, EvalWidget, Recorder, int]:
        job = FakeEvalJob()
        widget = EvalWidget(job)  # type: ignore[arg-type]
        rec = Recorder(widget)
        emitted = 0
        deadline = time.monotonic() + 2.2
        while time.monotonic() < deadline:  # a snapshot and a new row every ~10 ms
            job.emit(new_rows=1)
            emitted += 1
            await asyncio.sleep(0.01)
        job.emit(new_rows=3, state="done")  # the end comes right after a running update
        emitted += 1
        assert widget.snapshot["state"] == "done" and widget.rows == job.rows
        await asyncio.sleep(ROWS_INTERVAL_S + 5 * MIN_INTERVAL_S)  # nothing more comes
        return job, widget, rec, emitted

    job, widget, rec, emitted = asyncio.run(main())
    snaps = rec.of("snapshot")
    rows = rec.of("rows")
    assert emitted > 100
    # every update message carries one trait only
    assert all(len(keys) == 1 for _, keys, _ in rec.msgs)
    # snapshots: at most 10 a second while running (the final goes at once, so it is out
    # before the job settles), and intermediate progress got through
    snap_times = [t for t, _ in snaps[:-1]]
    assert max_per_second(snap_times) <= 10
    assert all(b - a >= MIN_INTERVAL_S * 0.95 for a, b in itertools.pairwise(snap_times))
    assert len(snaps) >= 10
    assert len({s["done"] for _, s in snaps}) == len(snaps)  # never the same state twice
    # rows: at most one message a second while running, at least one; the final at once
    row_times = [t for t, _ in rows[:-1]]
    assert max_per_second(row_times) <= 1
    assert all(b - a >= ROWS_INTERVAL_S * 0.95 for a, b in itertools.pairwise(row_times))
    assert 2 <= len(rows) <= 4
    assert 0 < len(rows[0][1]) < len(job.rows)  # a partial list went out while running
    # rows are fetched when they are sent, never once per snapshot
    assert job.case_rows_calls <= 1 + len(rows) + 1
    # the final state of both arrived
    assert snaps[-1][1]["state"] == "done" == widget.snapshot["state"]
    assert widget.snapshot["done"] == len(job.rows) == emitted + 2
    assert rows[-1][1] == job.rows == widget.rows
    assert [r["case_id"] for r in widget.rows] == [f"case-{i:04d}" for i in range(len(job.rows))]


def test_rows_are_fetched_only_when_rows_version_moves() -> None:
    async def main() -> tuple[FakeEvalJob, EvalWidget, Recorder, list[int]]:
        job = FakeEvalJob()
        job.emit(new_rows=5)
        widget = EvalWidget(job)  # type: ignore[arg-type]
        rec = Recorder(widget)
        calls = [job.case_rows_calls]  # the rows in the comm_open: one fetch
        for _ in range(30):  # progress without new rows
            job.emit(errors=1)
            await asyncio.sleep(0.01)
        calls.append(job.case_rows_calls)
        await asyncio.sleep(ROWS_INTERVAL_S)  # the interval since the comm_open has passed
        job.emit(new_rows=2)  # rows_version moves: sent at once
        calls.append(job.case_rows_calls)
        return job, widget, rec, calls

    _job, widget, rec, calls = asyncio.run(main())
    assert calls == [1, 1, 2]
    rows = rec.of("rows")
    assert len(rows) == 1 and len(rows[0][1]) == 7
    assert len(widget.rows) == 7


def test_the_final_state_brings_the_final_rows_even_without_a_version_bump() -> None:
    async def main() -> tuple[FakeEvalJob, EvalWidget]:
        job = FakeEvalJob()
        widget = EvalWidget(job)  # type: ignore[arg-type]
        job.emit(new_rows=4, bump=False, state="done")
        await asyncio.sleep(ROWS_INTERVAL_S + 3 * MIN_INTERVAL_S)
        return job, widget

    job, widget = asyncio.run(main())
    assert widget.snapshot["state"] == "done"
    assert len(widget.rows) == 4 == len(job.rows)


def test_throttle_works_without_an_event_loop() -> None:
    """Plain code with no running loop: the delay runs on a timer thread."""
    job = FakeEvalJob()
    widget = EvalWidget(job)  # type: ignore[arg-type]
    rec = Recorder(widget)
    for _ in range(40):
        job.emit(new_rows=1)
    job.emit(new_rows=1, state="done")
    burst = len(rec.msgs)
    assert burst <= 2  # at most one snapshot and one rows message went out at once
    deadline = time.monotonic() + 10
    while widget.rows != job.rows or widget.snapshot.get("state") != "done":
        assert time.monotonic() < deadline, "the delayed final state never arrived"
        time.sleep(0.05)
    assert len(rec.of("rows")) <= 2 and len(rec.of("snapshot")) <= 2
    assert widget.snapshot["done"] == 41


def test_repr_has_no_address_and_says_what_the_job_is() -> None:
    job = FakeEvalJob(total=10)
    job.emit(new_rows=3)
    widget = EvalWidget.for_job(job)  # type: ignore[arg-type]
    assert EvalWidget.for_job(job) is widget  # type: ignore[arg-type]
    text = repr(widget)
    assert text == "EvalWidget(job eeeeeeee 'weather-suite', running 3/10 attempts, 3 rows)"
    assert not ADDRESS.search(text)
    bundle = widget_mod.job_bundle(job)  # type: ignore[arg-type]
    assert bundle["text/plain"] == text


def test_cancel_message_cancels_the_job() -> None:
    job = FakeEvalJob()
    widget = EvalWidget(job)  # type: ignore[arg-type]
    # exactly what the front end sends: model.send({type: "cancel"})
    for content in ({"type": "other"}, "cancel", {"type": "cancel"}):
        widget._handle_msg(
            {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
        )
    assert job.cancelled == 1


def test_display_hook_picks_the_widget_class_by_job_kind() -> None:
    assert job_mod._display_hook is widget_mod.job_bundle  # installed by importing widget
    eval_job = FakeEvalJob(job_id="1" * 32)
    bench_job = FakeBenchJob()
    eval_widget = widget_mod.widget_for(eval_job)  # type: ignore[arg-type]
    bench_widget = widget_mod.widget_for(bench_job)  # type: ignore[arg-type]
    # (anywidget makes each instance's class a subclass of the widget class)
    assert isinstance(eval_widget, EvalWidget) and not isinstance(eval_widget, JobWidget)
    assert isinstance(bench_widget, JobWidget) and not isinstance(bench_widget, EvalWidget)
    assert widget_mod.widget_for(eval_job) is eval_widget  # type: ignore[arg-type]
    assert eval_widget.get_state()["_anywidget_id"].endswith(".EvalWidget")
    assert 'data-testid": "llmbench-eval"' in eval_widget.get_state()["_esm"]
    assert 'data-testid": "llmbench-job"' in bench_widget.get_state()["_esm"]
    bundle = widget_mod.job_bundle(eval_job)  # type: ignore[arg-type]
    assert bundle[WIDGET_MIME]["model_id"] == eval_widget.model_id
    assert bundle["text/plain"].startswith("EvalWidget(job 11111111 ")
    bundle = widget_mod.job_bundle(bench_job)  # type: ignore[arg-type]
    assert bundle[WIDGET_MIME]["model_id"] == bench_widget.model_id
    assert bundle["text/plain"] == "JobWidget(job bbbbbbbb, running 0/5)"
    # closing forgets the widget: the next display makes a new one
    eval_widget.close()
    assert widget_mod.widget_for(eval_job) is not eval_widget  # type: ignore[arg-type]


def test_a_widget_closed_while_another_is_being_created_does_not_hang() -> None:
    """Creating a widget under the registry lock can run the garbage collector, which
    closes an orphaned widget (``Widget.__del__``) on the same thread. That once hung
    the kernel until pytest-timeout fired."""
    import threading

    orphan = widget_mod.widget_for(FakeEvalJob(job_id="2" * 32))  # type: ignore[arg-type]
    finished = threading.Event()

    def create_while_gc_closes() -> None:
        with BaseJobWidget._registry_lock:  # what for_job holds while it creates a widget
            orphan.close()  # what __del__ does when the collector runs in there
        finished.set()

    worker = threading.Thread(target=create_while_gc_closes, daemon=True)
    worker.start()
    assert finished.wait(10), "close() deadlocked on the registry lock"
    assert widget_mod.widget_for(orphan.job) is not orphan  # type: ignore[arg-type]


def test_non_finite_numbers_are_sent_as_null_in_both_traits() -> None:
    job = FakeEvalJob()
    job.rows = [dict(make_row(0), judge={"status": "ok", "score": float("nan"), "passed": None})]
    stat = {"rate": float("nan"), "ci_low": float("-inf"), "ci_high": 1.0, "successes": 0, "n": 0}
    job.progress["targets"] = [{"key": "sim/sim-fast", "pass": stat, "tool_f1": float("inf")}]
    widget = EvalWidget(job)  # type: ignore[arg-type]
    target = widget.snapshot["targets"][0]
    assert target["pass"] == {"rate": None, "ci_low": None, "ci_high": 1.0, "successes": 0, "n": 0}
    assert target["tool_f1"] is None
    assert widget.rows[0]["judge"] == {"status": "ok", "score": None, "passed": None}
    json.dumps(widget.get_state(["snapshot", "rows"]), allow_nan=False)


def test_close_stops_updates_and_listening() -> None:
    async def main() -> tuple[FakeEvalJob, EvalWidget, Recorder]:
        job = FakeEvalJob()
        widget = EvalWidget(job)  # type: ignore[arg-type]
        rec = Recorder(widget)
        job.emit(new_rows=1)  # within the intervals after the comm_open: both delayed
        widget.close()
        assert job.callbacks == []
        await asyncio.sleep(ROWS_INTERVAL_S + 2 * MIN_INTERVAL_S)
        return job, widget, rec

    _job, _widget, rec = asyncio.run(main())
    assert rec.msgs == []  # both updates were still waiting for their interval


def test_static_files_ship_with_the_package() -> None:
    static = Path(widget_mod.__file__).parent / "static"
    js = (static / "eval_widget.js").read_text()
    assert "export default" in js and 'data-testid": "llmbench-eval"' in js
    assert "innerHTML" in js and "function esc(" in js
    css = (static / "eval_widget.css").read_text()
    for error_type in ERROR_TYPES:  # every error type scoring can give has its own style
        assert f".lbe-err-{error_type} " in css, error_type
        assert f"  {error_type}: " in js, error_type  # and a label


def test_a_real_eval_job_fills_both_traits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real job (lj.evaluate on the simulated endpoint) against the widget contract."""
    import llmbench_jupyter as lj
    from llmbench_jupyter.jobs import JobManager, reset_manager
    from llmbench_jupyter.store import open_store

    url = f"sqlite:///{tmp_path / 'w.db'}"
    monkeypatch.setenv("LLMBENCH_DB_URL", url)
    reset_manager(JobManager(open_store(url)))
    try:

        async def main() -> EvalWidget:
            job = lj.evaluate("example", ["sim-fast", "sim-medium"], display=False)
            w = EvalWidget.for_job(job)
            await job
            await asyncio.sleep(ROWS_INTERVAL_S + 0.3)  # the last rows message is delayed
            return w

        w = asyncio.run(main())
    finally:
        reset_manager(None)
    snap, rows = w.snapshot, w.rows
    assert snap["state"] == "done" and (snap["done"], snap["total"]) == (88, 88)
    by_target = {t["key"]: t for t in snap["targets"]}
    assert by_target["local-sim/sim-fast"]["passed"] == 30
    assert by_target["local-sim/sim-medium"]["passed"] == 28
    assert set(snap["categories"]) == {"single", "multiple", "parallel", "irrelevance",
                                       "multi_turn"}  # fmt: skip
    assert len(rows) == 88 and sum(not r["passed"] for r in rows) == 14 + 16
    office = next(r for r in rows if r["case_id"] == "mt-office-evening")
    assert office["error_type"] == "wrong_value" and "thermostats.office" in office["explanation"]
    assert any("unit" in line for r in rows for line in r["expected"])
    json.dumps(snap), json.dumps(rows)  # strict JSON on the wire
    w.close()
