"""Load sweeps and SLO search: the one benchmark engine run at a series of offered loads.

A *sweep* runs the workload at each given load (request rate, or concurrency); an *SLO
search* bisects the request rate for the highest one that meets an SLO. Every step is
one or more ordinary stored benchmark runs (``jobs.bench_run``), tagged with the sweep
(``spec["sweep"]``), so the store, history and exports see them like any run.

A step is decided with a stated confidence (``stats.slo_check``): pass, fail, or
undecided. An undecided step gets another batch of requests (a new seed, so new arrival
times) pooled with the first, until it is decided or reaches ``max_requests``; a step
still undecided is reported so, and the search treats it as not passing (the limit it
reports is a load that passed). Simulated targets share one simulator process for the
whole sweep. Latency under a rate counts from the intended send (open loop).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmbench_jupyter.analysis.sweep_result import SweepResult, step_row
from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.core.records import RequestRecord, new_id
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.stats import SLO, min_requests_to_pass

MODES = ("rate", "concurrency")
#: Steps a search runs at most (the bounds, then bisection), whatever the tolerance.
MAX_SEARCH_STEPS = 16
#: Without ``high``, a search doubles the rate from ``low`` at most this many times.
MAX_DOUBLINGS = 8


@dataclass
class SweepSpec:
    """What to sweep: the workload (one target, one context tier) and the loads or bounds.

    ``loads``: the steps of a sweep. ``search``: bisect the rate between ``low`` and
    ``high`` (doubling from ``low`` when ``high`` is None) until ``high/low − 1 ≤
    tolerance``. ``requests``: measured requests per batch (default: a sweep the
    workload's ``runs``, a search the fewest that can pass a p99 target, 299 at 95 %);
    ``max_requests``: a step's cap (default the same for a sweep, 3× for a search).
    """

    bench: BenchSpec
    mode: str = "rate"
    loads: list[float] | None = None
    search: bool = False
    low: float | None = None
    high: float | None = None
    tolerance: float = 0.05
    slo: SLO | None = None
    confidence: float = 0.95
    requests: int | None = None
    max_requests: int | None = None
    name: str | None = None
    sweep_id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.requests is None:
            if self.search and self.slo is not None:
                self.requests = min_requests_to_pass(1 - self.slo.quantile, self.confidence)
            else:
                self.requests = self.bench.runs
        if self.max_requests is None and isinstance(self.requests, int):
            self.max_requests = self.requests * (3 if self.search else 1)

    def validate(self) -> None:
        problems = []
        if self.mode not in MODES:
            problems.append(f"mode: found {self.mode!r}, expected one of {', '.join(MODES)}")
        if len(self.bench.targets) != 1 or len(self.bench.context_tiers) != 1:
            problems.append(
                f"targets and context tiers: found {len(self.bench.targets)} targets and "
                f"{len(self.bench.context_tiers)} tiers, expected one of each (the load "
                "applies to one endpoint)"
            )
        if not _count(self.requests, 1):
            problems.append(f"requests: found {self.requests!r}, expected an integer >= 1")
        elif not _count(self.max_requests, self.requests):
            problems.append(f"max_requests: found {self.max_requests!r}, expected an integer "
                            f">= requests ({self.requests})")  # fmt: skip
        if not (isinstance(self.confidence, float | int) and 0.5 <= self.confidence < 1):
            problems.append(f"confidence: found {self.confidence!r}, expected 0.5 to below 1")
        if self.search:
            problems += self._search_problems()
        else:
            problems += self._sweep_problems()
        if problems:
            raise InputError("invalid sweep:\n  " + "\n  ".join(problems))
        self.bench.validate()

    def _search_problems(self) -> list[str]:
        out = []
        if self.slo is None:
            out.append("slo: an SLO search needs one (e.g. ttft_ms=500,tpot_ms=50,error_rate=0.01)")
        if self.mode != "rate":
            out.append(f"mode: an SLO search bisects the request rate, found mode {self.mode!r}")
        if self.low is None or not _positive(self.low):
            out.append(f"low: found {self.low!r}, expected a request rate > 0")
        elif self.high is not None and not (_positive(self.high) and self.high > self.low):
            out.append(f"high: found {self.high!r}, expected a rate above low ({self.low:g})")
        if not (isinstance(self.tolerance, float | int) and 0 < self.tolerance < 1):
            out.append(f"tolerance: found {self.tolerance!r}, expected a fraction in (0, 1)")
        return out

    def _sweep_problems(self) -> list[str]:
        loads = self.loads
        if not loads or not all(_positive(v) for v in loads):
            return [f"loads: found {loads!r}, expected one or more {_unit(self.mode)} > 0"]
        if self.mode == "concurrency" and not all(float(v).is_integer() for v in loads):
            return [f"loads: found {loads!r}, expected whole numbers of streams"]
        return []

    def describe(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id, "name": self.name, "mode": self.mode,
            "search": self.search, "loads": self.loads, "low": self.low, "high": self.high,
            "tolerance": self.tolerance, "slo": self.slo.describe() if self.slo else None,
            "confidence": self.confidence, "requests": self.requests,
            "max_requests": self.max_requests, "bench": self.bench.describe(),
        }  # fmt: skip

    def planned_steps(self) -> int:
        if not self.search:
            return len(self.loads or ())
        low, high = self.low or 1.0, self.high or 2 * (self.low or 1.0)
        width = max((high - low) / (self.tolerance * low), 1.0)
        return min(MAX_SEARCH_STEPS, 2 + math.ceil(math.log2(width)))

    def tag(self, step: int, batch: int, load: float) -> dict[str, Any]:
        """What each step's run stores as ``spec["sweep"]`` (enough to rebuild the sweep)."""
        return {"id": self.sweep_id, "name": self.name, "mode": self.mode,
                "search": self.search, "step": step, "batch": batch, "load": load,
                "slo": self.slo.describe() if self.slo else None,
                "confidence": self.confidence, "target": self.bench.targets[0].key,
                "known_knee_rps": known_knee(self.bench)}  # fmt: skip

    def step_spec(self, load: float, batch: int, n: int) -> BenchSpec:
        """The workload at ``load``: ``n`` measured requests, seed moved on per batch."""
        spec = self.bench
        change: dict[str, Any] = {"runs": n, "seed": spec.seed + batch}
        if self.mode == "rate":
            change["rate"] = float(load)
        else:
            change.update(rate=None, concurrency=int(load))
        label = f"{self.name or 'sweep'} · {load:g} {_unit(self.mode)}"
        return dataclasses.replace(spec, name=label + (f" #{batch + 1}" if batch else ""),
                                   targets=list(spec.targets), **change)  # fmt: skip


def _count(value: Any, minimum: int | None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= (minimum or 1)


def _positive(value: Any) -> bool:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and 0 < value < math.inf


def _unit(mode: str) -> str:
    return "req/s" if mode == "rate" else "streams"


def known_knee(spec: BenchSpec) -> float | None:
    """The simulated target's capacity (``sim:...,slots=N``) at this workload, else None."""
    target = spec.targets[0]
    if not target.api_model.startswith("sim:") and not target.simulated:
        return None
    from llmbench_jupyter.sim.capacity import capacity_rps
    from llmbench_jupyter.sim.scenarios import BUILTIN_SCENARIOS, parse_model_spec

    try:
        name = target.api_model
        scenario = parse_model_spec(name) if name.startswith("sim:") else BUILTIN_SCENARIOS[name]
    except (KeyError, LLMBenchError):  # a malformed spec is the simulator's 400 to report
        return None
    knee = capacity_rps(scenario, spec.max_tokens, spec.context_tiers[0])
    return None if knee is None or math.isinf(knee) else round(knee, 6)


class Sweeper:
    """Runs a sweep's steps through ``bench_run.arun`` and keeps its result up to date."""

    def __init__(self, spec: SweepSpec, *, save: bool, store: Any, owner: str | None,
                 config_snapshot: dict[str, Any] | None, sim_url: str | None,
                 on_record: Any = None, on_step: Any = None) -> None:  # fmt: skip
        self.spec = spec
        self._save, self._store, self._owner = save, store, owner
        self._snapshot, self._sim_url = config_snapshot, sim_url
        self._on_record, self._on_step = on_record, on_step
        self.step_records: list[RequestRecord] = []  # the running step's, for progress
        self.load: float | None = None
        self.result = SweepResult(
            sweep_id=spec.sweep_id, name=spec.name, mode=spec.mode, search=spec.search,
            target=spec.bench.targets[0].key, slo=spec.slo, confidence=spec.confidence,
            status="running", arrivals=spec.bench.arrivals,
            known_knee_rps=known_knee(spec.bench),
        )  # fmt: skip

    async def run(self) -> SweepResult:
        with contextlib.ExitStack() as stack:
            if self.spec.bench.targets[0].simulated and not self._sim_url:
                from llmbench_jupyter.sim.process import sim_process

                self._sim_url = stack.enter_context(sim_process(seed=self.spec.bench.seed))
            if self.spec.search:
                await self._search()
            else:
                for load in self.spec.loads or ():
                    await self.step(float(load))
        self.result.status = "done"
        return self.result

    async def _search(self) -> None:
        spec = self.spec
        assert spec.low is not None
        lo, hi = float(spec.low), spec.high
        if await self.step(lo) != "pass":
            return  # nothing at or above the lowest rate meets the SLO
        if hi is None:  # no upper bound: double until a step does not pass (8 times at most)
            hi = lo * 2
            while await self.step(hi) == "pass":
                if hi >= lo * 2**MAX_DOUBLINGS or len(self.result.steps) >= MAX_SEARCH_STEPS:
                    return  # the limit is at least hi: reported as "no higher load tried"
                lo, hi = hi, hi * 2
        elif await self.step(float(hi)) == "pass":
            return  # the upper bound passed: the limit is at least that
        while hi / lo - 1 > spec.tolerance and len(self.result.steps) < MAX_SEARCH_STEPS:
            mid = float(f"{(lo + hi) / 2:.4g}")
            if not lo < mid < hi:
                break
            if await self.step(mid) == "pass":
                lo = mid
            else:
                hi = mid

    async def step(self, load: float) -> str | None:
        """Run one step (batches until decided or capped); its verdict."""
        from llmbench_jupyter.jobs.bench_run import arun

        spec, number = self.spec, len(self.result.steps)
        assert spec.requests is not None and spec.max_requests is not None
        self.load, self.step_records = load, []
        run_ids: list[str] = []
        row: dict[str, Any] = {}
        batch = 0
        while True:
            n = min(spec.requests, spec.max_requests - len(self._measured()))
            bench = spec.step_spec(load, batch, n)

            def seen(record: RequestRecord) -> None:
                self.step_records.append(record)
                if self._on_record is not None:
                    self._on_record(record)

            done = await arun(bench, save=self._save, store=self._store, owner=self._owner,
                              on_record=seen, config_snapshot=self._snapshot,
                              sim_url=self._sim_url,
                              sweep=spec.tag(number, batch, load))  # fmt: skip
            if done.run_id:
                run_ids.append(done.run_id)
            batch += 1
            row = step_row(number, load, self.step_records, spec.slo, spec.confidence,
                           run_ids, batch)  # fmt: skip
            if row["decision"] != "undecided" or len(self._measured()) >= spec.max_requests:
                break
        self.result.steps.append(row)
        if self._on_step is not None:
            self._on_step(row)
        decision: str | None = row["decision"]
        return decision

    def _measured(self) -> list[RequestRecord]:
        return [r for r in self.step_records if not r.is_warmup]


def build_sweep_spec(
    *,
    mode: str = "rate",
    loads: Sequence[float] | str | None = None,
    search: bool = False,
    low: float | None = None,
    high: float | None = None,
    tolerance: float = 0.05,
    slo: Any = None,
    confidence: float = 0.95,
    requests: int | None = None,
    max_requests: int | None = None,
    name: str | None = None,
    **bench_options: Any,
) -> tuple[SweepSpec, dict[str, Any]]:
    """Options (the CLI's ``sweep`` flags, underscored) to a validated spec and a snapshot."""
    from llmbench_jupyter.jobs.specs import build_bench_spec

    if isinstance(loads, str):
        loads = parse_loads(loads)
    parsed_slo = SLO.parse(slo) if slo is not None else None
    bench, snapshot = build_bench_spec(name=name, **bench_options)
    spec = SweepSpec(
        bench=bench, mode=mode, loads=[float(v) for v in loads] if loads else None,
        search=search, low=low, high=high, tolerance=tolerance, slo=parsed_slo,
        confidence=confidence, requests=requests, max_requests=max_requests, name=name,
    )  # fmt: skip
    spec.validate()
    return spec, snapshot


def parse_loads(text: str) -> list[float]:
    """``10,20,40`` -> [10, 20, 40]; ``10:50:10`` (start:stop:step, stop included) too."""
    text = text.strip()
    try:
        if ":" in text:
            start, stop, step = (float(p) for p in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = math.floor((stop - start) / step + 1e-9) + 1
            return [round(start + i * step, 9) for i in range(count)]
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(
            f"loads: found {text!r}, expected comma-separated numbers (10,20,40) or "
            "start:stop:step (10:50:10)"
        ) from None
