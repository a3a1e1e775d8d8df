"""A parameter search over a bench workload as background-job work.

The order is that of a suite search (``work.TuneWork``): the baseline is trial 0 and
runs first, then Optuna asks until a budget or the grid says stop, and every trial is in
the store before its first request, so an interrupted search resumes. Each trial is one
unsaved benchmark run of the workload (``bench_trial``); the pruner compares it request
by request (same tier, same run index) with the best trial; the search ends with fresh,
interleaved runs of the best and the baseline (``bench_confirm``).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.pricing import price_for
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.workload import request_params
from llmbench_jupyter.jobs.tune.bench_confirm import confirm_best, confirmation_requests
from llmbench_jupyter.jobs.tune.bench_objectives import workload_metrics
from llmbench_jupyter.jobs.tune.bench_spec import BenchTuneSpec
from llmbench_jupyter.jobs.tune.bench_trial import BenchTrial, longest_prompts, run_bench_trial
from llmbench_jupyter.jobs.tune.budget import Meter
from llmbench_jupyter.jobs.tune.rows import TrialBook
from llmbench_jupyter.jobs.tune.trial import STOPPED, TrialRun
from llmbench_jupyter.jobs.tune.work import TuneWork

if TYPE_CHECKING:
    from llmbench_jupyter.jobs import Job


class BenchTuneWork(TuneWork):
    """Job work for one search over a bench workload."""

    spec: BenchTuneSpec  # type: ignore[assignment]

    def __init__(self, spec: BenchTuneSpec, *, save: bool = True,
                 sim_url: str | None = None) -> None:  # fmt: skip
        super().__init__(spec, save=save, sim_url=sim_url)  # type: ignore[arg-type]
        self._prompts: dict[int, str] = {}

    def planned_requests(self) -> int:
        b = self.spec.budget
        per_trial = self.spec.planned(self.spec.baseline)
        return b.requests if b.requests is not None else per_trial * (b.trials or 1)

    async def _prepare(self, book: TrialBook) -> Meter:
        spec, t = self.spec, self.spec.target
        price = await asyncio.to_thread(
            price_for, t.provider, t.api_model, t.model, t.input_cost_per_mtok,
            t.output_cost_per_mtok,
        )  # fmt: skip
        # refuses a baseline value the target does not take, before anything is sent; the
        # registry may import litellm and the prompts take a tokenizer: off the loop
        baseline = spec.trial_workload(spec.baseline, "baseline")
        await asyncio.to_thread(request_params, baseline, t)
        self._prompts = await asyncio.to_thread(longest_prompts, baseline)
        meter = Meter(spec.budget, book.spent(), price, None, already_s=book.seconds())
        meter.held_back = confirmation_requests(spec) if spec.confirm else 0
        if spec.prune and len(spec.chosen) == 1:  # Wilcoxon: scipy, ~1 s to import
            await asyncio.to_thread(importlib.import_module, "scipy.stats")
        return meter

    async def _search(self, target: Any, meter: Meter, job: Job) -> None:
        spec, book = self.spec, self.book
        assert book is not None
        run = self._bench_runner(target, meter, job)
        per_trial = spec.planned(spec.baseline)
        if not book.has(0):
            self.stop_reason = meter.room_for_trial(per_trial)
            if self.stop_reason is None:
                await run(0, dict(spec.baseline), None)
        await self._param_search(run, meter, per_trial)
        meter.held_back, meter.stopped = 0, None  # the confirmation's requests were kept
        if spec.confirm and book.has(0):

            async def block(params: dict[str, Any], runs: int, seed: int) -> BenchTrial:
                label = f"{book.study.get('name')} confirmation"
                w = spec.trial_workload(params, label, runs=runs, seed=seed)
                w.targets = [w.targets[0].with_api_base(target.api_base)]
                return await run_bench_trial(w, meter, self._prompts, sim_url=self._sim_url,
                                             secrets=self.secrets())  # fmt: skip

            book.result["holdout"] = await confirm_best(book, spec, block)

    def _bench_runner(self, target: Any, meter: Meter, job: Job) -> Any:
        """``run(number, params, optuna trial or None)``: one stored, metered bench trial."""
        spec, book = self.spec, self.book
        assert book is not None
        objective = spec.chosen[0]
        tiers = {tier: i for i, tier in enumerate(spec.workload.context_tiers)}

        async def run(number: int, params: dict[str, Any], trial: Any) -> Any:
            w = spec.trial_workload(params, f"{book.study.get('name')} trial {number}")
            w.targets = [w.targets[0].with_api_base(target.api_base)]
            resolved = request_params(w, w.targets[0])
            planned = spec.planned(params)
            await asyncio.to_thread(book.start, number, params, trial,
                                    resolved.describe() if resolved else {}, planned)  # fmt: skip
            intermediate: dict[int, float] = {}
            prune = trial is not None and spec.prune and len(spec.chosen) == 1

            def seen(record: RequestRecord) -> bool:
                job._notify()
                value = objective.case_value(record, meter.price)
                if value is None:
                    return False
                step = tiers[record.context_tier] * spec.workload.runs + record.run_index
                intermediate[step] = value
                if not prune:
                    return False
                trial.report(value, step)
                return bool(trial.should_prune())

            out = BenchTrial()

            def finish() -> dict[str, Any]:
                metrics = workload_metrics(out.records, planned)
                book.finish_workload(number, out.state, out.reason, metrics, intermediate,
                                     out.used)  # fmt: skip
                return metrics

            try:
                await run_bench_trial(w, meter, self._prompts, sim_url=self._sim_url,
                                      on_record=seen, secrets=self.secrets(), out=out)  # fmt: skip
            except asyncio.CancelledError:  # what finished is kept, the trial as failed
                await asyncio.shield(asyncio.to_thread(finish))
                raise
            metrics = await asyncio.to_thread(finish)
            meter.spent.trials += 1
            job._on_record(book.row(number))
            if out.state == STOPPED:
                self.stop_reason = out.reason
            if book.row(number)["state"] == "fail":  # e.g. too many errors: no values to tell
                metrics = {**metrics, **{o.name: None for o in spec.chosen}}
            return TrialRun(state=out.state, reason=out.reason), metrics

        return run
