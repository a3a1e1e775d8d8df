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
    import plotly.graph_objects as go


@dataclass
class BenchResult(WorkloadResult):
    """Records of one benchmark run, its summary statistics, figures and HTML view."""

    @classmethod
    def from_workload(cls, result: WorkloadResult, **changes: Any) -> BenchResult:
        values = {f.name: getattr(result, f.name) for f in fields(result)}
        values.update(changes)
        return cls(**values)

    def plot(self, metric: str | Sequence[str] | None = None, **kwargs: Any) -> go.Figure:
        """Static plotly figure(s) for reports; see ``charts.result_figure``."""
        from llmbench_jupyter.analysis.charts import result_figure

        return result_figure(self, metric=metric, **kwargs)

    def _repr_html_(self) -> str:
        from llmbench_jupyter.analysis.display import result_html

        return result_html(self)
