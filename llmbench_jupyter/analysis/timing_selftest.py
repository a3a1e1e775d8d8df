"""A timing self-test's result as users see it: its figures, its bound, text and HTML.

The measuring is :mod:`llmbench_jupyter.jobs.selftest`'s and the statistics are
``stats.timing_errors``'s; this holds the result, the compact summary stored with a run
(:meth:`SelftestReport.to_dict`) and the views every surface shows of it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

#: Keys of the summary stored with a run (``overhead["timing_selftest"]``) and exported.
SUMMARY_KEYS = (
    "bound_ms", "ttft_err_p50_ms", "ttft_err_p99_ms", "ttft_err_max_ms", "gap_err_p50_ms",
    "gap_err_p99_ms", "gap_err_max_ms", "concurrency", "workers", "tokens_per_chunk",
    "itl_ms", "ttft_ms", "reasoning", "requests", "failed_requests", "gap_pairs",
    "early_stamps", "client_cpu_share", "loop_lag_p99_ms", "client_bound", "too_loaded",
    "limit_ms", "duration_s", "model",
)  # fmt: skip


@dataclass
class SelftestReport:
    """How accurately this machine stamped chunks, measured against the simulated
    endpoint's send log. ``bound_ms`` is the larger of TTFT and chunk-gap error p99;
    ``too_loaded`` says why the machine cannot measure below ``limit_ms`` (None: it can)."""

    concurrency: int
    workers: int
    tokens_per_chunk: int
    itl_ms: float
    ttft_ms: float
    reasoning: bool
    model: str
    limit_ms: float
    failed_requests: int
    errors: dict[str, Any] = field(default_factory=dict)
    bound_ms: float | None = None
    client_cpu_share: float | None = None
    loop_lag_p99_ms: float | None = None
    loop_lag_idle_ms: float | None = None
    client_bound: bool = False
    client_bound_reason: str | None = None
    too_loaded: str | None = None
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The compact summary stored with a run and exported (:data:`SUMMARY_KEYS`)."""
        values = {**self.errors, **{k: getattr(self, k) for k in self.__dataclass_fields__}}
        out = {k: values.get(k) for k in SUMMARY_KEYS}
        for k, v in out.items():
            if isinstance(v, float):
                out[k] = round(v, 4)
        return out

    @property
    def bound_text(self) -> str:
        from llmbench_jupyter.stats import bound_text

        return bound_text(self.to_dict()) or ""

    def lines(self) -> list[str]:
        """The report as plain lines (the CLI prints these)."""
        e = self.errors

        def ms(v: Any) -> str:
            return "-" if v is None else f"{v:.2f}"

        share = self.client_cpu_share
        lag = self.loop_lag_p99_ms
        shape = (
            f"{self.concurrency} stream(s), {self.workers} worker(s), "
            f"{self.tokens_per_chunk} token(s)/chunk, {self.itl_ms:g} ms gap, "
            f"TTFT {self.ttft_ms:g} ms{', reasoning chunks' if self.reasoning else ''}"
        )
        out = [
            f"timing self-test: {shape}",
            f"  requests measured: {e.get('requests', 0)} ({self.failed_requests} failed), "
            f"chunk gaps: {e.get('gap_pairs', 0)}",
            f"  TTFT error      p50 {ms(e.get('ttft_err_p50_ms'))}  p99 "
            f"{ms(e.get('ttft_err_p99_ms'))}  max {ms(e.get('ttft_err_max_ms'))} ms",
            f"  chunk-gap error p50 {ms(e.get('gap_err_p50_ms'))}  p99 "
            f"{ms(e.get('gap_err_p99_ms'))}  max {ms(e.get('gap_err_max_ms'))} ms",
            f"  client CPU {'-' if share is None else f'{share:.0%}'} of one core, loop lag "
            f"p99 {ms(lag)} ms (idle {ms(self.loop_lag_idle_ms)} ms), client-bound: "
            f"{'yes' if self.client_bound else 'no'}",
        ]
        if e.get("early_stamps"):
            out.append(f"  warning: {e['early_stamps']} first chunk(s) stamped before sent")
        if self.too_loaded:
            out.append(f"  TOO LOADED: {self.too_loaded}")
        out.append(f"  => {self.bound_text} ({self.duration_s:.1f} s)")
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        rows = "".join(f"<div>{html.escape(line.strip())}</div>" for line in self.lines()[1:])
        return f"<div class='lbr-selftest'><b>{html.escape(self.lines()[0])}</b>{rows}</div>"


def selftest_html(selftest: dict[str, Any] | None) -> str:
    """A stored run's self-test line for HTML views and reports ('' without one)."""
    from llmbench_jupyter.stats import bound_text

    text = bound_text(selftest)
    if not text:
        return ""
    bad = (selftest or {}).get("too_loaded") or (selftest or {}).get("error")
    cls = "lbr-bad" if bad else "lbr-muted"
    why = f" title='{html.escape(str(bad), quote=True)}'" if bad else ""
    return (
        f"<p class='lbr-selftest {cls}' data-timing-bound{why}>Timing self-test: "
        f"{html.escape(text)}.</p>"
    )


def run_bound(overhead: dict[str, Any] | None) -> float | None:
    """A run's stored timing error bound in ms (p99), None without a self-test."""
    value = ((overhead or {}).get("timing_selftest") or {}).get("bound_ms")
    return None if value is None else float(value)


def comparison_bound(bounds: list[float | None]) -> float | None:
    """The bound of a comparison: the larger of its runs' (None when none has one)."""
    known = [b for b in bounds if b is not None]
    return max(known) if known else None


def measurement_fields(diff: Any, bound: float | None, metric: str) -> dict[str, Any]:
    """``timing_error_p99_ms`` and ``measurement`` (within / larger than measurement
    error) for a difference of a time metric (``*_ms``); nothing for other metrics."""
    if not metric.endswith("_ms"):
        return {}
    from llmbench_jupyter.stats import within_error

    return {"timing_error_p99_ms": bound, "measurement": within_error(diff, bound)}


def add_measurement_columns(df: Any, metric: str, bound: float | None) -> Any:
    """``compare()``'s frame with the measurement note beside the significance test."""
    if not metric.endswith("_ms") or "diff" not in df.columns:
        return df
    fields = [measurement_fields(d, bound, metric) for d in df["diff"]]
    at = (
        list(df.columns).index("significant") + 1
        if "significant" in df.columns
        else len(df.columns)
    )
    df.insert(at, "measurement", [f["measurement"] for f in fields])
    df.insert(at + 1, "timing_error_p99_ms", bound)
    return df
