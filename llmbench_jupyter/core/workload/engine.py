"""The one benchmark engine: every surface's benchmark runs through :func:`arun` here.

Providers run in parallel; a provider's models run one after another unless configured
otherwise. Prompts are built before timing starts (``prepare``). Each completed record goes
to the sink the caller gives; the engine never opens a store or starts a simulator: that
is the jobs layer's business (``jobs.bench_run``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import perf_counter_ns
from typing import Any

from llmbench_jupyter.core import transports
from llmbench_jupyter.core.errors import CLIENT, scrub
from llmbench_jupyter.core.measure import fill_record
from llmbench_jupyter.core.overhead import OverheadMonitor
from llmbench_jupyter.core.pricing import Price
from llmbench_jupyter.core.records import RequestRecord, new_id
from llmbench_jupyter.core.targets import join_url
from llmbench_jupyter.core.workload.prepare import Prepared, prepare
from llmbench_jupyter.core.workload.result import WorkloadResult
from llmbench_jupyter.core.workload.shard import Shard, arrival_offsets_ns, phase_key
from llmbench_jupyter.core.workload.spec import (
    BenchSpec,
    Phase,
    describe_run,
    max_tokens_for,
    plan,
    request_params,
)

#: Where completed records go, in completion order (a list's append, a store writer's put).
RecordSink = Callable[[RequestRecord], None]
#: Called once when a run ends, however it ends: final status and the client-overhead
#: report (None when it ended before measuring started).
FinishHook = Callable[[str, dict[str, Any] | None], Awaitable[None]]


class _Runner:
    def __init__(
        self,
        spec: BenchSpec,
        run_id: str,
        owner: str,
        emit: Callable[[RequestRecord], None],
        shard: Shard | None = None,
    ) -> None:
        self.spec = spec
        self.shard = shard
        self.run_id = run_id
        self.owner = owner
        self.emit = emit
        self.prepared: dict[tuple[str, int], Prepared] = {}
        #: Called once, as the first request is sent: opens the overhead window.
        self.on_first_send: Callable[[], None] | None = None
        # one wall-clock anchor, so started_at costs nothing per request
        self.wall_anchor_ns = time.time_ns()
        self.mono_anchor_ns = perf_counter_ns()

    def _started_at(self, mono_ns: int) -> str:
        wall = (self.wall_anchor_ns + mono_ns - self.mono_anchor_ns) / 1e9
        return datetime.fromtimestamp(wall, UTC).isoformat(timespec="microseconds")

    async def run(self, phases: list[Phase]) -> None:
        groups: dict[str, list[Phase]] = {}
        for phase in phases:
            groups.setdefault(phase.target.provider, []).append(phase)
        if self.spec.parallel_providers:
            await asyncio.gather(*(self._provider(ph) for ph in groups.values()))
        else:
            for ph in groups.values():
                await self._provider(ph)

    async def _provider(self, phases: list[Phase]) -> None:
        sequential = self.spec.sequential_models
        if sequential is None:
            sequential = phases[0].target.sequential
        by_target: dict[str, list[Phase]] = {}
        for phase in phases:
            by_target.setdefault(phase.target.key, []).append(phase)
        if sequential:
            for target_phases in by_target.values():
                await self._target(target_phases)
        else:
            await asyncio.gather(*(self._target(tp) for tp in by_target.values()))

    async def _target(self, phases: list[Phase]) -> None:
        target = phases[0].target
        name, stream_fn = transports.for_kind(target.kind)
        session = None
        if target.kind != "litellm":
            from llmbench_jupyter.core.transports.http import make_session

            session = make_session()
        try:
            for phase in phases:
                await self._phase(phase, name, stream_fn, session)
        finally:
            if session is not None:
                await session.close()

    async def _phase(
        self, phase: Phase, transport: str, stream_fn: transports.StreamFn, session: Any
    ) -> None:
        spec = self.spec
        prep = self.prepared[(phase.target.key, phase.tier)]
        prompts = prep.prompts
        ctx = _RequestContext(
            self, phase, transport, stream_fn, session, prep.tokenizer, prep.price
        )
        resolved = request_params(spec, phase.target)  # cached since describe_run
        if resolved is not None:
            ctx.extra_params = resolved.payload
        else:  # kind litellm: litellm renames parameters itself
            skip = phase.target.skip_params
            ctx.max_tokens = None if "max_tokens" in skip else max_tokens_for(spec, phase.target)
            ctx.temperature = None if "temperature" in skip else spec.temperature
        warm = list(enumerate(prompts[: spec.warmup]))
        measured = list(enumerate(prompts[spec.warmup :]))
        streams, shard, start_ns = spec.concurrency, self.shard, None
        if shard is not None:  # this worker's part (core.workload.shard), phases in step
            assert shard.sync is not None
            warm, measured, streams = shard.take(warm), shard.take(measured), shard.streams
            await shard.sync(phase_key(phase) + "|warm")
        if warm:
            await self._closed_loop(ctx, warm, min(streams, len(warm)), True)
        if shard is not None and shard.sync is not None:
            start_ns = await shard.sync(phase_key(phase) + "|go")
        if spec.rate is None:
            await self._closed_loop(ctx, measured, streams, False)
        else:
            full = prompts[spec.warmup :]
            if shard is not None:
                arrivals = shard.arrivals.get(phase_key(phase), [])
            else:
                offsets = arrival_offsets_ns(spec.seed, phase, len(full), spec.rate, spec.arrivals)
                arrivals = list(enumerate(offsets))
            await self._open_loop(ctx, full, arrivals, streams, start_ns)

    async def _closed_loop(
        self,
        ctx: _RequestContext,
        items: list[tuple[int, tuple[str, int]]],
        concurrency: int,
        warmup: bool,
    ) -> None:
        """``items``: (run index, (prompt, padding tokens)), sent ``concurrency`` at a time."""
        pending = iter(items)

        async def worker() -> None:
            for i, (text, padding) in pending:
                self.emit(await ctx.request(text, padding, i, warmup, None))

        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))

    async def _open_loop(
        self,
        ctx: _RequestContext,
        prompts: list[tuple[str, int]],
        arrivals: list[tuple[int, int]],
        streams: int,
        start_ns: int | None,
    ) -> None:
        """Seeded Poisson or constant arrivals (``spec.arrivals``), a schedule of ``(index,
        offset ns)``; every timing counts from the intended send. ``start_ns``: the common
        start of a sharded run."""
        cap = asyncio.Semaphore(streams) if self.spec.concurrency > 1 else None
        if start_ns is None:
            start_ns = perf_counter_ns() + 20_000_000
        tasks: list[asyncio.Task[None]] = []

        async def fire(i: int, intended_ns: int) -> None:
            text, padding = prompts[i]
            scheduled_ms = (intended_ns - start_ns) / 1e6
            if cap is None:
                self.emit(await ctx.request(text, padding, i, False, intended_ns, scheduled_ms))
            else:
                async with cap:
                    self.emit(await ctx.request(text, padding, i, False, intended_ns, scheduled_ms))

        try:
            for i, offset in arrivals:
                intended = start_ns + offset
                delay = (intended - perf_counter_ns()) / 1e9
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(fire(i, intended)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()


@dataclass
class _RequestContext:
    """Everything one phase's requests share, resolved once."""

    runner: _Runner
    phase: Phase
    transport: str
    stream_fn: transports.StreamFn
    session: Any
    tokenizer: Any
    price: Price | None
    # what goes in the request body besides model and messages: for the lean transports the
    # registry's payload in wire names (extra_params), for litellm the two canonical fields
    max_tokens: int | None = None
    temperature: float | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)

    async def request(
        self,
        prompt_text: str,
        padding_tokens: int,
        index: int,
        warmup: bool,
        intended_ns: int | None,
        scheduled_ms: float | None = None,
    ) -> RequestRecord:
        runner, target, spec = self.runner, self.phase.target, self.runner.spec
        if runner.on_first_send is not None:
            runner.on_first_send()
            runner.on_first_send = None
        messages: list[dict[str, Any]] = []
        if target.system_prompt:
            messages.append({"role": "system", "content": target.system_prompt})
        messages.append({"role": "user", "content": prompt_text})
        req = transports.RequestSpec(
            url=join_url(target.api_base, transports.endpoint_path(target.kind)),
            api_model=target.api_model,
            messages=messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            extra_params=self.extra_params,
            headers=dict(target.headers),
            api_key=target.api_key,
            timeout_s=target.timeout_s or spec.timeout_s,
            litellm_model=target.litellm_model,
            api_base=target.api_base or None,
            limits=target.limits,
            secrets=target.secrets(),
        )
        record = RequestRecord(
            request_id=new_id(),
            run_id=runner.run_id,
            owner=runner.owner,
            provider=target.provider,
            model=target.model,
            api_model=target.api_model,
            transport=self.transport,
            context_tier=self.phase.tier,
            run_index=index,
            is_warmup=warmup,
            concurrency=spec.concurrency,
            rate_rps=spec.rate,
            scheduled_ms=scheduled_ms,
            padding_tokens=padding_tokens,
        )
        secrets = req.secrets
        try:
            send_ns, result = await self.stream_fn(self.session, req)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unforeseen client failure: record it, go on
            send_ns = intended_ns or perf_counter_ns()
            result = transports.StreamResult(end_ns=perf_counter_ns())
            result.fail(CLIENT, scrub(f"{type(exc).__name__}: {exc}", secrets))
        origin = intended_ns if intended_ns is not None else send_ns
        record.send_mono_ns = send_ns
        record.started_at = runner._started_at(send_ns)
        if intended_ns is not None:
            record.time_origin = "intended"
            record.send_lag_ms = (send_ns - intended_ns) / 1e6
        return fill_record(
            record,
            result,
            origin_ns=origin,
            tokenizer=self.tokenizer,
            prompt_text=prompt_text,
            price=self.price,
            known_secrets=secrets,
        )


async def arun(
    spec: BenchSpec,
    *,
    sink: RecordSink | None = None,
    run_id: str | None = None,
    owner: str = "",
    on_start: Callable[[int], None] | None = None,
    on_finish: FinishHook | None = None,
    shard: Shard | None = None,
) -> WorkloadResult:
    """Run a benchmark to completion; every record goes to ``sink`` as it completes.

    ``on_start(planned)`` is called with the number of requests planned before prompts are
    built; ``on_finish(status, overhead)`` once at the end, also when the run fails or is
    cancelled, so a caller can close what it opened for the run.

    With more than one worker (``spec.workers``, or chosen automatically) the run is
    split across processes that each run this function on a ``shard``
    (:mod:`llmbench_jupyter.core.workload.workers`); the caller sees no difference.
    """
    spec.validate()
    if shard is None:
        from llmbench_jupyter.core.workload.workers import resolve_workers, run_workers

        count, reason = resolve_workers(spec)
        if count > 1:
            return await run_workers(
                spec,
                count,
                reason,
                sink=sink,
                run_id=run_id,
                owner=owner,
                on_start=on_start,
                on_finish=on_finish,
            )
    phases, skipped = plan(spec)
    # resolves every target's parameters (refusing bad ones before anything is sent); may
    # import litellm once, so off the event loop
    described = await asyncio.to_thread(describe_run, spec, phases, skipped)
    records: list[RequestRecord] = []

    def emit(record: RequestRecord) -> None:
        records.append(record)
        if sink is not None:
            sink(record)

    if on_start is not None:
        on_start(len(phases) * (spec.runs + spec.warmup))
    runner = _Runner(spec, run_id or new_id(), owner, emit, shard)
    monitor = OverheadMonitor()
    try:
        runner.prepared = await asyncio.to_thread(prepare, spec, phases)
        await monitor.calibrate()  # the loop's idle lag, before any request is in flight
    except BaseException as exc:
        if on_finish is not None:
            await on_finish(
                "cancelled" if isinstance(exc, asyncio.CancelledError) else "failed", None
            )
        raise
    monitor.start()
    runner.on_first_send = monitor.begin  # start-up before the first send is not load
    status = "done"
    try:
        await runner.run(phases)
        measured = [r for r in records if not r.is_warmup]
        if measured and all(r.status != "ok" for r in measured):
            status = "failed"  # every request failed: say so in the store, not only the exit code
    except asyncio.CancelledError:
        status = "cancelled"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        await monitor.stop()
        overhead = monitor.report()
        if on_finish is not None:
            await on_finish(status, overhead)
    return WorkloadResult(
        run_id=run_id,
        spec=described,
        records=records,
        skipped=skipped,
        overhead=overhead,
        status=status,
    )
