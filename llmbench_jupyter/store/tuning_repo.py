"""Persistence of tuning searches: the studies and trials of :mod:`llmbench_jupyter.jobs.tune`.

Every trial is written when it starts and again when it ends, so a search interrupted at
any point resumes from the store: finished trials are told to the sampler again, and a
trial still ``running`` (its process died) is started again under the same number.

Owners work like runs: a study belongs to the caller (on a hub, to the login role, and
row-level security enforces it); a trial belongs to its study's owner. Methods taking a
``study_id`` address the study by identity; ``find_study`` and ``list_studies`` search
the caller's own studies.

Numbers are checked before they are stored: ``values``, ``case_scores`` and
``intermediate`` are what the search decides by, so NaN or infinity there is refused
(report such a trial as ``fail`` or ``pruned`` instead); ``metrics`` are descriptive
and store NaN or infinity as ``null``. Every JSON value must be made of dicts with
string keys, lists, strings, numbers, booleans and None, so it reads back as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.core.records import new_id
from llmbench_jupyter.core.redact import redact_config
from llmbench_jupyter.store import tuning_checks as chk
from llmbench_jupyter.store.models import STUDY_COLUMNS, TRIAL_COLUMNS, TuneStudy, TuneTrial

STUDY_KINDS = ("params", "prompt", "bench")
STUDY_STATUSES = ("running", "done", "stopped", "failed", "cancelled")
DIRECTIONS = ("maximize", "minimize")
TRIAL_STATES = ("running", "complete", "pruned", "fail")
FINISHED_TRIAL_STATES = ("complete", "pruned", "fail")
MAX_STUDY_NAME = 200
_STUDY_COLS = tuple(TuneStudy.__table__.columns)
_TRIALS = TuneTrial.__table__


class TuningMixin:
    """Study and trial methods of :class:`~llmbench_jupyter.store.Store`."""

    _tx: Callable[..., Any]
    _owner: Callable[..., str]
    login_role: str | None
    url: str

    # ---------------------------------------------------------------- studies
    def create_study(
        self,
        *,
        name: str,
        kind: str,
        target: str,
        directions: Sequence[str],
        objectives: Sequence[str],
        spec: Mapping[str, Any],
        suite: str | None = None,
        owner: str | None = None,
        study_id: str | None = None,
    ) -> str:
        """Insert a new study in status ``running`` and return its id (``new_id()`` by
        default). ``spec`` is redacted like a run's spec before it is stored."""
        study_id = new_id() if study_id is None else study_id
        chk.check_id("create_study", "study_id", study_id)
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_STUDY_NAME:
            raise InputError(
                f"create_study: name must be a non-empty string of at most {MAX_STUDY_NAME} "
                f"characters, got {chk.show(name)}"
            )
        if kind not in STUDY_KINDS:
            raise InputError(
                f"create_study: kind must be one of {', '.join(STUDY_KINDS)}, got {kind!r}"
            )
        if not isinstance(target, str) or not target.strip():
            raise InputError(
                f"create_study: target must be a non-empty 'provider/model' key, got {target!r}"
            )
        if suite is not None and not isinstance(suite, str):
            raise InputError(f"create_study: suite must be a string or None, got {suite!r}")
        dirs = chk.strings("create_study", "directions", directions)
        bad = [d for d in dirs if d not in DIRECTIONS]
        if bad:
            raise InputError(
                f"create_study: directions must each be 'maximize' or 'minimize', got {bad[0]!r}"
            )
        names = chk.strings("create_study", "objectives", objectives)
        if len(names) != len(dirs):
            raise InputError(
                f"create_study: directions and objectives must have the same length (one "
                f"direction per objective), got {len(dirs)} directions and {len(names)} objectives"
            )
        if len(set(names)) != len(names) or not all(n.strip() for n in names):
            raise InputError(
                f"create_study: objectives must be distinct non-empty names, got {names!r}"
            )
        if not isinstance(spec, Mapping):
            raise InputError(f"create_study: spec must be a dict, got {type(spec).__name__}")
        row = {
            "study_id": study_id,
            "owner": self._owner(owner, write=True),
            "name": name,
            "kind": kind,
            "target": target,
            "suite": suite,
            "directions": dirs,
            "objectives": names,
            "spec": chk.json_data("create_study", "spec", redact_config(dict(spec))),
            "status": "running",
            "stop_reason": None,
            "spent": {},
            "result": None,
            "created_at": datetime.now(UTC),
            "finished_at": None,
        }
        with self._tx("cannot create study") as conn:
            conn.execute(insert(TuneStudy), [row])
        return study_id

    def study(self, study_id: str) -> dict[str, Any] | None:
        """The study as a dict (JSON decoded), or None if there is none the caller can see."""
        chk.check_id("study", "study_id", study_id)
        stmt = select(*_STUDY_COLS).where(TuneStudy.study_id == study_id)
        with self._tx("cannot read study", write=False) as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else {c: row[c] for c in STUDY_COLUMNS}

    def find_study(self, name: str, owner: str | None = None) -> dict[str, Any] | None:
        """The newest study of ``owner`` (default: the caller) named ``name``, or None.

        How a search is resumed by name: a name is not unique, the newest study wins.
        """
        if not isinstance(name, str) or not name:
            raise InputError(f"find_study: name must be a non-empty string, got {chk.show(name)}")
        stmt = (
            select(*_STUDY_COLS)
            .where(TuneStudy.owner == self._owner(owner), TuneStudy.name == name)
            .order_by(TuneStudy.created_at.desc(), TuneStudy.study_id)
            .limit(1)
        )
        with self._tx("cannot find study", write=False) as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else {c: row[c] for c in STUDY_COLUMNS}

    def list_studies(
        self, limit: int = 50, all_owners: bool = False, *, owner: str | None = None
    ) -> list[dict[str, Any]]:
        """Studies newest first, each with ``n_trials``: the caller's (or ``owner``'s), or
        with ``all_owners=True`` every study the database lets the caller read (on a hub:
        their own, or everyone's for admins). Picking the best trial is the caller's job:
        only the tuner knows how its objectives combine."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputError(f"list_studies: limit must be a positive integer, got {limit!r}")
        n_trials = (
            select(func.count())
            .select_from(_TRIALS)
            .where(TuneTrial.study_id == TuneStudy.study_id)
            .scalar_subquery()
            .label("n_trials")
        )
        stmt = (
            select(*_STUDY_COLS, n_trials)
            .order_by(TuneStudy.created_at.desc(), TuneStudy.study_id)
            .limit(limit)
        )
        if not all_owners:
            stmt = stmt.where(TuneStudy.owner == self._owner(owner))
        with self._tx("cannot list studies", write=False) as conn:
            return [
                {**{c: r[c] for c in STUDY_COLUMNS}, "n_trials": int(r["n_trials"])}
                for r in conn.execute(stmt).mappings()
            ]

    def update_study(
        self,
        study_id: str,
        *,
        status: str | None = None,
        stop_reason: str | None = None,
        spent: Mapping[str, Any] | None = None,
        result: Mapping[str, Any] | None = None,
        finished: bool = False,
    ) -> None:
        """Change what is given (None leaves a field as it is); ``finished=True`` stamps
        ``finished_at``. Setting status ``running`` again (a resumed search) clears it."""
        values: dict[str, Any] = {}
        if status is not None:
            if status not in STUDY_STATUSES:
                raise InputError(
                    f"update_study: status must be one of {', '.join(STUDY_STATUSES)}, "
                    f"got {status!r}"
                )
            values["status"] = status
            if status == "running":
                if finished:
                    raise InputError(
                        "update_study: a study set to status 'running' cannot be finished"
                    )
                values["finished_at"] = None
        if stop_reason is not None:
            if not isinstance(stop_reason, str):
                raise InputError(
                    f"update_study: stop_reason must be a string, got {type(stop_reason).__name__}"
                )
            values["stop_reason"] = chk.free_text(stop_reason)
        for label, value in (("spent", spent), ("result", result)):
            if value is not None:
                values[label] = chk.json_dict("update_study", label, value)
        if finished:
            values["finished_at"] = datetime.now(UTC)
        with self._tx("cannot update study") as conn:
            if values:
                found = conn.execute(
                    update(TuneStudy).where(TuneStudy.study_id == study_id).values(values)
                ).rowcount
            else:
                found = conn.execute(
                    select(func.count()).where(TuneStudy.study_id == study_id)
                ).scalar()
        if not found:
            raise LLMBenchError(
                f"update_study: no study {study_id!r} in {self.url} that you may change"
            )

    def delete_study(self, study_id: str) -> None:
        """Delete a study and (by cascade) all its trials."""
        with self._tx("cannot delete study") as conn:
            deleted = conn.execute(delete(TuneStudy).where(TuneStudy.study_id == study_id)).rowcount
        if not deleted:
            raise LLMBenchError(
                f"delete_study: no study {study_id!r} in {self.url} that you may delete"
            )

    # ----------------------------------------------------------------- trials
    def start_trial(
        self,
        study_id: str,
        number: int,
        *,
        params: Mapping[str, Any],
        distributions: Mapping[str, Any],
        system_attrs: Mapping[str, Any] | None = None,
        planned_requests: int = 0,
        prompt: str | None = None,
        prompt_parent: int | None = None,
        prompt_origin: str | None = None,
    ) -> None:
        """Record trial ``number`` of a study as ``running``, owned by the study's owner.

        A trial of that number still ``running`` (its search was interrupted) is replaced;
        a finished one is an error: its result stands.
        """
        what = "start_trial"
        chk.check_count(what, "number", number)
        chk.check_count(what, "planned_requests", planned_requests)
        if prompt_parent is not None:
            chk.check_count(what, "prompt_parent", prompt_parent)
        if prompt is not None:
            if not isinstance(prompt, str):
                raise InputError(f"{what}: prompt must be a string, got {type(prompt).__name__}")
            if "\x00" in prompt:  # PostgreSQL text cannot hold it: it would not read back
                raise InputError(f"{what}: prompt contains a NUL character")
        if prompt_origin is not None and not isinstance(prompt_origin, str):
            raise InputError(f"{what}: prompt_origin must be a string, got {prompt_origin!r}")
        row: dict[str, Any] = {
            "study_id": study_id,
            "number": number,
            "state": "running",
            "params": chk.json_dict(what, "params", params),
            "distributions": chk.json_dict(what, "distributions", distributions),
            "system_attrs": chk.json_dict(what, "system_attrs", system_attrs, optional=True),
            "values": None,
            "metrics": {},
            "case_scores": {},
            "intermediate": {},
            "planned_requests": planned_requests,
            "n_requests": 0,
            "cost_usd": 0.0,
            "prompt": prompt,
            "prompt_parent": prompt_parent,
            "prompt_origin": prompt_origin,
            "resolved": {},
            "error": None,
            "started_at": datetime.now(UTC),
            "finished_at": None,
        }
        with self._tx("cannot start trial") as conn:
            row["owner"], _ = self._study_for_write(conn, what, study_id)
            state = conn.execute(_trial_state(study_id, number)).scalar()
            if state is not None and state != "running":
                raise LLMBenchError(
                    f"{what}: trial {number} of study {study_id} is already {state!r}; "
                    "only a trial still running can be started again"
                )
            if state is not None:
                conn.execute(_trial_where(delete(TuneTrial), study_id, number))
            conn.execute(insert(TuneTrial), [row])

    def finish_trial(
        self,
        study_id: str,
        number: int,
        *,
        state: str,
        values: Sequence[float] | None = None,
        metrics: Mapping[str, Any] | None = None,
        case_scores: Mapping[str, float] | None = None,
        intermediate: Mapping[int, float] | None = None,
        n_requests: int = 0,
        cost_usd: float = 0.0,
        resolved: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Move a running trial to ``complete``, ``pruned`` or ``fail`` with its outcome.

        A complete trial needs ``values``, one finite number per objective of its study.
        """
        what = "finish_trial"
        if state not in FINISHED_TRIAL_STATES:
            raise InputError(
                f"{what}: state must be one of {', '.join(FINISHED_TRIAL_STATES)}, got {state!r}"
            )
        numbers = None if values is None else chk.finite_list(what, values)
        if state == "complete" and numbers is None:
            raise InputError(f"{what}: a complete trial needs values (one per objective)")
        chk.check_count(what, "n_requests", n_requests)
        cost = chk.finite(what, "cost_usd", cost_usd)
        if cost < 0:
            raise InputError(f"{what}: cost_usd must not be negative, got {cost_usd!r}")
        if error is not None and not isinstance(error, str):
            raise InputError(f"{what}: error must be a string, got {type(error).__name__}")
        changes = {
            "state": state,
            "values": numbers,
            "metrics": chk.json_dict(what, "metrics", metrics, optional=True, nan_as_null=True),
            "case_scores": chk.case_scores(what, case_scores),
            "intermediate": chk.intermediate(what, intermediate),
            "n_requests": n_requests,
            "cost_usd": cost,
            "resolved": chk.json_dict(what, "resolved", resolved, optional=True),
            "error": None if error is None else chk.free_text(error),
            "finished_at": datetime.now(UTC),
        }
        with self._tx("cannot finish trial") as conn:
            _, objectives = self._study_for_write(conn, what, study_id)
            if numbers is not None and len(numbers) != len(objectives):
                raise InputError(
                    f"{what}: study {study_id} has {len(objectives)} objective(s) "
                    f"({', '.join(objectives)}), got {len(numbers)} value(s)"
                )
            current = conn.execute(_trial_state(study_id, number)).scalar()
            if current is None:
                raise LLMBenchError(f"{what}: study {study_id} has no trial {number}")
            if current != "running":
                raise LLMBenchError(
                    f"{what}: trial {number} of study {study_id} is already {current!r}; "
                    "only a running trial can be finished"
                )
            stmt = _trial_where(update(TuneTrial), study_id, number)
            conn.execute(stmt.where(TuneTrial.state == "running").values(changes))

    def trials(self, study_id: str) -> list[dict[str, Any]]:
        """The study's trials by number, JSON decoded; ``intermediate`` keyed by int step."""
        stmt = select(_TRIALS).where(TuneTrial.study_id == study_id).order_by(TuneTrial.number)
        with self._tx("cannot read trials", write=False) as conn:
            if conn.execute(select(TuneStudy.owner).where(TuneStudy.study_id == study_id)).first():
                rows = conn.execute(stmt).mappings().all()
            else:
                rows = None
        if rows is None:
            raise LLMBenchError(f"trials: no study {study_id!r} in {self.url}")
        out = []
        for r in rows:
            trial = {c: r[c] for c in TRIAL_COLUMNS}
            trial["intermediate"] = {int(k): v for k, v in (trial["intermediate"] or {}).items()}
            out.append(trial)
        return out

    # ---------------------------------------------------------------- helpers
    def _study_for_write(self, conn: Connection, what: str, study_id: str) -> tuple[str, list[str]]:
        """The study's owner and objectives, if the caller may add or change its trials."""
        found = conn.execute(
            select(TuneStudy.owner, TuneStudy.objectives).where(TuneStudy.study_id == study_id)
        ).first()
        if found is None:
            raise LLMBenchError(f"{what}: no study {study_id!r} in {self.url}")
        owner, objectives = found
        if self.login_role is not None and owner != self.login_role:
            # An admin reads every study on a hub but writes only their own.
            raise LLMBenchError(
                f"{what}: study {study_id} belongs to {owner!r}; only its owner can change "
                "its trials"
            )
        return str(owner), list(objectives)


def _trial_where(stmt: Any, study_id: str, number: int) -> Any:
    return stmt.where(TuneTrial.study_id == study_id, TuneTrial.number == number)


def _trial_state(study_id: str, number: int) -> Any:
    return _trial_where(select(TuneTrial.state), study_id, number)
