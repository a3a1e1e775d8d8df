"""What a job runs: the protocol every kind of work (bench, eval, later tuning) follows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from llmbench_jupyter.jobs.job import Job

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class JobWork(Protocol[R_co]):
    """What a job runs: a benchmark, an eval (later: tuning). The job owns states,
    throttled progress, cancellation and persistence; the work owns its domain."""

    kind: str
    name: str | None
    unit: str  # what `done`/`total` count, for messages ("requests", "cases")

    def describe(self) -> dict[str, Any]: ...

    async def run(self, job: Job[Any]) -> R_co: ...

    def snapshot(self, job: Job[Any]) -> dict[str, Any]: ...

    def partial(self, job: Job[Any], status: str) -> R_co: ...

    def failure(self, result: Any) -> str | None: ...

    def planned_requests(self) -> int: ...
