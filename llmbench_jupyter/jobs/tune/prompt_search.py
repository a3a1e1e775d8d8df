"""How a prompt search picks the next system prompts, from the trials so far.

Three methods, each working from stored trial rows only (so a resumed search goes on):

- ``quick``: the proposer writes ``n_variants`` versions of the baseline prompt; each is
  evaluated once.
- ``evolve``: a population of ``population`` prompts over ``generations``. Generation 0 is
  the baseline and quick variants of it. Each next generation keeps the ``elite`` best
  prompts so far unchanged (elitism: they are not evaluated again, their scores stand)
  and fills the rest with children: a crossover of two parents chosen by tournament
  (both parents' full text goes to the proposer), or a mutation of one.
- ``reflect``: ``iterations`` rounds; each shows the proposer the best prompt so far and
  its failed cases (question, expected calls, what the model called, the error type)
  and evaluates the repair it writes.

Scores are the trials' first objective; a trial that failed or was pruned never becomes
a parent or an elite.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs.tune.proposer import Proposal, Proposer

METHODS = ("quick", "evolve", "reflect")


@dataclass(frozen=True)
class PromptMethod:
    name: str = "quick"
    n_variants: int = 4
    population: int = 6
    generations: int = 3
    elite: int = 2
    crossover_rate: float = 0.5
    iterations: int = 4

    def check(self) -> None:
        if self.name not in METHODS:
            raise InputError(f"method: unknown {self.name!r}; expected one of {', '.join(METHODS)}")
        for label in ("n_variants", "population", "generations", "iterations"):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{label} must be an integer >= 1, got {value!r}")
        if not isinstance(self.elite, int) or not 1 <= self.elite < self.population:
            raise InputError(
                f"elite must be at least 1 and below population ({self.population}), "
                f"got {self.elite!r}"
            )
        if not 0 <= self.crossover_rate <= 1:
            raise InputError(f"crossover_rate must be in [0, 1], got {self.crossover_rate!r}")


def _scored(rows: Sequence[dict[str, Any]], sign: float) -> list[dict[str, Any]]:
    """Complete trials, best first (ties: the earlier)."""
    done = [r for r in rows if r["state"] == "complete" and r.get("values")]
    return sorted(done, key=lambda r: (-sign * r["values"][0], r["number"]))


def generation_of(row: dict[str, Any]) -> int:
    return int((row.get("system_attrs") or {}).get("generation", 0))


async def next_prompts(
    method: PromptMethod, proposer: Proposer, rows: Sequence[dict[str, Any]], sign: float,
    rng: random.Random,
) -> list[Proposal]:  # fmt: skip
    """The next prompts to evaluate (empty: the method is done)."""
    baseline = next(r for r in rows if r["number"] == 0)
    base = baseline.get("prompt") or ""
    searched = [r for r in rows if r["number"] > 0]
    if method.name == "quick":
        if searched:
            return []
        texts = await proposer.variants(base, method.n_variants)
        return [Proposal(t, "quick", (0,)) for t in texts]
    if method.name == "reflect":
        if len(searched) >= method.iterations:
            return []
        best = (_scored(rows, sign) or [baseline])[0]
        failures = list((best.get("metrics") or {}).get("failures") or [])
        if not failures and best["state"] == "complete":
            return []  # the best prompt passes every search case: nothing to repair
        text = await proposer.reflect(best.get("prompt") or "", failures)
        return [Proposal(text, "reflection", (best["number"],))]
    return await _evolve(method, proposer, rows, sign, rng, base)


async def _evolve(method: PromptMethod, proposer: Proposer, rows: Sequence[dict[str, Any]],
                  sign: float, rng: random.Random, base: str) -> list[Proposal]:  # fmt: skip
    generation = max((generation_of(r) for r in rows), default=0)
    members = sum(1 for r in rows if r["number"] > 0 and generation_of(r) == generation)
    if generation == 0 and members < method.population - 1:  # (the rest of) generation 0
        texts = await proposer.variants(base, method.population - 1 - members)
        return [Proposal(t, "quick", (0,), 0) for t in texts]
    ranked = _scored(rows, sign)
    if not ranked or not (ranked[0].get("metrics") or {}).get("failures", ["?"]):
        return []  # nothing ranked, or the best prompt passes every search case
    # the population: the best `population` prompts so far (elites carry over, unevaluated)
    pool = ranked[: method.population]
    brood = method.population - min(method.elite, len(pool))
    if generation >= 1 and members < brood:  # a generation cut short (a resumed search)
        count, born = brood - members, generation
    elif generation + 1 >= method.generations:
        return []
    else:
        count, born = brood, generation + 1
    children: list[Proposal] = []
    for _ in range(count):
        if len(pool) >= 2 and rng.random() < method.crossover_rate:
            a, b = _tournament(pool, rng, sign), _tournament(pool, rng, sign)
            while b["number"] == a["number"]:
                b = rng.choice(pool)
            text = await proposer.crossover(a.get("prompt") or "", b.get("prompt") or "")
            children.append(Proposal(text, "crossover", (a["number"], b["number"]), born))
        else:
            parent = _tournament(pool, rng, sign)
            text = await proposer.mutate(parent.get("prompt") or "")
            children.append(Proposal(text, "mutation", (parent["number"],), born))
    return children


def _tournament(pool: Sequence[dict[str, Any]], rng: random.Random, sign: float) -> dict[str, Any]:
    """The better of two members drawn at random (ties: the earlier trial)."""
    a, b = rng.choice(pool), rng.choice(pool)
    return min((a, b), key=lambda r: (-sign * r["values"][0], r["number"]))
