"""The client's own overhead during a run: CPU share and event-loop lag.

A benchmark client that is itself saturated reports its own queueing as the server's
latency; these figures let every run say whether that happened (``client_bound``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

TICK_S = 0.010


class OverheadMonitor:
    """Samples event-loop lag with a 10 ms ticker and process CPU time over a run."""

    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._cpu0 = self._wall0 = 0.0
        self._cpu1 = self._wall1 = 0.0

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.lags_ms.append(max(0.0, (time.perf_counter() - before - TICK_S) * 1000.0))

    def start(self) -> None:
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        self._cpu1, self._wall1 = time.process_time(), time.perf_counter()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def report(self) -> dict[str, Any]:
        from .stats import cpu_share, is_client_bound, loop_lag_summary

        wall = max(self._wall1 - self._wall0, 1e-9)
        cpu = self._cpu1 - self._cpu0
        share = cpu_share(cpu, wall)
        lag = loop_lag_summary(self.lags_ms)
        p99 = lag.get("p99") or 0.0
        return {
            "wall_s": round(wall, 4),
            "client_cpu_s": round(cpu, 4),
            "client_cpu_share": round(share, 4),
            "loop_lag_ms": lag,
            "loop_lag_p99_ms": p99,
            "client_bound": is_client_bound(share, p99),
        }
