"""The result of a load sweep or SLO search: one row per step, the limit found, the knee chart.

Each step is one or more stored benchmark runs at one offered load (request rate or
concurrency); its numbers come from :func:`llmbench_jupyter.stats.slo_check` over the
step's pooled records, whether the sweep just ran or is reloaded (:func:`load_sweep`), so
both give the same table. The *limit* is the highest offered load whose step passed the
SLO; ``limit_above`` is the lowest load above it that did not (failed or undecided).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.stats import SLO, slo_check

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

#: Columns of :meth:`SweepResult.to_pandas`, first the ones every sweep has.
STEP_COLUMNS = (
    "step", "load", "decision", "requests", "errors", "error_rate",
    "ttft_ms_p50", "ttft_ms_p99", "tpot_ms_p50", "tpot_ms_p99", "e2e_ms_p50", "e2e_ms_p99",
    "throughput_rps", "goodput_rps", "good", "duration_s", "batches", "run_ids",
)  # fmt: skip
_SLO_PARTS = ("exceed", "lower", "upper", "decision")


def step_row(
    step: int,
    load: float,
    records: Sequence[Any],
    slo: SLO | None,
    confidence: float,
    run_ids: Sequence[str],
    batches: int,
) -> dict[str, Any]:
    """One step's row: the load, ``stats.slo_check`` of its records, where they are stored."""
    found = slo_check(list(records), slo, confidence)
    row: dict[str, Any] = {"step": step, "load": load, "requests": found.pop("n"),
                           "batches": batches, "run_ids": list(run_ids)}  # fmt: skip
    row.update(found)
    return row


@dataclass
class SweepResult:
    """Steps of one sweep (``mode`` ``rate``: offered requests/s; ``concurrency``: streams)."""

    sweep_id: str
    name: str | None
    mode: str
    search: bool
    target: str
    slo: SLO | None
    confidence: float
    steps: list[dict[str, Any]] = field(default_factory=list)
    status: str = "done"
    arrivals: str = "poisson"
    #: the target's known capacity when there is one (a simulated model with slots), rps
    known_knee_rps: float | None = None

    @property
    def unit(self) -> str:
        return "req/s" if self.mode == "rate" else "streams"

    @property
    def limit(self) -> float | None:
        """The highest offered load whose step passed the SLO (None: none passed)."""
        passed = [s["load"] for s in self.steps if s.get("decision") == "pass"]
        return max(passed) if passed else None

    @property
    def limit_above(self) -> float | None:
        """The lowest offered load above the limit that did not pass (None: none tried)."""
        floor = self.limit if self.limit is not None else float("-inf")
        above = [s["load"] for s in self.steps
                 if s.get("decision") in ("fail", "undecided") and s["load"] > floor]  # fmt: skip
        return min(above) if above else None

    def to_pandas(self) -> pd.DataFrame:
        """One row per step in the order run (see :data:`STEP_COLUMNS`; per SLO target
        ``<target>_exceed``, ``_lower``, ``_upper``, ``_decision``)."""
        import pandas as pd

        extra = [f"{f}_{p}" for f in ("ttft_ms", "tpot_ms", "error_rate") for p in _SLO_PARTS
                 if self.steps and f"{f}_{p}" in self.steps[0]]  # fmt: skip
        df = pd.DataFrame.from_records(self.steps, columns=[*STEP_COLUMNS, *extra])
        df.attrs.update(kind="sweep", sweep_id=self.sweep_id, mode=self.mode, unit=self.unit,
                        slo=str(self.slo) if self.slo else None, limit=self.limit)  # fmt: skip
        return df

    def plot(self, **kwargs: Any) -> go.Figure:
        """The knee chart: latency p50/p99 against offered load, the SLO and the limit."""
        from llmbench_jupyter.analysis.sweep_chart import knee_figure

        return knee_figure(self, **kwargs)

    def verdict(self) -> str:
        """One line: the limit found, or why there is none."""
        what = "SLO search" if self.search else "sweep"
        if self.slo is None:
            return f"{what} of {len(self.steps)} steps (no SLO given: no limit)"
        if self.limit is None:
            low = min((s["load"] for s in self.steps), default=None)
            shown = f" (lowest tried: {low:g} {self.unit})" if low is not None else ""
            return f"no step met the SLO ({self.slo}){shown}"
        above = self.limit_above
        bracket = f"; {above:g} {self.unit} did not" if above is not None else (
            "; no higher load was tried: the limit may be higher")  # fmt: skip
        knee = ""
        if self.known_knee_rps and self.mode == "rate":
            knee = f"; the target's known capacity: {self.known_knee_rps:g} req/s"
        return (f"limit: {self.limit:g} {self.unit} meets {self.slo} with {self.confidence:.0%} "
                f"confidence{bracket}{knee}")  # fmt: skip

    def __repr__(self) -> str:
        head = f"<SweepResult {self.sweep_id[:8]} {self.target} by {self.mode}, {self.status}>"
        cols = ("load", "decision", "requests", "errors", "ttft_ms_p50", "ttft_ms_p99",
                "tpot_ms_p99", "goodput_rps")  # fmt: skip
        lines = [head, "  ".join(f"{c:>12}" for c in cols)]
        for s in sorted(self.steps, key=lambda s: s["load"]):
            lines.append("  ".join(f"{_cell(s.get(c)):>12}" for c in cols))
        lines.append(self.verdict())
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def from_runs(runs: Sequence[dict[str, Any]], records: dict[str, list[Any]]) -> SweepResult:
    """Rebuild a sweep from its stored runs (``Store.sweep_runs``) and their records."""
    if not runs:
        raise LLMBenchError("from_runs: no runs given")
    tag = runs[0]["spec"]["sweep"]
    slo = SLO.parse(tag["slo"]) if tag.get("slo") else None
    by_step: dict[int, list[dict[str, Any]]] = {}
    for run in runs:
        by_step.setdefault(int(run["spec"]["sweep"]["step"]), []).append(run)
    steps = []
    for number, step_runs in sorted(by_step.items()):
        pooled = [r for run in step_runs for r in records.get(run["run_id"], [])]
        load = float(step_runs[0]["spec"]["sweep"]["load"])
        steps.append(step_row(number, load, pooled, slo, float(tag.get("confidence", 0.95)),
                              [run["run_id"] for run in step_runs], len(step_runs)))  # fmt: skip
    statuses = {run["status"] for run in runs}
    return SweepResult(
        sweep_id=tag["id"], name=tag.get("name"), mode=tag["mode"], search=bool(tag["search"]),
        target=tag.get("target", ""), slo=slo, confidence=float(tag.get("confidence", 0.95)),
        steps=steps, status="done" if statuses <= {"done"} else "partial",
        arrivals=runs[0]["spec"].get("arrivals", "poisson"),
        known_knee_rps=tag.get("known_knee_rps"),
    )  # fmt: skip


def load_sweep(sweep_id: str, *, db: str | None = None, store: Any = None,
               owner: str | None = None) -> SweepResult:  # fmt: skip
    """A stored sweep or SLO search of yours (or ``owner``'s, where the database lets you
    read it) by id or a unique prefix, its steps recomputed from the stored records."""
    from llmbench_jupyter.store import open_store

    store = store or open_store(db)
    runs = store.sweep_runs(sweep_id, owner=owner)
    records = {run["run_id"]: store.records(run["run_id"], include_warmup=False) for run in runs}
    return from_runs(runs, records)
