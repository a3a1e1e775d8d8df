"""What a benchmark runs: the spec, its validation, and the plan of phases it expands to.

A spec names targets, context tiers, runs, warm-up and a load shape (fixed concurrency,
or open-loop Poisson arrivals). Every field is recorded with the run; the plan (and the
tiers skipped because they exceed a context window) is recorded too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.params import API_KINDS, Resolved, for_target
from llmbench_jupyter.core.targets import Target

ARRIVALS = ("poisson", "constant")
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
    #: with ``rate``: ``poisson`` (seeded exponential gaps) or ``constant`` (1/rate apart,
    #: as guidellm's constant and vLLM's infinite burstiness: no queueing from bursts)
    arrivals: str = "poisson"
    prompt: str = DEFAULT_PROMPT
    seed: int = 0
    timeout_s: float = 120.0
    parallel_providers: bool = True
    sequential_models: bool | None = None  # None: each provider's config decides
    name: str | None = None
    #: client processes sharing the load (core.workload.shard); None = automatic
    #: (core.workload.workers.resolve_workers): one unless the load needs more
    workers: int | None = None

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
        if self.arrivals not in ARRIVALS:
            problems.append(f"arrivals: found {self.arrivals!r}, expected one of "
                            f"{', '.join(ARRIVALS)}")  # fmt: skip
        if self.max_tokens < 1:
            problems.append(f"max_tokens: found {self.max_tokens}, expected an integer >= 1")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            problems.append(f"temperature: found {self.temperature}, expected 0 to 2")
        bad = [t for t in self.context_tiers if not isinstance(t, int) or t < 0]
        if bad or not self.context_tiers:
            problems.append(f"context_tiers: found {self.context_tiers}, expected integers >= 0")
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1
        ):
            problems.append(
                f"workers: found {self.workers!r}, expected an integer >= 1 (or None: automatic)"
            )
        elif self.workers is not None and self.workers > 1:
            streams = self.concurrency if self.rate is None or self.concurrency > 1 else None
            if streams is not None and self.workers > streams:
                problems.append(
                    f"workers: found {self.workers}, expected at most concurrency "
                    f"({streams}): each worker process needs at least one stream"
                )
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


def plan(spec: BenchSpec) -> tuple[list[Phase], list[dict[str, Any]]]:
    """Phases to run and tiers skipped (with the reason) because they exceed a context window."""
    phases: list[Phase] = []
    skipped: list[dict[str, Any]] = []
    for target in spec.targets:
        max_out = max_tokens_for(spec, target)
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


def max_tokens_for(spec: BenchSpec, target: Target) -> int:
    if target.max_output_tokens:
        return min(spec.max_tokens, target.max_output_tokens)
    return spec.max_tokens


def describe_run(
    spec: BenchSpec, phases: list[Phase], skipped: list[dict[str, Any]]
) -> dict[str, Any]:
    """The spec as stored with a run: every field, plus the plan it expanded to and, per
    target, the request parameters sent (with every one dropped or renamed, and why).

    Raises :class:`~llmbench_jupyter.core.errors.InputError` for a value a target refuses
    (e.g. temperature above 1 for Claude), before anything is sent. May import litellm
    (seconds, once): call it off the event loop.
    """
    described = spec.describe()
    params: dict[str, Any] = {}
    for target in spec.targets:
        resolved = request_params(spec, target)
        if resolved is not None and target.key not in params:
            params[target.key] = resolved.describe()
    described["plan"] = {
        "phases": [
            {"provider": p.target.provider, "model": p.target.model, "context_tier": p.tier}
            for p in phases
        ],
        "skipped": skipped,
        "params": params,
    }
    return described


def request_params(spec: BenchSpec, target: Target) -> Resolved | None:
    """max_tokens and temperature for ``target`` through the parameter registry
    (:mod:`llmbench_jupyter.core.params`): renamed, dropped with a reason, or refused.

    None for ``kind: litellm`` targets, which translate parameter names themselves.
    """
    if target.kind not in API_KINDS:
        return None
    given = {"max_tokens": max_tokens_for(spec, target), "temperature": spec.temperature}
    # a model profile's parameters win; a benchmark offers no tools (tool_choice dropped)
    return for_target(target, {**given, **dict(target.params)}, has_tools=False)
