"""Every statistic the product shows: computed here and nowhere else.

Definitions (formulas, percentile method, bootstrap, IQR rule) are in docs/metrics.md.
numpy and pandas are imported inside functions so ``import llmbench_jupyter`` stays light.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import LIST_FIELDS, RECORD_FIELDS, RequestRecord

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

METRICS = (
    "ttft_ms",
    "ttfat_ms",
    "e2e_ms",
    "tpot_ms",
    "decode_tps",
    "total_tps",
    "prefill_tps",
    "output_tokens",
    "input_tokens",
    "cost_usd",
)
GROUP_KEYS = ("provider", "model", "context_tier")
#: The statistics of :func:`describe`, in column order (``<metric>_<stat>`` in summaries).
STATS = (
    "mean",
    "sd",
    "min",
    "max",
    "p50",
    "p90",
    "p95",
    "p99",
    "cv",
    "iqr_outliers",
    "median_ci_low",
    "median_ci_high",
    "n",
)
#: Defaults used when a dict or DataFrame lacks a field (or holds None/NaN there).
_DEFAULTS: dict[str, Any] = {
    f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
    for f in dataclasses.fields(RequestRecord)
}
_INT_FIELD = {k: type(v) is int for k, v in _DEFAULTS.items()}
# Quantiles computed by describe(): Q1, median, Q3, p90, p95, p99.
_QS = (0.25, 0.5, 0.75, 0.90, 0.95, 0.99)


class StatsInputError(LLMBenchError, ValueError):
    """Input the statistics cannot use: says what, where and what was expected."""


# --------------------------------------------------------------------------- describe


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


def _check_n_boot(n_boot: int) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise StatsInputError(f"n_boot must be a positive integer, got {n_boot!r}")


def _clean(values: Any, where: str) -> np.ndarray:
    """1-d float array of ``values`` with None and NaN removed."""
    import numpy as np

    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        arr = values.ravel() if values.ndim == 1 else None
    else:
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise StatsInputError(f"{where}: expected a sequence of numbers, got {_kind(values)}")
        try:
            arr = np.asarray([v for v in values if v is not None], dtype=float)
        except (TypeError, ValueError) as exc:
            raise StatsInputError(f"{where}: expected numbers or None ({exc})") from None
    if arr is None or arr.ndim != 1:
        raise StatsInputError(f"{where}: expected a flat sequence of numbers")
    return arr[~np.isnan(arr)]


def _kind(value: Any) -> str:
    return type(value).__name__


# --------------------------------------------------------------------------- records


def _columns(records: Any, names: Sequence[str], where: str) -> dict[str, list[Any]]:
    """Pull the named fields out of records (RequestRecords, dicts or a DataFrame).

    Missing fields, None and NaN take the RequestRecord default, so a dict without
    ``status`` counts as ok and one without ``is_warmup`` as a measured request.
    """
    try:
        import pandas as pd

        is_frame = isinstance(records, pd.DataFrame)
    except ImportError:  # pragma: no cover - pandas is a dependency
        is_frame = False
    if is_frame:
        out_frame: dict[str, list[Any]] = {}
        for name in names:
            if name not in records.columns:
                out_frame[name] = [_DEFAULTS[name]] * len(records)
                continue
            col = records[name]
            values = col.tolist()
            if col.dtype == object or col.isna().any():
                values = [_or_default(v, name) for v in values]
            if _INT_FIELD.get(name) and col.dtype.kind == "f":
                # an int field read back as float because some rows lacked it
                values = [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]
            out_frame[name] = values
        return out_frame
    if isinstance(records, (RequestRecord, Mapping, str, bytes)) or not isinstance(
        records, Iterable
    ):
        raise StatsInputError(
            f"{where}: expected a list of RequestRecord or dict, or a DataFrame; "
            f"got {_kind(records)}"
        )
    out: dict[str, list[Any]] = {name: [] for name in names}
    for i, rec in enumerate(records):
        if isinstance(rec, RequestRecord):
            for name in names:
                out[name].append(getattr(rec, name))
        elif isinstance(rec, Mapping):
            for name in names:
                out[name].append(_or_default(rec.get(name), name))
        else:
            raise StatsInputError(
                f"{where}: records[{i}] is {_kind(rec)}; expected RequestRecord or dict"
            )
    return out


def _or_default(value: Any, name: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _DEFAULTS[name]
    if _is_missing_scalar(value):
        return _DEFAULTS[name]
    return value


def _is_missing_scalar(value: Any) -> bool:
    """pandas.NA / NaT / numpy NaN, without importing pandas for plain values."""
    if isinstance(value, (list, tuple, dict, str, int)):
        return False
    try:
        return bool(value != value)  # NaN-like
    except (TypeError, ValueError):
        return type(value).__name__ in ("NAType", "NaTType")


def _as_bool(value: Any, name: str, i: int) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no", ""):
            return False
        raise StatsInputError(f"{name} of record {i}: expected a boolean, got {value!r}")
    return bool(value)


def _group_key(value: Any) -> Any:
    """Hashable, plain-Python form of a group key value (numpy scalars unwrapped)."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (list, dict)):
        value = item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _float_column(values: list[Any], name: str) -> np.ndarray:
    import numpy as np

    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        for i, v in enumerate(values):
            try:
                float(v if v is not None else "nan")
            except (TypeError, ValueError):
                raise StatsInputError(
                    f"{name} of record {i}: expected a number or None, got {v!r}"
                ) from None
        raise


def _pool_lists(cells: Iterable[Any], name: str) -> np.ndarray:
    """Concatenate list cells (lists, arrays or JSON text) into one float array."""
    import numpy as np

    parts: list[Any] = []
    for cell in cells:
        if cell is None:
            continue
        if isinstance(cell, str):
            try:
                cell = json.loads(cell) if cell.strip() else []
            except json.JSONDecodeError:
                raise StatsInputError(f"{name}: expected a JSON list, got {cell[:40]!r}") from None
        if isinstance(cell, (int, float)) and not isinstance(cell, bool):
            if isinstance(cell, float) and math.isnan(cell):
                continue
            raise StatsInputError(f"{name}: expected a list of numbers, got {cell!r}")
        parts.append(cell)
    total = sum(len(p) for p in parts)
    try:
        arr = np.fromiter(
            (math.nan if v is None else v for v in itertools.chain.from_iterable(parts)),
            dtype=float,
            count=total,
        )
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"{name}: expected lists of numbers ({exc})") from None
    return arr[~np.isnan(arr)]


def _check_fields(names: Sequence[str], what: str, *, allow_lists: bool) -> tuple[str, ...]:
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    for name in names:
        if name not in RECORD_FIELDS:
            raise StatsInputError(
                f"{what}: unknown field {name!r}; expected RequestRecord fields "
                f"such as {', '.join(GROUP_KEYS + METRICS[:3])}"
            )
        if not allow_lists and name in LIST_FIELDS:
            raise StatsInputError(
                f"{what}: {name!r} holds lists; its pooled statistics are built in"
            )
    return names


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

    Timing statistics use successful records only; errors are counted. Warm-up records
    are left out entirely unless ``include_warmup``. ``itl_ms_*`` pools every chunk gap
    of the group's successful requests. Groups keep first-seen order.
    """
    import numpy as np
    import pandas as pd

    by = _check_fields(by, "summarize(by=...)", allow_lists=False)
    metrics = _check_fields(metrics, "summarize(metrics=...)", allow_lists=False)
    _check_n_boot(n_boot)
    extra = ("status", "error_category", "is_warmup", "itl_ms", "cost_usd")
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
    values = {m: _float_column(cols[m], m) for m in dict.fromkeys((*metrics, "cost_usd"))}
    columns = [
        *by,
        "requests",
        "ok",
        "errors",
        "error_categories",
        "success_rate",
        *(f"{m}_{s}" for m in (*metrics, "itl_ms") for s in STATS),
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
        costs = values["cost_usd"][idx]
        known = costs[~np.isnan(costs)]
        row["total_cost_usd"] = float(known.sum()) if known.size else None
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


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


def is_client_bound(
    cpu_share: float,
    loop_lag_p99_ms: float | None,
    *,
    cpu_limit: float = 0.85,
    lag_limit_ms: float = 10.0,
) -> bool:
    """True when the client, not the endpoint, may be limiting the measurement.

    Either the process used at least ``cpu_limit`` of one core, or the event loop's
    p99 lag reached ``lag_limit_ms`` (timestamps then run late by about that much).
    """
    if cpu_share >= cpu_limit:
        return True
    return loop_lag_p99_ms is not None and loop_lag_p99_ms >= lag_limit_ms


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


#: Metrics shown live while a job runs (medians only: cheap enough for 10 updates a second).
LIVE_METRICS = ("ttft_ms", "decode_tps", "tpot_ms", "e2e_ms")


def live_medians(
    records: Sequence[RequestRecord], by: Sequence[str] = GROUP_KEYS
) -> list[dict[str, Any]]:
    """Per-group counts and medians of the live metrics, over successful measured requests.

    Uses the stdlib median (no numpy) so a progress tick stays in the tens of microseconds
    for the small samples a live run has; the final figures come from :func:`summarize`.
    """
    import statistics

    groups: dict[tuple[Any, ...], list[RequestRecord]] = {}
    for record in records:
        if not record.is_warmup:
            groups.setdefault(tuple(getattr(record, k) for k in by), []).append(record)
    out = []
    for key, members in groups.items():
        ok = [r for r in members if r.status == "ok"]
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row.update(n=len(members), ok=len(ok), errors=len(members) - len(ok))
        for metric in LIVE_METRICS:
            values = [v for r in ok if (v := getattr(r, metric)) is not None]
            row[f"{metric}_p50"] = statistics.median(values) if values else None
        out.append(row)
    return out


# --------------------------------------------------------------------------- proportions


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% with the default z).

    Chosen over the normal ("Wald") interval because eval suites are small and pass
    rates sit near 0 or 1, where Wald collapses to zero width or leaves [0, 1].
    ``successes`` may be fractional (see :func:`macro_average`). Formula in docs/scoring.md.
    """
    if not (isinstance(n, int | float) and not isinstance(n, bool)) or not n > 0:
        raise StatsInputError(f"wilson_interval: n must be a positive number, got {n!r}")
    if not (isinstance(successes, int | float) and not isinstance(successes, bool)) or not (
        0 <= successes <= n
    ):
        raise StatsInputError(
            f"wilson_interval: successes must be between 0 and n={n}, got {successes!r}"
        )
    if not (isinstance(z, int | float) and z > 0):
        raise StatsInputError(f"wilson_interval: z must be a positive number, got {z!r}")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # at 0 or n successes the bound is exactly 0 or 1 (float rounding leaves ~1e-17)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def macro_average(counts: Sequence[tuple[int, int]], z: float = 1.96) -> tuple[float, float, float]:
    """Unweighted mean of several proportions with an approximate Wilson interval.

    ``counts`` holds ``(successes, n)`` per group (e.g. per category). The mean of k
    proportions has variance p(1-p)·Σ(1/n_i)/k² under a common p, i.e. that of one
    proportion over n_eff = k² / Σ(1/n_i) trials; the interval is Wilson's at n_eff.
    With equal group sizes n_eff is the total count, so micro and macro agree.
    Returns ``(mean, ci_low, ci_high)``.
    """
    groups = list(counts)
    if not groups:
        raise StatsInputError("macro_average: needs at least one (successes, n) group")
    for i, (s, n) in enumerate(groups):
        if not isinstance(n, int) or n <= 0 or not isinstance(s, int) or not 0 <= s <= n:
            raise StatsInputError(
                f"macro_average: group {i} must be (successes, n) with 0 <= successes <= n "
                f"and n > 0, got {(s, n)!r}"
            )
    k = len(groups)
    mean = sum(s / n for s, n in groups) / k
    n_eff = k * k / sum(1 / n for _, n in groups)
    low, high = wilson_interval(min(mean * n_eff, n_eff), n_eff, z)
    return mean, low, high


def _rate(successes: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(successes, n) if n else (None, None)
    return {
        "rate": successes / n if n else None,
        "ci_low": low,
        "ci_high": high,
        "successes": successes,
        "n": n,
    }


def repeat_rates(attempts: Mapping[str, Sequence[bool]]) -> dict[str, Any]:
    """pass@k, pass^k and flip rate over cases attempted k times each.

    ``attempts`` maps a case id to its k verdicts. pass@k: share of cases passed at least
    once; pass^k: passed every time; flip rate: passed some times and failed others (the
    model is inconsistent there). Each is a proportion of cases with its Wilson 95% CI.
    Cases with a different number of attempts than the rest are an error, since k would
    then mean different things for different cases.
    """
    ks = {len(v) for v in attempts.values()}
    if len(ks) > 1 or 0 in ks:
        raise StatsInputError(
            f"repeat_rates: every case needs the same number (>= 1) of attempts, found {sorted(ks)}"
        )
    k = ks.pop() if ks else 0
    n = len(attempts)
    any_pass = sum(any(v) for v in attempts.values())
    all_pass = sum(all(v) for v in attempts.values())
    return {
        "k": k,
        "cases": n,
        "pass_at_k": _rate(any_pass, n),
        "pass_hat_k": _rate(all_pass, n),
        "flip_rate": _rate(any_pass - all_pass, n),
    }


def mcnemar(a: Mapping[str, bool], b: Mapping[str, bool], alpha: float = 0.05) -> dict[str, Any]:
    """Paired comparison of two runs' verdicts on the same cases (exact McNemar test).

    Only cases present in both count. ``b_only``/``a_only`` are the discordant pairs; the
    two-sided p-value is the exact binomial one (no normal approximation, so small suites
    are handled correctly). ``significant`` is False when p >= alpha: the runs do not
    differ detectably, whatever their pass rates look like.
    """
    common = sorted(set(a) & set(b))
    a_only = sum(bool(a[c]) and not b[c] for c in common)
    b_only = sum(bool(b[c]) and not a[c] for c in common)
    discordant = a_only + b_only
    if discordant == 0:
        p = 1.0
    else:
        tail = sum(math.comb(discordant, i) for i in range(min(a_only, b_only) + 1))
        p = min(1.0, 2 * tail / 2**discordant)
    return {
        "cases": len(common),
        "a_only": a_only,
        "b_only": b_only,
        "p_value": p,
        "significant": p < alpha,
        "verdict": ("the runs differ" if p < alpha else "no significant difference"),
    }


PAIR_WINNERS = ("first", "second", "tie", "invalid")


def pairwise_summary(winners: Sequence[str], consistent: Sequence[bool | None]) -> dict[str, Any]:
    """Counts, win rate and position consistency of a pairwise comparison (judged in both orders).

    ``winners[i]`` is pair i's verdict (one of :data:`PAIR_WINNERS`); ``consistent[i]``
    whether its two orders agreed once mapped back to runs (None when a side was invalid).
    ``first_win_rate`` = (first wins + ties/2) / valid pairs, so 0.5 means no preference;
    ``position_consistency`` = agreeing pairs / pairs with both verdicts valid. Invalid
    pairs count in neither. Each rate has its Wilson 95% interval (None when n is 0).
    """
    if len(winners) != len(consistent):
        raise StatsInputError(
            f"pairwise_summary: {len(winners)} winners but {len(consistent)} consistency flags"
        )
    for i, (w, c) in enumerate(zip(winners, consistent, strict=True)):
        if w not in PAIR_WINNERS:
            raise StatsInputError(
                f"pairwise_summary: winners[{i}] is {w!r}, expected one of {list(PAIR_WINNERS)}"
            )
        if c is not None and not isinstance(c, bool):
            raise StatsInputError(f"pairwise_summary: consistent[{i}] is {c!r}, expected a bool")
    counts = {w: sum(1 for x in winners if x == w) for w in PAIR_WINNERS}
    valid = len(winners) - counts["invalid"]
    flags = [c for c in consistent if c is not None]

    def rate(successes: float, n: int) -> dict[str, Any]:
        low, high = wilson_interval(successes, n) if n else (None, None)
        return {"rate": successes / n if n else None, "ci_low": low, "ci_high": high, "n": n}

    return {
        "n": len(winners),
        "n_valid": valid,
        "first_wins": counts["first"],
        "second_wins": counts["second"],
        "ties": counts["tie"],
        "invalid": counts["invalid"],
        "first_win_rate": rate(counts["first"] + counts["tie"] / 2, valid),
        "position_consistency": rate(sum(flags), len(flags)),
    }
