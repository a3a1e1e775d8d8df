"""The live widget of a tool-calling eval job: pass rates, category breakdown, case table.

Two synced traits. ``snapshot`` (the job's progress: per-target pass rates with Wilson
intervals, macro averages, tool F1...) follows the job at most 10 times a second, like
every job widget. The case rows are far too big for that rate, so they travel in their
own trait, ``rows``, refreshed from ``job.case_rows()`` only when the snapshot's
``rows_version`` moved, at most once a second while the job runs, and delayed rather
than dropped, so the final rows always arrive. Every figure shown is computed by the
job (from :mod:`llmbench_jupyter.stats` and :mod:`llmbench_jupyter.evals.scoring`);
this widget and its JS only lay them out.
"""

from __future__ import annotations

from typing import Any, Protocol

import traitlets

from llmbench_jupyter.jobs import FINAL_STATES
from llmbench_jupyter.kernel.widget import (
    BaseJobWidget,
    JobLike,
    Snapshot,
    Throttle,
    _json_safe,
    _static_text,
)

#: Minimum seconds between two ``rows`` messages: never more than one a second.
ROWS_INTERVAL_S = 1.0


class EvalJobLike(JobLike, Protocol):
    """What :class:`EvalWidget` needs from an eval job: a job, plus its case rows."""

    def case_rows(self) -> list[dict[str, Any]]:
        """Every case row so far. Called (≤1/s) from the thread that notifies subscribers,
        so it must not wait for a lock the job holds while notifying."""
        ...


class EvalWidget(BaseJobWidget):
    """Live view of one eval job: summary per target, targets × categories, every case."""

    _esm = _static_text("common.js", "eval_widget.js")
    _css = _static_text("common.css", "eval_widget.css")
    rows: traitlets.List[Any] = traitlets.List().tag(sync=True)

    def __init__(self, job: EvalJobLike, **kwargs: Any) -> None:
        # ready before the base class subscribes: subscribing calls back at once
        self._rows_throttle = Throttle(ROWS_INTERVAL_S, self._send_rows)
        progress = job.progress
        self._rows_version = progress.get("rows_version")
        # a job that already finished sends its final rows with the comm_open
        self._final_rows_offered = progress.get("state") in FINAL_STATES
        self._eval_job = job
        super().__init__(job, rows=_json_safe(job.case_rows()), **kwargs)

    def _on_progress(self, snapshot: Snapshot) -> None:
        super()._on_progress(snapshot)
        version = snapshot.get("rows_version")
        final = snapshot.get("state") in FINAL_STATES
        if version != self._rows_version:
            self._rows_version = version
            self._rows_throttle.offer(version)
        elif final and not self._final_rows_offered:
            # rows_version should already say so; asking once more at the end is cheap
            # (unchanged rows send nothing) and makes sure the final rows are shown
            self._rows_throttle.offer(version)
        if final:
            self._final_rows_offered = True

    def _send_rows(self, _version: Any) -> bool:
        rows = _json_safe(self._eval_job.case_rows())
        if rows == self.rows:
            return False
        self.rows = rows  # one trait: one comm message
        return True

    def _stop_updates(self) -> None:
        super()._stop_updates()
        self._rows_throttle.cancel()

    def _repr_detail(self) -> str:
        snap = self.snapshot or self._job.progress
        n_cases, k = (snap.get("suite") or {}).get("n_cases"), snap.get("k")
        of = f" ({n_cases} cases × k={k})" if n_cases is not None and k is not None else ""
        return f" attempts{of}, {len(self.rows)} rows"
