"""Experiments: a named set of its owner's runs (bench and eval), one of them the baseline,
and tuning searches (listed with their best trial; a search is never the baseline).

An experiment holds runs of its own owner only (on a hub row-level security enforces it:
a membership row may reference only its writer's own experiment and run), so nothing of
another user's work is ever linked into it. Deleting a run drops it from its experiments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.store import tuning_checks as chk
from llmbench_jupyter.store.models import (
    ExperimentRow,
    ExperimentRunRow,
    ExperimentStudyRow,
    Run,
    TuneStudy,
)

#: Runs an experiment holds; tuning searches are held as studies (``add_experiment_studies``).
KINDS = ("bench", "eval")


class ExperimentsMixin:
    """Experiment methods of :class:`~llmbench_jupyter.store.Store`."""

    _tx: Callable[..., Any]
    _owner: Callable[..., str]
    url: str

    def create_experiment(
        self,
        name: str,
        *,
        description: str | None = None,
        owner: str | None = None,
        exist_ok: bool = False,
    ) -> dict[str, Any]:
        """Create ``name`` for ``owner`` (default: the caller); an existing one is an error
        unless ``exist_ok`` (then it is returned as it is)."""
        chk.name("create_experiment", name)
        if description is not None and not isinstance(description, str):
            raise InputError("create_experiment: description must be a string or None")
        owner = self._owner(owner, write=True)
        now = datetime.now(UTC)
        with self._tx("cannot create experiment") as conn:
            found = _read(conn, owner, name)
            if found is not None:
                if exist_ok:
                    return found
                raise LLMBenchError(f"create_experiment: {owner!r} already has an experiment "
                                    f"named {name!r} in {self.url}")  # fmt: skip
            conn.execute(insert(ExperimentRow), [{
                "owner": owner, "name": name, "created_at": now, "updated_at": now,
                "description": None if description is None else chk.free_text(description),
            }])  # fmt: skip
            made = _read(conn, owner, name)
        assert made is not None
        return made

    def experiment(self, name: str, owner: str | None = None) -> dict[str, Any] | None:
        """The experiment with its ``runs`` (run id, kind, name, created_at, baseline), or
        None."""
        chk.name("experiment", name)
        with self._tx("cannot read experiment", write=False) as conn:
            return _read(conn, self._owner(owner), name)

    def list_experiments(self, owner: str | None = None,
                         all_owners: bool = False) -> list[dict[str, Any]]:  # fmt: skip
        stmt = select(ExperimentRow.owner, ExperimentRow.name)
        if not all_owners:
            stmt = stmt.where(ExperimentRow.owner == self._owner(owner))
        with self._tx("cannot list experiments", write=False) as conn:
            keys = conn.execute(stmt.order_by(ExperimentRow.name, ExperimentRow.owner)).all()
            return [e for o, n in keys if (e := _read(conn, o, n)) is not None]

    def add_experiment_runs(self, name: str, run_ids: Sequence[str], *,
                            baseline: str | None = None,
                            owner: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Add runs (full ids) to the experiment; ``baseline`` (one of its runs, added
        or already in it) becomes the baseline. Runs already in it stay as they are."""
        chk.name("add_experiment_runs", name)
        owner = self._owner(owner, write=True)
        wanted = list(dict.fromkeys([*run_ids, *([baseline] if baseline else [])]))
        now = datetime.now(UTC)
        with self._tx("cannot add runs to experiment") as conn:
            if _read(conn, owner, name) is None:
                raise LLMBenchError(f"no experiment {name!r} of {owner!r} in {self.url}")
            runs = {
                r.run_id: r
                for r in conn.execute(
                    select(Run.run_id, Run.owner, Run.kind).where(Run.run_id.in_(wanted))
                ).all()
            }
            for run_id in wanted:
                run = runs.get(run_id)
                if run is None:
                    raise LLMBenchError(f"add_experiment_runs: no run {run_id!r} in {self.url}")
                if run.owner != owner:
                    raise LLMBenchError(
                        f"add_experiment_runs: run {run_id} belongs to {run.owner!r}; an "
                        f"experiment holds its owner's ({owner!r}) runs only"
                    )
                if (run.kind or "bench") not in KINDS:
                    raise LLMBenchError(
                        f"add_experiment_runs: run {run_id} is a {run.kind} "
                        f"run; an experiment holds {' and '.join(KINDS)} runs"
                    )
            here = set(
                conn.execute(
                    select(ExperimentRunRow.run_id).where(
                        ExperimentRunRow.owner == owner, ExperimentRunRow.experiment == name
                    )
                ).scalars()
            )
            new = [{"owner": owner, "experiment": name, "run_id": r, "baseline": False,
                    "added_at": now} for r in wanted if r not in here]  # fmt: skip
            if new:
                conn.execute(insert(ExperimentRunRow), new)
            if baseline is not None:
                _set_baseline(conn, owner, name, baseline)
            conn.execute(
                update(ExperimentRow)
                .where(ExperimentRow.owner == owner, ExperimentRow.name == name)
                .values(updated_at=now)
            )
            found = _read(conn, owner, name)
        assert found is not None
        return found

    def set_experiment_baseline(self, name: str, run_id: str,
                                owner: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Make ``run_id`` (already in the experiment) its baseline."""
        owner = self._owner(owner, write=True)
        with self._tx("cannot set the baseline") as conn:
            _set_baseline(conn, owner, name, run_id)
            found = _read(conn, owner, name)
        if found is None:
            raise LLMBenchError(f"no experiment {name!r} of {owner!r} in {self.url}")
        return found

    def remove_experiment_run(self, name: str, run_id: str, owner: str | None = None) -> None:
        owner = self._owner(owner, write=True)
        with self._tx("cannot remove the run") as conn:
            gone = conn.execute(delete(ExperimentRunRow).where(
                ExperimentRunRow.owner == owner, ExperimentRunRow.experiment == name,
                ExperimentRunRow.run_id == run_id)).rowcount  # fmt: skip
        if not gone:
            raise LLMBenchError(f"run {run_id} is not in experiment {name!r} of {owner!r}")

    def add_experiment_studies(self, name: str, study_ids: Sequence[str],
                               owner: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Add tuning searches (full study ids) of the owner's to the experiment."""
        chk.name("add_experiment_studies", name)
        owner = self._owner(owner, write=True)
        wanted = list(dict.fromkeys(study_ids))
        now = datetime.now(UTC)
        with self._tx("cannot add tuning searches to experiment") as conn:
            if _read(conn, owner, name) is None:
                raise LLMBenchError(f"no experiment {name!r} of {owner!r} in {self.url}")
            found = dict(conn.execute(select(TuneStudy.study_id, TuneStudy.owner).where(
                TuneStudy.study_id.in_(wanted))).all())  # fmt: skip
            for study_id in wanted:
                if study_id not in found:
                    raise LLMBenchError(f"add_experiment_studies: no tuning search "
                                        f"{study_id!r} in {self.url}")  # fmt: skip
                if found[study_id] != owner:
                    raise LLMBenchError(
                        f"add_experiment_studies: search {study_id} belongs to "
                        f"{found[study_id]!r}; an experiment holds its owner's ({owner!r}) only"
                    )
            mine = (ExperimentStudyRow.owner == owner, ExperimentStudyRow.experiment == name)
            here = set(conn.execute(select(ExperimentStudyRow.study_id).where(*mine)).scalars())
            new = [{"owner": owner, "experiment": name, "study_id": s, "added_at": now}
                   for s in wanted if s not in here]  # fmt: skip
            if new:
                conn.execute(insert(ExperimentStudyRow), new)
            conn.execute(update(ExperimentRow).where(
                ExperimentRow.owner == owner, ExperimentRow.name == name,
            ).values(updated_at=now))  # fmt: skip
            out = _read(conn, owner, name)
        assert out is not None
        return out

    def remove_experiment_study(self, name: str, study_id: str,
                                owner: str | None = None) -> None:  # fmt: skip
        owner = self._owner(owner, write=True)
        with self._tx("cannot remove the tuning search") as conn:
            gone = conn.execute(delete(ExperimentStudyRow).where(
                ExperimentStudyRow.owner == owner, ExperimentStudyRow.experiment == name,
                ExperimentStudyRow.study_id == study_id)).rowcount  # fmt: skip
        if not gone:
            raise LLMBenchError(f"search {study_id} is not in experiment {name!r} of {owner!r}")

    def delete_experiment(self, name: str, owner: str | None = None) -> None:
        """Delete the experiment (its runs stay; only their membership goes)."""
        owner = self._owner(owner, write=True)
        with self._tx("cannot delete experiment") as conn:
            gone = conn.execute(delete(ExperimentRow).where(
                ExperimentRow.owner == owner, ExperimentRow.name == name)).rowcount  # fmt: skip
        if not gone:
            raise LLMBenchError(f"delete_experiment: no experiment {name!r} of {owner!r}")


def _set_baseline(conn: Any, owner: str, name: str, run_id: str) -> None:
    mine = (ExperimentRunRow.owner == owner, ExperimentRunRow.experiment == name)
    member = conn.execute(select(ExperimentRunRow.run_id).where(
        *mine, ExperimentRunRow.run_id == run_id)).first()  # fmt: skip
    if member is None:
        raise LLMBenchError(f"run {run_id} is not in experiment {name!r}: add it first")
    conn.execute(update(ExperimentRunRow).where(*mine).values(
        baseline=ExperimentRunRow.run_id == run_id))  # fmt: skip


def _read(conn: Any, owner: str, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(ExperimentRow.__table__).where(
        ExperimentRow.owner == owner, ExperimentRow.name == name)).mappings().first()  # fmt: skip
    if row is None:
        return None
    members = conn.execute(
        select(ExperimentRunRow.run_id, ExperimentRunRow.baseline, ExperimentRunRow.added_at,
               Run.kind, Run.name, Run.created_at, Run.status)
        .join(Run, Run.run_id == ExperimentRunRow.run_id)
        .where(ExperimentRunRow.owner == owner, ExperimentRunRow.experiment == name)
        .order_by(Run.created_at, Run.run_id)
    ).mappings().all()  # fmt: skip
    studies = conn.execute(
        select(ExperimentStudyRow.study_id, ExperimentStudyRow.added_at, TuneStudy.name,
               TuneStudy.kind, TuneStudy.target, TuneStudy.objectives, TuneStudy.directions,
               TuneStudy.status, TuneStudy.created_at, TuneStudy.result)
        .join(TuneStudy, TuneStudy.study_id == ExperimentStudyRow.study_id)
        .where(ExperimentStudyRow.owner == owner, ExperimentStudyRow.experiment == name)
        .order_by(TuneStudy.created_at, TuneStudy.study_id)
    ).mappings().all()  # fmt: skip
    return {**dict(row), "runs": [dict(m, baseline=bool(m["baseline"])) for m in members],
            "studies": [dict(s) for s in studies]}  # fmt: skip
