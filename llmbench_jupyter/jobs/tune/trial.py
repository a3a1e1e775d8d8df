"""One trial: a suite's cases sent with one set of parameters (and one system prompt).

Cases run concurrently in a per-trial shuffled order (the pruners assume the order carries
no information). After each case the pruner may stop the trial: no case starts after that,
and the ones in flight finish (so what they cost is known). A budget may stop a trial
before a request; the time budget's deadline cancels what is in flight. Whatever stops
it, the cases that finished are kept and every request sent was booked by the meter.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.evals.mocks import MockTools
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.runner import CaseRun, StopSending, run_case
from llmbench_jupyter.jobs.tune.budget import Meter

COMPLETE, PRUNED, STOPPED = "complete", "pruned", "stopped"


@dataclass
class TrialRun:
    """The cases a trial finished (in the order of ``cases``), and how it ended."""

    runs: list[CaseRun] = field(default_factory=list)
    state: str = COMPLETE
    reason: str | None = None
    #: The judge's verdicts on the cases (``Judgement.to_dict()``), when one graded them.
    judgements: list[dict[str, Any]] = field(default_factory=list)


async def run_trial(
    session: aiohttp.ClientSession,
    target: Target,
    suite: Suite,
    cases: Sequence[Case],
    *,
    params: Mapping[str, Any],
    system_prompt: str | None,
    meter: Meter,
    order_seed: int,
    concurrency: int = 4,
    timeout_s: float = 60.0,
    mode: str = "default",
    mock_classes: dict[str, type[MockTools]] | None = None,
    on_case: Callable[[CaseRun], None] | None = None,
    should_prune: Callable[[int, CaseRun], bool] | None = None,
    judge: Callable[[Case, CaseRun], Awaitable[dict[str, Any]]] | None = None,
) -> TrialRun:
    """Run ``cases``; ``should_prune(step, run)`` gets each case's index in ``cases``;
    ``judge(case, run)`` grades each finished case (before the pruner sees it) and sets
    its ``judge_score``."""
    step = {case.id: i for i, case in enumerate(cases)}
    order = list(cases)
    random.Random(order_seed).shuffle(order)
    done: dict[str, CaseRun] = {}
    slots = asyncio.Semaphore(concurrency)
    out = TrialRun()

    halted: list[str] = []  # set when the pruner stopped the trial: no case starts after

    async def one(case: Case) -> None:
        async with slots:  # held until the pruner decided: a pruned trial sends no more
            if halted:
                return
            run = await run_case(
                session, target, suite, case, mode=mode, timeout_s=timeout_s,
                mock_classes=mock_classes, params=params, system_prompt=system_prompt,
                meter=meter,
            )  # fmt: skip
            if judge is not None:
                verdict = await judge(case, run)
                out.judgements.append(verdict)
                score = (verdict.get("parsed") or {}).get("score")
                if verdict.get("status") == "ok" and isinstance(score, int | float):
                    run.judge_score = float(score)
            done[case.id] = run
            if on_case is not None:
                on_case(run)
            if not halted and should_prune is not None and should_prune(step[case.id], run):
                halted.append(case.id)  # cases in flight finish: what they cost is known

    left = meter.deadline_in_s()
    try:
        async with asyncio.timeout(left), asyncio.TaskGroup() as group:
            for case in order:
                group.create_task(one(case))
    except* StopSending as stopped:
        out.state, out.reason = STOPPED, str(stopped.exceptions[0])
    except* TimeoutError:
        out.state, out.reason = STOPPED, f"time budget reached ({meter.budget.minutes:g} minutes)"
        meter.stopped = out.reason
    if halted and out.state == COMPLETE:
        out.state, out.reason = PRUNED, "the pruner found it clearly worse than the best trial"
    out.runs = [done[c.id] for c in cases if c.id in done]
    return out
