"""Workloads: the one benchmark engine behind the CLI, the notebook API and later the jobs.

A spec names targets, context tiers, runs, warm-up and a load shape (fixed concurrency,
or open-loop Poisson arrivals). Providers run in parallel; a provider's models run one
after another unless configured otherwise. Prompts are built before timing starts, and
records are persisted off the event loop as each request completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from time import perf_counter_ns
from typing import Any

from llmbench_jupyter.core import transports
from llmbench_jupyter.core.errors import CLIENT, LLMBenchError, scrub
from llmbench_jupyter.core.measure import fill_record
from llmbench_jupyter.core.overhead import OverheadMonitor
from llmbench_jupyter.core.pricing import Price, price_for
from llmbench_jupyter.core.records import RECORD_FIELDS, RequestRecord
from llmbench_jupyter.core.targets import Target

DEFAULT_PROMPT = "Write a short paragraph about the history of the printing press."


@dataclass
class BenchSpec:
    """What to run. Every field is recorded with the run."""

    targets: list[Target]
    runs: int = 3
    warmup: int = 1
    context_tiers: list[int] = field(default_factory=lambda: [0])
    max_tokens: int = 256
    temperature: float | None = 0.0
    concurrency: int = 1
    rate: float | None = None  # open-loop arrivals per second; None = closed loop
    prompt: str = DEFAULT_PROMPT
    seed: int = 0
    timeout_s: float = 120.0
    parallel_providers: bool = True
    sequential_models: bool | None = None  # None: each provider's config decides
    name: str | None = None

    def validate(self) -> None:
        problems = []
        if not self.targets:
            problems.append("targets: none selected")
        if self.runs < 1:
            problems.append(f"runs: found {self.runs}, expected an integer >= 1")
        if self.warmup < 0:
            problems.append(f"warmup: found {self.warmup}, expected an integer >= 0")
        if self.concurrency < 1:
            problems.append(f"concurrency: found {self.concurrency}, expected an integer >= 1")
        if self.rate is not None and not self.rate > 0:
            problems.append(f"rate: found {self.rate}, expected requests per second > 0")
        if self.max_tokens < 1:
            problems.append(f"max_tokens: found {self.max_tokens}, expected an integer >= 1")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            problems.append(f"temperature: found {self.temperature}, expected 0 to 2")
        bad = [t for t in self.context_tiers if not isinstance(t, int) or t < 0]
        if bad or not self.context_tiers:
            problems.append(f"context_tiers: found {self.context_tiers}, expected integers >= 0")
        if self.timeout_s <= 0:
            problems.append(f"timeout_s: found {self.timeout_s}, expected seconds > 0")
        if problems:
            raise LLMBenchError("invalid benchmark spec:\n  " + "\n  ".join(problems))

    def describe(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "targets"}
        out["targets"] = [t.describe() for t in self.targets]
        return out


@dataclass
class Phase:
    target: Target
    tier: int


@dataclass
class Prepared:
    """A phase's inputs, built before any request is timed (see :func:`prepare`)."""

    prompts: list[tuple[str, int]]
    tokenizer: Any
    price: Price | None


def prepare(spec: BenchSpec, phases: list[Phase]) -> dict[tuple[str, int], Prepared]:
    """Build every prompt and load every tokenizer and price before timing starts.

    Loading a tokenizer or the price map, or padding a 150k-token tier, takes tens of
    milliseconds of CPU; done while another provider streams, it would delay that
    provider's chunk stamps. So it all happens first (in a worker thread).
    """
    from llmbench_jupyter.core.padding import build_prompt
    from llmbench_jupyter.core.tokens import get_tokenizer

    out: dict[tuple[str, int], Prepared] = {}
    for phase in phases:
        target = phase.target
        tokenizer = get_tokenizer(target.api_model, target.tokenizer_hint)
        rng = random.Random(f"{spec.seed}:{target.key}:{phase.tier}")
        total = spec.warmup + spec.runs
        prompts = [build_prompt(spec.prompt, phase.tier, tokenizer, rng) for _ in range(total)]
        price = price_for(
            target.provider,
            target.api_model,
            target.model,
            target.input_cost_per_mtok,
            target.output_cost_per_mtok,
        )
        out[(target.key, phase.tier)] = Prepared(prompts, tokenizer, price)
    return out


@dataclass
class BenchResult:
    """What a run produced: raw records plus run-level context. Statistics come from stats."""

    run_id: str | None
    spec: dict[str, Any]
    records: list[RequestRecord]
    skipped: list[dict[str, Any]]
    overhead: dict[str, Any]
    status: str
    store_errors: list[str] = field(default_factory=list)

    @property
    def measured(self) -> list[RequestRecord]:
        return [r for r in self.records if not r.is_warmup]

    @property
    def ok_count(self) -> int:
        return sum(r.status == "ok" for r in self.measured)

    @property
    def error_count(self) -> int:
        return sum(r.status != "ok" for r in self.measured)

    @property
    def all_failed(self) -> bool:
        return bool(self.measured) and self.ok_count == 0

    def summary(self, include_warmup: bool = False) -> Any:
        from llmbench_jupyter.stats import summarize

        return summarize(self.records, include_warmup=include_warmup)

    def throughput(self) -> dict[str, Any]:
        from llmbench_jupyter.stats import aggregate_throughput

        return aggregate_throughput(self.records)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.records], columns=list(RECORD_FIELDS))

    def compare(self, other: BenchResult, metric: str = "ttft_ms", seed: int = 0) -> Any:
        """Per target present in both runs: the median difference (other − self) with a
        bootstrap 95% CI (``stats.compare``). Without common targets, the runs are pooled."""
        import pandas as pd

        from llmbench_jupyter.stats import compare

        def groups(result: BenchResult) -> dict[tuple[str, str, int], list[RequestRecord]]:
            out: dict[tuple[str, str, int], list[RequestRecord]] = {}
            for r in result.records:
                out.setdefault((r.provider, r.model, r.context_tier), []).append(r)
            return out

        mine, theirs = groups(self), groups(other)
        common = [k for k in mine if k in theirs]
        rows = []
        if common:
            for key in common:
                row = dict(zip(("provider", "model", "context_tier"), key, strict=True))
                row.update(compare(mine[key], theirs[key], metric=metric, seed=seed))
                rows.append(row)
        else:
            row = {"provider": "(all)", "model": "(all)", "context_tier": None}
            row.update(compare(self.records, other.records, metric=metric, seed=seed))
            rows.append(row)
        return pd.DataFrame(rows)

    def plot(self, metric: str | None = None, **kwargs: Any) -> Any:
        """Static plotly figure(s) for reports; see ``charts.result_figure``."""
        from llmbench_jupyter.analysis.charts import result_figure

        return result_figure(self, metric=metric, **kwargs)

    def __repr__(self) -> str:
        run = f"run {self.run_id[:8]}" if self.run_id else "unsaved run"
        targets = len({(r.provider, r.model) for r in self.records})
        return (
            f"<BenchResult {run} {self.status}: {len(self.measured)} measured requests "
            f"({self.error_count} errors), {targets} targets>"
        )

    def _repr_html_(self) -> str:
        from llmbench_jupyter.analysis.display import result_html

        return result_html(self)


def plan(spec: BenchSpec) -> tuple[list[Phase], list[dict[str, Any]]]:
    """Phases to run and tiers skipped (with the reason) because they exceed a context window."""
    phases: list[Phase] = []
    skipped: list[dict[str, Any]] = []
    for target in spec.targets:
        max_out = _max_tokens(spec, target)
        for tier in spec.context_tiers:
            window = target.context_window
            if window is not None and tier + max_out > window:
                skipped.append(
                    {
                        "provider": target.provider,
                        "model": target.model,
                        "context_tier": tier,
                        "reason": f"tier {tier} + max_tokens {max_out} exceeds the "
                        f"model's context window of {window} tokens",
                    }
                )
            else:
                phases.append(Phase(target, tier))
    return phases, skipped


def _max_tokens(spec: BenchSpec, target: Target) -> int:
    if target.max_output_tokens:
        return min(spec.max_tokens, target.max_output_tokens)
    return spec.max_tokens


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("llmbench-jupyter", "aiohttp", "sqlalchemy", "litellm", "tiktoken", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def _host() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "pid": os.getpid(),
    }


class _Runner:
    def __init__(
        self, spec: BenchSpec, run_id: str, owner: str, emit: Callable[[RequestRecord], None]
    ) -> None:
        self.spec = spec
        self.run_id = run_id
        self.owner = owner
        self.emit = emit
        self.prepared: dict[tuple[str, int], Prepared] = {}
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
        warm = prompts[: spec.warmup]
        measured = prompts[spec.warmup :]
        if warm:
            await self._closed_loop(ctx, warm, min(spec.concurrency, len(warm)), True, 0)
        if spec.rate is None:
            await self._closed_loop(ctx, measured, spec.concurrency, False, 0)
        else:
            await self._open_loop(ctx, measured, spec.rate)

    async def _closed_loop(
        self,
        ctx: _RequestContext,
        prompts: list[tuple[str, int]],
        concurrency: int,
        warmup: bool,
        first_index: int,
    ) -> None:
        indices = iter(range(len(prompts)))

        async def worker() -> None:
            for i in indices:
                text, padding = prompts[i]
                self.emit(await ctx.request(text, padding, first_index + i, warmup, None))

        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(prompts))))))

    async def _open_loop(
        self, ctx: _RequestContext, prompts: list[tuple[str, int]], rate: float
    ) -> None:
        """Poisson arrivals at ``rate``/s (seeded); every timing counts from the intended send."""
        rng = random.Random(f"{self.spec.seed}:arrivals:{ctx.phase.target.key}:{ctx.phase.tier}")
        offsets_ns, t = [], 0.0
        for _ in prompts:
            t += rng.expovariate(rate)
            offsets_ns.append(int(t * 1e9))
        cap = asyncio.Semaphore(self.spec.concurrency) if self.spec.concurrency > 1 else None
        start_ns = perf_counter_ns() + 20_000_000
        tasks: list[asyncio.Task[None]] = []

        async def fire(i: int, intended_ns: int) -> None:
            text, padding = prompts[i]
            if cap is None:
                self.emit(
                    await ctx.request(
                        text, padding, i, False, intended_ns, (intended_ns - start_ns) / 1e6
                    )
                )
            else:
                async with cap:
                    self.emit(
                        await ctx.request(
                            text, padding, i, False, intended_ns, (intended_ns - start_ns) / 1e6
                        )
                    )

        try:
            for i, offset in enumerate(offsets_ns):
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
        messages: list[dict[str, Any]] = []
        if target.system_prompt:
            messages.append({"role": "system", "content": target.system_prompt})
        messages.append({"role": "user", "content": prompt_text})
        req = transports.RequestSpec(
            url=target.api_base + transports.endpoint_path(target.kind),
            api_model=target.api_model,
            messages=messages,
            max_tokens=None if "max_tokens" in target.skip_params else _max_tokens(spec, target),
            temperature=None if "temperature" in target.skip_params else spec.temperature,
            headers=dict(target.headers),
            api_key=target.api_key,
            timeout_s=target.timeout_s or spec.timeout_s,
            litellm_model=target.litellm_model,
            api_base=target.api_base or None,
        )
        record = RequestRecord(
            request_id=uuid.uuid4().hex,
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
        secrets = (target.api_key,) if target.api_key else ()
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
    save: bool = True,
    store: Any = None,
    owner: str | None = None,
    on_record: Callable[[RequestRecord], None] | None = None,
    on_start: Callable[[str | None, int], None] | None = None,
    config_snapshot: dict[str, Any] | None = None,
    sim_url: str | None = None,
) -> BenchResult:
    """Run a benchmark to completion and return its records; stored unless ``save`` is False.

    Simulated targets get the built-in endpoint started in its own process unless
    ``sim_url`` points at one already running.
    """
    spec.validate()
    phases, skipped = plan(spec)
    with contextlib.ExitStack() as stack:
        if any(t.simulated for t in spec.targets) and not sim_url:
            from llmbench_jupyter.sim.process import sim_process

            sim_url = stack.enter_context(sim_process(seed=spec.seed))
        if sim_url:
            spec.targets = [t.with_api_base(sim_url) if t.simulated else t for t in spec.targets]
            phases = [
                Phase(p.target.with_api_base(sim_url) if p.target.simulated else p.target, p.tier)
                for p in phases
            ]
        return await _execute(
            spec,
            phases,
            skipped,
            save=save,
            store=store,
            owner=owner,
            on_record=on_record,
            on_start=on_start,
            config_snapshot=config_snapshot,
        )


async def _execute(
    spec: BenchSpec,
    phases: list[Phase],
    skipped: list[dict[str, Any]],
    *,
    save: bool,
    store: Any,
    owner: str | None,
    on_record: Callable[[RequestRecord], None] | None,
    on_start: Callable[[str | None, int], None] | None,
    config_snapshot: dict[str, Any] | None,
) -> BenchResult:
    from llmbench_jupyter.store import current_owner, open_store

    owner = owner or current_owner()
    described = spec.describe()
    described["plan"] = {
        "phases": [
            {"provider": p.target.provider, "model": p.target.model, "context_tier": p.tier}
            for p in phases
        ],
        "skipped": skipped,
    }
    writer = None
    run_id: str | None = None
    if save:
        store = store or open_store()
        run_id = store.create_run(
            owner=owner,
            name=spec.name,
            spec=described,
            config_snapshot=config_snapshot or {},
            versions=_versions(),
            host=_host(),
        )
        from llmbench_jupyter.store.writer import StoreWriter

        writer = StoreWriter(store)
    records: list[RequestRecord] = []

    def emit(record: RequestRecord) -> None:
        records.append(record)
        if writer is not None:
            writer.put(record)
        if on_record is not None:
            on_record(record)

    planned = len(phases) * (spec.runs + spec.warmup)
    if on_start is not None:
        on_start(run_id, planned)
    runner = _Runner(spec, run_id or uuid.uuid4().hex, owner, emit)
    monitor = OverheadMonitor()
    try:
        runner.prepared = await asyncio.to_thread(prepare, spec, phases)
    except BaseException as exc:
        if writer is not None:
            writer.close()
            cancelled = isinstance(exc, asyncio.CancelledError)
            store.finish_run(run_id, "cancelled" if cancelled else "failed", overhead=None)
        raise
    monitor.start()
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
        if writer is not None:
            await asyncio.to_thread(writer.close)
            overhead["store_errors"] = writer.errors
            store.finish_run(run_id, status, overhead=overhead)
    return BenchResult(
        run_id=run_id,
        spec=described,
        records=records,
        skipped=skipped,
        overhead=overhead,
        status=status,
        store_errors=writer.errors if writer else [],
    )


def run(spec: BenchSpec, **kwargs: Any) -> BenchResult:
    """Synchronous wrapper of :func:`arun` for scripts (not for a running event loop)."""
    return asyncio.run(arun(spec, **kwargs))
