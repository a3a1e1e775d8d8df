"""Request records and run summaries: the record methods of :class:`~llmbench_jupyter.store.Store`.

Records are written in one transaction per batch together with the summary rows they
change (``store.summaries``) and the run's counters, so the three always agree; reads go
from the driver's rows straight to records or columns (``store.records_io``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.store import ingest, records_io, summaries
from llmbench_jupyter.store.models import Run

if TYPE_CHECKING:
    import pandas as pd

_MAX_ID = 64


class RecordsMixin:
    """Record and summary methods of :class:`~llmbench_jupyter.store.Store`."""

    _tx: Callable[..., Any]
    _owner: Callable[..., str]
    _require_run: Callable[..., str]
    _owners: dict[str, str]
    _labels: dict[str, records_io.Labels]
    _summed: dict[str, set[summaries.GroupKey]]
    login_role: str | None
    url: str

    def add_record(self, record: RequestRecord) -> None:
        """Save one record in its own committed transaction (a crash keeps what was saved)."""
        self._insert([record])

    def add_records(self, records: Sequence[RequestRecord]) -> None:
        """Save records in one transaction: all of them or, on any error, none."""
        self._insert(list(records))

    def records(self, run_id: str, include_warmup: bool = True) -> list[RequestRecord]:
        """The run's records in send order."""
        with self._tx("cannot read records", write=False) as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(records_io.records_select([run_id], include_warmup)).all()
            labels = records_io.read_labels(conn, [run_id])
        return [RequestRecord(**values) for values in records_io.rows_dicts(rows, labels)]

    def records_df(self, run_ids: str | Sequence[str], include_warmup: bool = True) -> pd.DataFrame:
        """Records of one or more runs (each in send order), straight from the driver's
        rows into columns; columns are exactly ``RECORD_FIELDS`` in order."""
        ids = [run_ids] if isinstance(run_ids, str) else list(dict.fromkeys(run_ids))
        with self._tx("cannot read records", write=False) as conn:
            for run_id in ids:
                self._require_run(conn, run_id)
            frame = records_io.read_frame(conn, ids, include_warmup)
        if len(ids) > 1:  # in the order asked for, each run in send order
            order = {rid: i for i, rid in enumerate(ids)}
            frame = frame.sort_values("run_id", key=lambda c: c.map(order), kind="stable")
            frame = frame.reset_index(drop=True)
        return frame

    def summary_rows(
        self,
        run_ids: Sequence[str] | None = None,
        *,
        owner: str | None = None,
        all_owners: bool = False,
        include_published: bool = False,
        since: datetime | None = None,
        context_tier: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """``run_summaries`` rows (with the run's ``created_at``) of benchmark runs: of
        ``run_ids``, else of the owner's runs (``list_runs``' owner rules); filtered by run
        creation time and context tier. The database decides what this role may read.
        ``fields``: only these columns (no ``created_at``), read without per-row mapping."""
        kwargs: dict[str, Any] = {"since": since, "context_tier": context_tier,
                                  "fields": fields}  # fmt: skip
        if run_ids is None:
            if not all_owners:
                mine = Run.owner == self._owner(owner)
                kwargs["owner_filter"] = mine | Run.published if include_published else mine
            batches: list[list[str] | None] = [None]
        else:
            ids = list(dict.fromkeys(run_ids))
            batches = [ids[i : i + 900] for i in range(0, len(ids), 900)]  # SQLite's limit
        out: list[dict[str, Any]] = []
        with self._tx("cannot read run summaries", write=False) as conn:
            for batch in batches:
                stmt = summaries.summaries_select(batch, **kwargs)
                if fields is None:
                    out.extend(dict(r) for r in conn.execute(stmt).mappings())
                else:
                    names = list(fields)
                    out.extend(dict(zip(names, r, strict=True)) for r in conn.execute(stmt))
        return out

    def _insert(self, records: list[RequestRecord]) -> None:
        if not records:
            return
        by_run: dict[str, list[RequestRecord]] = {}
        for rec in records:
            if not isinstance(rec, RequestRecord):
                raise LLMBenchError(
                    f"add_record: expected a RequestRecord, got {type(rec).__name__}"
                )
            _check_id("request_id", rec.request_id)
            _check_id("run_id", rec.run_id)
            by_run.setdefault(rec.run_id, []).append(rec)
        ids = [rec.request_id for rec in records]
        if len(set(ids)) != len(ids):  # the engine's ids are uuids: only a caller's mistake
            twice = next(i for i, n in Counter(ids).items() if n > 1)
            raise LLMBenchError(f"cannot save records: request_id {twice!r} appears twice")
        rls = self.login_role is not None
        known: dict[str, records_io.Labels] = {}
        summed: dict[str, set[summaries.GroupKey]] = {}
        with self._tx("cannot save records") as conn:
            for run_id, recs in by_run.items():
                known[run_id], summed[run_id] = self._insert_run(conn, run_id, recs, rls)
        if len(self._labels) > 1000:  # long-lived kernels: keep the caches small
            self._labels.clear()
            self._summed.clear()
        self._labels.update(known)  # only what was committed
        self._summed.update(summed)

    def _insert_run(
        self, conn: Connection, run_id: str, recs: list[RequestRecord], rls: bool
    ) -> tuple[records_io.Labels, set[summaries.GroupKey]]:
        """One run's records, their labels, summaries and counters; returns the run's
        labels and summary keys as committed with them."""
        owner = self._run_owner(conn, run_id)
        counts = (len(recs), sum(1 for rec in recs if rec.status != "ok"))
        cached = self._labels.get(run_id)  # {} for a run this store created
        if cached is None:  # lock the run first (it orders the run's writers), then read
            ingest.count(conn, run_id, *counts)
            labels, counted = records_io.run_labels(conn, run_id), True
        else:
            labels, counted = dict(cached), False
        rows, new = records_io.record_rows(recs, labels)
        _own(recs, rows, run_id, owner, rls)
        groups = summaries.partials(recs)
        had = self._summed.get(run_id, set())
        opened = ingest.open_batch(
            conn,
            ingest.Opening(
                run_id,
                None if counted else counts,
                records_io.label_rows(run_id, owner, new),
                summaries.new_rows(run_id, owner, groups, had),
                lock=not had.isdisjoint(groups),
            ),
        )
        if len(opened.kept) != len(new):  # another writer numbered labels since: drop ours
            records_io.drop_labels(conn, run_id, opened.kept)  # and number again (locked)
            labels = records_io.run_labels(conn, run_id)
            rows, new = records_io.record_rows(recs, labels)
            if new and not records_io.add_labels(conn, run_id, owner, new):
                raise LLMBenchError(f"cannot save records: labels of run {run_id} moved")
            _own(recs, rows, run_id, owner, rls)
        records_io.insert_rows(conn, rows, rls=rls)
        rest = {key: part for key, part in groups.items() if key not in opened.made}
        summaries.merge(conn, run_id, rest, opened.locked)
        return labels, had | set(groups)

    def _run_owner(self, conn: Connection, run_id: str) -> str:
        owner = self._owners.get(run_id)
        if owner is None:
            owner = conn.execute(select(Run.owner).where(Run.run_id == run_id)).scalar()
            if owner is None:
                raise LLMBenchError(f"cannot save records: no run {run_id!r} in {self.url}")
            self._owners[run_id] = owner
        return owner


def _own(
    recs: list[RequestRecord], rows: list[list[Any]], run_id: str, owner: str, rls: bool
) -> None:
    """Give the rows the run's owner; refuse a record that names another one."""
    for rec, row in zip(recs, rows, strict=True):
        given = "" if rls else records_io.row_owner(row)  # RLS: the login role
        if given and given != owner:
            raise LLMBenchError(
                f"record {rec.request_id} has owner {given!r} but run {run_id} belongs to {owner!r}"
            )
        records_io.set_owner(row, owner)


def _check_id(label: str, value: object) -> None:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise LLMBenchError(
            f"{label} must be a non-empty string of at most {_MAX_ID} characters, got {value!r}"
        )
