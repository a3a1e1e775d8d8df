"""The timing self-test: how accurate this machine's clock-work is, measured right now.

It runs the one engine (:func:`core.workload.arun`) against the built-in simulated
endpoint, shaped like the benchmark about to run (streams, tokens per chunk, inter-token
gap, reasoning chunks), then compares every chunk stamp the client took with the send
stamp the endpoint logged for it (``/sim/sendlog/<response id>``; both are
``perf_counter_ns``, one clock on one host). Statistics come from
:func:`stats.timing_errors`. The result is a :class:`SelftestReport`, whose compact form
is stored with a run (``overhead["timing_selftest"]``) as its timing error bound.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

from llmbench_jupyter.analysis.timing_selftest import SelftestReport
from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.core.records import RequestRecord

#: Seconds of measuring a default self-test aims at (its sim start and set-up come on top).
DEFAULT_SECONDS = 1.8
#: Chunks of answer per request (reasoning chunks come on top, when the target reasons).
ANSWER_CHUNKS = 10
REASONING_CHUNKS = 5
CONTENT_KINDS = ("answer", "reasoning", "tool")
#: Measured requests at most (many streams: fewer rounds).
MAX_REQUESTS = 128
#: ``defaults.selftest`` in config.yaml: never, before every run, or before long runs only.
MODES = ("off", "always", "long")
#: A run is "long" (``selftest: long``) from this many planned requests.
LONG_RUN_REQUESTS = 200


@dataclass
class SelftestSpec:
    """The load a self-test puts on the client; :meth:`for_bench` copies a benchmark's.

    ``workers`` is the number of client processes (the benchmark's, resolved as the engine
    resolves it: ``core.workload.workers.resolve_workers``). ``seconds`` is how long the
    measuring lasts, roughly; ``limit_ms`` the error above which the machine is called
    too loaded.
    """

    concurrency: int = 1
    workers: int = 1
    tokens_per_chunk: int = 1
    itl_ms: float = 10.0
    ttft_ms: float = 50.0
    reasoning: bool = False
    seconds: float = DEFAULT_SECONDS
    limit_ms: float = 10.0
    seed: int = 0

    def validate(self) -> None:
        problems = []
        for name in ("concurrency", "workers", "tokens_per_chunk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name}: found {value!r}, expected an integer >= 1")
        for name, low in (("itl_ms", 0.0), ("ttft_ms", 0.0)):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < low:
                problems.append(f"{name}: found {value!r}, expected a number of ms >= 0")
        for name in ("seconds", "limit_ms"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                problems.append(f"{name}: found {value!r}, expected a number > 0")
        if not problems and self.workers > self.concurrency:
            problems.append(
                f"workers: found {self.workers}, expected at most concurrency "
                f"({self.concurrency}): each worker process needs a stream"
            )
        if problems:
            raise InputError("invalid self-test:\n  " + "\n  ".join(problems))

    @property
    def chunks(self) -> int:
        return ANSWER_CHUNKS + (REASONING_CHUNKS if self.reasoning else 0)

    def model(self) -> str:
        """The simulated model that answers like this spec (the timing_accuracy shape)."""
        tpc = self.tokens_per_chunk
        reason = f",reason={REASONING_CHUNKS * tpc}" if self.reasoning else ""
        return (
            f"sim:ttft={self.ttft_ms:g},itl={self.itl_ms:g},tpc={tpc},"
            f"out={ANSWER_CHUNKS * tpc}{reason},role=1,jitter=0.2"
        )

    def rounds(self) -> int:
        """Requests per stream: as many as fit in ``seconds`` (2 to 16: TTFT error needs
        requests; at most :data:`MAX_REQUESTS` in all, so many streams stay in time)."""
        per_request_s = (self.ttft_ms + self.chunks * self.itl_ms) / 1000.0
        fit = int(self.seconds / max(per_request_s, 1e-3))
        return max(2, min(16, fit, MAX_REQUESTS // self.concurrency))

    @classmethod
    def for_bench(cls, spec: Any, **changes: Any) -> SelftestSpec:
        """The self-test for a benchmark spec: its streams, and its first simulated
        target's tokens per chunk, gap, TTFT (up to 100 ms) and reasoning. A real
        endpoint's chunking is not known before it answers: the defaults stand in."""
        scenario = _first_scenario(spec)
        values: dict[str, Any] = {"concurrency": int(spec.concurrency), "seed": spec.seed}
        from llmbench_jupyter.core.workload.workers import resolve_workers

        values["workers"] = resolve_workers(spec)[0]  # automatic resolved as the run will
        if scenario is not None:
            values.update(
                tokens_per_chunk=scenario.tokens_per_chunk,
                itl_ms=float(scenario.itl_ms),
                ttft_ms=min(float(scenario.ttft_ms), 100.0),
                reasoning=scenario.reasoning_tokens > 0,
            )
        values.update(changes)
        return cls(**values)


def _first_scenario(spec: Any) -> Any:
    from llmbench_jupyter.sim.scenarios import BUILTIN_SCENARIOS, SPEC_PREFIX, parse_model_spec

    for target in spec.targets:
        name = target.api_model
        if name in BUILTIN_SCENARIOS:
            return BUILTIN_SCENARIOS[name]
        if name.startswith(SPEC_PREFIX):
            try:
                return parse_model_spec(name)
            except LLMBenchError:
                continue
    return None


def resolve_mode(selftest: Any, snapshot: dict[str, Any] | None) -> str:
    """``selftest=`` (True, False, None or a mode) with the config default: a mode."""
    if selftest is True:
        return "always"
    if selftest is False:
        return "off"
    if selftest is None:
        defaults = (snapshot or {}).get("defaults") or {}
        selftest = defaults.get("selftest", "off")
    if selftest not in MODES:
        raise InputError(
            f"selftest: found {selftest!r}, expected True, False or one of {', '.join(MODES)}"
        )
    return str(selftest)


def wanted(mode: str, spec: Any) -> bool:
    """Whether a run of ``spec`` gets a self-test first under ``mode``."""
    if mode == "always":
        return True
    if mode == "long":
        from llmbench_jupyter.core.workload import plan

        phases, _ = plan(spec)
        return len(phases) * (spec.runs + spec.warmup) >= LONG_RUN_REQUESTS
    return False


async def arun_selftest(
    spec: SelftestSpec | None = None, *, sim_url: str | None = None
) -> SelftestReport:
    """Run a self-test on this event loop; ``sim_url``: a running simulated endpoint to use
    (default: one started for the test and stopped after it)."""
    spec = spec or SelftestSpec()
    spec.validate()
    started = time.perf_counter()
    if sim_url:
        return await _measure(spec, sim_url, started)
    from llmbench_jupyter.sim.process import sim_process

    cm = sim_process(seed=spec.seed)
    url = await asyncio.to_thread(cm.__enter__)
    try:
        return await _measure(spec, url, started)
    finally:
        await asyncio.to_thread(cm.__exit__, None, None, None)


async def selftest_for_run(spec: Any, selftest: Any, sim_url: str | None) -> dict[str, Any] | None:
    """The summary to store with a run of ``spec``, or None when none is asked for.

    ``selftest``: a :class:`SelftestSpec`, True/False, or a mode (:data:`MODES`; ``long``
    runs a short one only before long runs). A self-test that cannot run does not stop the
    benchmark: its summary says why (``error``).
    """
    if isinstance(selftest, SelftestSpec):
        chosen: SelftestSpec | None = selftest
    else:
        mode = resolve_mode(selftest, None)
        chosen = SelftestSpec.for_bench(spec) if wanted(mode, spec) else None
        if chosen is not None and mode == "long":
            chosen.seconds = 1.0  # the automatic one is short
    if chosen is None:
        return None
    try:
        report = await arun_selftest(chosen, sim_url=sim_url)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the run goes on; its provenance says the test failed
        from llmbench_jupyter.core.errors import scrub

        return {"error": scrub(f"{type(exc).__name__}: {exc}")[:300]}
    return report.to_dict()


def run_selftest(spec: SelftestSpec | None = None, *, sim_url: str | None = None) -> SelftestReport:
    """:func:`arun_selftest` for scripts and the CLI (not inside a running event loop)."""
    return asyncio.run(arun_selftest(spec, sim_url=sim_url))


async def _measure(spec: SelftestSpec, url: str, started: float) -> SelftestReport:
    from llmbench_jupyter.core.targets import adhoc
    from llmbench_jupyter.core.workload import BenchSpec, arun
    from llmbench_jupyter.stats import timing_bound_ms, timing_errors, timing_verdict

    # token counts and prices mean nothing here: the quick tokenizer, no price map
    target = dataclasses.replace(
        adhoc(url, spec.model(), label="timing-selftest"),
        tokenizer_hint="regex-approx", input_cost_per_mtok=0.0, output_cost_per_mtok=0.0,
    )  # fmt: skip
    bench = BenchSpec(
        targets=[target], runs=spec.rounds() * spec.concurrency, warmup=spec.concurrency,
        max_tokens=spec.chunks * spec.tokens_per_chunk, concurrency=spec.concurrency,
        seed=spec.seed, timeout_s=30.0, name="timing self-test", workers=spec.workers,
    )  # fmt: skip
    result = await arun(bench)  # the one engine; nothing stored (no store opened)
    measured = result.measured
    logs = await _send_logs(url, [r.response_id for r in measured if r.status == "ok"])
    pairs = [p for r in measured if (p := _pair(r, logs)) is not None]
    errors = timing_errors(pairs)
    overhead = dict(result.overhead or {})
    return SelftestReport(
        concurrency=spec.concurrency,
        workers=spec.workers,
        tokens_per_chunk=spec.tokens_per_chunk,
        itl_ms=spec.itl_ms,
        ttft_ms=spec.ttft_ms,
        reasoning=spec.reasoning,
        model=spec.model(),
        limit_ms=spec.limit_ms,
        failed_requests=len(measured) - len(pairs),
        errors=errors,
        bound_ms=timing_bound_ms(errors),
        client_cpu_share=overhead.get("client_cpu_share"),
        loop_lag_p99_ms=overhead.get("loop_lag_p99_ms"),
        loop_lag_idle_ms=overhead.get("loop_lag_idle_ms"),
        client_bound=bool(overhead.get("client_bound")),
        client_bound_reason=overhead.get("client_bound_reason"),
        too_loaded=timing_verdict(errors, overhead, spec.limit_ms),
        duration_s=time.perf_counter() - started,
    )


def _pair(record: RequestRecord, logs: dict[str, dict[str, Any]]) -> Any:
    """A successful request's (client stamps, server send stamps) of content chunks."""
    entry = logs.get(record.response_id or "")
    if record.status != "ok" or entry is None or not record.chunk_times_ms:
        return None
    origin = record.send_mono_ns
    if record.time_origin == "intended":
        origin -= round(record.send_lag_ms * 1e6)
    got = [origin + round(t * 1e6) for t in record.chunk_times_ms]
    sent = [c["sent_ns"] for c in entry["chunks"] if c["kind"] in CONTENT_KINDS]
    return (got, sent) if sent else None


async def _send_logs(url: str, ids: list[str | None]) -> dict[str, dict[str, Any]]:
    """The endpoint's send log of each response, fetched after the run (not timed)."""
    import aiohttp

    base = url.removesuffix("/").removesuffix("/v1")
    out: dict[str, dict[str, Any]] = {}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(rid: str) -> None:
            async with session.get(f"{base}/sim/sendlog/{rid}") as resp:
                if resp.status == 200:
                    out[rid] = await resp.json()

        await asyncio.gather(*(one(rid) for rid in ids if rid))
    return out
