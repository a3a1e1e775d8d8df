"""Per-run summaries (``run_summaries``): aggregated as records are written, read by SQL.

The leaderboard and history used to rebuild every record of every run they showed; at a
million records that took minutes. Now every batch of records also folds its measured
(non-warm-up) requests into one row per (run, provider, model, context tier), in the
same transaction, so a crash can never leave the summaries disagreeing with the records.
Rows are locked while they are merged (``FOR UPDATE`` on PostgreSQL; SQLite write
transactions take the write lock up front), so concurrent writers add up exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from llmbench_jupyter.stats import Sketch
from llmbench_jupyter.store.models import Run, RunSummary

#: Metrics with a quantile sketch in every summary row (successful requests only).
SKETCHED = ("ttft_ms", "e2e_ms", "tpot_ms", "decode_tps")
GroupKey = tuple[str, str, int]  # provider, model, context_tier
_COLS = tuple(RunSummary.__table__.columns)


@dataclass
class Partial:
    """What a set of measured records adds to one summary row."""

    requests: int = 0
    ok: int = 0
    errors: int = 0
    error_categories: dict[str, int] = field(default_factory=dict)
    total_cost_usd: float | None = None
    priced_cost_usd: float = 0.0
    priced_output_tokens: int = 0
    samples: list[list[float | None]] = field(default_factory=lambda: [[] for _ in SKETCHED])


#: The record fields a summary is made of, in the order ``partials`` reads them.
INPUT_FIELDS = (
    "is_warmup", "provider", "model", "context_tier", "status", "error_category", "cost_usd",
    "output_tokens", *SKETCHED,
)  # fmt: skip
_INPUTS = attrgetter(*INPUT_FIELDS)


def partials(records: Iterable[Any]) -> dict[GroupKey, Partial]:
    """Group measured records (attribute access: RequestRecord or a database row) by
    target and tier, with the same definitions as ``stats.summarize``."""
    groups: dict[GroupKey, Partial] = {}
    for rec in records:
        warm, provider, model, tier, status, category, cost, tokens, *values = _INPUTS(rec)
        if warm:
            continue
        key = (provider, model, int(tier))
        part = groups.get(key)
        if part is None:
            part = groups[key] = Partial()
        part.requests += 1
        known_cost = cost is not None and cost == cost  # not None, not NaN
        if known_cost:
            part.total_cost_usd = (part.total_cost_usd or 0.0) + float(cost)
        if status != "ok":
            part.errors += 1
            cat = category or "unknown"
            part.error_categories[cat] = part.error_categories.get(cat, 0) + 1
            continue
        part.ok += 1
        if known_cost and tokens is not None and tokens == tokens:
            part.priced_cost_usd += float(cost)
            part.priced_output_tokens += int(tokens)
        for sample, value in zip(part.samples, values, strict=True):
            sample.append(value)  # None and NaN are dropped by the sketch
    return groups


#: A summary row before any record: what a new group's values are merged into.
_NONE = SimpleNamespace(
    requests=0, ok=0, errors=0, error_categories={}, total_cost_usd=None, priced_cost_usd=0.0,
    priced_output_tokens=0, **{f"{m}_sketch": None for m in SKETCHED},
)  # fmt: skip
_MERGED = ("requests", "ok", "errors", "error_categories", "total_cost_usd", "priced_cost_usd",
           "priced_output_tokens", *(f"{m}_sketch" for m in SKETCHED))  # fmt: skip
_UPDATE = (
    update(RunSummary)
    .where(
        (RunSummary.run_id == bindparam("k_run_id"))
        & (RunSummary.provider == bindparam("k_provider"))
        & (RunSummary.model == bindparam("k_model"))
        & (RunSummary.context_tier == bindparam("k_context_tier"))
    )
    .values({name: bindparam(name) for name in _MERGED})
)

#: Insert whole new rows, unless another writer created them: (SQLite, PostgreSQL).
_INSERT = tuple(
    fn(RunSummary)
    .on_conflict_do_nothing()
    .returning(RunSummary.provider, RunSummary.model, RunSummary.context_tier)
    for fn in (sqlite_insert, pg_insert)
)


def fold(
    conn: Connection,
    run_id: str,
    owner: str,
    groups: Mapping[GroupKey, Partial],
    existing: AbstractSet[GroupKey] = frozenset(),
) -> set[GroupKey]:
    """Add ``groups`` to the run's summary rows in this connection's transaction, and
    return their keys (all of which now have a row).

    Groups not in ``existing`` (rows this store knows were committed) are first inserted
    whole, and those another writer had already created then merged like the rest
    (``merge``). A new run's first batch costs one statement, a later one two.
    """
    if not groups:
        return set()
    made = insert_new(conn, new_rows(run_id, owner, groups, existing))
    merge(conn, run_id, {key: part for key, part in groups.items() if key not in made})
    return set(groups)


def new_rows(
    run_id: str, owner: str, groups: Mapping[GroupKey, Partial], existing: AbstractSet[GroupKey]
) -> list[dict[str, Any]]:
    """Whole summary rows of the groups not in ``existing``, to insert unless another
    writer created them first."""
    return [_key_values(run_id, key) | _merged(_NONE, part) | {"owner": owner}
            for key, part in groups.items() if key not in existing]  # fmt: skip


def insert_new(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> set[GroupKey]:
    """Insert ``new_rows``; the keys of those inserted (the others existed)."""
    if not rows:
        return set()
    made = conn.execute(_INSERT[conn.dialect.name == "postgresql"], list(rows))
    return {(p, m, t) for p, m, t in made}


def lock_select(run_id: str) -> Select[Any]:
    """The run's summary rows, locked in primary-key order (two writers never deadlock)."""
    return (
        select(*_COLS)
        .where(RunSummary.run_id == run_id)
        .order_by(RunSummary.provider, RunSummary.model, RunSummary.context_tier)
        .with_for_update()
    )


def merge(
    conn: Connection,
    run_id: str,
    groups: Mapping[GroupKey, Partial],
    locked: Sequence[Any] | None = None,
) -> None:
    """Add ``groups`` to their existing summary rows: read and lock the run's rows (or
    take ``locked``, read so in this transaction), write them back."""
    if not groups:
        return
    if locked is None:
        locked = conn.execute(lock_select(run_id)).all()
    current = {(r.provider, r.model, r.context_tier): r for r in locked}
    updates = []
    for key, part in groups.items():
        values = _merged(current[key], part)
        values.update({f"k_{k}": v for k, v in _key_values(run_id, key).items()})
        updates.append(values)
    conn.execute(_UPDATE, updates)


def _key_values(run_id: str, key: GroupKey) -> dict[str, Any]:
    return {"run_id": run_id, "provider": key[0], "model": key[1], "context_tier": key[2]}


def _merged(row: Any, part: Partial) -> dict[str, Any]:
    categories = dict(row.error_categories or {})
    for cat, n in part.error_categories.items():
        categories[cat] = categories.get(cat, 0) + n
    total = row.total_cost_usd
    if part.total_cost_usd is not None:
        total = (total or 0.0) + part.total_cost_usd
    values: dict[str, Any] = {
        "requests": row.requests + part.requests,
        "ok": row.ok + part.ok,
        "errors": row.errors + part.errors,
        "error_categories": categories,
        "total_cost_usd": total,
        "priced_cost_usd": row.priced_cost_usd + part.priced_cost_usd,
        "priced_output_tokens": row.priced_output_tokens + part.priced_output_tokens,
    }
    for metric, sample in zip(SKETCHED, part.samples, strict=True):
        name = f"{metric}_sketch"
        old, new = getattr(row, name), Sketch.of(sample)
        merged = new if old is None else Sketch.merge([old, new])  # a new row: nothing to add
        values[name] = None if merged is None else merged.to_bytes()
    return values


def summaries_select(
    run_ids: Sequence[str] | None = None,
    *,
    owner_filter: Any = None,
    since: datetime | None = None,
    context_tier: int | None = None,
    fields: Sequence[str] | None = None,
) -> Select[Any]:
    """Summary rows of benchmark runs, with their run's ``created_at``: of ``run_ids``, or
    of the runs ``owner_filter`` (a condition on ``runs``) admits; all filters optional.
    ``fields``: only these summary columns (and no ``created_at``), for a reader that
    merges thousands of rows and needs a few."""
    if fields is None:
        cols: list[Any] = [*_COLS, Run.created_at]
    else:
        cols = [RunSummary.__table__.columns[f] for f in fields]
    stmt = select(*cols).join(Run, Run.run_id == RunSummary.run_id)
    stmt = stmt.where(func.coalesce(Run.kind, "bench") == "bench")
    if run_ids is not None:
        stmt = stmt.where(RunSummary.run_id.in_(list(run_ids)))
    if owner_filter is not None:
        stmt = stmt.where(owner_filter)
    if since is not None:
        stmt = stmt.where(Run.created_at >= since)
    if context_tier is not None:
        stmt = stmt.where(RunSummary.context_tier == context_tier)
    return stmt
