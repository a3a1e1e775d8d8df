"""describe(): the summary statistics of one sample, with its bootstrap median CI.

Kept apart from the record-level functions because the quantile and bootstrap method
(one partition, order-statistic resampling) is the numerical core the others reuse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.stats._columns import STATS, _check_n_boot, _clean

if TYPE_CHECKING:
    import numpy as np

# Quantiles computed by describe(): Q1, median, Q3, p90, p95, p99.
_QS = (0.25, 0.5, 0.75, 0.90, 0.95, 0.99)


def describe(values: Iterable[Any], *, seed: int = 0, n_boot: int = 2000) -> dict[str, Any]:
    """Summary statistics of one sample; None and NaN are dropped first.

    Returns n, mean, sd, min, max, p50, p90, p95, p99, cv, iqr_outliers,
    median_ci_low, median_ci_high (see docs/metrics.md for each formula).
    """
    _check_n_boot(n_boot)
    return _describe_clean(_clean(values, "describe(values)"), seed, n_boot)


def _describe_clean(x: np.ndarray, seed: int, n_boot: int) -> dict[str, Any]:
    """describe() on a 1-d float array without NaN (not modified)."""
    import numpy as np

    n = int(x.size)
    out: dict[str, Any] = dict.fromkeys(STATS)
    out["n"] = n
    if n == 0:
        return out
    # One partition serves every quantile and the bootstrap: cheaper than a full sort
    # for the pooled ITL of a large run (millions of gaps).
    positions = [q * (n - 1) for q in _QS]
    kth = {math.floor(p) for p in positions} | {min(math.floor(p) + 1, n - 1) for p in positions}
    boot = _boot_ranks(n, n_boot, np.random.default_rng(seed)) if n >= 2 else []
    lo, hi = (int(boot[0].min()), int(boot[-1].max())) if boot else (0, 0)
    kth |= {lo, hi}
    part = np.partition(x, sorted(kth))
    q1, p50, q3, p90, p95, p99 = (_lerp_at(part, p) for p in positions)
    mean = float(x.mean())
    out.update(mean=mean, min=float(x.min()), max=float(x.max()))
    out.update(p50=p50, p90=p90, p95=p95, p99=p99)
    if n >= 2:
        sd = float(x.std(ddof=1))
        out["sd"] = sd
        out["cv"] = sd / mean if mean != 0 else None
    iqr = q3 - q1
    out["iqr_outliers"] = int(np.count_nonzero((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)))
    if boot:
        mid = np.sort(part[lo : hi + 1])
        medians = _medians_from_ranks(mid, lo, boot)
        ci_low, ci_high = np.percentile(medians, [2.5, 97.5])
        out["median_ci_low"], out["median_ci_high"] = float(ci_low), float(ci_high)
    return out


def _lerp_at(part: np.ndarray, pos: float) -> float:
    """Value at fractional rank ``pos`` by linear interpolation (numpy's default method).

    ``part`` must be partitioned at floor(pos) and floor(pos)+1. The two-sided form is
    the one numpy uses, so results agree with ``np.percentile`` to the last bit.
    """
    f = math.floor(pos)
    c = min(f + 1, part.size - 1)
    a, b, t = float(part[f]), float(part[c]), pos - f
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def _boot_ranks(n: int, n_boot: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Ranks (in the sorted sample) of each bootstrap resample's median element(s).

    Exact in distribution to resampling n values with replacement ``n_boot`` times,
    but O(n_boot) instead of O(n_boot * n): a resample drawn as floor(n*U) of n uniforms
    U is sorted when U is, and the k-th smallest of n uniforms is Beta(k, n-k+1). For an
    even n the (k+1)-th is the smallest of the n-k uniforms above the k-th.
    """
    import numpy as np

    def rank(u: np.ndarray) -> np.ndarray:
        return np.minimum((u * n).astype(np.intp), n - 1)

    k = (n + 1) // 2 if n % 2 else n // 2
    u_k = rng.beta(k, n - k + 1, size=n_boot)
    if n % 2:
        return [rank(u_k)]
    u_k1 = u_k + (1.0 - u_k) * rng.beta(1, n - k, size=n_boot)
    return [rank(u_k), rank(u_k1)]


def _medians_from_ranks(mid: np.ndarray, lo: int, ranks: list[np.ndarray]) -> np.ndarray:
    """Bootstrap medians from the sorted slice ``mid`` holding ranks lo..hi."""
    if len(ranks) == 1:
        return mid[ranks[0] - lo]
    return 0.5 * (mid[ranks[0] - lo] + mid[ranks[1] - lo])


def _boot_medians(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` bootstrap medians of the clean sample ``x`` (n >= 1)."""
    import numpy as np

    ranks = _boot_ranks(int(x.size), n_boot, rng)
    lo, hi = int(ranks[0].min()), int(ranks[-1].max())
    part = np.partition(x, sorted({lo, hi}))
    return _medians_from_ranks(np.sort(part[lo : hi + 1]), lo, ranks)
