"""The hourly request budget a hub sets per user (``LLMBENCH_MAX_REQUESTS_PER_HOUR``).

A job waits in ``queued`` until the budget has room; one larger than the whole limit fails
at once with the numbers instead of waiting forever.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.jobs.states import RUNNING

if TYPE_CHECKING:
    from llmbench_jupyter.jobs.job import Job
    from llmbench_jupyter.jobs.manager import JobManager

#: Seconds between two checks of the hourly request budget while a job waits for it.
BUDGET_POLL_S = 15.0


async def wait_for_budget(manager: JobManager, job: Job[Any]) -> None:
    """Hold a job in ``queued`` until the hourly request limit leaves room for it.

    Requests count from the store (your runs started in the last hour, so other
    kernels of yours count too) plus what this process's running jobs still plan. A
    job larger than the whole limit fails at once with the numbers, never waits forever.
    """
    limit = manager.max_requests_per_hour
    if limit is None:
        return
    need = job.work.planned_requests()
    if need > limit:
        raise LLMBenchError(
            f"this {job.kind} job plans {need} requests, more than your limit of {limit} "
            "per hour (LLMBENCH_MAX_REQUESTS_PER_HOUR, set by your hub admin): split it"
        )
    while True:
        used = await asyncio.to_thread(requests_last_hour, manager)
        if used + need <= limit:
            if job.error and job.error.startswith("waiting for"):
                job.error = None
            return
        job.error = (
            f"waiting for the hourly request limit: {used} of {limit} used in the last "
            f"hour, this job needs {need}"
        )
        job._notify()
        await asyncio.sleep(BUDGET_POLL_S)


def requests_last_hour(manager: JobManager) -> int:
    from datetime import UTC, datetime, timedelta

    stored = 0
    if manager.store is not None:
        stored = manager.store.requests_since(datetime.now(UTC) - timedelta(hours=1))
    in_flight = sum(
        max(0, j.work.planned_requests() - len(j._records))
        for j in manager._jobs
        if j.state == RUNNING
    )
    return stored + in_flight
