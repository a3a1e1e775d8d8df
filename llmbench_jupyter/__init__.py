"""llmbench-jupyter: benchmark and evaluate LLM providers from notebooks, the CLI and JupyterHub.

The public API is imported lazily, so ``import llmbench_jupyter`` stays cheap and never
pulls in litellm, pandas or plotly until a feature needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "BenchSpec": "core.workload",
    "BenchResult": "core.workload",
    "arun": "core.workload",
    "run": "core.workload",
    "Target": "core.targets",
    "load_config": "core.config",
    "ConfigError": "core.config",
    "open_store": "store",
    "summarize": "stats",
    "describe": "stats",
    "SimServer": "sim",
    "RequestRecord": "core.records",
    "LLMBenchError": "core.errors",
    "bench": "kernel.api",
    "list_jobs": "kernel.api",
    "evaluate": "kernel.api",
    "load_eval": "analysis.eval_result",
    "EvalResult": "analysis.eval_result",
    "eval_history": "analysis.eval_result",
    "target": "kernel.api",
    "load_suite": "evals.suites",
    "example_files": "jobs.specs",
    "Job": "jobs",
    "JobManager": "jobs",
    "history": "analysis.results",
    "leaderboard": "analysis.results",
    "load": "analysis.results",
    "publish": "analysis.results",
    "audit_log": "analysis.results",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmbench_jupyter' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext llmbench_jupyter``: register ``%llmbench`` (imported only now)."""
    from llmbench_jupyter.kernel.magics import load_ipython_extension as load

    load(ipython)
