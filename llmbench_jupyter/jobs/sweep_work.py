"""A load sweep or SLO search as background-job work: :class:`.sweep.Sweeper` with the job's
callbacks, and a progress snapshot the benchmark widget can show (the running step's
medians, plus the steps so far and the limit found)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.analysis.sweep_result import SweepResult
from llmbench_jupyter.jobs.bench_work import BenchWork
from llmbench_jupyter.jobs.sweep import Sweeper, SweepSpec, known_knee

if TYPE_CHECKING:
    from llmbench_jupyter.jobs.job import Job

_SHOWN = ("step", "load", "decision", "requests", "ttft_ms_p99", "tpot_ms_p99", "goodput_rps")


class SweepWork:
    kind = "sweep"
    unit = "sent"

    def __init__(self, spec: SweepSpec, *, save: bool, config_snapshot: dict[str, Any] | None,
                 sim_url: str | None) -> None:  # fmt: skip
        self.spec = spec
        self.name = spec.name
        self._save = save
        self._config_snapshot = config_snapshot
        self._sim_url = sim_url
        self._sweeper: Sweeper | None = None

    def describe(self) -> dict[str, Any]:
        return self.spec.describe()

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for t in self.spec.bench.targets for s in t.secrets())

    async def run(self, job: Job[Any]) -> SweepResult:
        self._sweeper = Sweeper(
            self.spec, save=self._save, store=job.manager.store, owner=job.manager.owner,
            config_snapshot=self._config_snapshot, sim_url=self._sim_url,
            on_record=job._on_record, on_step=lambda _row: job._notify(),
        )  # fmt: skip
        return await self._sweeper.run()

    def failure(self, result: SweepResult) -> str | None:
        served = sum((s.get("requests") or 0) - (s.get("errors") or 0) for s in result.steps)
        return None if served else "every measured request failed"

    def partial(self, job: Job[Any], status: str) -> SweepResult:
        if self._sweeper is not None:
            self._sweeper.result.status = status
            return self._sweeper.result
        spec = self.spec
        return SweepResult(
            sweep_id=spec.sweep_id, name=spec.name, mode=spec.mode, search=spec.search,
            target=spec.bench.targets[0].key, slo=spec.slo, confidence=spec.confidence,
            status=status, arrivals=spec.bench.arrivals, known_knee_rps=known_knee(spec.bench),
        )  # fmt: skip

    def planned_requests(self) -> int:
        return self.spec.planned_steps() * (self.spec.requests or 0)

    def snapshot(self, job: Job[Any]) -> dict[str, Any]:
        """The running step as a benchmark snapshot (same keys: the bench widget shows it),
        with ``done``/``total`` over the whole sweep and its steps and verdict beside."""
        sweeper = self._sweeper
        step_records = sweeper.step_records if sweeper is not None else []
        load = sweeper.load if sweeper is not None else None
        bench = self.spec.step_spec(load or 1.0, 0, self.spec.requests or 1)
        body = BenchWork(bench, save=False, config_snapshot=None, sim_url=None).snapshot(
            SimpleNamespace(_records=step_records, _planned=0)  # type: ignore[arg-type]
        )
        result = sweeper.result if sweeper is not None else self.partial(job, job.state)
        done = len(job._records)
        body.update(
            done=done,
            total=max(self.planned_requests(), done),
            errors=sum(r.status != "ok" and not r.is_warmup for r in job._records),
            step=len(result.steps) + (sweeper is not None and result.status == "running"),
            load=load,
            steps=[{k: s.get(k) for k in _SHOWN} for s in result.steps],
            limit=result.limit,
            verdict=result.verdict() if result.steps else None,
        )
        return body
