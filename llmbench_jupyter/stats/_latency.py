"""Latency and throughput over records: per-group summaries, run throughput, A/B compare.

Timing statistics use successful, non-warm-up records; errors are counted, never timed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.records import LIST_FIELDS, RequestRecord
from llmbench_jupyter.stats._columns import (
    GROUP_KEYS,
    METRICS,
    STATS,
    StatsInputError,
    _as_bool,
    _check_fields,
    _check_n_boot,
    _clean,
    _columns,
    _float_column,
    _group_key,
    _kind,
    _pool_lists,
)
from llmbench_jupyter.stats._describe import _boot_medians, _describe_clean

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# --------------------------------------------------------------------------- summarize


def summarize(
    records: Any,
    *,
    by: Sequence[str] = GROUP_KEYS,
    metrics: Sequence[str] = METRICS,
    include_warmup: bool = False,
    seed: int = 0,
    n_boot: int = 2000,
) -> pd.DataFrame:
    """One row per group: counts, error categories and describe() of every metric.

    Timing statistics use successful records only; errors are counted.
    ``total_cost_usd`` sums every known cost (errored requests may be billed too);
    ``cost_per_1k_output_usd`` uses successful requests with a known cost only, in its
    numerator and its denominator alike. Warm-up records
    are left out entirely unless ``include_warmup``. ``itl_ms_*`` pools every chunk gap
    of the group's successful requests. Groups keep first-seen order.
    """
    import pandas as pd

    columns, rows = _summary(records, by, metrics, include_warmup, seed, n_boot)
    return pd.DataFrame(rows, columns=columns)


def summary_rows(
    records: Any,
    *,
    by: Sequence[str] = GROUP_KEYS,
    metrics: Sequence[str] = METRICS,
    include_warmup: bool = False,
    seed: int = 0,
    n_boot: int = 2000,
) -> list[dict[str, Any]]:
    """:func:`summarize`'s rows as plain dicts (same columns, same order), without pandas:
    for the command line's table, where importing pandas would cost more than the run."""
    return _summary(records, by, metrics, include_warmup, seed, n_boot)[1]


def _summary(
    records: Any,
    by: Sequence[str],
    metrics: Sequence[str],
    include_warmup: bool,
    seed: int,
    n_boot: int,
) -> tuple[list[str], list[dict[str, Any]]]:
    import numpy as np

    by = _check_fields(by, "summarize(by=...)", allow_lists=False)
    metrics = _check_fields(metrics, "summarize(metrics=...)", allow_lists=False)
    _check_n_boot(n_boot)
    extra = ("status", "error_category", "is_warmup", "itl_ms", "cost_usd", "output_tokens")
    names = tuple(dict.fromkeys(by + metrics + extra))
    cols = _columns(records, names, "summarize(records)")
    n = len(cols["status"])

    groups: dict[tuple[Any, ...], list[int]] = {}
    key_cols = [cols[k] for k in by]
    warm = cols["is_warmup"]
    for i in range(n):
        if include_warmup or not _as_bool(warm[i], "is_warmup", i):
            key = tuple(_group_key(col[i]) for col in key_cols)
            try:
                groups.setdefault(key, []).append(i)
            except TypeError:
                raise StatsInputError(
                    f"summarize(by={by}): record {i} has an unhashable key {key!r}"
                ) from None

    ok_mask = np.fromiter((s == "ok" for s in cols["status"]), dtype=bool, count=n)
    values = {
        m: _float_column(cols[m], m) for m in dict.fromkeys((*metrics, "cost_usd", "output_tokens"))
    }
    columns = [
        *by,
        "requests",
        "ok",
        "errors",
        "error_categories",
        "success_rate",
        *(f"{m}_{s}" for m in (*metrics, "itl_ms") for s in STATS),
        "cost_per_1k_output_usd",
        "total_cost_usd",
    ]
    rows = []
    for key, members in groups.items():
        idx = np.asarray(members, dtype=np.intp)
        ok_idx = idx[ok_mask[idx]]
        categories: dict[str, int] = {}
        for i in idx[~ok_mask[idx]]:
            cat = cols["error_category"][i] or "unknown"
            categories[cat] = categories.get(cat, 0) + 1
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row.update(
            requests=len(idx),
            ok=len(ok_idx),
            errors=len(idx) - len(ok_idx),
            error_categories=categories,
            success_rate=len(ok_idx) / len(idx),
        )
        for m in metrics:
            sample = values[m][ok_idx]
            stats = _describe_clean(sample[~np.isnan(sample)], seed, n_boot)
            row.update({f"{m}_{s}": stats[s] for s in STATS})
        itl = _pool_lists((cols["itl_ms"][i] for i in ok_idx), "itl_ms")
        row.update({f"itl_ms_{s}": v for s, v in _describe_clean(itl, seed, n_boot).items()})
        row["cost_per_1k_output_usd"] = _cost_per_1k_output(
            values["cost_usd"][ok_idx], values["output_tokens"][ok_idx]
        )
        costs = values["cost_usd"][idx]
        known = costs[~np.isnan(costs)]
        row["total_cost_usd"] = float(known.sum()) if known.size else None
        rows.append(row)
    return columns, rows


def _cost_per_1k_output(costs: np.ndarray, tokens: np.ndarray) -> float | None:
    """USD per 1,000 output tokens over the same requests on both sides of the fraction.

    Given the successful requests' costs and output tokens: only requests with both a
    known cost and a token count count, in numerator and denominator alike; None when
    they produced no output tokens (or none has a known cost).
    """
    import numpy as np

    both = ~np.isnan(costs) & ~np.isnan(tokens)
    produced = float(tokens[both].sum())
    return float(costs[both].sum()) / produced * 1000 if produced > 0 else None


# --------------------------------------------------------------------------- run level


def aggregate_throughput(records: Any) -> dict[str, Any]:
    """Throughput of a whole run or phase across all concurrent streams.

    Over successful non-warm-up records that have a send time and e2e_ms: the window
    runs from the earliest time origin to the latest end (origin + e2e_ms). Errors are
    counted (non-warm-up) but add nothing to the window or the token sum.
    """
    import numpy as np

    names = ("status", "is_warmup", "send_mono_ns", "send_lag_ms", "time_origin")
    cols = _columns(records, (*names, "e2e_ms", "output_tokens"), "aggregate_throughput")
    measured = [not _as_bool(w, "is_warmup", i) for i, w in enumerate(cols["is_warmup"])]
    ok = np.array(
        [m and s == "ok" for m, s in zip(measured, cols["status"], strict=True)], dtype=bool
    )
    errors = sum(1 for m, s in zip(measured, cols["status"], strict=True) if m and s != "ok")
    send = _float_column(cols["send_mono_ns"], "send_mono_ns")
    lag = _float_column(cols["send_lag_ms"], "send_lag_ms")
    e2e = _float_column(cols["e2e_ms"], "e2e_ms")
    tokens = _float_column(cols["output_tokens"], "output_tokens")
    intended = np.array([o == "intended" for o in cols["time_origin"]], dtype=bool)
    use = ok & (send > 0) & ~np.isnan(e2e)
    origin = send - np.where(intended & ~np.isnan(lag), lag, 0.0) * 1e6
    out: dict[str, Any] = {
        "requests": int(use.sum()),
        "errors": errors,
        "output_tokens": int(np.nansum(tokens[use])) if use.any() else 0,
        "duration_s": None,
        "requests_per_s": None,
        "output_tps": None,
    }
    if use.any():
        duration_s = float((origin[use] + e2e[use] * 1e6).max() - origin[use].min()) / 1e9
        out["duration_s"] = duration_s
        if duration_s > 0:
            out["requests_per_s"] = out["requests"] / duration_s
            out["output_tps"] = out["output_tokens"] / duration_s
    return out


# --------------------------------------------------------------------------- compare


def compare(
    a_records: Any,
    b_records: Any,
    metric: str = "ttft_ms",
    seed: int = 0,
    *,
    n_boot: int = 2000,
) -> dict[str, Any]:
    """Median of ``metric`` in b minus a, with a bootstrap 95% CI, and b/a of the medians.

    Each side is records (successful, non-warm-up ones are used) or plain numbers.
    ``metric="itl_ms"`` pools chunk gaps. ``significant`` is True when the CI of the
    difference excludes 0.
    """
    import numpy as np

    _check_fields((metric,), "compare(metric=...)", allow_lists=True)
    _check_n_boot(n_boot)
    a = _sample(a_records, metric, "compare(a_records)")
    b = _sample(b_records, metric, "compare(b_records)")
    out: dict[str, Any] = {
        "metric": metric,
        "n_a": int(a.size),
        "n_b": int(b.size),
        "median_a": float(np.median(a)) if a.size else None,
        "median_b": float(np.median(b)) if b.size else None,
        "diff": None,
        "diff_ci_low": None,
        "diff_ci_high": None,
        "ratio": None,
        "ratio_ci_low": None,
        "ratio_ci_high": None,
        "significant": None,
    }
    if out["median_a"] is None or out["median_b"] is None:
        return out
    out["diff"] = out["median_b"] - out["median_a"]
    if out["median_a"] != 0:
        out["ratio"] = out["median_b"] / out["median_a"]
    if a.size < 2 or b.size < 2:
        return out
    rng = np.random.default_rng(seed)
    ma, mb = _boot_medians(a, n_boot, rng), _boot_medians(b, n_boot, rng)
    lo, hi = np.percentile(mb - ma, [2.5, 97.5])
    out.update(diff_ci_low=float(lo), diff_ci_high=float(hi), significant=bool(lo > 0 or hi < 0))
    if np.all(ma > 0) or np.all(ma < 0):
        rlo, rhi = np.percentile(mb / ma, [2.5, 97.5])
        out.update(ratio_ci_low=float(rlo), ratio_ci_high=float(rhi))
    return out


def _sample(records: Any, metric: str, where: str) -> np.ndarray:
    """Successful non-warm-up values of ``metric`` from records, or the numbers given."""
    import numpy as np

    seq = records
    if not hasattr(records, "columns"):
        if isinstance(records, (str, bytes, Mapping, RequestRecord)) or not isinstance(
            records, Iterable
        ):
            raise StatsInputError(f"{where}: expected records or numbers, got {_kind(records)}")
        seq = list(records)
        if not any(isinstance(r, (RequestRecord, Mapping)) for r in seq):
            return _clean(seq, where)
    cols = _columns(seq, ("status", "is_warmup", metric), where)
    keep = [
        i
        for i, (s, w) in enumerate(zip(cols["status"], cols["is_warmup"], strict=True))
        if s == "ok" and not _as_bool(w, "is_warmup", i)
    ]
    if metric in LIST_FIELDS:
        return _pool_lists((cols[metric][i] for i in keep), metric)
    x = _float_column([cols[metric][i] for i in keep], metric)
    return x[~np.isnan(x)]
