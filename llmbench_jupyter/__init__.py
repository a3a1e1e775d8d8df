"""llmbench-jupyter: benchmark and evaluate LLM providers from notebooks, the CLI and JupyterHub.

The public API is this small set of names, imported lazily, so ``import llmbench_jupyter``
stays cheap and never pulls in litellm, pandas or plotly until a feature needs them:

- run: :func:`bench`, :func:`evaluate`, :func:`tune`, :func:`tune_prompts`,
  :func:`sweep` and :func:`slo_search` (load sweeps, the highest rate meeting an SLO; each
  returns a running ``Job``), :func:`target`, :class:`BenchSpec` with :func:`arun` for scripts,
  :func:`load_config`, :func:`selftest` (this machine's timing error, measured now);
- results: :func:`load`, :func:`history`, :func:`leaderboard`, :func:`load_eval`,
  :func:`eval_history`, :func:`load_tune`, :func:`load_sweep`, :func:`publish`, :func:`audit_log`,
  :func:`export_html`, :func:`calibrate_judge` (a judge against human labels),
  :func:`trends` and :func:`changes` (speed over time, and who got slower),
  :func:`plot` (the figure of a trends, changes, leaderboard or compare_runs frame);
- experiments: :func:`experiment` (runs with a baseline, compared by the right test;
  :func:`experiment_widget` shows one live, with its forest plot),
  :func:`compare_runs` (N runs side by side); :func:`schedule` (a bench or eval on a cron
  expression, fired by ``llmbench scheduler``);
  :func:`import_results` (the predecessor's exported benchmark results);
- model profiles: :func:`save_profile`, :func:`load_profile`, :func:`profiles`,
  :func:`delete_profile` (apply one with ``profile=`` in bench, evaluate and tune);
- suites: :func:`load_suite` (more in :mod:`llmbench_jupyter.evals`);
- models: :func:`discover_models` (what a provider offers, against the config) and
  :func:`add_models` (into your config file);
- set-up: :func:`onboarding` (the widget: providers, keys, a test request, models) and
  :func:`check_connection` (one short request: does the key work, how fast);
- your API keys: :mod:`keys` (``keys.set``, ``keys.list``, ``keys.delete``);
- errors: every error this package raises on purpose is an :class:`LLMBenchError`.

Everything else lives in the layer packages (``core``, ``stats``, ``evals``, ``store``,
``sim``, ``jobs``, ``analysis`` and the surfaces ``cli``, ``kernel``, ``hub``); see
docs/architecture.md. Their modules are internal unless their package documents them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # run a job
    "bench": "kernel.api",
    "evaluate": "kernel.api",
    "tune": "kernel.api",
    "tune_prompts": "kernel.api",
    "sweep": "kernel.api",
    "slo_search": "kernel.api",
    "target": "kernel.api",
    "selftest": "kernel.api",
    "BenchSpec": "core.workload",
    "arun": "jobs.bench_run",
    "load_config": "core.config",
    # stored results
    "load": "analysis.results",
    "history": "analysis.results",
    "leaderboard": "analysis.results",
    "publish": "analysis.results",
    "audit_log": "analysis.results",
    "load_eval": "analysis.eval_history",
    "load_tune": "analysis.tune_result",
    "load_sweep": "analysis.sweep_result",
    "save_profile": "analysis.profiles",
    "load_profile": "analysis.profiles",
    "profiles": "analysis.profiles",
    "delete_profile": "analysis.profiles",
    "eval_history": "analysis.eval_history",
    "calibrate_judge": "analysis.judge_calibration",
    "experiment": "analysis.experiments",
    "compare_runs": "analysis.experiments",
    "experiment_widget": "kernel.experiment_widget",
    "schedule": "jobs.scheduler",
    "import_results": "store.import_predecessor",
    "trends": "analysis.trends",
    "changes": "analysis.trends",
    "plot": "analysis.analytics_charts",
    "export_html": "analysis.report",
    "load_suite": "evals.suites",
    "discover_models": "jobs.discovery",
    "add_models": "jobs.discovery",
    "check_connection": "jobs.connection",
    "onboarding": "kernel.onboarding_widget",
    # the error hierarchy: all of it derives from LLMBenchError
    "LLMBenchError": "core.errors",
    "InputError": "core.errors",
    "InputTypeError": "core.errors",
    "JudgeError": "evals.judge",
    "RequestFailed": "core.errors",
    "ConfigError": "core.config",
    "DiscoveryError": "core.discovery",
    "StatsInputError": "stats",
    "EvalModelError": "evals.model",
    "SuiteError": "evals.suites",
    "MockToolError": "evals.mocks",
    "MCPImportError": "evals.importers",
    "RulesError": "sim.rules",
    "ScenarioError": "sim.scenarios",
    "VaultError": "store.vault",
    "JobError": "jobs.states",
    "ProposerError": "jobs.tune.proposer",
    "ClusterError": "hub.pgcluster",
    "HubAuthConfigError": "hub.auth",
    "HubConfigError": "hub.spawn",
    "HubSetupError": "hub.deploy",
    "ProvisionError": "hub.provision",
    "SecretFileError": "hub.secret_files",
}
#: Public modules reachable as attributes: ``lj.keys.set("openai", "sk-...")``.
_MODULES = {"keys": "store.keys"}

__all__ = ["__version__", *sorted(_EXPORTS), *sorted(_MODULES)]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = import_module(f".{_MODULES[name]}", __name__)
    elif name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'llmbench_jupyter' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext llmbench_jupyter``: register ``%llmbench`` (imported only now)."""
    from llmbench_jupyter.kernel.magics import load_ipython_extension as load

    load(ipython)
