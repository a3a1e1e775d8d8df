"""The client's own overhead during a run: CPU share, event-loop lag and GC pauses.

A benchmark client that is itself saturated reports its own queueing as the server's
latency; these figures let every run say whether that happened (``client_bound``).

Python's cyclic garbage collector stops the world: a full collection over a notebook
kernel's heap takes tens of milliseconds, during which no chunk is stamped. So while any
run is active, the objects that existed before it are frozen out of collection
(``gc.freeze``): collections then scan only what the run allocates. Pauses that still
happen are measured and reported with the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from typing import Any

TICK_S = 0.010
#: Ticks of the idle calibration before a run: 0.1 s of the loop with nothing else to do.
IDLE_TICKS = 10

_freeze_lock = threading.Lock()
_active_runs = 0


def _enter_run() -> None:
    global _active_runs
    with _freeze_lock:
        if _active_runs == 0:
            # Only the young generations: a full collection of a kernel's heap takes 50-80 ms
            # before every first send. Older garbage frozen here is not lost: unfreezing
            # hands it back to the oldest generation, collected after the run.
            gc.collect(1)
            gc.freeze()
        _active_runs += 1


def _leave_run() -> None:
    global _active_runs
    with _freeze_lock:
        _active_runs -= 1
        if _active_runs == 0:
            gc.unfreeze()


class OverheadMonitor:
    """Samples event-loop lag (10 ms ticker), process CPU time and GC pauses over a run."""

    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self.idle_lags_ms: list[float] = []
        self.gc_pauses_ms: list[float] = []
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None
        self._cpu0 = self._wall0 = 0.0
        self._cpu1 = self._wall1 = 0.0
        self._begun = False

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            if before >= self._wall0:  # a tick begun before the window opened is start-up
                self.lags_ms.append(max(0.0, (time.perf_counter() - before - TICK_S) * 1000.0))

    async def calibrate(self) -> None:
        """Measure the loop's lag before the run: the machine's own noise (a busy neighbour,
        a 2-core VM), which the CLIENT-BOUND verdict must not blame on the client."""
        for _ in range(IDLE_TICKS):
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.idle_lags_ms.append(max(0.0, (time.perf_counter() - before - TICK_S) * 1000.0))

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            self.gc_pauses_ms.append((time.perf_counter() - self._gc_started) * 1000.0)

    def start(self) -> None:
        _enter_run()
        gc.callbacks.append(self._on_gc)
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._tick())

    def begin(self) -> None:
        """Open the measured window: call at the first request's (intended) send.

        What ran before it (opening connections, a job's set-up, imports a first request
        triggers elsewhere in the process) is start-up, not the client's load while
        measuring: its CPU and any loop lag it caused are left out of the figures, so a
        one-request run is judged on that request alone. Later calls change nothing.
        """
        if self._begun:
            return
        self._begun = True
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        self.lags_ms.clear()
        self.gc_pauses_ms.clear()

    async def stop(self) -> None:
        self._cpu1, self._wall1 = time.process_time(), time.perf_counter()
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        _leave_run()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def report(self) -> dict[str, Any]:
        from llmbench_jupyter.stats import client_bound_reason, cpu_share, loop_lag_summary

        wall = max(self._wall1 - self._wall0, 1e-9)
        cpu = self._cpu1 - self._cpu0
        share = cpu_share(cpu, wall)
        lag = loop_lag_summary(self.lags_ms)
        p99 = lag.get("p99")  # None without samples: unmeasured, not 0 ms
        idle = max(self.idle_lags_ms) if self.idle_lags_ms else None
        reason = client_bound_reason(share, p99, idle)
        return {
            "wall_s": round(wall, 4),
            "client_cpu_s": round(cpu, 4),
            "client_cpu_share": round(share, 4),
            "loop_lag_ms": lag,
            "loop_lag_p99_ms": p99,
            "gc_collections": len(self.gc_pauses_ms),
            "gc_pause_max_ms": round(max(self.gc_pauses_ms, default=0.0), 3),
            "gc_pause_total_ms": round(sum(self.gc_pauses_ms), 3),
            "loop_lag_idle_ms": None if idle is None else round(idle, 3),
            "client_bound": reason is not None,
            "client_bound_reason": reason,
        }
