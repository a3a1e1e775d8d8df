"""A parameter search over a bench workload: which parameters make one model fastest.

Each trial is one benchmark run of ``workload`` (the same prompts, context tiers, runs and
concurrency every time; only the trial's parameters change), measured by the bench
engine and summarised by ``bench_objectives``. There are no cases to hold out, so the
search ends with a confirmation instead (``bench_confirm``): fresh runs of the best and
the baseline, interleaved, compared with a bootstrap interval.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.core.workload import BenchSpec, plan
from llmbench_jupyter.jobs.tune.bench_objectives import BENCH_OBJECTIVES
from llmbench_jupyter.jobs.tune.budget import Budget
from llmbench_jupyter.jobs.tune.objectives import Objective, objectives_of
from llmbench_jupyter.jobs.tune.search import check_sampler
from llmbench_jupyter.jobs.tune.space import SearchSpace, build_space
from llmbench_jupyter.jobs.tune.spec import DEFAULT_TRIALS, fingerprint_of, known_price


@dataclass
class BenchTuneSpec:
    """A search of ``space`` for ``target`` over the bench ``workload`` (its one target is
    replaced by ``target`` with each trial's parameters)."""

    workload: BenchSpec
    target: Target
    space: dict[str, Any]
    objectives: list[str] = field(default_factory=lambda: ["ttft_ms"])
    sampler: str = "tpe"
    seed: int = 0
    budget: Budget = field(default_factory=Budget)
    prune: bool = True
    baseline: dict[str, Any] = field(default_factory=dict)
    n_startup: int = 5
    #: End with fresh runs of the best and the baseline, compared (``bench_confirm``).
    confirm: bool = True
    name: str | None = None
    resume: bool = False
    sim_rules: str | None = None
    kind: str = "bench"
    #: What a suite search has and a workload search has not (read by shared code).
    proposer: None = None
    judge: None = None

    def __post_init__(self) -> None:
        self.budget = Budget.of(self.budget)
        if self.budget == Budget():
            self.budget = Budget(trials=DEFAULT_TRIALS)
        self.built: SearchSpace = build_space(self.target, self.space, has_tools=False)
        self.chosen: list[Objective] = objectives_of(
            self.objectives, BENCH_OBJECTIVES, "a bench workload"
        )
        self.objectives = [o.name for o in self.chosen]

    @property
    def system_prompt(self) -> str | None:
        return self.target.system_prompt

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.chosen]

    @property
    def subject(self) -> str:
        """The workload in a few words (where a suite search names its suite)."""
        w = self.workload
        load = f"rate {w.rate:g}/s" if w.rate else f"concurrency {w.concurrency}"
        tiers = ",".join(str(t) for t in w.context_tiers)
        return f"bench: tiers {tiers} x {w.runs} runs, {load}, max_tokens {w.max_tokens}"

    def validate(self) -> None:
        check_sampler(self.sampler, len(self.chosen), self.built)
        self.workload.validate()
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError(f"tune: seed must be an integer, got {self.seed!r}")
        if not isinstance(self.baseline, dict):
            raise InputError(f"tune: baseline must be a dict of parameters, got {self.baseline!r}")
        if self.resume and not self.name:
            raise InputError("tune: resume=True needs the search's name (name=...)")
        priced = known_price(self.target)
        if not priced and ("cost_usd" in self.objectives or self.budget.dollars is not None):
            why = "the cost_usd objective" if "cost_usd" in self.objectives else "a dollar budget"
            raise InputError(
                f"tune: no price is known for {self.target.key}, so {why} cannot be used; "
                "set input_cost_per_mtok and output_cost_per_mtok for it in config.yaml"
            )
        if not self.planned(self.baseline):
            raise InputError(
                f"tune: every context tier of the workload exceeds {self.target.key}'s "
                "context window: nothing would be sent"
            )

    def trial_workload(self, params: dict[str, Any], label: str, runs: int | None = None,
                       seed: int | None = None) -> BenchSpec:  # fmt: skip
        """The workload with ``params`` on every request (over the target's own, e.g. a
        profile's); ``runs``/``seed`` for the confirmation's fresh runs."""
        merged = {**dict(self.target.params), **params}
        target = dataclasses.replace(self.target, params=tuple(sorted(merged.items())))
        return dataclasses.replace(
            self.workload, targets=[target], name=label,
            runs=self.workload.runs if runs is None else runs,
            seed=self.workload.seed if seed is None else seed,
        )  # fmt: skip

    def planned(self, params: dict[str, Any], runs: int | None = None) -> int:
        """Requests one run of the workload sends with ``params`` (warm-ups included)."""
        w = self.trial_workload(params, "plan", runs)
        phases, _skipped = plan(w)
        return len(phases) * (w.runs + w.warmup)

    def split(self) -> tuple[list[Any], list[Any]]:
        """No cases: a workload search holds none back (it confirms instead)."""
        return [], []

    def _workload_body(self) -> dict[str, Any]:
        body = self.workload.describe()
        for key in ("targets", "name"):
            body.pop(key, None)
        return body

    def fingerprint(self) -> str:
        body = {
            "kind": self.kind,
            "workload": self._workload_body(),
            "target": self.target.key,
            "target_params": dict(self.target.params),
            "system_prompt": self.system_prompt,
            "space": {k: repr(v) for k, v in self.built.distributions.items()},
            "objectives": self.objectives,
            "sampler": self.sampler,
            "seed": self.seed,
            "baseline": self.baseline,
        }
        return fingerprint_of(body)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "suite": self.subject,
            "workload": self._workload_body(),
            "target": self.target.key,
            "profile": self.target.profile,
            "space": {k: repr(v) for k, v in self.built.distributions.items()},
            "space_given": {k: list(v) if isinstance(v, tuple) else v
                            for k, v in self.space.items()},
            "space_notes": list(self.built.notes),
            "objectives": self.objectives,
            "directions": self.directions,
            "sampler": self.sampler,
            "seed": self.seed,
            "budget": self.budget.describe(),
            "search_cases": [],
            "holdout_cases": [],
            "prune": self.prune,
            "confirm": self.confirm,
            "baseline": dict(self.baseline),
            "system_prompt": self.system_prompt,
            "concurrency": self.workload.concurrency,
            "fingerprint": self.fingerprint(),
        }  # fmt: skip
