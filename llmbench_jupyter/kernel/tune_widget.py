"""The live widget of a parameter search: budgets, best so far, history, Pareto front, trials.

Two synced traits, like the eval widget (:class:`.widget.RowsJobWidget`). ``snapshot``
(trials done, spent against each budget limit, stop reason, the best trial with its
pass-rate interval, the Pareto front's trial numbers, the held-out verdict) follows the
job at most 10 times a second; ``rows`` (one per trial: state, parameters, objective
values, the best value so far) at most once a second, when the snapshot's
``rows_version`` moved. Everything shown is computed by the job and
:class:`llmbench_jupyter.analysis.tune_result.TuneResult` (dominance, best so far, the
McNemar test); this widget and its JS only lay it out.
"""

from __future__ import annotations

from typing import Protocol

from llmbench_jupyter.kernel.widget import RowsJobLike, RowsJobWidget, _static_text


class TuneJobLike(RowsJobLike, Protocol):
    """What :class:`TuneWidget` needs from a tune job: a job, plus its trial rows."""


class TuneWidget(RowsJobWidget):
    """Live view of one parameter search (``lj.tune``)."""

    _esm = _static_text("common.js", "tune_verdict.js", "tune_widget.js")
    _css = _static_text("common.css", "tune_widget.css")

    def _repr_detail(self) -> str:
        snap = self.snapshot or self._job.progress
        best = snap.get("best") or {}
        shown = f", best trial {best['number']}" if best.get("number") is not None else ""
        verdict = (snap.get("holdout") or {}).get("verdict")
        held = f", held-out: {verdict}" if verdict else ""
        return f" trials{shown}{held}"
