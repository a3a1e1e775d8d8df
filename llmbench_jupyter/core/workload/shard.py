"""How one run's load is split across worker processes (``BenchSpec.workers``).

Every worker runs the same engine on its shard; the rules below decide what a shard is,
so the union of the shards is exactly the single-process run:

- **Requests** of each phase (warm-up and measured alike) go round-robin by index:
  worker ``k`` of ``n`` takes indices ``k, k + n, k + 2n, ...``. Each keeps its global
  ``run_index``, so the merged records number 0..runs-1 as in one process.
- **Streams** (closed-loop concurrency, or the open-loop cap on requests in flight) are
  split as evenly as possible: ``total // n``, plus one for the first ``total % n``.
- **Open-loop arrivals**: the coordinator draws ONE seeded Poisson schedule per phase
  (:func:`arrival_offsets_ns`, the same function a single process uses) and deals it out
  round-robin by arrival, so the offered load is exactly the rate asked for.
- **Phases** start together: every worker waits at a barrier before a phase's warm-up
  and again before its measured requests, where the coordinator hands out one common
  start instant (its own monotonic clock, translated by each worker's measured offset).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from llmbench_jupyter.core.workload.spec import Phase

#: A barrier at which every worker enters a phase step; returns the common start instant
#: (``perf_counter_ns`` of this process) the coordinator chose for it.
PhaseSync = Callable[[str], Awaitable[int]]


@dataclass
class Shard:
    """One worker's part of a run (picklable; ``sync`` is attached in the worker)."""

    index: int
    count: int
    streams: int
    #: phase key -> [(request index, offset ns from the phase's common start)]
    arrivals: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    sync: PhaseSync | None = None

    def take(self, items: list[tuple[int, tuple[str, int]]]) -> list[tuple[int, tuple[str, int]]]:
        """This worker's requests of a phase: round-robin by request index."""
        return items[self.index :: self.count]


def phase_key(phase: Phase) -> str:
    return f"{phase.target.key}|{phase.tier}"


def split_streams(total: int, count: int) -> list[int]:
    """``total`` streams over ``count`` workers, as evenly as possible (first ones +1)."""
    base, extra = divmod(total, count)
    return [base + (1 if k < extra else 0) for k in range(count)]


def arrival_offsets_ns(
    seed: int, phase: Phase, n: int, rate: float, arrivals: str = "poisson"
) -> list[int]:
    """The phase's schedule: ``n`` arrival offsets (ns) from its start, seeded Poisson
    arrivals or (``arrivals="constant"``) one every ``1/rate`` s."""
    rng = random.Random(f"{seed}:arrivals:{phase.target.key}:{phase.tier}")
    constant = arrivals == "constant"
    offsets, t = [], 0.0
    for _ in range(n):
        t += 1.0 / rate if constant else rng.expovariate(rate)
        offsets.append(int(t * 1e9))
    return offsets


def deal_arrivals(offsets: list[int], count: int) -> list[list[tuple[int, int]]]:
    """One schedule dealt round-robin by arrival: worker ``k`` gets arrivals k, k+n, ..."""
    return [[(i, offsets[i]) for i in range(k, len(offsets), count)] for k in range(count)]
