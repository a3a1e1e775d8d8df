"""Speed over time per provider and model, and which of them changed.

Both read the per-run summaries (``run_summaries``), never the records, so they answer
over months of runs at once.

- :func:`trends`: per provider, model and context tier, per day (or week), the runs, the
  requests and the metric's median over every request of those runs (merged quantile
  sketches: within ``stats.RELATIVE_ACCURACY`` of the exact median).
- :func:`changes`: per provider, model and tier, the runs of the last ``recent_days``
  against those of the days before, one value per run (its median: requests within one
  run share their moment and load, so they are not independent draws), by
  ``stats.shift_test`` (Mann-Whitney U, with the ratio of medians and Cliff's delta).
  A group is flagged when p is below ``alpha`` divided by the number of groups tested
  (Bonferroni: many models are watched at once) *and* the medians differ by at least
  ``min_change``; the direction says slower or faster in the metric's own sense.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: Metrics with a sketch in every summary, and whether a higher value is slower.
TREND_METRICS = {"ttft_ms": True, "e2e_ms": True, "tpot_ms": True, "decode_tps": False}
TREND_COLUMNS = ("provider", "model", "context_tier", "period", "runs", "requests", "p50")
CHANGE_COLUMNS = (
    "provider", "model", "context_tier", "flagged", "direction", "ratio", "p_value",
    "p_threshold", "cliffs_delta", "median_reference", "median_recent", "runs_reference",
    "runs_recent", "note",
)  # fmt: skip


def _check(metric: str, days: Any) -> None:
    if metric not in TREND_METRICS:
        raise InputError(f"metric {metric!r}: expected one of {', '.join(TREND_METRICS)}")
    if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0:
        raise InputError(f"days: expected a number of days > 0, got {days!r}")


def _summaries(days: float, store: Any, owner: str | None, all_owners: bool,
               include_published: bool,
               now: datetime | None) -> tuple[list[dict[str, Any]], datetime]:  # fmt: skip
    from llmbench_jupyter.analysis.results import _store

    end = now or datetime.now(UTC)
    rows = _store(store).summary_rows(
        owner=owner, all_owners=all_owners, include_published=include_published,
        since=end - timedelta(days=float(days)),
    )  # fmt: skip
    return [r for r in rows if r["requests"] and _utc(r["created_at"]) <= end], end


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def trends(metric: str = "ttft_ms", days: float = 30, *, freq: str = "D", store: Any = None,
           owner: str | None = None, all_owners: bool = False, include_published: bool = False,
           now: datetime | None = None) -> pd.DataFrame:  # fmt: skip
    """Per provider, model, tier and period (``freq``: ``"D"`` days, ``"W"`` weeks) of
    the last ``days``: runs, requests and the metric's median (``p50``)."""
    import pandas as pd

    from llmbench_jupyter.stats import sketch_quantile

    _check(metric, days)
    if freq not in ("D", "W"):
        raise InputError(f"freq {freq!r}: expected 'D' (days) or 'W' (weeks)")
    rows, _end = _summaries(days, store, owner, all_owners, include_published, now)
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        period = pd.Timestamp(_utc(r["created_at"])).tz_convert("UTC").floor("D")
        if freq == "W":
            period = period - pd.Timedelta(days=period.dayofweek)
        key = (r["provider"], r["model"], r["context_tier"], period)
        groups.setdefault(key, []).append(r)
    out = [
        {"provider": p, "model": m, "context_tier": t, "period": period,
         "runs": len({r["run_id"] for r in parts}), "requests": sum(r["requests"] for r in parts),
         "p50": sketch_quantile([r[f"{metric}_sketch"] for r in parts], 0.5)}
        for (p, m, t, period), parts in groups.items()
    ]  # fmt: skip
    df = pd.DataFrame(out, columns=list(TREND_COLUMNS))
    df = df.sort_values(["provider", "model", "context_tier", "period"], kind="stable")
    df = df.reset_index(drop=True)
    source = "run_summaries: each period's p50 from merged quantile sketches"
    df.attrs.update(kind="trends", metric=metric, days=days, freq=freq, source=source)
    return df


def changes(metric: str = "ttft_ms", days: float = 30, recent_days: float = 7, *,
            alpha: float = 0.01, min_change: float = 0.1, min_runs: int = 3,
            store: Any = None, owner: str | None = None, all_owners: bool = False,
            include_published: bool = False,
            now: datetime | None = None) -> pd.DataFrame:  # fmt: skip
    """Which provider/model/tier got slower (or faster) in the last ``recent_days``
    compared with the ``days`` before them; one row per group, flagged ones first."""
    import pandas as pd

    from llmbench_jupyter.stats import shift_test, sketch_quantile

    _check(metric, days)
    if not 0 < recent_days < days:
        raise InputError(f"recent_days: expected a number of days in (0, {days}), got "
                         f"{recent_days!r}")  # fmt: skip
    if not 0 < alpha < 1 or not min_change >= 0 or min_runs < 2:
        raise InputError("changes: alpha in (0, 1), min_change >= 0 and min_runs >= 2")
    rows, end = _summaries(days, store, owner, all_owners, include_published, now)
    cut = end - timedelta(days=float(recent_days))
    per_run: dict[tuple[Any, ...], dict[str, list[float]]] = {}
    for r in rows:
        value = sketch_quantile([r[f"{metric}_sketch"]], 0.5)
        if value is None:
            continue
        side = "recent" if _utc(r["created_at"]) >= cut else "reference"
        key = (r["provider"], r["model"], r["context_tier"])
        per_run.setdefault(key, {"recent": [], "reference": []})[side].append(value)
    tested = [
        k for k, v in per_run.items() if min(len(v["recent"]), len(v["reference"])) >= min_runs
    ]
    threshold = alpha / max(1, len(tested))
    higher_is_slower = TREND_METRICS[metric]
    out = []
    for key, sides in per_run.items():
        test = shift_test(sides["reference"], sides["recent"])
        row = {"provider": key[0], "model": key[1], "context_tier": key[2], "flagged": False,
               "direction": None, "ratio": test["ratio"], "p_value": test["p_value"],
               "p_threshold": threshold, "cliffs_delta": test["cliffs_delta"],
               "median_reference": test["median_reference"],
               "median_recent": test["median_recent"], "runs_reference": test["n_reference"],
               "runs_recent": test["n_recent"], "note": None}  # fmt: skip
        if key not in tested:
            row["note"] = f"not tested: fewer than {min_runs} runs on a side"
        elif test["ratio"] is not None and test["p_value"] is not None:
            slower = (test["ratio"] > 1) == higher_is_slower
            row["direction"] = "slower" if slower else "faster"
            big = abs(test["ratio"] - 1) >= min_change
            row["flagged"] = bool(test["p_value"] < threshold and big)
            if not row["flagged"]:
                row["note"] = "not significant" if test["p_value"] >= threshold else (
                    f"significant, but a change under {min_change:.0%}")  # fmt: skip
        out.append(row)
    df = pd.DataFrame(out, columns=list(CHANGE_COLUMNS))
    df = df.sort_values(["flagged", "p_value"], ascending=[False, True], kind="stable",
                        na_position="last").reset_index(drop=True)  # fmt: skip
    df.attrs.update(kind="changes", metric=metric, days=days, recent_days=recent_days, alpha=alpha,
                    test="Mann-Whitney U on per-run medians, Bonferroni over groups")  # fmt: skip
    return df
