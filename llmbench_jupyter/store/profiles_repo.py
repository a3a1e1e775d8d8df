"""Model profiles: the best request parameters and system prompt found for a model (by a
tuning search, or by hand), saved under a name so bench, evaluate and tune can apply them.

Names are per owner: the key is ``(owner, name)``, so two users may each have a profile
called ``fast``. Owners work like studies: a profile is written in the caller's name (on a
hub, the login role's, and row-level security enforces it), and ``profile`` and
``list_profiles`` read the caller's own unless told otherwise (hub admins read everyone's).

What is stored reads back as written: ``params`` must be JSON data with string keys and
finite numbers (it is sent to an endpoint); ``source`` is descriptive, so NaN or infinity
there is stored as ``null``. Both are redacted like a run's spec first, so an
``api_base`` URL's credentials or a header set never reach the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.core.redact import redact_config
from llmbench_jupyter.store import tuning_checks as chk
from llmbench_jupyter.store.models import PROFILE_COLUMNS, ModelProfile

_PROFILE_COLS = tuple(ModelProfile.__table__.columns)


class ProfilesMixin:
    """Model profile methods of :class:`~llmbench_jupyter.store.Store`."""

    _tx: Callable[..., Any]
    _owner: Callable[..., str]
    login_role: str | None
    url: str

    def save_profile(
        self,
        name: str,
        *,
        target: str,
        params: Mapping[str, Any],
        system_prompt: str | None = None,
        source: Mapping[str, Any] | None = None,
        notes: str | None = None,
        owner: str | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Save a profile under ``name`` for ``owner`` (default: the caller) and return it
        as stored.

        A name that exists is an error unless ``replace=True``: then every field is
        replaced by what is given here (``created_at`` stays, ``updated_at`` moves).
        """
        what = "save_profile"
        chk.name(what, name)
        provider, slash, model = target.partition("/") if isinstance(target, str) else ("",) * 3
        if not (slash and provider.strip() and model.strip()):
            raise InputError(
                f"{what}: target must be a 'provider/model' key (a provider and a model "
                f"separated by '/'), got {chk.show(target)}"
            )
        if system_prompt is not None:
            if not isinstance(system_prompt, str):
                raise InputError(
                    f"{what}: system_prompt must be a string or None, "
                    f"got {type(system_prompt).__name__}"
                )
            if "\x00" in system_prompt:  # PostgreSQL text cannot hold it: it would not read back
                raise InputError(f"{what}: system_prompt contains a NUL character")
        if notes is not None and not isinstance(notes, str):
            raise InputError(f"{what}: notes must be a string or None, got {type(notes).__name__}")
        if not isinstance(replace, bool):
            raise InputError(f"{what}: replace must be True or False, got {replace!r}")
        fields = {
            "target": target,
            "params": _redacted(what, "params", params),
            "system_prompt": system_prompt,
            "source": {} if source is None else _redacted(what, "source", source, descriptive=True),
            "notes": None if notes is None else chk.free_text(notes),
            "updated_at": datetime.now(UTC),
        }
        owner = self._owner(owner, write=True)
        where = (ModelProfile.owner == owner, ModelProfile.name == name)
        with self._tx("cannot save profile") as conn:
            exists = conn.execute(select(ModelProfile.name).where(*where)).first() is not None
            if exists and not replace:
                raise LLMBenchError(
                    f"{what}: a profile named {name!r} already exists for {owner!r} in "
                    f"{self.url}; pass replace=True to replace it"
                )
            if exists:
                conn.execute(update(ModelProfile).where(*where).values(fields))
            else:
                row = {"owner": owner, "name": name, "created_at": fields["updated_at"], **fields}
                conn.execute(insert(ModelProfile), [row])
            saved = _read(conn, owner, name)
        assert saved is not None  # written in this very transaction
        return saved

    def profile(self, name: str, owner: str | None = None) -> dict[str, Any] | None:
        """The profile ``name`` of ``owner`` (default: the caller) as a dict, or None."""
        chk.name("profile", name)
        with self._tx("cannot read profile", write=False) as conn:
            return _read(conn, self._owner(owner), name)

    def list_profiles(
        self, owner: str | None = None, all_owners: bool = False
    ) -> list[dict[str, Any]]:
        """Profiles by name (then owner; code point order, the same on every backend): the
        caller's (or ``owner``'s), or with ``all_owners=True`` every profile the database
        lets the caller read (on a hub: their own, or everyone's for admins)."""
        stmt = select(*_PROFILE_COLS)
        if not all_owners:
            stmt = stmt.where(ModelProfile.owner == self._owner(owner))
        with self._tx("cannot list profiles", write=False) as conn:
            rows = [{c: r[c] for c in PROFILE_COLUMNS} for r in conn.execute(stmt).mappings()]
        return sorted(rows, key=lambda p: (p["name"], p["owner"]))

    def delete_profile(self, name: str, owner: str | None = None) -> None:
        """Delete the profile ``name`` of ``owner`` (default: the caller; on a hub always
        the login role: only a profile's owner deletes it)."""
        chk.name("delete_profile", name)
        owner = self._owner(owner, write=True)
        with self._tx("cannot delete profile") as conn:
            deleted = conn.execute(
                delete(ModelProfile).where(ModelProfile.owner == owner, ModelProfile.name == name)
            ).rowcount
        if not deleted:
            raise LLMBenchError(
                f"delete_profile: no profile {name!r} of {owner!r} in {self.url} that you may "
                "delete"
            )


def _redacted(what: str, label: str, value: object, *, descriptive: bool = False) -> dict[str, Any]:
    """A dict argument redacted like a run's spec, as plain JSON data; ``descriptive``:
    NaN and infinity are stored as null instead of refused."""
    given = redact_config(dict(chk.mapping(what, label, value)))
    return dict(chk.json_dict(what, label, given, nan_as_null=descriptive))


def _read(conn: Connection, owner: str, name: str) -> dict[str, Any] | None:
    stmt = select(*_PROFILE_COLS).where(ModelProfile.owner == owner, ModelProfile.name == name)
    row = conn.execute(stmt).mappings().first()
    return None if row is None else {c: row[c] for c in PROFILE_COLUMNS}
