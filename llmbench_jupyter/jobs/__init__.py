"""Background jobs: a benchmark or an eval (later: tuning) running as a task on an asyncio loop.

In a notebook the task runs on the kernel's own loop, so other cells keep executing and
widget clicks (cancel) are handled while it runs. In plain Python with no running loop,
jobs run on one background loop thread. States are enforced here and persisted in the
store with timestamps::

    pending -> queued -> running -> done | failed | cancelled | interrupted
           \\-> cancelled  \\-> cancelled | failed (larger than the hourly request limit)

A per-user limit (``defaults.max_jobs`` in config.yaml, default 2; ``LLMBENCH_MAX_JOBS``
wins) caps running jobs; more wait in a FIFO
queue and are never rejected. On a hub, ``LLMBENCH_MAX_REQUESTS_PER_HOUR`` caps the
requests started per hour (counted in the store): a job waits in ``queued`` until the
budget has room. Job starts and ends go to the audit log. Progress snapshots, state
changes included, reach subscribers at most 10 times a second (trailing edge: the latest
state is never dropped), so a widget never sends a message per chunk. This module imports
nothing from Jupyter; the kernel layer adds the widget through :func:`set_display_hook`.
"""

from llmbench_jupyter.jobs.bench_work import BenchWork
from llmbench_jupyter.jobs.job import Job, set_display_hook
from llmbench_jupyter.jobs.manager import DEFAULT_MAX_JOBS, JobManager, get_manager, reset_manager
from llmbench_jupyter.jobs.states import FINAL_STATES, THROTTLE_S, JobError
from llmbench_jupyter.jobs.work import JobWork

__all__ = [
    "DEFAULT_MAX_JOBS",
    "FINAL_STATES",
    "THROTTLE_S",
    "BenchWork",
    "Job",
    "JobError",
    "JobManager",
    "JobWork",
    "get_manager",
    "reset_manager",
    "set_display_hook",
]
