"""A tool-calling eval as background-job work: run the suite, judge inline, store as it goes.

The job runner (``jobs.job``) owns states, throttled progress and cancellation; this
module owns what an eval does. Case results reach the store in batches from a worker
thread (every ~250 ms), so the kernel's loop never waits on the database and a crash keeps
what was finished. Judge calls, when asked for, run while the suite runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.analysis.eval_result import (
    EvalResult,
    case_row,
    judge_cell,
    table_row,
)
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.evals.chat import require_openai
from llmbench_jupyter.evals.mocks import MockTools, build
from llmbench_jupyter.evals.model import Suite
from llmbench_jupyter.evals.runner import CaseRun, run_suite
from llmbench_jupyter.evals.scoring import MODES, score_suite, stored_summary, summary_fields
from llmbench_jupyter.stats import judge_mean

if TYPE_CHECKING:
    from llmbench_jupyter.jobs import Job

FLUSH_S = 0.25


@dataclass
class EvalSpec:
    """What to evaluate and how; validated before the job starts."""

    suite: Suite
    targets: list[Target]
    k: int = 1
    mode: str = "default"
    concurrency: int = 4
    timeout_s: float = 60.0
    name: str | None = None
    judge: Target | None = None
    judge_threshold: float | None = None  # None with a judge: judge every case
    mock_classes: dict[str, type[MockTools]] = field(default_factory=dict)
    sim_rules: str | None = None

    def validate(self) -> None:
        if not self.targets:
            raise LLMBenchError("evaluate: no models to evaluate")
        if not self.suite.cases:
            raise LLMBenchError(f"evaluate: suite {self.suite.name!r} has no cases")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise LLMBenchError(f"evaluate: k must be an integer >= 1, got {self.k!r}")
        if self.mode not in MODES:
            raise LLMBenchError(f"evaluate: mode {self.mode!r} unknown; expected one of {MODES}")
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise LLMBenchError(
                f"evaluate: concurrency must be an integer >= 1, got {self.concurrency!r}"
            )
        if self.judge_threshold is not None and self.judge is None:
            raise LLMBenchError("evaluate: judge_threshold needs a judge model (judge=...)")
        if self.judge_threshold is not None and not 0 <= self.judge_threshold <= 1:
            raise LLMBenchError(
                f"evaluate: judge_threshold must be in [0, 1], got {self.judge_threshold!r}"
            )
        keys = [t.key for t in self.targets]
        if len(set(keys)) != len(keys):
            raise LLMBenchError(f"evaluate: a model is listed twice: {keys}")
        for t in self.targets:
            require_openai(t, "tool evals")
        if self.judge is not None:
            require_openai(self.judge, "judges")
        for case in self.suite.cases:
            if case.mock_tools:
                build(case.mock_tools, case.initial_state, self.mock_classes)

    def describe(self) -> dict[str, Any]:
        return {
            "suite": self.suite.name,
            "suite_version": self.suite.version,
            "n_cases": len(self.suite.cases),
            "targets": [t.key for t in self.targets],
            "profiles": {
                t.key: {"profile": t.profile, "params": dict(t.params)}
                for t in self.targets
                if t.profile
            },
            "k": self.k,
            "mode": self.mode,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "judge": self.judge.key if self.judge else None,
            "judge_threshold": self.judge_threshold,
        }


class EvalWork:
    """Job work for one eval (see :class:`llmbench_jupyter.jobs.JobWork`)."""

    kind = "eval"
    unit = "attempts"

    def __init__(
        self,
        spec: EvalSpec,
        *,
        save: bool = True,
        config_snapshot: dict[str, Any] | None = None,
        sim_url: str | None = None,
        cluster: Any = None,
    ) -> None:
        spec.validate()
        self._cluster = cluster  # a distributed.Client: cases run on its workers
        self.spec = spec
        self.name = spec.name
        self._save = save
        self._config_snapshot = config_snapshot or {}
        self._sim_url = sim_url
        self._judged: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._judgements: list[dict[str, Any]] = []
        self._rows_version = 0
        self._described = spec.describe()

    def describe(self) -> dict[str, Any]:
        return dict(self._described)

    def secrets(self) -> tuple[str, ...]:
        """Every target's (and the judge's) key, URL credentials and header values."""
        judge = [self.spec.judge] if self.spec.judge is not None else []
        return tuple(s for t in [*self.spec.targets, *judge] for s in t.secrets())

    @property
    def _total(self) -> int:
        return len(self.spec.targets) * len(self.spec.suite.cases) * self.spec.k

    # -------------------------------------------------------------------- run
    async def run(self, job: Job) -> EvalResult:
        from llmbench_jupyter.jobs.provenance import host, versions

        spec = self.spec
        store = job.manager.store if self._save else None
        run_id = None
        if store is not None:
            suite_row = await asyncio.to_thread(store.save_suite, spec.suite, job.manager.owner)
            self._described.update(
                suite_id=suite_row["suite_id"], suite_version=suite_row["version"]
            )
            run_id = await asyncio.to_thread(
                lambda: store.create_run(
                    owner=job.manager.owner,
                    kind="eval",
                    name=spec.name,
                    spec=self._described,
                    config_snapshot=self._config_snapshot,
                    versions=versions(),
                    host=host(),
                )
            )
        job._on_start(run_id, self._total)
        pending: list[dict[str, Any]] = []
        pending_judge: list[dict[str, Any]] = []
        status = "failed"
        with contextlib.ExitStack() as stack:
            targets = await self._targets_with_sim(stack)
            judge = self._judge_with_sim(targets)

            async def flush() -> None:
                rows, pending[:] = list(pending), []
                judged, pending_judge[:] = list(pending_judge), []
                if store is not None and run_id is not None and rows:
                    await asyncio.to_thread(store.add_eval_results, run_id, rows)
                if store is not None and run_id is not None and judged:
                    await asyncio.to_thread(store.add_judgements, run_id, judged)

            async def flusher() -> None:
                while True:
                    await asyncio.sleep(FLUSH_S)
                    await flush()

            inline = None
            if judge is not None:
                from llmbench_jupyter.evals.judge import InlineJudge

                def on_judgement(j: Any) -> None:
                    row = j.to_dict()
                    subject = dict(row.get("subject") or {})
                    subject["target"] = f"{subject.get('provider')}/{subject.get('model')}"
                    row["subject"] = subject
                    self._judgements.append(row)
                    pending_judge.append(row)
                    key = (subject["target"], str(row.get("case_id")), subject.get("attempt", 0))
                    self._judged[key] = judge_cell(row)
                    self._rows_version += 1
                    job._notify()

                inline = InlineJudge(
                    judge,
                    spec.suite,
                    threshold=spec.judge_threshold,
                    concurrency=spec.concurrency,
                    on_judgement=on_judgement,
                    timeout_s=spec.timeout_s,
                )

            def on_case(run: CaseRun) -> None:
                pending.append(case_row(run, run_id))
                self._rows_version += 1
                job._on_record(run)
                if inline is not None:
                    inline.submit(run)

            flush_task = asyncio.get_running_loop().create_task(flusher())
            suite_runner: Any = run_suite
            if self._cluster is not None:
                from functools import partial

                from llmbench_jupyter.jobs.cluster import run_suite_on

                suite_runner = partial(run_suite_on, self._cluster)
            try:
                await suite_runner(
                    targets,
                    spec.suite,
                    k=spec.k,
                    mode=spec.mode,
                    concurrency=spec.concurrency,
                    timeout_s=spec.timeout_s,
                    on_case=on_case,
                    mock_classes=spec.mock_classes,
                )
                if inline is not None:
                    await inline.finish()
                runs: list[CaseRun] = job._records
                status = "failed" if runs and all(r.error for r in runs) else "done"
            except asyncio.CancelledError:
                status = "cancelled"
                raise
            finally:
                if inline is not None and status != "done":
                    await asyncio.shield(inline.abort())
                flush_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flush_task
                await asyncio.shield(self._finish(store, run_id, job, flush, status))
        return self._result(job, status)

    async def _finish(
        self, store: Any, run_id: str | None, job: Job, flush: Any, status: str
    ) -> None:
        await flush()
        if store is not None and run_id is not None:
            scores = self._result(job, status).scores()
            summary = {t: stored_summary(s) for t, s in scores.items()}
            await asyncio.to_thread(store.set_run_summary, run_id, summary)
            await asyncio.to_thread(store.finish_run, run_id, status)

    async def _targets_with_sim(self, stack: contextlib.ExitStack) -> list[Target]:
        targets = list(self.spec.targets)
        needs_sim = any(t.simulated for t in targets) or (
            self.spec.judge is not None and self.spec.judge.simulated
        )
        if needs_sim and not self._sim_url:
            from llmbench_jupyter.sim.process import sim_process

            started = time.monotonic()
            self._sim_url = await asyncio.to_thread(
                stack.enter_context, sim_process(rules=self.spec.sim_rules)
            )
            self._described["sim_start_s"] = round(time.monotonic() - started, 2)
        if self._sim_url:
            targets = [t.with_api_base(self._sim_url) if t.simulated else t for t in targets]
        return targets

    def _judge_with_sim(self, targets: list[Target]) -> Target | None:
        judge = self.spec.judge
        if judge is not None and judge.simulated and self._sim_url:
            return judge.with_api_base(self._sim_url)
        return judge

    # ------------------------------------------------------------------ result
    def _result(self, job: Job, status: str) -> EvalResult:
        return EvalResult(
            run_id=job.run_id,
            suite=self.spec.suite,
            targets=[t.key for t in self.spec.targets],
            runs=list(job._records),
            mode=self.spec.mode,
            k=self.spec.k,
            status=status,
            judgements=list(self._judgements),
            store=job.manager.store if self._save else None,
        )

    def planned_requests(self) -> int:
        """Case attempts (the unit eval runs count in the store's ``n_requests``)."""
        return self._total

    def partial(self, job: Job, status: str) -> EvalResult:
        return self._result(job, status)

    def failure(self, result: EvalResult) -> str | None:
        if result.status == "failed":
            return "every case failed with an API error"
        return None

    # ---------------------------------------------------------------- progress
    def snapshot(self, job: Job) -> dict[str, Any]:
        runs: list[CaseRun] = job._records
        categories = sorted({c.category for c in self.spec.suite.cases})
        per_target_total = len(self.spec.suite.cases) * self.spec.k
        targets = []
        for t in self.spec.targets:
            mine = [r for r in runs if (r.provider, r.model) == (t.provider, t.model)]
            s = score_suite([r.score for r in mine], categories)
            targets.append(
                {
                    "key": t.key,
                    "display_name": t.display_name or t.model,
                    "done": len(mine),
                    "total": per_target_total,
                    "errors": sum(1 for r in mine if r.error),
                    **summary_fields(s),
                    "categories": {
                        c: (r.to_dict() if r is not None else None) for c, r in s.categories.items()
                    },
                    "judge_mean": judge_mean(self._judgements, t.key),
                }
            )
        return {
            "done": len(runs),
            "total": self._total,
            "errors": sum(1 for r in runs if r.error),
            "suite": {
                "name": self.spec.suite.name,
                "version": self._described.get("suite_version", self.spec.suite.version),
                "n_cases": len(self.spec.suite.cases),
            },
            "k": self.spec.k,
            "mode": self.spec.mode,
            "categories": categories,
            "targets": targets,
            "rows_version": self._rows_version,
        }

    def case_rows(self, job: Job) -> list[dict[str, Any]]:
        """The case table: one row per finished attempt (widget contract)."""
        return [
            table_row(
                self.spec.suite,
                r,
                self._judged.get((f"{r.provider}/{r.model}", r.case_id, r.attempt)),
            )
            for r in job._records
        ]
