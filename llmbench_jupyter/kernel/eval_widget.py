"""The live widget of a tool-calling eval job: pass rates, category breakdown, case table.

Two synced traits. ``snapshot`` (the job's progress: per-target pass rates with Wilson
intervals, macro averages, tool F1...) follows the job at most 10 times a second, like
every job widget. The case rows are far too big for that rate, so they travel in their
own trait, ``rows``, refreshed from ``job.case_rows()`` only when the snapshot's
``rows_version`` moved, at most once a second while the job runs, delayed rather than
dropped; the final rows go at once with the final state (:class:`.widget.RowsJobWidget`). Every
figure shown is computed by the job (from :mod:`llmbench_jupyter.stats` and
:mod:`llmbench_jupyter.evals.scoring`); this widget and its JS only lay them out.
"""

from __future__ import annotations

from typing import Protocol

from llmbench_jupyter.kernel.widget import (
    ROWS_INTERVAL_S,
    RowsJobLike,
    RowsJobWidget,
    _static_text,
)

__all__ = ["ROWS_INTERVAL_S", "EvalJobLike", "EvalWidget"]


class EvalJobLike(RowsJobLike, Protocol):
    """What :class:`EvalWidget` needs from an eval job: a job, plus its case rows."""


class EvalWidget(RowsJobWidget):
    """Live view of one eval job: summary per target, targets × categories, every case."""

    _esm = _static_text("common.js", "eval_widget.js")
    _css = _static_text("common.css", "eval_widget.css")

    def _repr_detail(self) -> str:
        snap = self.snapshot or self._job.progress
        n_cases, k = (snap.get("suite") or {}).get("n_cases"), snap.get("k")
        of = f" ({n_cases} cases × k={k})" if n_cases is not None and k is not None else ""
        return f" attempts{of}, {len(self.rows)} rows"
