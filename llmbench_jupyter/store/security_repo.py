"""Published runs, the audit log and encrypted API key rows.

These methods only read and write rows; who may do what is decided by the database
on a hub (row-level security on the login role, see ``llmbench_jupyter.hub.provision``):
a user publishes only their own runs, adds audit entries only in their own name,
and reads only their own key rows. Key rows hold ciphertext made by
:mod:`llmbench_jupyter.store.vault`; nothing here ever sees a key in clear.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.redact import redact_config
from llmbench_jupyter.store.models import AUDIT_COLUMNS, ApiKeyRow, AuditRow, Run

_ACTION = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
_MAX_TARGET = 256


class SecurityMixin:
    """Publishing, audit and key-row methods of :class:`~llmbench_jupyter.store.Store`."""

    _tx: Callable[..., Any]
    _owner: Callable[..., str]
    login_role: str | None
    url: str

    # ------------------------------------------------------------- publishing
    def publish(self, run_id: str, published: bool = True) -> None:
        """Make one of your runs (and its requests, eval results, judgements) readable by
        every user of the hub, or private again with ``published=False``. Audited."""
        if not isinstance(published, bool):
            raise LLMBenchError(f"publish: published must be True or False, got {published!r}")
        owner = self._owner(None, write=True)
        with self._tx("cannot publish run") as conn:
            changed = conn.execute(
                update(Run)
                .where(Run.run_id == run_id, Run.owner == owner)
                .values(published=published)
            ).rowcount
            if not changed:
                raise LLMBenchError(
                    f"publish: no run {run_id!r} of owner {owner!r} in {self.url}; "
                    "only a run's owner can publish it"
                )
            self._audit_row(conn, "run.publish" if published else "run.unpublish", run_id, None)

    # ------------------------------------------------------------------ audit
    def audit(
        self, action: str, target: str | None = None, details: Mapping[str, Any] | None = None
    ) -> str:
        """Append an audit entry in the caller's name; returns its id.

        ``action`` is a short dotted name (``key.set``); ``details`` a JSON-able dict,
        whose strings are scrubbed of anything key-shaped before they are stored.
        """
        with self._tx("cannot write audit entry") as conn:
            return self._audit_row(conn, action, target, details)

    def audit_log(
        self, all_owners: bool = False, limit: int = 200, action: str | None = None
    ) -> list[dict[str, Any]]:
        """Audit entries newest first: yours, or (admins on a hub) everyone's."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise LLMBenchError(f"audit_log: limit must be a positive integer, got {limit!r}")
        stmt = (
            select(AuditRow.__table__)
            .order_by(AuditRow.created_at.desc(), AuditRow.id)
            .limit(limit)
        )
        if not all_owners:
            stmt = stmt.where(AuditRow.owner == self._owner())
        if action is not None:
            stmt = stmt.where(AuditRow.action == action)
        with self._tx("cannot read audit log", write=False) as conn:
            return [{c: r[c] for c in AUDIT_COLUMNS} for r in conn.execute(stmt).mappings()]

    def _audit_row(
        self, conn: Any, action: str, target: str | None, details: Mapping[str, Any] | None
    ) -> str:
        if not isinstance(action, str) or not _ACTION.match(action):
            raise LLMBenchError(
                f"audit: action {action!r} is not a short lower-case dotted name like 'key.set'"
            )
        if target is not None and (not isinstance(target, str) or len(target) > _MAX_TARGET):
            raise LLMBenchError(
                f"audit: target must be a string of at most {_MAX_TARGET} characters or None"
            )
        if details is not None and not isinstance(details, Mapping):
            raise LLMBenchError(f"audit: details must be a dict, got {type(details).__name__}")
        row: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "owner": self._owner(None, write=True),
            "action": action,
            "target": target,
            "details": _scrubbed(redact_config(dict(details))) if details is not None else None,
        }
        if self.login_role is None:
            # On a hub users may not write created_at: the database stamps it (now()).
            # Elsewhere we stamp it ourselves, for sub-second order on SQLite too.
            row["created_at"] = datetime.now(UTC)
        conn.execute(insert(AuditRow), [row])
        return str(row["id"])

    # --------------------------------------------------------------- key rows
    def put_api_key(self, provider: str, ciphertext: str) -> None:
        """Insert or replace the caller's encrypted key for ``provider``."""
        owner = self._owner(None, write=True)
        now = datetime.now(UTC)
        where = (ApiKeyRow.owner == owner, ApiKeyRow.provider == provider)
        with self._tx("cannot save API key") as conn:
            found = conn.execute(select(ApiKeyRow.provider).where(*where)).first()
            if found is None:
                conn.execute(
                    insert(ApiKeyRow),
                    [
                        {
                            "owner": owner,
                            "provider": provider,
                            "ciphertext": ciphertext,
                            "created_at": now,
                            "updated_at": now,
                        }
                    ],
                )
            else:
                conn.execute(
                    update(ApiKeyRow).where(*where).values(ciphertext=ciphertext, updated_at=now)
                )

    def get_api_key(self, provider: str) -> str | None:
        """The caller's ciphertext for ``provider``, or None."""
        owner = self._owner(None, write=True)
        with self._tx("cannot read API key", write=False) as conn:
            value = conn.execute(
                select(ApiKeyRow.ciphertext).where(
                    ApiKeyRow.owner == owner, ApiKeyRow.provider == provider
                )
            ).scalar()
        return str(value) if value is not None else None

    def list_api_keys(self) -> list[dict[str, Any]]:
        """The caller's stored providers with their times; never the ciphertext."""
        owner = self._owner(None, write=True)
        stmt = (
            select(ApiKeyRow.provider, ApiKeyRow.created_at, ApiKeyRow.updated_at)
            .where(ApiKeyRow.owner == owner)
            .order_by(ApiKeyRow.provider)
        )
        with self._tx("cannot list API keys", write=False) as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def delete_api_key(self, provider: str) -> bool:
        """Delete the caller's key for ``provider``; False if there was none."""
        owner = self._owner(None, write=True)
        with self._tx("cannot delete API key") as conn:
            deleted = conn.execute(
                delete(ApiKeyRow).where(ApiKeyRow.owner == owner, ApiKeyRow.provider == provider)
            ).rowcount
        return bool(deleted)


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {str(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value
