"""The book of a search: its study row and trial rows, in the store or (save=False) in memory.

The rows have the store's shape (``Store.trials``) either way, so the result, the widget
and a resumed search read one thing. A trial's row is written when it starts (state
``running``, with the most requests it may send) and again when it ends; a search that
finds a ``running`` row on resume was interrupted there, and counts that trial's
planned requests as spent, since it cannot know how many went out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.analysis.tune_result import TuneResult
from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.pricing import Price
from llmbench_jupyter.core.records import new_id
from llmbench_jupyter.jobs.tune import search
from llmbench_jupyter.jobs.tune.budget import Meter, Spent
from llmbench_jupyter.jobs.tune.proposer import Proposal, failure_lines
from llmbench_jupyter.jobs.tune.spec import TuneSpec
from llmbench_jupyter.jobs.tune.trial import COMPLETE, PRUNED, TrialRun

if TYPE_CHECKING:
    from llmbench_jupyter.jobs.tune.bench_spec import BenchTuneSpec
    from llmbench_jupyter.store import Store

INTERRUPTED = "interrupted: the search stopped while this trial ran"


class TrialBook:
    def __init__(self, store: Store | None, study: dict[str, Any], rows: list[dict[str, Any]],
                 spec: TuneSpec | BenchTuneSpec) -> None:  # fmt: skip
        self.store = store
        self.study = study
        self.study_id: str = study["study_id"]
        self.rows = rows
        self.spec = spec
        self.result: dict[str, Any] = dict(study.get("result") or {})
        self.spent_seconds = float((study.get("spent") or {}).get("seconds", 0.0))
        train, _ = spec.split()
        self._step = {c.id: i for i, c in enumerate(train)}

    @classmethod
    def open(cls, store: Store | None, spec: TuneSpec | BenchTuneSpec, described: dict[str, Any],
             owner: str | None) -> TrialBook:  # fmt: skip
        """The named search to resume (``spec.resume``), or a new one."""
        fields = {
            "name": spec.name or f"tune {spec.target.key} on {spec.subject}",
            "kind": spec.kind,
            "target": spec.target.key,
            "suite": spec.subject,
            "directions": spec.directions,
            "objectives": spec.objectives,
            "spec": described,
        }
        if store is None:
            now = datetime.now(UTC)
            study = {"study_id": new_id(), "status": "running", "spent": {}, "result": None,
                     "created_at": now, "owner": owner, **fields}  # fmt: skip
            return cls(None, study, [], spec)
        if spec.resume and spec.name:
            found = store.find_study(spec.name, owner=owner)
            if found is not None:
                theirs = (found.get("spec") or {}).get("fingerprint")
                if theirs != described["fingerprint"]:
                    raise InputError(
                        f"tune: a search named {spec.name!r} exists, but with another suite or "
                        "workload, target, space, objectives, sampler, seed or baseline; resume "
                        "it with "
                        "the same arguments, or give this search another name"
                    )
                rows = store.trials(found["study_id"])
                for row in rows:
                    if row["state"] == "running":
                        store.finish_trial(
                            found["study_id"], row["number"], state="fail",
                            n_requests=row["planned_requests"], error=INTERRUPTED,
                        )  # fmt: skip
                store.update_study(found["study_id"], status="running")
                return cls(store, store.study(found["study_id"]) or found,
                           store.trials(found["study_id"]), spec)  # fmt: skip
        study_id = store.create_study(
            owner=owner, name=str(fields["name"]), kind=spec.kind, target=spec.target.key,
            suite=str(fields["suite"]), directions=spec.directions,
            objectives=spec.objectives, spec=described,
        )  # fmt: skip
        return cls(store, store.study(study_id) or {"study_id": study_id, **fields}, [], spec)

    # ------------------------------------------------------------------ reading
    def has(self, number: int) -> bool:
        return any(r["number"] == number for r in self.rows)

    def row(self, number: int) -> dict[str, Any]:
        return next(r for r in self.rows if r["number"] == number)

    def spent(self) -> Spent:
        def proposer(r: dict[str, Any], key: str) -> float:
            return float((r.get("metrics") or {}).get(key) or 0)

        return Spent(
            trials=len(self.rows),
            requests=sum(int(r.get("n_requests") or 0) + int(proposer(r, "proposer_requests"))
                         for r in self.rows),
            dollars=sum(float(r.get("cost_usd") or 0.0) + proposer(r, "proposer_cost_usd")
                        for r in self.rows),
        )  # fmt: skip

    def seconds(self) -> float:
        return self.spent_seconds

    # ------------------------------------------------------------------ writing
    def start(self, number: int, params: dict[str, Any], trial: Any, resolved: dict[str, Any],
              planned: int, proposal: Proposal | None = None) -> None:  # fmt: skip
        """Record a trial before its first request: an Optuna ``trial``'s parameters, or a
        prompt search's ``proposal`` (its text, parents, origin and generation)."""
        dists = search.distributions_json(trial) if trial is not None else {}
        attrs = search.system_attrs(trial.study, trial.number) if trial is not None else {}
        prompt, parent, origin = self.spec.system_prompt, None, "search"
        if number == 0:
            origin = "baseline"
        elif proposal is not None:
            prompt, origin = proposal.prompt, proposal.origin
            parent = proposal.parents[0] if proposal.parents else None
            attrs = {"generation": proposal.generation, "parents": list(proposal.parents)}
        row = {
            "study_id": self.study_id, "number": number, "state": "running", "params": params,
            "distributions": dists, "system_attrs": attrs, "values": None, "metrics": {},
            "case_scores": {}, "intermediate": {}, "planned_requests": planned,
            "n_requests": 0, "cost_usd": 0.0, "prompt": prompt, "prompt_parent": parent,
            "prompt_origin": origin, "resolved": resolved, "error": None,
            "started_at": datetime.now(UTC), "finished_at": None,
        }  # fmt: skip
        self.rows = [r for r in self.rows if r["number"] != number] + [row]
        self.rows.sort(key=lambda r: r["number"])
        if self.store is not None:
            self.store.start_trial(
                self.study_id, number, params=params, distributions=dists, system_attrs=attrs,
                planned_requests=planned, prompt=prompt, prompt_parent=parent,
                prompt_origin=origin,
            )  # fmt: skip
            self.rows = self.store.trials(self.study_id)  # as stored (its timestamps)

    def finish(self, number: int, out: TrialRun, metrics: dict[str, Any],
               used: tuple[int, float], spec: TuneSpec, price: Price | None) -> None:  # fmt: skip
        """Record a suite trial's end: its case results, metrics and what it used."""
        objective = spec.chosen[0]
        intermediate = {}
        for run in out.runs:
            value = objective.case_value(run, price)
            if value is not None:
                intermediate[self._step[run.case_id]] = float(value)
        state = {COMPLETE: "complete", PRUNED: "pruned"}.get(out.state, "fail")
        self._finish(number, state, out.reason if state == "fail" else None,
                     {**metrics, "failures": failure_lines(spec.suite, out.runs)},
                     {r.case_id: 1.0 if r.score.passed else 0.0 for r in out.runs},
                     intermediate, used)  # fmt: skip

    def finish_workload(self, number: int, state: str, error: str | None,
                        metrics: dict[str, Any], intermediate: dict[int, float],
                        used: tuple[int, float]) -> None:  # fmt: skip
        """Record a bench trial's end (``state`` as a ``TrialRun``'s); a complete trial
        whose metrics say it failed (too many errors) is a failed one."""
        state = {COMPLETE: "complete", PRUNED: "pruned"}.get(state, "fail")
        if state == "complete" and metrics.get("error"):
            state, error = "fail", metrics["error"]
        self._finish(number, state, error if state == "fail" else None, metrics, {},
                     intermediate, used)  # fmt: skip

    def _finish(self, number: int, state: str, error: str | None, metrics: dict[str, Any],
                case_scores: dict[str, float], intermediate: dict[int, float],
                used: tuple[int, float]) -> None:  # fmt: skip
        values = [metrics.get(o.name) for o in self.spec.chosen]
        if state == "complete" and any(v is None for v in values):
            state, error = "fail", "an objective has no value (nothing finished, or no price)"
        changes: dict[str, Any] = {
            "state": state,
            "values": [float(v) for v in values] if state == "complete" else None,  # type: ignore[arg-type]
            "metrics": metrics,
            "case_scores": case_scores,
            "intermediate": intermediate,
            "n_requests": used[0],
            "cost_usd": used[1],
            "error": error,
        }
        row = self.row(number)
        row.update(changes, finished_at=datetime.now(UTC))
        if self.store is not None:
            self.store.finish_trial(self.study_id, number, resolved=row["resolved"], **changes)
            self.rows = self.store.trials(self.study_id)

    def close(self, status: str, stop_reason: str | None, meter: Meter) -> None:
        self.study["status"], self.study["stop_reason"] = status, stop_reason
        spent = meter.spent.describe() | {"seconds": round(meter.elapsed_s(), 1)}
        self.study["spent"], self.study["result"] = spent, self.result
        if self.store is not None:
            self.store.update_study(self.study_id, status=status, stop_reason=stop_reason,
                                    spent=spent, result=self.result, finished=True)  # fmt: skip

    def result_object(self, status: str, stop_reason: str | None) -> TuneResult:
        study = dict(self.study, status=status, stop_reason=stop_reason, result=self.result)
        return TuneResult(study, [dict(r) for r in self.rows], store=self.store)
