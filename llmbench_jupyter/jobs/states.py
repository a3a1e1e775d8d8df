"""Job states and the transitions between them, persisted in the store with timestamps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError

PENDING, QUEUED, RUNNING = "pending", "queued", "running"
DONE, FAILED, CANCELLED, INTERRUPTED = "done", "failed", "cancelled", "interrupted"
FINAL_STATES = frozenset({DONE, FAILED, CANCELLED, INTERRUPTED})
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({QUEUED, CANCELLED}),
    QUEUED: frozenset({RUNNING, CANCELLED, FAILED}),  # failed: refused by the hourly limit
    RUNNING: frozenset({DONE, FAILED, CANCELLED, INTERRUPTED}),
}
#: Minimum seconds between two progress notifications (10 Hz at most).
THROTTLE_S = 0.1
#: How often a running job mirrors its progress into the store and looks for a cancel
#: request from another process (the lab panel): a cancel lands within this, plus a query.
WATCH_S = 0.5

Snapshot = dict[str, Any]
Subscriber = Callable[[Snapshot], None]


class JobError(LLMBenchError):
    """A job operation that cannot be done in the job's current state."""
