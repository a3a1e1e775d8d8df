"""Client overhead: event-loop lag, CPU share and whether the client limited a run.

These judge the measuring process itself, not the endpoint, so a run can say when its
own timestamps may be late (the CLIENT-BOUND verdict).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from llmbench_jupyter.stats._columns import StatsInputError, _clean


def loop_lag_summary(lags_ms: Iterable[float]) -> dict[str, Any]:
    """n, p50, p99 and max of event-loop lag samples (ms); None values ignored."""
    import numpy as np

    x = _clean(lags_ms, "loop_lag_summary(lags_ms)")
    if x.size == 0:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    p50, p99 = np.percentile(x, [50, 99])
    return {"n": int(x.size), "p50": float(p50), "p99": float(p99), "max": float(x.max())}


def cpu_share(cpu_s: float, wall_s: float) -> float:
    """Process CPU seconds per wall second: a fraction of ONE core (can exceed 1)."""
    for name, v in (("cpu_s", cpu_s), ("wall_s", wall_s)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise StatsInputError(f"cpu_share: {name} must be a finite number, got {v!r}")
    if wall_s <= 0 or cpu_s < 0:
        raise StatsInputError(
            f"cpu_share: need wall_s > 0 and cpu_s >= 0, got cpu_s={cpu_s}, wall_s={wall_s}"
        )
    return float(cpu_s) / float(wall_s)


def client_bound_reason(
    cpu_share: float,
    loop_lag_p99_ms: float | None,
    idle_lag_ms: float | None = None,
    *,
    cpu_limit: float = 0.85,
    lag_limit_ms: float = 10.0,
) -> str | None:
    """Why the client, not the endpoint, may have limited the measurement; None if not.

    Either the process used at least ``cpu_limit`` of one core, or the event loop's p99 lag
    was at least ``lag_limit_ms`` above ``idle_lag_ms``, the lag of the same loop measured
    just before the run (a shared machine's own noise is not the client's load). The text
    names the limit that tripped and what it means for the numbers.
    """
    if cpu_share >= cpu_limit:
        return (
            f"the client used {cpu_share:.0%} of one core (limit {cpu_limit:.0%}): requests "
            "and chunk stamps may have waited for it, so latencies may be overstated"
        )
    if loop_lag_p99_ms is None:
        return None
    idle = idle_lag_ms or 0.0
    excess = loop_lag_p99_ms - idle
    if excess >= lag_limit_ms:
        return (
            f"event-loop lag p99 {loop_lag_p99_ms:.1f} ms, {excess:.1f} ms above the "
            f"{idle:.1f} ms measured idle (limit +{lag_limit_ms:g} ms): chunk stamps may be "
            f"up to ~{loop_lag_p99_ms:.0f} ms late, so TTFT and ITL may be overstated by "
            "about that much"
        )
    return None


def is_client_bound(
    cpu_share: float,
    loop_lag_p99_ms: float | None,
    idle_lag_ms: float | None = None,
    *,
    cpu_limit: float = 0.85,
    lag_limit_ms: float = 10.0,
) -> bool:
    """True when :func:`client_bound_reason` has a reason."""
    reason = client_bound_reason(
        cpu_share, loop_lag_p99_ms, idle_lag_ms, cpu_limit=cpu_limit, lag_limit_ms=lag_limit_ms
    )
    return reason is not None


def combine_overhead(
    reports: list[dict[str, Any]], clock: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One run's overhead report from its worker processes' reports (same keys).

    The headline figures describe the most loaded worker, since any worker that limited
    its own requests biases the run: CPU share and loop-lag p99 are the maxima (each a
    fraction of ONE core, per process), CPU seconds and GC counts add up, and the run is
    CLIENT-BOUND when any worker is (the reason names which). ``workers`` keeps every
    worker's own report with its clock alignment (offset and error bound, ns).
    """
    if not reports:
        raise StatsInputError("combine_overhead: no worker reports")

    def worst(key: str) -> Any:
        values = [float(r[key]) for r in reports if r.get(key) is not None]
        return max(values) if values else None

    lags = [r.get("loop_lag_ms") or {} for r in reports]
    bound = [
        f"worker {k}: {r.get('client_bound_reason')}"
        for k, r in enumerate(reports)
        if r.get("client_bound")
    ]
    per_worker = []
    for k, r in enumerate(reports):
        entry = {"worker": k, **r}
        if clock is not None and k < len(clock):
            entry["clock"] = clock[k]
        per_worker.append(entry)
    out: dict[str, Any] = {
        "wall_s": worst("wall_s"),
        "client_cpu_s": round(sum(r.get("client_cpu_s") or 0.0 for r in reports), 4),
        "client_cpu_share": worst("client_cpu_share"),
        "loop_lag_ms": {
            "n": sum(int(x.get("n") or 0) for x in lags),
            "p50": max((x["p50"] for x in lags if x.get("p50") is not None), default=None),
            "p99": max((x["p99"] for x in lags if x.get("p99") is not None), default=None),
            "max": max((x["max"] for x in lags if x.get("max") is not None), default=None),
        },
        "loop_lag_p99_ms": worst("loop_lag_p99_ms"),
        "gc_collections": sum(int(r.get("gc_collections") or 0) for r in reports),
        "gc_pause_max_ms": worst("gc_pause_max_ms"),
        "gc_pause_total_ms": round(sum(r.get("gc_pause_total_ms") or 0.0 for r in reports), 3),
        "loop_lag_idle_ms": worst("loop_lag_idle_ms"),
        "client_bound": bool(bound),
        "client_bound_reason": "; ".join(bound) or None,
        "workers": {
            "cpu_share_total": round(sum(r.get("client_cpu_share") or 0.0 for r in reports), 4),
            "per_worker": per_worker,
        },
    }
    if clock:
        out["clock"] = {
            "offset_ns_max_abs": max(abs(c["offset_ns"]) for c in clock),
            "error_bound_ns_max": max(c["error_bound_ns"] for c in clock),
            "applied": any(c["applied"] for c in clock),
        }
    return out
