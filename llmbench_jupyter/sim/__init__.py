"""The built-in simulated LLM endpoint: the product's default target and its timing test bed.

Serves OpenAI ``/v1/chat/completions`` and Anthropic ``/v1/messages`` (streamed or not)
with per-model timing scenarios (TTFT, ITL, tokens per chunk, jitter, prefill cost,
reasoning), injected faults, scripted responses, and a send-time log that is the ground
truth for measuring a client's timing error. Models: ``sim-fast``, ``sim-medium``,
``sim-slow``, ``sim-reasoning``, or any ``sim:ttft=50,itl=2,tpc=3,out=30,...``. Request
parameters are checked like a strict provider's (:mod:`llmbench_jupyter.sim.params`):
out-of-range or unsupported ones get a 400 naming them.

    async with SimServer(seed=0) as srv:
        ...  # point a client at srv.base_url
"""

from llmbench_jupyter.sim.cli import main, run_forever
from llmbench_jupyter.sim.rules import Rule, RulesError, load_rules
from llmbench_jupyter.sim.scenarios import (
    BUILTIN_SCENARIOS,
    Fault,
    Scenario,
    ScenarioError,
    parse_model_spec,
)
from llmbench_jupyter.sim.server import SimServer

__all__ = [
    "BUILTIN_SCENARIOS",
    "Fault",
    "Rule",
    "RulesError",
    "Scenario",
    "ScenarioError",
    "SimServer",
    "load_rules",
    "main",
    "parse_model_spec",
    "run_forever",
]
