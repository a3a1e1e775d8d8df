"""A benchmark as job work: :func:`jobs.bench_run.arun` with the job's callbacks, and the
live snapshot (progress, medians per target and tier) its widget shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmbench_jupyter.analysis.bench_result import BenchResult
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.workload import BenchSpec, plan
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.bench_tally import BenchTally

if TYPE_CHECKING:
    from llmbench_jupyter.jobs.job import Job


class BenchWork:
    kind = "bench"
    unit = "sent"

    def __init__(
        self,
        spec: BenchSpec,
        *,
        save: bool,
        config_snapshot: dict[str, Any] | None,
        sim_url: str | None,
        selftest: Any = None,
        cluster: Any = None,
    ) -> None:
        self.spec = spec
        self._selftest = selftest
        #: The timing self-test's stored summary, once it ran (None: none asked or not yet).
        self.timing_selftest: dict[str, Any] | None = None
        self._cluster = cluster  # a distributed.Client: the load runs on its workers
        self.name = spec.name
        self._save = save
        self._config_snapshot = config_snapshot
        self._sim_url = sim_url
        self._tally = BenchTally()
        self._planned: dict[str, int] | None = None

    def describe(self) -> dict[str, Any]:
        return self.spec.describe()

    def secrets(self) -> tuple[str, ...]:
        """Every target's key, URL credentials and header values: masked in job errors."""
        return tuple(s for t in self.spec.targets for s in t.secrets())

    async def run(self, job: Job[Any]) -> BenchResult:
        timing = None
        if self._selftest:  # first, so the widget shows the bound while the run goes on
            from llmbench_jupyter.jobs.selftest import selftest_for_run

            timing = self.timing_selftest = await selftest_for_run(
                self.spec, self._selftest, self._sim_url
            )
            job._notify()
        return await arun(
            self.spec,
            save=self._save,
            store=job.manager.store,
            owner=job.manager.owner,
            on_record=job._on_record,
            on_start=job._on_start,
            config_snapshot=self._config_snapshot,
            sim_url=self._sim_url,
            selftest=timing,
            cluster=self._cluster,
        )

    def failure(self, result: BenchResult) -> str | None:
        return None if result.status == "done" else "every measured request failed"

    def planned_requests(self) -> int:
        return sum(self._planned_per_target().values())

    def partial(self, job: Job[Any], status: str) -> BenchResult:
        return BenchResult(
            run_id=job.run_id,
            spec=self.spec.describe(),
            records=list(job._records),
            skipped=[],
            overhead={},
            status=status,
        )

    def snapshot(self, job: Job[Any]) -> dict[str, Any]:
        records: list[RequestRecord] = job._records
        tally = self._tally.catch_up(records)
        per_tier = tally.per_tier
        planned_per_target = self._planned_per_target()
        # "done" counts every request sent (warm-ups included: the progress bar); the
        # names of the summary count measured requests only: ``requests`` and ``errors``,
        # with ``warmup_requests`` beside them
        done_by, errors_by, warmup_by = tally.done, tally.errors, tally.warmup
        by_target = tally.by_target
        targets = []
        for t in self.spec.targets:
            key = t.key
            n = done_by.get(key, 0)
            medians = by_target.get((t.provider, t.model), {})
            total_t = planned_per_target.get(key, 0)
            targets.append(
                {
                    "key": key,
                    "provider": t.provider,
                    "model": t.model,
                    "display_name": t.display_name or t.model,
                    "done": n,
                    "total": total_t,
                    "requests": n - warmup_by.get(key, 0),
                    "warmup_requests": warmup_by.get(key, 0),
                    "errors": errors_by.get(key, 0),
                    "ttft_ms_p50": medians.get("ttft_ms_p50"),
                    "decode_tps_p50": medians.get("decode_tps_p50"),
                    "tpot_ms_p50": medians.get("tpot_ms_p50"),
                    "e2e_ms_p50": medians.get("e2e_ms_p50"),
                    "state": "done"
                    if total_t and n >= total_t
                    else ("running" if n else "waiting"),
                }
            )
        return {
            "done": len(records),
            "total": job._planned or sum(planned_per_target.values()),
            "requests": len(records) - sum(warmup_by.values()),
            "warmup_requests": sum(warmup_by.values()),
            "errors": sum(errors_by.values()),
            "targets": targets,
            "tiers": [{"key": f"{row['provider']}/{row['model']}", **row} for row in per_tier],
            "tier_count": len(set(self.spec.context_tiers)),
            "timing_selftest": selftest_view(self.timing_selftest),
        }

    def _planned_per_target(self) -> dict[str, int]:
        if self._planned is None:  # the spec never changes: plan it once
            phases, _ = plan(self.spec)
            per = self.spec.runs + self.spec.warmup
            out: dict[str, int] = {}
            for phase in phases:
                out[phase.target.key] = out.get(phase.target.key, 0) + per
            self._planned = out
        return self._planned

    def eta_s(self, job: Job[Any]) -> float | None:
        """Seconds left, from each target's own pace rather than the job's average.

        Models of one provider usually run one after another, and the slow ones often
        come last; an average over the fast ones made "12/18, ETA 4.4 s" of a job that
        took 22.5 s. So: per target, requests left × its mean seconds per request (one not
        started yet borrows the slowest pace seen) ÷ concurrency; a provider's targets add
        up when sequential and overlap otherwise; providers overlap when run in parallel.
        """
        spec = self.spec
        tally = self._tally.catch_up(job._records, medians=False)
        done, pace = tally.done, tally.paces
        if not pace:
            return None
        slowest = max(pace.values())
        planned = self._planned_per_target()
        by_provider: dict[str, list[float]] = {}
        sequential: dict[str, bool] = {}
        for t in spec.targets:
            left = max(0, planned.get(t.key, 0) - done.get(t.key, 0))
            if spec.rate:  # open loop: arrivals set the pace, the last answer adds one request
                time_left = left / spec.rate + (pace.get(t.key, slowest) if left else 0.0)
            else:
                time_left = left * pace.get(t.key, slowest) / max(1, spec.concurrency)
            by_provider.setdefault(t.provider, []).append(time_left)
            seq = spec.sequential_models
            sequential[t.provider] = t.sequential if seq is None else seq
        per_provider = [
            sum(times) if sequential[p] else max(times) for p, times in by_provider.items()
        ]
        return max(per_provider) if spec.parallel_providers else sum(per_provider)


def selftest_view(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a widget shows of a run's timing self-test: its bound, sentence and verdict."""
    if summary is None:
        return None
    from llmbench_jupyter.stats import bound_text

    return {
        "bound_ms": summary.get("bound_ms"),
        "concurrency": summary.get("concurrency"),
        "too_loaded": summary.get("too_loaded") or summary.get("error"),
        "text": bound_text(summary),
    }
