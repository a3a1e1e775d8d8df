"""A benchmark's result as users see it: the engine's data plus figures and HTML.

``core.workload.WorkloadResult`` holds the records and the statistics drawn from them;
this subclass adds what belongs to analysis (plotly figures, the notebook's HTML view),
so the engine never imports charts or display code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.workload import WorkloadResult

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

#: The default view of :meth:`BenchResult.summary`: ``stats.summarize`` columns, whose
#: names carry their unit (``_ms``, ``_tps`` = tok/s, ``_usd``); ``full=True`` has all.
SUMMARY_VIEW = (
    "provider", "model", "context_tier", "requests", "errors", "success_rate",
    "ttft_ms_p50", "ttft_ms_p95", "ttfat_ms_p50", "decode_tps_p50", "tpot_ms_p50",
    "e2e_ms_p50", "output_tokens_p50", "cost_per_1k_output_usd", "total_cost_usd",
)  # fmt: skip


@dataclass(repr=False)  # WorkloadResult's one-line repr: a generated one prints every record
class BenchResult(WorkloadResult):
    """Records of one benchmark run, its summary statistics, figures and HTML view."""

    @classmethod
    def from_workload(cls, result: WorkloadResult, **changes: Any) -> BenchResult:
        values = {f.name: getattr(result, f.name) for f in fields(result)}
        values.update(changes)
        return cls(**values)

    def summary(self, include_warmup: bool = False, full: bool = False) -> pd.DataFrame:
        """One row per provider/model/context tier, from ``stats.summarize``.

        Default: the compact view (:data:`SUMMARY_VIEW`, rounded by unit: ms and tok/s to
        0.1, rates to 0.001, USD to 4 significant digits). ``full=True``: every column
        (``<metric>_<statistic>``, CIs, counts) at full precision.
        """
        df = super().summary(include_warmup=include_warmup)
        if full or df.empty:
            return df
        from llmbench_jupyter.analysis.display import round_frame

        return round_frame(df[[c for c in SUMMARY_VIEW if c in df.columns]])

    def compare(
        self, other: WorkloadResult, metric: str = "ttft_ms", seed: int = 0
    ) -> pd.DataFrame:
        """The engine's comparison (median difference, bootstrap CI, ``significant``) with,
        for time metrics, ``measurement``: "within measurement error" when the difference
        is inside the larger of the two runs' timing self-test bounds
        (``timing_error_p99_ms``), "larger than measurement error" when outside."""
        from llmbench_jupyter.analysis.timing_selftest import (
            add_measurement_columns,
            comparison_bound,
            run_bound,
        )

        df = super().compare(other, metric=metric, seed=seed)
        bound = comparison_bound([run_bound(self.overhead), run_bound(other.overhead)])
        return add_measurement_columns(df, metric, bound)

    def plot(self, metric: str | Sequence[str] | None = None, **kwargs: Any) -> go.Figure:
        """Static plotly figure(s) for reports; see ``charts.result_figure``."""
        from llmbench_jupyter.analysis.charts import result_figure

        return result_figure(self, metric=metric, **kwargs)

    def _repr_html_(self) -> str:
        from llmbench_jupyter.analysis.display import result_html

        return result_html(self)
