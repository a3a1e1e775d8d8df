"""One bench trial: the workload run once by the bench engine, within the search's budget.

The engine sends a run's requests without asking anyone, so the whole run is booked at
its most before it starts (every request at its worst cost: each payload byte an input
token, ``max_tokens`` all output), and the booking is replaced by what was used when it
ends. A trial stopped early (pruned, out of time, cancelled) keeps the records that
finished; the requests still in flight were cancelled unanswered and are counted as sent,
at their worst cost, since a provider may bill them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.workload import (
    BenchSpec,
    max_tokens_for,
    plan,
    prepare,
    request_params,
)
from llmbench_jupyter.jobs.tune.budget import Meter
from llmbench_jupyter.jobs.tune.trial import COMPLETE, PRUNED, STOPPED


@dataclass
class BenchTrial:
    """What one run of the workload did: its records, how it ended, what it used."""

    records: list[RequestRecord] = field(default_factory=list)
    state: str = COMPLETE
    reason: str | None = None
    #: Requests counted as sent and dollars spent (records plus cancelled ones in flight).
    used: tuple[int, float] = (0, 0.0)


def longest_prompts(workload: BenchSpec) -> dict[int, str]:
    """The longest prompt of each context tier (the prompts are the same in every trial):
    what a request's worst cost is computed from. Builds every prompt; off the loop."""
    phases, _skipped = plan(workload)
    out: dict[int, str] = {}
    for (_key, tier), prepared in prepare(workload, phases).items():
        out[tier] = max((text for text, _pad in prepared.prompts), key=len, default="")
    return out


def worst_request_cost(workload: BenchSpec, meter: Meter, prompts: dict[int, str]) -> float:
    """The most one request of ``workload`` (its one target, with its parameters) may cost."""
    target = workload.targets[0]
    resolved = request_params(workload, target)
    payload: dict[str, Any] = dict(resolved.payload) if resolved is not None else {}
    payload.setdefault("max_tokens", max_tokens_for(workload, target))
    system = [{"role": "system", "content": target.system_prompt}] if target.system_prompt else []
    longest = max(prompts.values(), key=len, default="")
    payload.update(model=target.api_model, messages=[*system, {"role": "user", "content": longest}])
    return meter.worst_cost(payload)


async def run_bench_trial(
    workload: BenchSpec,
    meter: Meter,
    prompts: dict[int, str],
    *,
    sim_url: str | None,
    on_record: Callable[[RequestRecord], bool] | None = None,
    secrets: tuple[str, ...] = (),
    out: BenchTrial | None = None,
) -> BenchTrial:
    """Run ``workload`` once, unsaved, into ``out`` (kept by a caller that is cancelled);
    ``on_record(record)`` sees each record as it ends and returns True to stop the run
    there (the pruner's verdict)."""
    from llmbench_jupyter.jobs.bench_run import arun as bench_arun

    phases, _skipped = plan(workload)
    planned = len(phases) * (workload.runs + workload.warmup)
    worst = worst_request_cost(workload, meter, prompts)
    out = out if out is not None else BenchTrial()
    why = meter.reserve_block(planned, worst * planned)
    if why is not None:
        out.state, out.reason = STOPPED, why
        return out
    halted: list[bool] = []
    task: asyncio.Task[Any] | None = None

    def seen(record: RequestRecord) -> None:
        out.records.append(record)
        if on_record is not None and not halted and on_record(record):
            halted.append(True)
            if task is not None:
                task.cancel()

    task = asyncio.create_task(bench_arun(workload, save=False, on_record=seen, sim_url=sim_url))
    try:
        done, _pending = await asyncio.wait({task}, timeout=meter.deadline_in_s())
        if not done:
            out.state, out.reason = (
                STOPPED,
                f"time budget reached ({meter.budget.minutes:g} minutes)",
            )
            meter.stopped = out.reason
            task.cancel()
            await asyncio.wait({task})
    except asyncio.CancelledError:  # the search was cancelled: book what went out, then go
        task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.shield(asyncio.wait({task}))
        out.state, out.reason = STOPPED, "cancelled while this trial ran"
        _settle(out, workload, planned, worst, meter)
        raise
    if halted:
        out.state, out.reason = PRUNED, "the pruner found it clearly worse than the best trial"
    elif out.state == COMPLETE and not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        text = str(exc) if isinstance(exc, LLMBenchError) else f"{type(exc).__name__}: {exc}"
        out.state, out.reason = STOPPED, f"the run failed: {scrub(text, secrets)}"
    _settle(out, workload, planned, worst, meter)
    return out


def _settle(out: BenchTrial, workload: BenchSpec, planned: int, worst: float,
            meter: Meter) -> None:  # fmt: skip
    """Book what the trial used; requests that never answered count at their worst."""
    left = planned - len(out.records)
    if out.state == COMPLETE or left <= 0:
        unanswered = 0
    elif workload.rate is not None and workload.concurrency == 1:
        unanswered = left  # open loop without a cap: any number may have been in flight
    else:
        unanswered = min(workload.concurrency, left)
    dollars = sum(worst if r.cost_usd is None else r.cost_usd for r in out.records)
    if meter.price is None:
        dollars = 0.0
    out.used = (len(out.records) + unanswered, dollars + unanswered * worst)
    meter.settle_block((planned, worst * planned), out.used)
