"""Judging many runs: inline while a suite runs, after it, or two runs compared.

Concurrency is bounded by one semaphore per batch; every run must belong to the suite
before anything is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.evals.chat import require_openai
from llmbench_jupyter.evals.judge._calls import _PURPOSE, _judge_case, judge_pair
from llmbench_jupyter.evals.judge._prompts import _case
from llmbench_jupyter.evals.judge._results import JudgeError, Judgement, PairVerdict, PairwiseReport
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import case_value
from llmbench_jupyter.stats import pairwise_summary


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JudgeError(f"{name}: found {value!r}, expected an integer >= 1")


def _check_threshold(threshold: float | None) -> None:
    if threshold is None:
        return
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not (0.0 <= threshold <= 1.0)
    ):
        raise JudgeError(
            f"threshold: found {threshold!r}, expected a number in [0, 1] compared with "
            "scoring.case_value (or None to judge every case)"
        )


class InlineJudge:
    """Judge runs while a suite runs: pass ``submit`` as ``run_suite(..., on_case=...)``.

    Cases at or above ``threshold`` (``scoring.case_value``) are not judged; None judges
    every case. ``submit`` must be called on the running event loop (``run_suite`` does);
    ``await finish()`` returns the judgements in submission order and closes the session.
    """

    def __init__(
        self,
        judge: Target,
        suite: Suite,
        *,
        threshold: float | None = None,
        concurrency: int = 4,
        on_judgement: Callable[[Judgement], None] | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        require_openai(judge, _PURPOSE)
        _check_threshold(threshold)
        _check_positive("concurrency", concurrency)
        self.judge, self.suite, self.threshold = judge, suite, threshold
        self.timeout_s = timeout_s
        self._on_judgement = on_judgement
        self._slots = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[Judgement]] = []

    def case_for(self, run: CaseRun) -> Case:
        """The suite's case a run belongs to (JudgeError when the suite has no such case)."""
        return _case(self.suite, run.case_id, f"run of {run.provider}/{run.model}")

    def wants(self, run: CaseRun) -> bool:
        """Whether the threshold selects this run for judging."""
        return self.threshold is None or case_value(run.score) < self.threshold

    def submit(self, run: CaseRun) -> None:
        case = self.case_for(run)
        if not self.wants(run):
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._tasks.append(asyncio.get_running_loop().create_task(self._one(case, run)))

    async def _one(self, case: Case, run: CaseRun) -> Judgement:
        assert self._session is not None
        out = await _judge_case(
            self._session, self.judge, self.suite, case, run, self.timeout_s, self._slots
        )
        if self._on_judgement is not None:
            self._on_judgement(out)
        return out

    async def abort(self) -> None:
        """Cancel judge calls still in flight (the eval was cancelled) and close the session."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def finish(self) -> list[Judgement]:
        tasks, self._tasks = self._tasks, []
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return [r for r in results if isinstance(r, Judgement)]


async def judge_runs(
    judge: Target,
    suite: Suite,
    runs: Sequence[CaseRun],
    *,
    threshold: float | None = None,
    concurrency: int = 4,
    on_judgement: Callable[[Judgement], None] | None = None,
    timeout_s: float = 60.0,
) -> list[Judgement]:
    """Judge finished runs (post-run); ``threshold`` as in :class:`InlineJudge`.

    Returns the judgements in the order of ``runs``; ``on_judgement`` sees each as it lands.
    """
    inline = InlineJudge(
        judge,
        suite,
        threshold=threshold,
        concurrency=concurrency,
        on_judgement=on_judgement,
        timeout_s=timeout_s,
    )
    for run in runs:  # every run must belong to the suite before anything is sent
        inline.case_for(run)
    for run in runs:
        inline.submit(run)
    return await inline.finish()


def _attempt_zero(runs: Sequence[CaseRun], side: str, suite: Suite) -> dict[str, CaseRun]:
    chosen: dict[str, CaseRun] = {}
    for run in runs:
        _case(suite, run.case_id, f"compare_runs {side} run")
        if run.attempt != 0:
            continue
        if run.case_id in chosen:
            other = chosen[run.case_id]
            raise JudgeError(
                f"compare_runs: {side} has two runs of case {run.case_id!r} at attempt 0 "
                f"({other.provider}/{other.model} and {run.provider}/{run.model}); "
                "pass one target's runs per side"
            )
        chosen[run.case_id] = run
    return chosen


async def compare_runs(
    judge: Target,
    suite: Suite,
    first: Sequence[CaseRun],
    second: Sequence[CaseRun],
    *,
    concurrency: int = 4,
    on_verdict: Callable[[PairVerdict], None] | None = None,
    timeout_s: float = 60.0,
) -> PairwiseReport:
    """Compare two runs case by case (attempt 0 of each), both orders per case.

    Cases present on one side only are listed in ``summary["unpaired"]``, not judged.
    ``concurrency`` bounds the judge calls in flight (two per case).
    """
    require_openai(judge, _PURPOSE)
    _check_positive("concurrency", concurrency)
    a, b = _attempt_zero(first, "first", suite), _attempt_zero(second, "second", suite)
    order = [c.id for c in suite.cases]
    paired = [c for c in suite.cases if c.id in a and c.id in b]
    unpaired = [
        {"case_id": cid, "missing_from": "second" if cid in a else "first"}
        for cid in order
        if (cid in a) != (cid in b)
    ]
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(case: Case) -> PairVerdict:
            verdict = await judge_pair(
                session,
                judge,
                suite,
                case,
                a[case.id],
                b[case.id],
                timeout_s=timeout_s,
                slots=slots,
            )
            if on_verdict is not None:
                on_verdict(verdict)
            return verdict

        verdicts = list(await asyncio.gather(*(one(c) for c in paired)))
    summary = pairwise_summary([v.winner for v in verdicts], [v.consistent for v in verdicts])
    summary["unpaired"] = unpaired
    return PairwiseReport(verdicts, summary)
