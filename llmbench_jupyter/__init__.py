"""llmbench-jupyter: benchmark and evaluate LLM providers from notebooks, the CLI and JupyterHub.

The public API is imported lazily, so ``import llmbench_jupyter`` stays cheap and never
pulls in litellm, pandas or plotly until a feature needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "BenchSpec": "workloads",
    "BenchResult": "workloads",
    "arun": "workloads",
    "run": "workloads",
    "Target": "targets",
    "load_config": "config",
    "ConfigError": "config",
    "open_store": "store",
    "summarize": "stats",
    "describe": "stats",
    "SimServer": "sim",
    "RequestRecord": "records",
    "LLMBenchError": "errors",
    "bench": "api",
    "list_jobs": "api",
    "evaluate": "api",
    "load_eval": "evals.result",
    "EvalResult": "evals.result",
    "eval_history": "evals.result",
    "target": "api",
    "load_suite": "evals.suites",
    "example_files": "specs",
    "Job": "jobs",
    "JobManager": "jobs",
    "history": "results",
    "leaderboard": "results",
    "load": "results",
    "publish": "results",
    "audit_log": "results",
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
    from .kernel.magics import load_ipython_extension as load

    load(ipython)
