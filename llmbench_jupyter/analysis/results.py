"""Stored runs as DataFrames: history, a run reloaded as a BenchResult, and a leaderboard.

History and leaderboard read the per-run summaries the store keeps as records are written
(``store.summaries``), never the records themselves, so they answer in milliseconds over
millions of records. Their counts, success rates and costs are exact and follow
``stats.summarize``'s definitions; their percentiles come from the summaries' merged
quantile sketches, within ``stats.RELATIVE_ACCURACY`` (0.5%) of the exact percentile
over the same requests (docs/metrics.md). A run reloaded with ``load`` is summarized
from its records, exactly. pandas is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import LLMBenchError

if TYPE_CHECKING:
    import pandas as pd

    from llmbench_jupyter.analysis.bench_result import BenchResult
    from llmbench_jupyter.store import Store

HISTORY_COLUMNS = (
    "run_id",
    "created_at",
    "kind",
    "name",
    "status",
    "owner",
    "targets",
    "requests",
    "errors",
    "warmup_requests",
    "attempts",
    "ttft_ms_p50",
    "decode_tps_p50",
    "timing_error_p99_ms",
)
LEADERBOARD_COLUMNS = (
    "rank",
    "provider",
    "model",
    "context_tier",
    "requests",
    "success_rate",
    "ttft_ms_p50",
    "decode_tps_p50",
    "tpot_ms_p50",
    "cost_per_1k_output_usd",
    "n_runs",
    "timing_error_p99_ms",
)
#: ``by`` value -> (column ranked on, ascending).
RANK_BY: dict[str, tuple[str, bool]] = {
    "decode_tps": ("decode_tps_p50", False),
    "ttft_ms": ("ttft_ms_p50", True),
    "cost": ("cost_per_1k_output_usd", True),
    "success_rate": ("success_rate", False),
    "pass_rate": ("pass_rate", False),  # with quality=<suite>
}
#: Where the history's and leaderboard's numbers come from (``DataFrame.attrs["source"]``).
SOURCE = (
    "run_summaries: counts, success rates and costs exact; p50s from merged quantile "
    "sketches, within ±0.5% of the exact percentile of the same requests"
)


def _store(store: Store | str | None) -> Store:
    from llmbench_jupyter.store import Store, open_store

    if store is None or isinstance(store, str):
        return open_store(store)
    if not isinstance(store, Store):
        raise LLMBenchError(
            f"store: expected a Store, a database URL or None, got {type(store).__name__}"
        )
    return store


def _targets_label(spec: dict[str, Any] | None) -> str:
    """``provider/model, ...`` of a stored spec: bench specs keep target mappings, eval
    specs keep ``provider/model`` strings; anything else in a (foreign) row is shown as is."""
    targets = (spec or {}).get("targets") or []
    if not isinstance(targets, list):
        return str(targets)
    labels = []
    for t in targets:
        if isinstance(t, dict):
            labels.append(f"{t.get('provider')}/{t.get('model')}")
        else:
            labels.append(str(t))
    return ", ".join(labels)


def history(
    limit: int = 50,
    all_owners: bool = False,
    store: Store | str | None = None,
    include_published: bool = False,
    full: bool = False,
) -> pd.DataFrame:
    """Stored runs, newest first, with measured request counts and per-run medians.

    ``kind`` is ``bench`` or ``eval``. ``requests``/``errors`` count measured (non-warm-up)
    requests of benchmark runs and ``warmup_requests`` their warm-ups; ``attempts`` counts
    an eval run's case attempts. The medians are ``stats.summarize`` over each run's
    successful measured requests. ``include_published`` adds the runs other users
    published (on a hub). Default: the compact view (numbers rounded by unit, columns with
    no value in any row left out, no name shown as ""); ``full=True``: every column at
    full precision.
    """
    import pandas as pd

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise LLMBenchError(f"history(limit=...): found {limit!r}, expected an integer >= 1")
    db = _store(store)
    runs = db.list_runs(limit=limit, all_owners=all_owners, include_published=include_published)
    bench_ids = [r["run_id"] for r in runs if r.get("kind", "bench") == "bench"]
    by_run: dict[str, list[dict[str, Any]]] = {}
    for summary in db.summary_rows(bench_ids) if bench_ids else []:
        by_run.setdefault(summary["run_id"], []).append(summary)
    rows = []
    for run in runs:
        parts = by_run.get(run["run_id"], [])
        bench = run.get("kind", "bench") == "bench"
        # the store counts every stored request of a run (warm-ups included), an eval
        # run's case attempts; the summaries count measured requests
        stored = int(run.get("n_requests") or 0)
        measured = sum(p["requests"] for p in parts)
        rows.append(
            {
                "run_id": run["run_id"],
                "created_at": run["created_at"],
                "kind": run.get("kind", "bench"),
                "name": run.get("name"),
                "status": run["status"],
                "owner": run["owner"],
                "targets": _targets_label(run.get("spec")),
                "requests": measured if bench else None,
                "errors": sum(p["errors"] for p in parts) if bench else None,
                "warmup_requests": stored - measured if bench else None,
                "attempts": None if bench else stored,
                "ttft_ms_p50": _p50(parts, "ttft_ms"),
                "decode_tps_p50": _p50(parts, "decode_tps"),
                "timing_error_p99_ms": _bound(run.get("overhead")),
            }
        )
    df = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    counts = ["requests", "errors", "warmup_requests", "attempts"]
    df[counts] = df[counts].astype("Int64")  # a count, or <NA> where it does not apply
    df.attrs["source"] = SOURCE
    if full:
        return df
    from llmbench_jupyter.analysis.display import compact_frame

    df["name"] = df["name"].fillna("")
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True).dt.floor("s")
    return compact_frame(df, keep=HISTORY_COLUMNS[:9])


#: The summary columns the leaderboard reads (of thousands of rows: no more than these).
LEADERBOARD_FIELDS = ("run_id", "provider", "model", "context_tier", "requests", "ok",
                      "priced_cost_usd", "priced_output_tokens", "ttft_ms_sketch",
                      "decode_tps_sketch", "tpot_ms_sketch")  # fmt: skip


def _bound(overhead: dict[str, Any] | None) -> float | None:
    """A run's stored timing error bound (ms, p99), None without a self-test."""
    value = ((overhead or {}).get("timing_selftest") or {}).get("bound_ms")
    return float(value) if value is not None else None


def _worst_bound(bounds: dict[str, dict[str, Any]], parts: list[dict[str, Any]]) -> float | None:
    found = [b for p in parts if (b := bounds.get(p["run_id"], {}).get("bound_ms")) is not None]
    return max(float(b) for b in found) if found else None


def _p50(summaries: list[dict[str, Any]], metric: str) -> float | None:
    """The median of ``metric`` over every request the summary rows counted."""
    from llmbench_jupyter.stats import sketch_quantile

    return sketch_quantile([s[f"{metric}_sketch"] for s in summaries], 0.5)


def load(run_id_or_prefix: str, store: Store | str | None = None) -> BenchResult:
    """Rebuild a stored run (id or unique prefix of one of your runs): a BenchResult, or an
    EvalResult for an eval run."""
    from llmbench_jupyter.analysis.bench_result import BenchResult

    db = _store(store)
    run = db.get_run(run_id_or_prefix)
    if run.get("kind") == "eval":
        from llmbench_jupyter.analysis.eval_history import load_eval

        return load_eval(run["run_id"], db, owner=run["owner"])  # type: ignore[return-value]
    spec = run.get("spec") or {}
    return BenchResult(
        run_id=run["run_id"],
        spec=spec,
        records=db.records(run["run_id"]),
        skipped=list((spec.get("plan") or {}).get("skipped") or []),
        overhead=run.get("overhead") or {},
        status=run["status"],
        store_errors=list((run.get("overhead") or {}).get("store_errors") or []),
    )


def _check_leaderboard_args(by: str, context_tier: Any, since_days: Any,
                            quality: str | None = None) -> None:  # fmt: skip
    if by == "pass_rate" and quality is None:
        raise LLMBenchError("leaderboard(by='pass_rate') needs quality=<suite name>")
    if by not in RANK_BY:
        raise LLMBenchError(
            f"leaderboard(by=...): unknown value {by!r}; expected one of {', '.join(RANK_BY)}"
        )
    if context_tier is not None and (
        isinstance(context_tier, bool) or not isinstance(context_tier, int) or context_tier < 0
    ):
        raise LLMBenchError(
            f"leaderboard(context_tier=...): found {context_tier!r}, expected an integer >= 0"
        )
    if since_days is not None and (
        isinstance(since_days, bool)
        or not isinstance(since_days, int | float)
        or not since_days > 0
    ):
        raise LLMBenchError(
            f"leaderboard(since_days=...): found {since_days!r}, expected a number of days > 0"
        )


def _run_ids(
    db: Store, runs: str | Sequence[str] | None, include_published: bool
) -> list[str] | None:
    """Full ids of the runs asked for by id or prefix (None: no choice made)."""
    if runs is None:
        return None
    wanted = [runs] if isinstance(runs, str) else list(runs)
    chosen = [db.get_run(str(r), include_published=include_published) for r in wanted]
    return list(dict.fromkeys(r["run_id"] for r in chosen))


def leaderboard(
    by: str = "decode_tps",
    runs: str | Sequence[str] | None = None,
    context_tier: int | None = None,
    since_days: float | None = None,
    all_owners: bool = False,
    store: Store | str | None = None,
    include_published: bool = False,
    full: bool = False,
    quality: str | None = None,
) -> pd.DataFrame:
    """Rank provider/model pairs, per context tier, over stored measured requests.

    ``by``: ``decode_tps`` (fastest first), ``ttft_ms`` (lowest first), ``cost`` (cheapest
    per 1k output tokens first) or ``success_rate`` (highest first); rows without a value
    rank last. ``runs``: run ids or prefixes (default: all your benchmark runs, or
    everyone's with ``all_owners``); ``since_days`` keeps recent runs only;
    ``include_published`` adds runs other users published (on a hub). ``quality`` (a
    suite name) joins each model's pass rate on that suite, from its newest finished
    eval run of it (in the window), with the Wilson 95% interval (``by="pass_rate"``
    ranks on it).

    Default: the compact view, ``rank`` as the index (per tier), numbers rounded by unit;
    ``full=True``: ``rank`` as a column and full precision. The stored values never change.
    """
    df = _leaderboard(by, runs, context_tier, since_days, all_owners, store, include_published,
                      quality)  # fmt: skip
    if full:
        return df
    from llmbench_jupyter.analysis.display import round_frame

    return round_frame(df.set_index("rank"))


def _leaderboard(
    by: str,
    runs: str | Sequence[str] | None,
    context_tier: int | None,
    since_days: float | None,
    all_owners: bool,
    store: Store | str | None,
    include_published: bool,
    quality: str | None = None,
) -> pd.DataFrame:
    import pandas as pd

    _check_leaderboard_args(by, context_tier, since_days, quality)
    db = _store(store)
    ids = _run_ids(db, runs, include_published)
    since = None
    if since_days is not None:
        since = datetime.now(UTC) - timedelta(days=float(since_days))
    summaries = db.summary_rows(
        ids,
        all_owners=all_owners,
        include_published=include_published,
        since=since,
        context_tier=context_tier,
        fields=LEADERBOARD_FIELDS,
    )
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for summary in summaries:
        if summary["requests"]:
            key = (summary["provider"], summary["model"], summary["context_tier"])
            groups.setdefault(key, []).append(summary)
    columns = list(LEADERBOARD_COLUMNS)
    scores: dict[str, dict[str, Any]] = {}
    if quality is not None:
        from llmbench_jupyter.analysis.quality import QUALITY_COLUMNS, quality_by_target

        scores = quality_by_target(db, quality, since, all_owners, include_published)
        columns += list(QUALITY_COLUMNS)
    if not groups:
        empty = pd.DataFrame(columns=columns)
        empty.attrs.update(source=SOURCE, kind="leaderboard", by=by)
        return empty
    from llmbench_jupyter.store.timing_bounds import run_timing_selftests

    bounds = run_timing_selftests(db, {p["run_id"] for ps in groups.values() for p in ps})
    rows = []
    for (provider, model, tier), parts in groups.items():
        requests = sum(p["requests"] for p in parts)
        priced_tokens = sum(p["priced_output_tokens"] for p in parts)
        priced_cost = sum(p["priced_cost_usd"] for p in parts)
        rows.append(
            {
                "provider": provider,
                "model": model,
                "context_tier": tier,
                "requests": requests,
                "success_rate": sum(p["ok"] for p in parts) / requests,
                "ttft_ms_p50": _p50(parts, "ttft_ms"),
                "decode_tps_p50": _p50(parts, "decode_tps"),
                "tpot_ms_p50": _p50(parts, "tpot_ms"),
                # stats.summarize's definition: successful requests with both a known cost
                # and a token count, in numerator and denominator alike
                "cost_per_1k_output_usd": priced_cost / priced_tokens * 1000
                if priced_tokens > 0
                else None,
                "n_runs": len({p["run_id"] for p in parts}),
                # the largest timing error bound among the runs measured (None: no self-test)
                "timing_error_p99_ms": _worst_bound(bounds, parts),
                **scores.get(f"{provider}/{model}", {}),
            }
        )
    column, ascending = RANK_BY[by]
    df = pd.DataFrame(rows).reindex(columns=columns[1:])  # every column, a model unscored
    df[column] = pd.to_numeric(df[column], errors="coerce")
    df = df.sort_values(
        ["context_tier", column, "provider", "model"],
        ascending=[True, ascending, True, True],
        na_position="last",
        kind="stable",
    ).reset_index(drop=True)
    df.insert(0, "rank", df.groupby("context_tier").cumcount() + 1)
    df = df.reindex(columns=columns)
    df.attrs.update(source=SOURCE, kind="leaderboard", by=by)
    return df


def publish(run_id_or_prefix: str, published: bool = True, store: Store | str | None = None) -> str:
    """Make one of your runs readable by every user of the hub (``published=False``: private
    again); the database enforces that only the owner can. Returns the full run id."""
    db = _store(store)
    run = db.get_run(run_id_or_prefix)
    db.publish(run["run_id"], published=published)
    return str(run["run_id"])


def audit_log(
    limit: int = 100, all_owners: bool = False, store: Store | str | None = None
) -> pd.DataFrame:
    """The audit log, newest first: your entries (hub admins: everyone's with all_owners)."""
    import pandas as pd

    from llmbench_jupyter.store.models import AUDIT_COLUMNS

    rows = _store(store).audit_log(all_owners=all_owners, limit=limit)
    return pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
