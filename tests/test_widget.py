"""The live job widget: snapshots, throttling, cancel, reprs, and comm traffic in a real kernel."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.kernel import widget as widget_mod
from llmbench_jupyter.kernel.widget import MIN_INTERVAL_S, JobWidget
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[JobManager]:
    mgr = JobManager(open_store(f"sqlite:///{tmp_path / 'jobs.db'}"))
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


class Recorder:
    """Every snapshot the widget synced (each one is one comm message), with send times."""

    def __init__(self, widget: JobWidget) -> None:
        self.changes: list[tuple[float, dict[str, Any]]] = []
        self.comm_msgs: list[dict[str, Any]] = []
        widget.observe(self._on_change, names="snapshot")
        comm = widget.comm
        original = comm.send

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            self.comm_msgs.append(data)
            original(data=data, metadata=metadata, buffers=buffers)

        comm.send = send

    def _on_change(self, change: dict[str, Any]) -> None:
        self.changes.append((time.monotonic(), change["new"]))


def test_widget_follows_a_real_job_to_its_final_state(sim: SimServer, manager: JobManager) -> None:
    async def main() -> tuple[JobWidget, Recorder, Any]:
        job = lj.bench(
            model=["sim-fast", "sim-medium"],
            runs=4,
            warmup=0,
            concurrency=2,
            sim_url=sim.base_url,
            name="widget-test",
            display=False,
        )
        widget = JobWidget.for_job(job)
        assert JobWidget.for_job(job) is widget  # one widget per job
        rec = Recorder(widget)
        await job
        await asyncio.sleep(3 * MIN_INTERVAL_S)  # a suppressed final update is flushed later
        return widget, rec, job

    widget, rec, job = asyncio.run(main())
    assert rec.changes, "the widget never updated"
    final = rec.changes[-1][1]
    assert final["state"] == "done" == job.state
    assert final["done"] == final["total"] == 8
    assert widget.snapshot == final
    assert [t["done"] for t in final["targets"]] == [4, 4]
    # progress advanced through intermediate values, never faster than 10 Hz
    assert len({s["done"] for _, s in rec.changes}) >= 2
    gaps = [b[0] - a[0] for a, b in zip(rec.changes, rec.changes[1:], strict=False)]
    assert all(g >= MIN_INTERVAL_S * 0.95 for g in gaps), gaps
    # each update is exactly one comm message carrying only the snapshot
    updates = [m for m in rec.comm_msgs if m.get("method") == "update"]
    assert len(updates) == len(rec.changes)
    assert all(set(m["state"]) == {"snapshot"} for m in updates)
    # text repr: no object address, says what the job is
    text = repr(widget)
    assert not ADDRESS.search(text)
    assert text == f"JobWidget(job {job.id[:8]} 'widget-test', done 8/8)"


def test_display_hook_shows_the_widget_for_a_job(sim: SimServer, manager: JobManager) -> None:
    async def main() -> tuple[dict[str, Any], JobWidget, Any]:
        job = lj.bench(model="sim-fast", runs=1, warmup=0, sim_url=sim.base_url, display=False)
        bundle = job._repr_mimebundle_()
        await job
        return bundle, JobWidget.for_job(job), job

    bundle, widget, _job = asyncio.run(main())
    assert bundle[WIDGET_MIME]["model_id"] == widget.model_id
    assert not ADDRESS.search(bundle["text/plain"])
    assert bundle["text/plain"].startswith("JobWidget(job ")


def test_cancel_message_cancels_the_job_and_keeps_completed_results(
    sim: SimServer, manager: JobManager
) -> None:
    async def main() -> tuple[Any, Any, JobWidget]:
        job = lj.bench(
            model="sim-fast",
            runs=300,
            warmup=0,
            concurrency=2,
            sim_url=sim.base_url,
            display=False,
        )
        widget = JobWidget.for_job(job)
        deadline = time.monotonic() + 60
        while job.progress["done"] < 2:
            assert time.monotonic() < deadline, "job made no progress"
            await asyncio.sleep(0.05)
        # exactly what the front end sends: model.send({type: "cancel"})
        widget._handle_msg(
            {
                "content": {"data": {"method": "custom", "content": {"type": "cancel"}}},
                "buffers": [],
            }
        )
        result = await asyncio.wait_for(asyncio.shield(_finished(job)), 30)
        await asyncio.sleep(3 * MIN_INTERVAL_S)
        return job, result, widget

    job, result, widget = asyncio.run(main())
    assert job.state == "cancelled"
    assert result.status == "cancelled"
    assert 2 <= len(result.records) < 300
    assert widget.snapshot["state"] == "cancelled"
    assert widget.snapshot["done"] == len(result.records)
    stored = manager.store.records(job.run_id)
    assert len(stored) >= 2  # committed as each request completed


async def _finished(job: Any) -> Any:
    return await job


class FakeJob:
    """Just enough of a Job to drive the widget's throttle deterministically."""

    id = "f" * 32

    def __init__(self) -> None:
        self.progress: dict[str, Any] = {"state": "running", "done": 0, "total": 50}
        self.callback: Any = None
        self.cancelled = False

    def subscribe(self, callback: Any) -> Any:
        self.callback = callback
        callback(self.progress)
        return lambda: None

    def cancel(self) -> bool:
        self.cancelled = True
        return True


def test_a_burst_of_progress_is_throttled_but_the_last_state_arrives() -> None:
    async def main() -> tuple[JobWidget, Recorder]:
        job = FakeJob()
        widget = JobWidget(job)  # type: ignore[arg-type]
        rec = Recorder(widget)
        for i in range(1, 51):
            job.callback({"state": "running" if i < 50 else "done", "done": i, "total": 50})
        burst = len(rec.changes)
        await asyncio.sleep(3 * MIN_INTERVAL_S)
        assert burst <= 1
        return widget, rec

    widget, rec = asyncio.run(main())
    assert widget.snapshot == {"state": "done", "done": 50, "total": 50}
    assert len(rec.changes) <= 2
    widget.close()


def test_the_final_state_arrives_even_when_its_loop_ends_at_once() -> None:
    """A script's ``asyncio.run`` ends as the job does: a final state waiting on the
    loop's timer would be lost, so it goes out at once."""

    async def main() -> tuple[JobWidget, Recorder]:
        job = FakeJob()
        widget = JobWidget(job)  # type: ignore[arg-type]
        rec = Recorder(widget)
        job.callback({"state": "running", "done": 1, "total": 2})
        job.callback({"state": "running", "done": 2, "total": 2})
        assert len(rec.changes) <= 1  # throttled: the second waits on the loop's timer
        job.callback({"state": "done", "done": 2, "total": 2})
        return widget, rec

    widget, rec = asyncio.run(main())  # the loop is gone before the interval passed
    assert widget.snapshot == {"state": "done", "done": 2, "total": 2}
    assert len(rec.changes) <= 2
    widget.close()


def test_non_finite_numbers_are_sent_as_null() -> None:
    snap = {"a": float("nan"), "b": [float("inf"), 1.5], "c": {"d": None}}
    assert widget_mod._json_safe(snap) == {"a": None, "b": [None, 1.5], "c": {"d": None}}
    json.dumps(widget_mod._json_safe(snap), allow_nan=False)


def test_static_files_ship_with_the_package() -> None:
    static = Path(widget_mod.__file__).parent / "static"
    js = (static / "job_widget.js").read_text()
    assert "export default" in js and 'data-testid": "llmbench-job"' in js
    assert (static / "job_widget.css").read_text().strip()


# --------------------------------------------------------------------- real kernel

KERNEL_CODE = """
import asyncio
import llmbench_jupyter as lj
import llmbench_jupyter.kernel.widget
from llmbench_jupyter.sim import SimServer
sim = SimServer(seed=0).start_in_thread()
job = lj.bench(model=["sim-fast", "sim-medium"], runs=15, warmup=0, concurrency=4,
               sim_url=sim.base_url, display=True)
result = await job
await asyncio.sleep(0.5)
print("RESULT", result.status, len(result.records))
"""


@pytest.mark.slow
def test_real_kernel_sends_at_most_10_widget_messages_per_second(tmp_path: Path) -> None:
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = tmp_path / "kernels" / "llmbench-venv"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "llmbench test venv",
                "language": "python",
            }
        )
    )
    env = dict(os.environ)
    env.update(
        LLMBENCH_DB_URL=f"sqlite:///{tmp_path / 'kernel.db'}",
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    km = KernelManager(
        kernel_name="llmbench-venv",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]),
    )
    km.start_kernel(env=env, cwd=str(tmp_path))
    client = km.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=60)
        msgs, reply, stdout = _execute(client, KERNEL_CODE, timeout=180)
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)

    assert reply["content"]["status"] == "ok", reply["content"]
    assert "RESULT done 30" in stdout, stdout
    opens = [
        m
        for m in msgs
        if m["msg_type"] == "comm_open"
        and m["content"]["data"]["state"].get("_anywidget_id", "").endswith("JobWidget")
    ]
    assert len(opens) == 1, "expected exactly one JobWidget comm"
    comm_id = opens[0]["content"]["comm_id"]
    shown = [
        m for m in msgs if m["msg_type"] == "display_data" and WIDGET_MIME in m["content"]["data"]
    ]
    assert shown and shown[0]["content"]["data"][WIDGET_MIME]["model_id"] == comm_id
    assert not ADDRESS.search(shown[0]["content"]["data"]["text/plain"])

    updates = [
        m for m in msgs if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
    ]
    assert updates, "the widget sent no updates"
    for m in updates:
        assert m["content"]["data"]["method"] == "update"
        assert set(m["content"]["data"]["state"]) == {"snapshot"}
    # ≤10 a second while running; the final state goes at once (before the job settles)
    times = sorted(m["header"]["date"] for m in updates)[:-1]
    worst = max(
        sum(1 for t in times if start <= t < start + timedelta(seconds=1)) for start in times
    )
    assert worst <= 10, f"{worst} widget messages within one second"
    snapshots = [m["content"]["data"]["state"]["snapshot"] for m in updates]
    running_done = {s["done"] for s in snapshots if s["state"] == "running"}
    assert len(running_done) >= 2, "progress never advanced in between"
    assert snapshots[-1]["state"] == "done"
    assert snapshots[-1]["done"] == snapshots[-1]["total"] == 30


def _execute(client: Any, code: str, timeout: float) -> tuple[list[dict[str, Any]], Any, str]:
    """Run ``code``; return its iopub messages, the execute reply and its stdout."""
    msg_id = client.execute(code)
    deadline = time.monotonic() + timeout
    msgs: list[dict[str, Any]] = []
    stdout: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"kernel did not finish within {timeout} s; stdout={stdout}"
        try:
            msg = client.get_iopub_msg(timeout=min(remaining, 5))
        except queue.Empty:
            continue
        msgs.append(msg)  # widget messages from the job's task included, whatever their parent
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            stdout.append(msg["content"]["text"])
        if msg["msg_type"] == "error":
            stdout.append("\n".join(msg["content"]["traceback"]))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    reply = client.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
    return msgs, reply, "".join(stdout)
