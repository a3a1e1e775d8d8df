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
