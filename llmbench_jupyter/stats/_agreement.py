"""Agreement between two raters on the same items: Cohen's kappa, plain or weighted.

With categories 0..k-1 and p_ij the share of items rater A put in i and rater B in j,
agreement weights w_ij (1 on the diagonal; off it 0 for plain kappa, 1 - |i-j|/(k-1)
linear, 1 - (i-j)²/(k-1)² quadratic):

    p_o = Σ w_ij p_ij,   p_e = Σ w_ij p_i. p_.j,   κ = (p_o - p_e) / (1 - p_e)

κ is undefined (None) when p_e = 1 (both raters used one and the same category for every
item). Its 95% interval is a percentile bootstrap over items (resamples where κ is
undefined are left out, and counted). docs/metrics.md gives worked examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmbench_jupyter.stats._columns import StatsInputError, _check_n_boot

WEIGHTS = (None, "linear", "quadratic")


def _weights(k: int, kind: str | None) -> Any:
    import numpy as np

    i, j = np.indices((k, k))
    if kind is None or k == 1:
        return (i == j).astype(float)
    d = np.abs(i - j) / (k - 1)
    return 1.0 - (d if kind == "linear" else d**2)


def _kappa(table: Any, w: Any) -> float | None:
    import numpy as np

    n = table.sum()
    if n == 0:
        return None
    p = table / n
    p_o = float((w * p).sum())
    p_e = float((w * np.outer(p.sum(1), p.sum(0))).sum())
    return None if p_e >= 1.0 - 1e-12 else (p_o - p_e) / (1.0 - p_e)


def cohen_kappa(
    a: Sequence[Any],
    b: Sequence[Any],
    *,
    categories: Sequence[Any] | None = None,
    weights: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Cohen's kappa of paired ratings ``a`` and ``b`` (same length, item by item).

    ``categories``: the ordered scale (default: the values seen, sorted); weighted kappa
    needs the scale's full order, so give it (e.g. scores 1..10). Returns kappa, its
    bootstrap 95% interval, observed and chance agreement, n, the categories and the
    confusion table (rows a, columns b).
    """
    import numpy as np

    if weights not in WEIGHTS:
        raise StatsInputError(f"cohen_kappa(weights={weights!r}): expected one of {WEIGHTS}")
    _check_n_boot(n_boot)
    if len(a) != len(b):
        raise StatsInputError(f"cohen_kappa: {len(a)} ratings against {len(b)}; pair them")
    cats = list(categories) if categories is not None else sorted(set(a) | set(b), key=str)
    index = {c: i for i, c in enumerate(cats)}
    unknown = [v for v in [*a, *b] if v not in index]
    if unknown:
        raise StatsInputError(f"cohen_kappa: rating {unknown[0]!r} is not among {cats}")
    k = len(cats)
    ia = np.fromiter((index[v] for v in a), dtype=np.int64, count=len(a))
    ib = np.fromiter((index[v] for v in b), dtype=np.int64, count=len(b))
    w = _weights(k, weights)
    table = np.bincount(ia * k + ib, minlength=k * k).reshape(k, k).astype(float)
    out: dict[str, Any] = {
        "kappa": _kappa(table, w), "ci_low": None, "ci_high": None, "n": len(a),
        "weights": weights, "categories": cats, "confusion": table.astype(int).tolist(),
        "observed_agreement": None, "chance_agreement": None, "undefined_resamples": 0,
    }  # fmt: skip
    if len(a):
        p = table / table.sum()
        out["observed_agreement"] = float((w * p).sum())
        out["chance_agreement"] = float((w * np.outer(p.sum(1), p.sum(0))).sum())
    if out["kappa"] is None or len(a) < 2:
        return out
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(a), size=(n_boot, len(a)))
    kappas = []
    for idx in draws:
        t = np.bincount(ia[idx] * k + ib[idx], minlength=k * k).reshape(k, k).astype(float)
        value = _kappa(t, w)
        if value is not None:
            kappas.append(value)
    out["undefined_resamples"] = n_boot - len(kappas)
    if kappas:
        lo, hi = np.percentile(kappas, [2.5, 97.5])
        out.update(ci_low=float(lo), ci_high=float(hi))
    return out
