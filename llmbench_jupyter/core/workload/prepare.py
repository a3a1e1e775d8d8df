"""Inputs of every phase, built before any request is timed.

Loading a tokenizer or the price map, or padding a 150k-token tier, takes tens of
milliseconds of CPU; done while another provider streams, it would delay that provider's
chunk stamps. So prompts, tokenizers and prices are all resolved first (in a worker thread).
The one exception: a phase without padding gets its approximate tokenizer lazily (it only
counts when a response lacks usage), so a run against a server that sends usage never
pays ~0.1 s to load it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from llmbench_jupyter.core.pricing import Price, price_for
from llmbench_jupyter.core.workload.spec import BenchSpec, Phase


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
    from llmbench_jupyter.core.padding import build_prompt  # loads the corpus: only when run
    from llmbench_jupyter.core.tokens import get_tokenizer

    out: dict[tuple[str, int], Prepared] = {}
    for phase in phases:
        target = phase.target
        # without padding, an approximate tokenizer is only a fallback for missing usage
        tokenizer = get_tokenizer(target.api_model, target.tokenizer_hint, lazy=phase.tier == 0)
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
