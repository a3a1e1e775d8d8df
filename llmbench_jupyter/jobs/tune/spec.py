"""What a parameter search is: suite, target, space, objectives, sampler, budget, split.

Validated before anything is sent. ``fingerprint`` is what a resumed search must share
with the stored one (same suite content, target, space, objectives, sampler and seed),
so trials of two different searches are never mixed.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.pricing import price_for
from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.evals.chat import require_openai
from llmbench_jupyter.evals.mocks import MockTools
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.scoring import MODES
from llmbench_jupyter.jobs.tune.budget import Budget
from llmbench_jupyter.jobs.tune.objectives import Objective, objectives_of
from llmbench_jupyter.jobs.tune.prompt_search import PromptMethod
from llmbench_jupyter.jobs.tune.search import check_sampler
from llmbench_jupyter.jobs.tune.space import SearchSpace, build_space

#: Held-out share of the cases by default: never seen by the search, used once at the end.
HOLDOUT = 0.3
#: Trials of a search given no budget at all (something must end it).
DEFAULT_TRIALS = 20


@dataclass
class TuneSpec:
    """A parameter search (``kind="params"``: Optuna over ``space``) or a prompt search
    (``kind="prompt"``: a proposer model writes system prompts by ``method``; every trial
    sends ``baseline``'s parameters, and ``system_prompt`` is the baseline prompt)."""

    suite: Suite
    target: Target
    space: dict[str, Any]
    kind: str = "params"
    method: PromptMethod = field(default_factory=PromptMethod)
    proposer: Target | None = None
    #: Grades every case when ``judge_score`` is an objective (its calls count in budgets).
    judge: Target | None = None
    objectives: list[str] = field(default_factory=lambda: ["pass_rate"])
    sampler: str = "tpe"
    seed: int = 0
    budget: Budget = field(default_factory=Budget)
    holdout: float = HOLDOUT
    prune: bool = True
    baseline: dict[str, Any] = field(default_factory=dict)
    system_prompt: str | None = None
    n_startup: int = 5
    concurrency: int = 4
    timeout_s: float = 60.0
    mode: str = "default"
    name: str | None = None
    resume: bool = False
    mock_classes: dict[str, type[MockTools]] = field(default_factory=dict)
    sim_rules: str | None = None

    def __post_init__(self) -> None:
        if self.system_prompt is None:  # the baseline prompt is what the target sends
            self.system_prompt = self.target.system_prompt
        self.budget = Budget.of(self.budget)
        if self.budget == Budget():
            self.budget = Budget(trials=DEFAULT_TRIALS)
        if self.kind == "prompt" and not self.space:
            self.built: SearchSpace = SearchSpace({})
        else:
            self.built = build_space(self.target, self.space)
        self.chosen: list[Objective] = objectives_of(self.objectives)
        self.objectives = [o.name for o in self.chosen]

    def validate(self) -> None:
        require_openai(self.target, "tuning")
        if not self.suite.cases:
            raise InputError(f"tune: suite {self.suite.name!r} has no cases")
        if "judge_score" in self.objectives and self.judge is None:
            raise InputError("tune: the judge_score objective needs a judge model (judge=...)")
        if self.judge is not None:
            require_openai(self.judge, "judges")
        if self.kind == "prompt":
            if self.proposer is None:
                raise InputError("tune_prompts: name the model that writes prompts (proposer=)")
            require_openai(self.proposer, "prompt proposers")
            self.method.check()
            if self.space:
                raise InputError("tune_prompts: parameters are fixed (baseline=), not searched")
        elif self.kind == "params":
            check_sampler(self.sampler, len(self.chosen), self.built)
        else:
            raise InputError(f"tune: kind {self.kind!r} unknown; expected params or prompt")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError(f"tune: seed must be an integer, got {self.seed!r}")
        if not isinstance(self.holdout, int | float) or not 0 <= self.holdout < 1:
            raise InputError(f"tune: holdout must be a share in [0, 1), got {self.holdout!r}")
        if self.mode not in MODES:
            raise InputError(f"tune: mode {self.mode!r} unknown; expected one of {MODES}")
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise InputError(f"tune: concurrency must be an integer >= 1, got {self.concurrency!r}")
        if not isinstance(self.baseline, dict):
            raise InputError(f"tune: baseline must be a dict of parameters, got {self.baseline!r}")
        if self.budget.dollars is not None:
            self._check_dollars()
        if self.resume and not self.name:
            raise InputError("tune: resume=True needs the search's name (name=...)")
        train, _ = self.split()
        if not train:
            raise InputError(
                f"tune: holdout={self.holdout} leaves no case to search on "
                f"({len(self.suite.cases)} cases)"
            )

    def _check_dollars(self) -> None:
        """A dollar budget is kept by booking each request at its most before sending it,
        which needs prices and a cap on output tokens."""
        others = [t for t in (self.proposer, self.judge) if t is not None]
        for who in [self.target, *others]:
            if not known_price(who):
                raise InputError(
                    f"tune: no price is known for {who.key}, so a dollar budget cannot be "
                    "kept; set input_cost_per_mtok and output_cost_per_mtok for it in config.yaml"
                )
        searched = self.kind == "prompt" or "max_tokens" in self.built.distributions
        if self.target.max_output_tokens is None and not (
            searched and "max_tokens" in self.baseline
        ):
            where = "baseline=" if self.kind == "prompt" else "both space= and baseline="
            raise InputError(
                f"tune: a dollar budget needs a cap on output tokens to bound what a request "
                f"may cost before it is sent: set max_output_tokens for {self.target.key} in "
                f"config.yaml, or give max_tokens in {where}"
            )

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.chosen]

    @property
    def subject(self) -> str:
        """What is searched over: the suite and its version."""
        return f"{self.suite.name}@{self.suite.version}"

    def split(self) -> tuple[list[Case], list[Case]]:
        """(search cases, held-out cases): a seeded shuffle, the held-out share rounded
        down, and none held out below 4 cases."""
        cases = list(self.suite.cases)
        n_held = int(len(cases) * self.holdout) if len(cases) >= 4 else 0
        order = list(range(len(cases)))
        random.Random(f"holdout:{self.seed}").shuffle(order)
        held = set(order[:n_held])
        return (
            [c for i, c in enumerate(cases) if i not in held],
            [c for i, c in enumerate(cases) if i in held],
        )

    def fingerprint(self) -> str:
        body = {
            "kind": self.kind,
            "method": asdict(self.method) if self.kind == "prompt" else None,
            "proposer": self.proposer.key if self.proposer is not None else None,
            "judge": self.judge.key if self.judge is not None else None,
            "suite": self.suite.to_dict(),
            "target": self.target.key,
            "target_params": dict(self.target.params),
            "space": {k: repr(v) for k, v in self.built.distributions.items()},
            "objectives": self.objectives,
            "sampler": self.sampler,
            "seed": self.seed,
            "holdout": self.holdout,
            "baseline": self.baseline,
            "system_prompt": self.system_prompt,
            "mode": self.mode,
        }
        return fingerprint_of(body)

    def describe(self) -> dict[str, Any]:
        train, held = self.split()
        return {
            "kind": self.kind,
            "method": asdict(self.method) if self.kind == "prompt" else None,
            "proposer": self.proposer.key if self.proposer is not None else None,
            "judge": self.judge.key if self.judge is not None else None,
            "suite": self.suite.name,
            "suite_version": self.suite.version,
            "target": self.target.key,
            "profile": self.target.profile,
            "space": {k: repr(v) for k, v in self.built.distributions.items()},
            "space_given": {k: _jsonable(v) for k, v in self.space.items()},
            "space_notes": list(self.built.notes),
            "objectives": self.objectives,
            "directions": self.directions,
            "sampler": self.sampler,
            "seed": self.seed,
            "budget": self.budget.describe(),
            "holdout": self.holdout,
            "search_cases": [c.id for c in train],
            "holdout_cases": [c.id for c in held],
            "prune": self.prune,
            "baseline": dict(self.baseline),
            "system_prompt": self.system_prompt,
            "mode": self.mode,
            "concurrency": self.concurrency,
            "fingerprint": self.fingerprint(),
        }


def fingerprint_of(body: dict[str, Any]) -> str:
    """What a resumed search must share with the stored one, as one digest."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def known_price(t: Target) -> bool:
    price = price_for(t.provider, t.api_model, t.model, t.input_cost_per_mtok,
                      t.output_cost_per_mtok)  # fmt: skip
    return price is not None and None not in (price.input_per_mtok, price.output_per_mtok)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
