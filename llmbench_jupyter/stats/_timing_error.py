"""Timing error of the client's own stamps against a server's send log (the self-test).

The simulated endpoint stamps each chunk just before writing it; the client stamps it on
arrival, on the same monotonic clock. A chunk's stamp lateness is ``arrival − send``: what
loopback delivery and the client's own delays added. The TTFT error is the first content
chunk's lateness; the chunk-gap error is how much a gap between consecutive chunks
differs from the gap the server left. A bound is the p99 of those errors, so a difference
between two measurements smaller than it may be the clock-work's, not the endpoint's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llmbench_jupyter.stats._columns import StatsInputError

#: Above this TTFT or chunk-gap error p99 (ms), a self-test says the machine is too loaded.
DEFAULT_LIMIT_MS = 10.0
#: How a comparison's note reads when the difference is inside the bound.
WITHIN = "within measurement error"
BEYOND = "larger than measurement error"


def _quantiles(values: list[float]) -> tuple[float | None, float | None, float | None]:
    import numpy as np

    if not values:
        return None, None, None
    p50, p99 = np.percentile(np.asarray(values, dtype=float), [50, 99])
    return float(p50), float(p99), float(max(values))


def timing_errors(pairs: Iterable[tuple[Sequence[int], Sequence[int]]]) -> dict[str, Any]:
    """TTFT and chunk-gap error (ms: p50, p99, max) over requests.

    Each pair is one request's content-chunk stamps in nanoseconds: the client's arrival
    stamps, then the server's send stamps, in order. ``ttft_err`` is the first chunk's
    lateness (arrival − send); ``gap_err`` is ``|client gap − server gap|`` for each pair
    of consecutive chunks, over requests whose chunk counts agree (the others are counted
    in ``chunk_count_mismatch``: a client that merged or lost chunks). ``early_stamps``
    counts first chunks stamped before the server sent them, which only a client that
    took a content-free chunk for the first token can do. Percentiles are numpy's linear.
    """
    ttft: list[float] = []
    gaps: list[float] = []
    requests = mismatched = early = 0
    for i, pair in enumerate(pairs):
        try:
            got, sent = pair
            got, sent = [int(v) for v in got], [int(v) for v in sent]
        except (TypeError, ValueError):
            raise StatsInputError(
                f"timing_errors: pair {i} must be (client stamps, server stamps) in ns, "
                f"got {pair!r:.80}"
            ) from None
        if not got or not sent:
            raise StatsInputError(f"timing_errors: pair {i} has no stamps on one side")
        requests += 1
        lateness = (got[0] - sent[0]) / 1e6
        early += lateness < 0
        ttft.append(abs(lateness))
        if len(got) != len(sent):
            mismatched += 1
            continue
        gaps += [
            abs((got[k + 1] - got[k]) - (sent[k + 1] - sent[k])) / 1e6 for k in range(len(got) - 1)
        ]
    t50, t99, tmax = _quantiles(ttft)
    g50, g99, gmax = _quantiles(gaps)
    return {
        "requests": requests,
        "gap_pairs": len(gaps),
        "chunk_count_mismatch": mismatched,
        "early_stamps": early,
        "ttft_err_p50_ms": t50,
        "ttft_err_p99_ms": t99,
        "ttft_err_max_ms": tmax,
        "gap_err_p50_ms": g50,
        "gap_err_p99_ms": g99,
        "gap_err_max_ms": gmax,
    }


def timing_bound_ms(errors: Mapping[str, Any]) -> float | None:
    """The bound a self-test stands for: the larger of TTFT and chunk-gap error p99."""
    values = [errors.get("ttft_err_p99_ms"), errors.get("gap_err_p99_ms")]
    known = [float(v) for v in values if v is not None]
    return max(known) if known else None


def timing_verdict(
    errors: Mapping[str, Any],
    overhead: Mapping[str, Any] | None,
    limit_ms: float = DEFAULT_LIMIT_MS,
) -> str | None:
    """Why this machine is too loaded to measure timing below ``limit_ms``; None if not.

    Too loaded: the error bound (p99) is above the limit, the client was the bottleneck
    (``client_bound`` in the overhead report: CPU share or loop lag), or nothing could be
    measured. The text names what tripped.
    """
    if not limit_ms > 0:
        raise StatsInputError(f"timing_verdict: limit_ms must be > 0, got {limit_ms!r}")
    bound = timing_bound_ms(errors)
    if bound is None:
        return "no request completed, so nothing was measured"
    if overhead and overhead.get("client_bound"):
        return (
            f"the client was the bottleneck ({overhead.get('client_bound_reason')}); "
            f"timing error p99 {bound:.1f} ms"
        )
    if bound > limit_ms:
        return (
            f"timing error p99 {bound:.1f} ms is above the {limit_ms:g} ms limit: this "
            f"machine is too loaded to measure below {limit_ms:g} ms"
        )
    return None


def bound_text(selftest: Mapping[str, Any] | None) -> str | None:
    """``timing error ≤ 1.3 ms p99 on this machine at 32 streams`` for a stored self-test
    summary (None without one; its error when it failed to run)."""
    if not selftest:
        return None
    if selftest.get("error"):
        return f"timing self-test failed: {selftest['error']}"
    bound = selftest.get("bound_ms")
    if bound is None:
        return "timing self-test measured nothing"
    streams = int(selftest.get("concurrency") or 1)
    workers = int(selftest.get("workers") or 1)
    where = f"{streams} stream{'s' if streams != 1 else ''}"
    if workers > 1:
        where += f" in {workers} workers"
    text = f"timing error ≤ {bound:.1f} ms p99 on this machine at {where}"
    if selftest.get("too_loaded"):
        limit = selftest.get("limit_ms")
        text += "; too loaded to measure" + (f" below {limit:g} ms" if limit else " reliably")
    return text


def within_error(diff: float | None, bound_ms: float | None) -> str | None:
    """A note for a measured difference of times (ms) given the timing error bound:
    :data:`WITHIN` when ``|diff| <= bound``, :data:`BEYOND` when larger, None when either
    is unknown."""
    if diff is None or bound_ms is None:
        return None
    return WITHIN if abs(float(diff)) <= float(bound_ms) else BEYOND
