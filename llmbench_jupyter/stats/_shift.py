"""Did a sample shift? Two independent samples compared without assuming a distribution.

``shift_test(reference, recent)`` is the Mann-Whitney U test (two-sided, scipy's exact
method for small samples without ties, else the normal approximation with tie
correction) with two effect sizes: the ratio of medians (recent / reference) and Cliff's
delta = P(recent > reference) − P(recent < reference) = 2U/(n₁n₂) − 1, in [−1, 1].
Used on one value per run (a run's median), since requests within a run share their
moment and load and are not independent draws.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmbench_jupyter.stats._columns import StatsInputError, _clean


def shift_test(reference: Iterable[Any], recent: Iterable[Any]) -> dict[str, Any]:
    """Mann-Whitney U of ``recent`` against ``reference`` (None and NaN dropped)."""
    import numpy as np
    from scipy.stats import mannwhitneyu

    ref = _clean(reference, "shift_test(reference)")
    new = _clean(recent, "shift_test(recent)")
    out: dict[str, Any] = {
        "n_reference": int(ref.size), "n_recent": int(new.size),
        "median_reference": float(np.median(ref)) if ref.size else None,
        "median_recent": float(np.median(new)) if new.size else None,
        "ratio": None, "u": None, "p_value": None, "cliffs_delta": None,
    }  # fmt: skip
    if not ref.size or not new.size:
        return out
    if out["median_reference"]:
        out["ratio"] = out["median_recent"] / out["median_reference"]
    if np.ptp(np.concatenate([ref, new])) == 0:  # every value equal: no shift, no test
        out.update(u=ref.size * new.size / 2, p_value=1.0, cliffs_delta=0.0)
        return out
    try:
        test = mannwhitneyu(new, ref, alternative="two-sided")
    except ValueError as exc:
        raise StatsInputError(f"shift_test: {exc}") from None
    out.update(u=float(test.statistic), p_value=float(test.pvalue),
               cliffs_delta=2.0 * float(test.statistic) / (ref.size * new.size) - 1.0)  # fmt: skip
    return out
