"""What a run produced: raw records plus run-level context. Statistics come from ``stats``.

Figures and HTML for a result are the analysis layer's (``analysis.bench_result``,
which extends this class); the engine only produces the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.records import RECORD_FIELDS, RequestRecord

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class WorkloadResult:
    """The engine's output for one run; ``run_id`` is None when nothing was stored."""

    run_id: str | None
    spec: dict[str, Any]
    records: list[RequestRecord]
    skipped: list[dict[str, Any]]
    overhead: dict[str, Any]
    status: str
    store_errors: list[str] = field(default_factory=list)

    @property
    def measured(self) -> list[RequestRecord]:
        return [r for r in self.records if not r.is_warmup]

    @property
    def ok_count(self) -> int:
        return sum(r.status == "ok" for r in self.measured)

    @property
    def error_count(self) -> int:
        return sum(r.status != "ok" for r in self.measured)

    @property
    def all_failed(self) -> bool:
        return bool(self.measured) and self.ok_count == 0

    def summary(self, include_warmup: bool = False) -> pd.DataFrame:
        from llmbench_jupyter.stats import summarize

        return summarize(self.records, include_warmup=include_warmup)

    def throughput(self) -> dict[str, Any]:
        from llmbench_jupyter.stats import aggregate_throughput

        return aggregate_throughput(self.records)

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.records], columns=list(RECORD_FIELDS))

    def compare(
        self, other: WorkloadResult, metric: str = "ttft_ms", seed: int = 0
    ) -> pd.DataFrame:
        """Per target present in both runs: the median difference (other − self) with a
        bootstrap 95% CI (``stats.compare``). Without common targets, the runs are pooled."""
        import pandas as pd

        from llmbench_jupyter.stats import compare

        def groups(result: WorkloadResult) -> dict[tuple[str, str, int], list[RequestRecord]]:
            out: dict[tuple[str, str, int], list[RequestRecord]] = {}
            for r in result.records:
                out.setdefault((r.provider, r.model, r.context_tier), []).append(r)
            return out

        mine, theirs = groups(self), groups(other)
        common = [k for k in mine if k in theirs]
        rows = []
        if common:
            for key in common:
                row = dict(zip(("provider", "model", "context_tier"), key, strict=True))
                row.update(compare(mine[key], theirs[key], metric=metric, seed=seed))
                rows.append(row)
        else:
            row = {"provider": "(all)", "model": "(all)", "context_tier": None}
            row.update(compare(self.records, other.records, metric=metric, seed=seed))
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        run = f"run {self.run_id[:8]}" if self.run_id else "unsaved run"
        targets = len({(r.provider, r.model) for r in self.records})
        return (
            f"<{type(self).__name__} {run} {self.status}: {len(self.measured)} measured requests "
            f"({self.error_count} errors), {targets} targets>"
        )
