"""A parameter search as background-job work: baseline, trials, held-out test.

The order is fixed: the baseline (the parameters as configured, or ``baseline=``) is
trial 0 and always runs first; then Optuna asks for trials until a budget or the grid
says stop; then the best trial and the baseline are run once on the held-out cases the
search never saw, and a paired McNemar test says whether the best is really better.
Every trial is in the store before its first request and finished there after its last,
so an interrupted search resumes where it stopped (``resume=True`` with its name).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import random
from typing import TYPE_CHECKING, Any

import aiohttp

from llmbench_jupyter.analysis.tune_result import TuneResult
from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.pricing import Price, price_for
from llmbench_jupyter.evals.runner import CaseRun, StopSending, resolve_eval_params
from llmbench_jupyter.jobs.tune import search
from llmbench_jupyter.jobs.tune.budget import Meter, PricedMeter
from llmbench_jupyter.jobs.tune.holdout import held_out_test
from llmbench_jupyter.jobs.tune.objectives import trial_metrics
from llmbench_jupyter.jobs.tune.prompt_search import next_prompts
from llmbench_jupyter.jobs.tune.proposer import Proposal, Proposer
from llmbench_jupyter.jobs.tune.rows import TrialBook
from llmbench_jupyter.jobs.tune.spec import TuneSpec
from llmbench_jupyter.jobs.tune.trial import PRUNED, STOPPED, TrialRun, run_trial

if TYPE_CHECKING:
    import optuna

    from llmbench_jupyter.jobs import Job


class TuneWork:
    """Job work for one parameter search (see :class:`llmbench_jupyter.jobs.JobWork`)."""

    kind = "tune"
    unit = "trials"

    def __init__(self, spec: TuneSpec, *, save: bool = True, sim_url: str | None = None) -> None:
        spec.validate()
        self.spec = spec
        self.name = spec.name
        self._save = save
        self._sim_url = sim_url
        self._described = spec.describe()
        self.book: TrialBook | None = None
        self.status = "running"
        self.stop_reason: str | None = None
        self.meter: Meter | None = None
        self._judge_price: Price | None = None

    def describe(self) -> dict[str, Any]:
        return dict(self._described)

    def secrets(self) -> tuple[str, ...]:
        others = [t for t in (self.spec.proposer, self.spec.judge) if t is not None]
        return self.spec.target.secrets() + tuple(s for t in others for s in t.secrets())

    def planned_requests(self) -> int:
        """The request budget when there is one, else one trial's worth (hourly limits)."""
        b = self.spec.budget
        per_trial = sum(max(1, c.max_rounds) for c in self.spec.suite.cases)
        return b.requests if b.requests is not None else per_trial * (b.trials or 1)

    # -------------------------------------------------------------------- run
    async def run(self, job: Job) -> TuneResult:
        spec = self.spec
        store = job.manager.store if self._save else None
        self.book = book = await asyncio.to_thread(
            TrialBook.open, store, spec, self._described, job.manager.owner
        )
        job._on_start(None, spec.budget.trials or 0)
        self.meter = meter = await self._prepare(book)
        status = "failed"
        try:
            with contextlib.ExitStack() as stack:
                target = await self._target_with_sim(stack)
                await self._search(target, meter, job)
            status = "done"
        except asyncio.CancelledError:
            status, self.stop_reason = "cancelled", self.stop_reason or "cancelled"
            raise
        finally:
            self.status = status
            book.spent_seconds = meter.elapsed_s()
            await asyncio.shield(asyncio.to_thread(book.close, status, self.stop_reason, meter))
            job._notify()
        return self._result()

    async def _prepare(self, book: TrialBook) -> Meter:
        """Prices and the parameter registry (off the loop), and the search's meter."""
        spec = self.spec
        _train, held = spec.split()
        t = spec.target
        price = await asyncio.to_thread(
            price_for,
            t.provider,
            t.api_model,
            t.model,
            t.input_cost_per_mtok,
            t.output_cost_per_mtok,
        )
        # the registry may import litellm (seconds, once): off the event loop
        await asyncio.to_thread(resolve_eval_params, t, spec.baseline)
        if spec.judge is not None:
            j = spec.judge
            self._judge_price = await asyncio.to_thread(
                price_for, j.provider, j.api_model, j.model, j.input_cost_per_mtok,
                j.output_cost_per_mtok,
            )  # fmt: skip
        meter = Meter(
            spec.budget, book.spent(), price, t.max_output_tokens, already_s=book.seconds()
        )
        meter.held_back = 2 * sum(max(1, c.max_rounds) for c in held)
        if spec.prune and spec.objectives[0] != "pass_rate":  # Wilcoxon: scipy, ~1 s to import
            await asyncio.to_thread(importlib.import_module, "scipy.stats")
        return meter

    async def _search(self, target: Any, meter: Meter, job: Job) -> None:
        """Baseline, search, held-out test."""
        spec, book = self.spec, self.book
        assert book is not None
        train, held = spec.split()
        per_trial = sum(max(1, c.max_rounds) for c in train)
        async with aiohttp.ClientSession() as session:
            run = self._runner(session, target, train, meter, job)
            if not book.has(0):
                self.stop_reason = meter.room_for_trial(per_trial)
                if self.stop_reason is None:
                    await run(0, dict(spec.baseline), None)
            if spec.kind == "prompt":
                await self._prompt_search(session, run, meter, per_trial)
            else:
                await self._param_search(run, meter, per_trial)
            # the held-out test's requests were kept aside; each is checked again
            meter.held_back, meter.stopped = 0, None
            if held and book.has(0):
                result = await held_out_test(book, spec, session, target, held, meter)
                book.result["holdout"] = result

    def _runner(self, session: aiohttp.ClientSession, target: Any, cases: list[Any],
                meter: Meter, job: Job) -> Any:  # fmt: skip
        """``run(number, params, optuna trial or None)``: one stored, metered trial."""
        spec, book = self.spec, self.book
        assert book is not None
        grade = self._grader(session, target, meter)

        async def run(number: int, params: dict[str, Any], trial: Any,
                      proposal: Proposal | None = None) -> Any:  # fmt: skip
            resolved = resolve_eval_params(target, params).describe()
            await asyncio.to_thread(book.start, number, params, trial, resolved,
                                    sum(max(1, c.max_rounds) for c in cases), proposal)  # fmt: skip
            objective = spec.chosen[0]
            prune = None
            if trial is not None and spec.prune and len(spec.chosen) == 1:

                def prune(step: int, case: CaseRun) -> bool:
                    value = objective.case_value(case, meter.price)
                    if value is None:
                        return False
                    trial.report(value, step)
                    return bool(trial.should_prune())

            before = (meter.spent.requests, meter.spent.dollars)
            finished: list[CaseRun] = []

            def on_case(case: CaseRun) -> None:
                finished.append(case)
                job._notify()

            def record(out: TrialRun) -> Any:
                metrics = trial_metrics(out.runs, meter.price, out.judgements, target.key)
                if proposal is not None:  # kept with the trial: a resumed search counts them
                    metrics.update(proposer_requests=proposal.requests,
                                   proposer_cost_usd=proposal.cost_usd)  # fmt: skip
                used = (meter.spent.requests - before[0], meter.spent.dollars - before[1])
                finish = asyncio.to_thread(book.finish, number, out, metrics, used, spec,
                                           meter.price)  # fmt: skip
                return metrics, finish

            try:
                out = await run_trial(
                    session, target, spec.suite, cases, params=params,
                    system_prompt=proposal.prompt if proposal is not None else spec.system_prompt,
                    meter=meter, order_seed=spec.seed * 100_003 + number,
                    concurrency=spec.concurrency, timeout_s=spec.timeout_s, mode=spec.mode,
                    mock_classes=spec.mock_classes, on_case=on_case, should_prune=prune,
                    judge=grade,
                )  # fmt: skip
            except asyncio.CancelledError:  # what it sent and finished is kept, as failed
                cut = TrialRun(list(finished), STOPPED, "cancelled while this trial ran")
                await asyncio.shield(record(cut)[1])
                raise
            metrics, finish = record(out)
            await finish
            meter.spent.trials += 1
            job._on_record(book.row(number))
            if out.state == STOPPED:
                self.stop_reason = out.reason
            return out, metrics

        return run

    def _grader(self, session: aiohttp.ClientSession, target: Any, meter: Meter) -> Any:
        """``grade(case, run)``: the judge's verdict on one case (booked on the budget), or
        None when no objective needs a judge."""
        judge = self.spec.judge
        if judge is None or "judge_score" not in self.spec.objectives:
            return None
        from llmbench_jupyter.evals.judge import judge_case

        if judge.simulated and self._sim_url:
            judge = judge.with_api_base(self._sim_url)
        booked = PricedMeter(meter, self._judge_price)

        async def grade(case: Any, run: CaseRun) -> dict[str, Any]:
            verdict = await judge_case(session, judge, self.spec.suite, case, run,
                                       timeout_s=self.spec.timeout_s, meter=booked)  # fmt: skip
            row = verdict.to_dict()
            row["subject"] = {**row.get("subject", {}), "target": target.key}
            return row

        return grade

    async def _param_search(self, run: Any, meter: Meter, per_trial: int) -> None:
        """Optuna asks, a trial answers, until a budget or the grid says stop."""
        spec, book = self.spec, self.book
        assert book is not None
        # a resumed random or TPE search must not replay its first draws; the grid's own
        # shuffle must stay the same, or its stored point ids would mean other points
        done = sum(r["number"] > 0 for r in book.rows)
        seed = spec.seed if spec.sampler == "grid" else spec.seed + done
        study = search.make_study(
            spec.sampler, seed, spec.directions, spec.built, prune=spec.prune,
            n_startup=spec.n_startup, objective=spec.objectives[0],
        )  # fmt: skip
        search.replay(study, [r for r in book.rows if r["number"] > 0])
        while self.stop_reason is None:
            self.stop_reason = meter.room_for_trial(per_trial)
            if self.stop_reason is None:
                await self._one_trial(study, run)

    async def _prompt_search(self, session: aiohttp.ClientSession, run: Any, meter: Meter,
                             per_trial: int) -> None:  # fmt: skip
        """The proposer writes prompts (``spec.method``), each is a trial, until the method
        is done or a budget says stop."""
        spec, book = self.spec, self.book
        assert book is not None and spec.proposer is not None
        p = spec.proposer
        price = await asyncio.to_thread(
            price_for, p.provider, p.api_model, p.model, p.input_cost_per_mtok,
            p.output_cost_per_mtok,
        )  # fmt: skip
        proposer_target = p.with_api_base(self._sim_url) if p.simulated and self._sim_url else p
        proposer = Proposer(proposer_target, spec.suite, meter, price, session, spec.timeout_s)
        sign = 1.0 if spec.directions[0] == "maximize" else -1.0
        rng = random.Random(f"prompts:{spec.seed}:{len(book.rows)}")
        while self.stop_reason is None:
            self.stop_reason = meter.room_for_trial(per_trial + 1)
            if self.stop_reason is not None:
                break
            before = (meter.spent.requests, meter.spent.dollars)
            try:
                proposals = await next_prompts(spec.method, proposer, book.rows, sign, rng)
            except StopSending as stop:
                self.stop_reason = str(stop)
                break
            except LLMBenchError as exc:  # the proposer failed: say so, keep what was found
                self.stop_reason = f"the proposer failed: {scrub(str(exc), self.secrets())}"
                break
            if not proposals:
                self.stop_reason = f"the {spec.method.name} search is complete"
                break
            proposals[0].requests = meter.spent.requests - before[0]
            proposals[0].cost_usd = meter.spent.dollars - before[1]
            for proposal in proposals:
                self.stop_reason = self.stop_reason or meter.room_for_trial(per_trial)
                if self.stop_reason is not None:
                    break
                number = max(r["number"] for r in book.rows) + 1
                await run(number, dict(spec.baseline), None, proposal)

    async def _one_trial(self, study: optuna.Study, run: Any) -> None:
        from optuna.trial import TrialState

        spec = self.spec
        trial = study.ask(spec.built.distributions)
        out, metrics = await run(trial.number + 1, dict(trial.params), trial)
        values = [metrics.get(o.name) for o in spec.chosen]
        if out.state == PRUNED:
            study.tell(trial, state=TrialState.PRUNED)
        elif out.state == STOPPED or any(v is None for v in values):
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, values)
        if spec.sampler == "grid" and _grid_done(study, spec.built.size()):
            self.stop_reason = self.stop_reason or "every grid point was tried"

    async def _target_with_sim(self, stack: contextlib.ExitStack) -> Any:
        target = self.spec.target
        others = [t for t in (self.spec.proposer, self.spec.judge) if t is not None]
        simulated = target.simulated or any(t.simulated for t in others)
        if simulated and not self._sim_url:
            from llmbench_jupyter.sim.process import sim_process

            self._sim_url = await asyncio.to_thread(
                stack.enter_context, sim_process(rules=self.spec.sim_rules)
            )
        return target.with_api_base(self._sim_url) if self._sim_url and target.simulated else target

    # ------------------------------------------------------------------ result
    def _result(self) -> TuneResult:
        if self.book is None:
            raise LLMBenchError("tune: the search did not start")
        return self.book.result_object(self.status, self.stop_reason)

    def partial(self, job: Job, status: str) -> TuneResult:
        if self.book is None:
            return TuneResult.empty(self.spec.name, status)
        return self.book.result_object(status, self.stop_reason or status)

    def failure(self, result: TuneResult) -> str | None:
        if result.trials_df().empty or (result.trials_df()["state"] == "fail").all():
            return "no trial finished: " + (self.stop_reason or "every trial failed")
        return None

    def snapshot(self, job: Job) -> dict[str, Any]:
        book = self.book
        rows = book.rows if book is not None else []
        spent = self.meter.spent.describe() if self.meter is not None else {}
        if self.meter is not None and book is not None:
            # ``Spent.seconds`` is not kept live: the meter's clock is (stopped at the end)
            running = self.status == "running"
            spent["seconds"] = round(self.meter.elapsed_s() if running else book.seconds(), 1)
        total = self.spec.budget.trials or max(len(rows), 1)
        result = book.result_object(self.status, self.stop_reason) if book is not None else None
        described = self._described
        states: dict[str, int] = {}
        for r in rows:
            states[r["state"]] = states.get(r["state"], 0) + 1
        return {
            "done": len(rows),
            "total": max(total, len(rows)),
            "errors": sum(1 for r in rows if r["state"] == "fail"),
            "study_id": book.study_id if book is not None else None,
            "target": described["target"],
            "suite": described["suite"],
            "params": list(self.spec.built.distributions),
            "split": None
            if self.spec.kind == "bench"
            else {
                "search": len(described["search_cases"]),
                "holdout": len(described["holdout_cases"]),
            },
            "kind": self.spec.kind,
            "objectives": self.spec.objectives,
            "directions": self.spec.directions,
            "sampler": self.spec.sampler,
            "budget": self.spec.budget.describe(),
            "spent": spent,
            "stop_reason": self.stop_reason,
            "states": states,
            "best": result.best_summary() if result is not None else None,
            # the trials on the Pareto front (several objectives), by number
            "pareto": (
                [r["number"] for r in result.pareto()]
                if result is not None and len(self.spec.objectives) > 1
                else []
            ),
            "holdout": (book.result.get("holdout") if book is not None else None),
            # the trial table travels apart (``case_rows``), at most once a second
            "rows_version": sum(1 + (r["state"] != "running") for r in rows),
        }

    def case_rows(self, job: Job) -> list[dict[str, Any]]:
        """The trial table so far (one JSON-safe row per trial), for the widget; a complete
        trial's row also has ``best_so_far``, the best first objective up to it."""
        if self.book is None:
            return []
        result = self.book.result_object(self.status, self.stop_reason)
        best = {p["number"]: p["best"] for p in result.history()} if result.objectives else {}
        return [dict(row, best_so_far=best.get(row["number"])) for row in result.table_rows()]


def _grid_done(study: optuna.Study, size: int | None) -> bool:
    seen = {t.system_attrs.get("grid_id") for t in study.get_trials(deepcopy=False)}
    return size is not None and len(seen - {None}) >= size
