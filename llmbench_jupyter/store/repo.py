"""The repository every surface uses to save and read runs and request records.

Owner filtering: lookups that search (``get_run`` by prefix, ``list_runs``,
``runs_df``) only see the caller's rows unless told otherwise. Calls that take a
full ``run_id`` address the run by identity. This filtering is convenience, not
isolation: on a hub, PostgreSQL row-level security keyed on the login role decides
what a connection may read or write (``llmbench_jupyter.hub.provision``), and there
every row this store writes is owned by that login role (``Store.login_role``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.records import new_id
from llmbench_jupyter.core.redact import redact_config
from llmbench_jupyter.store import export as _export
from llmbench_jupyter.store import records_io, summaries
from llmbench_jupyter.store.db import (
    WRITE_TX,
    current_owner,
    default_db_url,
    describe_db_error,
    make_engine,
    mask_url,
    migrations_enabled,
    parse_url,
    require_head,
    rls_login_role,
    upgrade_to_head,
)
from llmbench_jupyter.store.evals_repo import EvalsMixin
from llmbench_jupyter.store.experiments_repo import ExperimentsMixin
from llmbench_jupyter.store.jobs_repo import JobsMixin
from llmbench_jupyter.store.models import RUN_COLUMNS, Run
from llmbench_jupyter.store.profiles_repo import ProfilesMixin
from llmbench_jupyter.store.records_repo import RecordsMixin, _check_id
from llmbench_jupyter.store.schedules_repo import SchedulesMixin
from llmbench_jupyter.store.security_repo import SecurityMixin
from llmbench_jupyter.store.sweeps_repo import SweepsMixin
from llmbench_jupyter.store.tuning_repo import TuningMixin

if TYPE_CHECKING:
    import pandas as pd

RUN_STATUSES = ("running", "done", "failed", "cancelled", "interrupted")
FINAL_STATUSES = ("done", "failed", "cancelled", "interrupted")
_SECRET_KEYS = frozenset({"api_key"})
_RUN_COLS = tuple(Run.__table__.columns)


class Store(RecordsMixin, JobsMixin, EvalsMixin, SecurityMixin, TuningMixin, ProfilesMixin,
            ExperimentsMixin, SchedulesMixin, SweepsMixin):  # fmt: skip
    """A results store on one database. Thread-safe; each call is its own transaction.

    With ``$LLMBENCH_DB_MIGRATE=0`` the store never migrates: it checks that the schema
    is at this package's head and otherwise refuses to open with a message saying so.
    """

    def __init__(self, url: str) -> None:
        parsed = parse_url(url)
        self._url: URL = parsed
        self.url: str = mask_url(parsed)
        self._owners: dict[str, str] = {}  # run_id -> owner; owners never change
        # What this store knows a run has committed: its labels (all of them: a writer
        # whose numbers are taken rereads), and summary rows that exist (maybe more do)
        self._labels: dict[str, records_io.Labels] = {}
        self._summed: dict[str, set[summaries.GroupKey]] = {}
        try:
            self._engine: Engine = make_engine(parsed)
        except (SQLAlchemyError, OSError, ImportError) as exc:
            raise self._error("cannot open results store", exc) from None
        try:
            if migrations_enabled():
                upgrade_to_head(self._engine)
            else:
                require_head(self._engine)
            #: On a hub: the PostgreSQL login role that owns every row written here.
            self.login_role: str | None = rls_login_role(self._engine)
        except BaseException as exc:
            self._engine.dispose()
            if isinstance(exc, SQLAlchemyError | OSError):
                raise self._error("cannot open results store", exc) from None
            raise
        self.closed = False

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _owner(self, owner: str | None = None, *, write: bool = False) -> str:
        """The owner to filter on (or, with ``write``, to record).

        Under row-level security the database accepts only rows owned by the login
        role, so that role is recorded whatever ``owner`` says (job and workload code
        pass ``current_owner()``, the hub user's name); reads default to it too.
        """
        if self.login_role is not None and (write or not owner):
            return self.login_role
        return owner or current_owner()

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        *,
        owner: str | None = None,
        kind: str = "bench",
        name: str | None = None,
        spec: Mapping[str, Any],
        config_snapshot: Mapping[str, Any],
        versions: Mapping[str, Any],
        host: Mapping[str, Any],
        run_id: str | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """Insert a new run in status ``running`` and return its id (``core.records.new_id``
        by default); ``created_at`` (timezone-aware, not in the future) for a run that
        happened earlier: an import, a simulated history."""
        run_id = run_id or new_id()
        _check_id("run_id", run_id)
        now = datetime.now(UTC)
        if created_at is not None and (
            not isinstance(created_at, datetime) or created_at.tzinfo is None or created_at > now
        ):
            raise LLMBenchError(
                f"create_run: created_at must be a timezone-aware time not in the future, got "
                f"{created_at!r}"
            )
        owner = self._owner(owner, write=True)
        for label, value in (
            ("spec", spec),
            ("config_snapshot", config_snapshot),
            ("versions", versions),
            ("host", host),
        ):
            if not isinstance(value, Mapping):
                raise LLMBenchError(
                    f"create_run: {label} must be a dict, got {type(value).__name__}"
                )
        row = {
            "run_id": run_id,
            "owner": owner,
            "kind": kind,
            "name": name,
            "status": "running",
            "created_at": created_at or now,
            "finished_at": None,
            "spec": redact_config(dict(spec)),
            "config_snapshot": redact_config(_drop_secret_keys(dict(config_snapshot))),
            "versions": dict(versions),
            "host": dict(host),
            "overhead": None,
            "n_requests": 0,
            "n_errors": 0,
            "summary": None,
        }
        with self._tx("cannot create run") as conn:
            conn.execute(insert(Run), [row])
        self._owners[run_id] = owner
        self._labels[run_id], self._summed[run_id] = {}, set()  # a new run has none yet
        return run_id

    def finish_run(
        self, run_id: str, status: str, overhead: Mapping[str, Any] | None = None
    ) -> None:
        """Move a running run to a final status and record the client overhead."""
        if status not in FINAL_STATUSES:
            raise LLMBenchError(
                f"finish_run: unknown final status {status!r}; expected one of "
                f"{', '.join(FINAL_STATUSES)}"
            )
        with self._tx("cannot finish run") as conn:
            current = conn.execute(select(Run.status).where(Run.run_id == run_id)).scalar()
            if current is None:
                raise LLMBenchError(f"finish_run: no run {run_id!r} in {self.url}")
            if current != "running":
                raise LLMBenchError(
                    f"finish_run: run {run_id} is already {current!r}; only a running run "
                    "can be finished"
                )
            values: dict[str, Any] = {"status": status, "finished_at": datetime.now(UTC)}
            if overhead is not None:
                values["overhead"] = dict(overhead)
            conn.execute(update(Run).where(Run.run_id == run_id).values(**values))

    def get_run(
        self, run_id_or_prefix: str, owner: str | None = None, include_published: bool = False
    ) -> dict[str, Any]:
        """The run with this id, or the only one of ``owner``'s runs whose id starts so.

        ``include_published``: a published run of anyone is found too, by its full id.
        """
        query = (run_id_or_prefix or "").strip()
        if not query:
            raise LLMBenchError("get_run: give a run id or a prefix of one")
        owner = self._owner(owner)
        mine = select(*_RUN_COLS).where(Run.owner == owner)
        exact_where = (Run.owner == owner) | Run.published if include_published else None
        with self._tx("cannot look up run", write=False) as conn:
            exact_q = select(*_RUN_COLS).where(exact_where) if exact_where is not None else mine
            exact = conn.execute(exact_q.where(Run.run_id == query)).mappings().first()
            if exact is not None:
                return dict(exact)
            like = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found = (
                conn.execute(
                    mine.where(Run.run_id.like(like, escape="\\"))
                    .order_by(Run.created_at.desc(), Run.run_id)
                    .limit(11)
                )
                .mappings()
                .all()
            )
        if not found:
            raise LLMBenchError(
                f"no run id starts with {query!r} among the runs of owner {owner!r} "
                f"in {self.url} (list_runs() shows them)"
            )
        if len(found) > 1:
            shown = "; ".join(_describe_run(r) for r in found[:10])
            more = " and more" if len(found) > 10 else ""
            raise LLMBenchError(
                f"run id prefix {query!r} is ambiguous: it matches {shown}{more}. "
                "Give more characters."
            )
        return dict(found[0])

    def list_runs(
        self,
        owner: str | None = None,
        limit: int = 50,
        all_owners: bool = False,
        include_published: bool = False,
    ) -> list[dict[str, Any]]:
        """Runs newest first: the owner's, or everyone's with ``all_owners=True``.

        ``include_published`` adds every published run to the owner's. On a hub
        "everyone's" means what the database lets this role read: its own runs and
        published ones (all runs for admins).
        """
        if not isinstance(limit, int) or limit < 1:
            raise LLMBenchError(f"list_runs: limit must be a positive integer, got {limit!r}")
        stmt = select(*_RUN_COLS).order_by(Run.created_at.desc(), Run.run_id).limit(limit)
        if not all_owners:
            mine = Run.owner == self._owner(owner)
            stmt = stmt.where(mine | Run.published if include_published else mine)
        with self._tx("cannot list runs", write=False) as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def runs_df(
        self,
        owner: str | None = None,
        limit: int = 200,
        all_owners: bool = False,
        include_published: bool = False,
    ) -> pd.DataFrame:
        """``list_runs`` as a DataFrame whose columns are the ``runs`` column names."""
        import pandas as pd

        rows = self.list_runs(
            owner=owner, limit=limit, all_owners=all_owners, include_published=include_published
        )
        return pd.DataFrame.from_records(rows, columns=list(RUN_COLUMNS))

    def delete_run(self, run_id: str) -> None:
        """Delete a run and (by cascade) all its records."""
        with self._tx("cannot delete run") as conn:
            deleted = conn.execute(delete(Run).where(Run.run_id == run_id)).rowcount
        if not deleted:
            raise LLMBenchError(f"delete_run: no run {run_id!r} in {self.url}")
        self._owners.pop(run_id, None)
        self._labels.pop(run_id, None)
        self._summed.pop(run_id, None)

    def export(
        self,
        run_id: str,
        path: str | Path,
        fmt: str | None = None,
        include_warmup: bool = True,
    ) -> int:
        """Write the run's records to ``path`` as csv, json, jsonl or parquet (``fmt``, else
        the file extension); returns rows written. Field names are the store's column names;
        a run's timing self-test goes to ``<path>.run.json`` beside it.
        Rows stream from the database in batches: memory stays flat at any run size."""
        fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
        with self._tx("cannot read records", write=False) as conn:
            self._require_run(conn, run_id)
            stmt = records_io.records_select([run_id], include_warmup)
            rows = records_io.iter_dicts(conn, stmt, [run_id])
            written = _export.write_batches(rows, Path(path), fmt)
            from llmbench_jupyter.store.timing_bounds import export_provenance

            export_provenance(conn, run_id, Path(path))  # the timing bound travels along
            return written

    def close(self) -> None:
        """Release the connections; the store cannot be used afterwards."""
        if not self.closed:
            self.closed = True
            self._engine.dispose()
            _forget(self)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- helpers
    def _tx(self, what: str, *, write: bool = True) -> _Transaction:
        """A transaction. Unless it only reads (``write=False``), SQLite takes the write
        lock when it begins: a transaction that reads and then writes could otherwise
        fail at once with "database is locked" when another writer commits in between."""
        if self.closed:
            raise LLMBenchError(f"{what}: the store {self.url} is closed")
        return _Transaction(self, what, write)

    def _error(self, what: str, exc: BaseException) -> LLMBenchError:
        secrets = [self._url.password] if isinstance(self._url.password, str) else []
        reason = scrub(describe_db_error(exc), secrets)
        return LLMBenchError(f"{what} ({self.url}): {reason}")


class _Transaction:
    """``engine.begin()`` that turns driver errors into one-line ``LLMBenchError``s."""

    def __init__(self, store: Store, what: str, write: bool = False) -> None:
        self._store = store
        self._what = what
        self._write = write
        self._conn: Connection | None = None
        self._cm: Any = None

    def __enter__(self) -> Connection:
        try:
            conn = self._store._engine.connect()
            self._conn = conn
            if self._write:
                conn = conn.execution_options(**{WRITE_TX: True})
            self._cm = conn.begin()
            self._cm.__enter__()
            return conn
        except SQLAlchemyError as exc:
            if self._conn is not None:
                self._conn.close()
            raise self._store._error(self._what, exc) from None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        try:
            self._cm.__exit__(exc_type, exc, tb)  # commits, or rolls back on error
        except SQLAlchemyError as err:
            raise self._store._error(self._what, err) from None
        finally:
            assert self._conn is not None
            self._conn.close()
        if isinstance(exc, SQLAlchemyError):
            raise self._store._error(self._what, exc) from None
        return False


def _drop_secret_keys(value: Any) -> Any:
    """Defensive second line: the caller scrubs, but an ``api_key`` must never be stored."""
    if isinstance(value, Mapping):
        return {
            k: _drop_secret_keys(v)
            for k, v in value.items()
            if not (isinstance(k, str) and k.lower() in _SECRET_KEYS)
        }
    if isinstance(value, list | tuple):
        return [_drop_secret_keys(v) for v in value]
    return value


def _describe_run(row: Any) -> str:
    created = row["created_at"].strftime("%Y-%m-%d %H:%M:%S") if row["created_at"] else "?"
    label = f" {row['name']!r}" if row["name"] else ""
    return f"{row['run_id']}{label} ({row['status']}, {created} UTC)"


# ------------------------------------------------------------- per-URL cache
_cache: dict[str, Store] = {}
_cache_lock = threading.Lock()


def open_store(url: str | None = None) -> Store:
    """The store at ``url`` (default: ``default_db_url()``), schema upgraded to head.

    Stores are cached per URL within a process, so repeated calls are cheap.
    """
    resolved = url or default_db_url()
    key = parse_url(resolved).render_as_string(hide_password=False)
    with _cache_lock:
        store = _cache.get(key)
        if store is None or store.closed:
            store = Store(resolved)
            _cache[key] = store
        return store


def _forget(store: Store) -> None:
    with _cache_lock:
        for key, cached in list(_cache.items()):
            if cached is store:
                del _cache[key]


def close_all() -> None:
    """Close every cached store (tests, and before dropping a database)."""
    with _cache_lock:
        stores = list(_cache.values())
    for store in stores:
        store.close()
