"""A bench job's running tallies for its progress snapshot and ETA, fed each record once.

The snapshot is built up to 10 times a second, on the loop that stamps chunks when the
run has one process: rescanning every record so far made each tick cost O(records)
(medians, counts, paces), which grows with the run and shows up as loop lag. Here new
records are taken in at each tick (``records[seen:]``) and the tick reads the tallies.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.stats import GROUP_KEYS, LiveMedians


@dataclass(frozen=True)
class TallyView:
    """The tallies at one moment, copied under the lock: a tick on the loop and a
    widget's repr on another thread can read while the other takes in records."""

    done: dict[str, int]
    warmup: dict[str, int]
    errors: dict[str, int]
    paces: dict[str, float]  # mean seconds per request of each target with a finished one
    per_tier: list[dict[str, Any]]  # empty unless asked for (``medians=True``)
    by_target: dict[tuple[Any, Any], dict[str, Any]]


class BenchTally:
    """Counts per target, medians per target and per tier, and each target's pace."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the loop's ticks and a widget's repr may race
        self._reset()

    def _reset(self) -> None:
        self._seen = 0
        self.per_tier = LiveMedians(GROUP_KEYS)
        self.per_target = LiveMedians(("provider", "model"))
        self.done: dict[str, int] = {}
        self.warmup: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self._seconds: dict[str, list[float]] = {}  # [sum of e2e seconds, count] per target

    def catch_up(self, records: Sequence[RequestRecord], *, medians: bool = True) -> TallyView:
        """Take in the records added since the last call (the list only grows) and return
        the tallies as they stand; ``medians=False`` leaves the per-group medians out."""
        with self._lock:
            if len(records) < self._seen:  # not the list it followed: start over
                self._reset()
            for r in records[self._seen :]:
                self._add(r)
            self._seen = len(records)
            return TallyView(
                done=dict(self.done),
                warmup=dict(self.warmup),
                errors=dict(self.errors),
                paces={k: total / n for k, (total, n) in self._seconds.items()},
                per_tier=self.per_tier.rows() if medians else [],
                by_target={(row["provider"], row["model"]): row
                           for row in self.per_target.rows()} if medians else {},
            )  # fmt: skip

    def _add(self, r: RequestRecord) -> None:
        key = f"{r.provider}/{r.model}"
        self.done[key] = self.done.get(key, 0) + 1
        self.warmup[key] = self.warmup.get(key, 0) + r.is_warmup
        self.errors[key] = self.errors.get(key, 0) + (r.status != "ok" and not r.is_warmup)
        if r.e2e_ms is not None:
            pace = self._seconds.setdefault(key, [0.0, 0])
            pace[0] += r.e2e_ms / 1000.0
            pace[1] += 1
        self.per_tier.add(r)
        self.per_target.add(r)
