"""Workloads: spec and plan, prompt preparation, the engine, and what a run produced."""

from llmbench_jupyter.core.workload.engine import FinishHook, RecordSink, arun
from llmbench_jupyter.core.workload.prepare import Prepared, prepare
from llmbench_jupyter.core.workload.result import WorkloadResult
from llmbench_jupyter.core.workload.spec import (
    DEFAULT_PROMPT,
    BenchSpec,
    Phase,
    describe_run,
    max_tokens_for,
    plan,
    request_params,
)

__all__ = [
    "DEFAULT_PROMPT",
    "BenchSpec",
    "FinishHook",
    "Phase",
    "Prepared",
    "RecordSink",
    "WorkloadResult",
    "arun",
    "describe_run",
    "max_tokens_for",
    "plan",
    "prepare",
    "request_params",
]
