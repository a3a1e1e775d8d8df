"""Persistence of tool-calling evals: versioned suites, per-case results and judge calls.

An eval run is a row of ``runs`` with ``kind='eval'`` (so history, jobs and, on a hub,
row-level security treat it like any run); its cases live in ``eval_results`` and the
judge's inputs and outputs in ``judgements``. Suites are versioned by content: saving
a suite whose content changed makes version n+1, saving identical content is a no-op.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.store import records_io
from llmbench_jupyter.store.models import (
    EVAL_RESULT_COLUMNS,
    JUDGEMENT_COLUMNS,
    SUITE_COLUMNS,
    EvalResult,
    JudgementRow,
    Run,
    SuiteRow,
)

if TYPE_CHECKING:
    import pandas as pd

    from llmbench_jupyter.evals.model import Suite


class EvalsMixin:
    """Eval methods of :class:`~llmbench_jupyter.store.Store`."""

    _tx: Callable[..., Any]
    _owner: Callable[..., str]
    url: str

    # ----------------------------------------------------------------- suites
    def save_suite(self, suite: Suite, owner: str | None = None) -> dict[str, Any]:
        """Store ``suite`` as its name's next version unless identical content is stored.

        Returns the suite row (``suite_id``, ``version``, ...). ``suite.version`` is not
        trusted for versioning: the store numbers versions itself, per owner and name.
        """
        from llmbench_jupyter.evals.suites import suite_hash

        owner = self._owner(owner, write=True)
        digest = suite_hash(suite)
        # Kernels saving the same name at once race for its next version: each round one
        # wins, the others read again. Twenty rounds outlast any team's simultaneous saves.
        for attempt in range(20):
            try:
                with self._tx("cannot save suite") as conn:
                    return _save_suite(conn, suite, owner, digest)
            except _VersionTaken:
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise LLMBenchError(
            f"cannot save suite {suite.name!r}: other saves of that name kept taking its next "
            "version; try again"
        )

    def get_suite(
        self, name_or_id: str, version: int | None = None, owner: str | None = None
    ) -> Suite:
        """A stored suite by id, or by name (latest version unless ``version`` is given)."""
        from llmbench_jupyter.evals.model import Suite

        owner = self._owner(owner)
        table = SuiteRow.__table__
        with self._tx("cannot read suite", write=False) as conn:
            row = conn.execute(select(table).where(SuiteRow.suite_id == name_or_id)).first()
            if row is None:
                stmt = select(table).where(SuiteRow.owner == owner, SuiteRow.name == name_or_id)
                if version is not None:
                    stmt = stmt.where(SuiteRow.version == version)
                row = conn.execute(stmt.order_by(SuiteRow.version.desc()).limit(1)).first()
        if row is None:
            which = f" version {version}" if version is not None else ""
            raise LLMBenchError(
                f"no suite {name_or_id!r}{which} of owner {owner!r} in {self.url} "
                "(list_suites() shows them)"
            )
        return Suite.from_dict(row._mapping["body"])

    def list_suites(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Every stored suite version of ``owner`` (without bodies), newest first."""
        cols = [c for c in SuiteRow.__table__.columns if c.name != "body"]
        stmt = (
            select(*cols)
            .where(SuiteRow.owner == self._owner(owner))
            .order_by(SuiteRow.name, SuiteRow.version.desc())
        )
        with self._tx("cannot list suites", write=False) as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    # ---------------------------------------------------------------- results
    def add_eval_results(self, run_id: str, results: Sequence[Mapping[str, Any]]) -> None:
        """Save case results of ``run_id`` in one transaction (all or none).

        Each mapping has the ``eval_results`` columns except ``result_id``, ``run_id``,
        ``owner`` and ``seq``, which are filled here.
        """
        if not results:
            return
        with self._tx("cannot save eval results") as conn:
            owner, seq0 = self._eval_position(conn, run_id, EvalResult)
            rows = []
            for i, res in enumerate(results):
                row = {c: res.get(c) for c in EVAL_RESULT_COLUMNS}
                row.update(result_id=uuid.uuid4().hex, run_id=run_id, owner=owner, seq=seq0 + i)
                for key in ("calls", "transcript"):
                    row[key] = list(row[key] or [])
                row["score"] = dict(row["score"] or {})
                missing = [c for c in ("provider", "model", "case_id", "outcome") if not row[c]]
                if missing:
                    raise LLMBenchError(
                        f"eval result {i} of run {run_id}: missing {', '.join(missing)}"
                    )
                rows.append(row)
            conn.execute(insert(EvalResult), rows)
            n_err = sum(1 for r in rows if r["outcome"] == "api_error")
            conn.execute(
                update(Run)
                .where(Run.run_id == run_id)
                .values(n_requests=Run.n_requests + len(rows), n_errors=Run.n_errors + n_err)
            )

    def eval_results(self, run_id: str) -> list[dict[str, Any]]:
        """The run's case results in completion order."""
        return [row for part in self.iter_eval_results(run_id) for row in part]

    def iter_eval_results(
        self, run_id: str, batch: int = records_io.EXPORT_BATCH
    ) -> Iterator[list[dict[str, Any]]]:
        """The run's case results in completion order, ``batch`` at a time, streamed from
        the server: an export of a big eval run holds one batch, never the whole run."""
        stmt = (
            select(EvalResult.__table__).where(EvalResult.run_id == run_id).order_by(EvalResult.seq)
        )
        with self._tx("cannot read eval results", write=False) as conn:
            self._require_run(conn, run_id)
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)
            for part in result.mappings().partitions(batch):
                yield [{c: r[c] for c in EVAL_RESULT_COLUMNS} for r in part]

    def eval_results_df(self, run_ids: str | Sequence[str]) -> pd.DataFrame:
        """Case results of one or more runs; columns are the ``eval_results`` columns."""
        import pandas as pd

        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        rows = [row for rid in ids for row in self.eval_results(rid)]
        return pd.DataFrame.from_records(rows, columns=list(EVAL_RESULT_COLUMNS))

    def set_run_summary(self, run_id: str, summary: Mapping[str, Any]) -> None:
        with self._tx("cannot save run summary") as conn:
            self._require_run(conn, run_id)
            conn.execute(update(Run).where(Run.run_id == run_id).values(summary=dict(summary)))

    # -------------------------------------------------------------- judgements
    def add_judgements(
        self,
        run_id: str,
        judgements: Sequence[Mapping[str, Any]],
        other_run_id: str | None = None,
    ) -> list[str]:
        """Save judge calls (``Judgement.to_dict()`` mappings) against ``run_id``; ids back."""
        if not judgements:
            return []
        now = datetime.now(UTC)
        with self._tx("cannot save judgements") as conn:
            owner, _ = self._eval_position(conn, run_id, None)
            rows = []
            for j in judgements:
                row = {c: j.get(c) for c in JUDGEMENT_COLUMNS}
                row.update(
                    judgement_id=uuid.uuid4().hex,
                    run_id=run_id,
                    other_run_id=other_run_id or j.get("other_run_id"),
                    owner=owner,
                    created_at=now,
                    messages=list(j.get("messages") or []),
                    subject=dict(j.get("subject") or {}),
                )
                rows.append(row)
            conn.execute(insert(JudgementRow), rows)
        return [str(r["judgement_id"]) for r in rows]

    def judgements(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Judge calls stored against ``run_id`` (as first run for pairwise), oldest first."""
        stmt = select(JudgementRow.__table__).where(JudgementRow.run_id == run_id)
        if kind is not None:
            stmt = stmt.where(JudgementRow.kind == kind)
        stmt = stmt.order_by(JudgementRow.created_at, JudgementRow.judgement_id)
        with self._tx("cannot read judgements", write=False) as conn:
            return [{c: r[c] for c in JUDGEMENT_COLUMNS} for r in conn.execute(stmt).mappings()]

    # ----------------------------------------------------------------- helpers
    def _require_run(self, conn: Any, run_id: str) -> str:
        owner = conn.execute(select(Run.owner).where(Run.run_id == run_id)).scalar()
        if owner is None:
            raise LLMBenchError(f"no run {run_id!r} in {self.url}")
        return str(owner)

    def _eval_position(self, conn: Any, run_id: str, table: Any) -> tuple[str, int]:
        """The run's owner, and the next ``seq`` in ``table`` for it."""
        owner = self._require_run(conn, run_id)
        if table is None:
            return owner, 0
        last = conn.execute(select(func.max(table.seq)).where(table.run_id == run_id)).scalar()
        return owner, (last + 1) if last is not None else 0


class _VersionTaken(Exception):
    """A concurrent save took the version this one was about to insert."""


def _save_suite(conn: Any, suite: Suite, owner: str, digest: str) -> dict[str, Any]:
    same = (
        conn.execute(
            select(SuiteRow.__table__).where(
                SuiteRow.owner == owner,
                SuiteRow.name == suite.name,
                SuiteRow.content_hash == digest,
            )
        )
        .mappings()
        .first()
    )
    if same is not None:
        return {c: same[c] for c in SUITE_COLUMNS}
    latest = conn.execute(
        select(func.max(SuiteRow.version)).where(
            SuiteRow.owner == owner, SuiteRow.name == suite.name
        )
    ).scalar()
    body = suite.to_dict()
    version = (latest or 0) + 1
    body["version"] = version
    row = {
        "suite_id": uuid.uuid4().hex,
        "owner": owner,
        "name": suite.name,
        "version": version,
        "content_hash": digest,
        "n_cases": len(suite.cases),
        "body": body,
        "created_at": datetime.now(UTC),
    }
    try:
        conn.execute(insert(SuiteRow), [row])
    except IntegrityError:
        raise _VersionTaken from None
    return row
