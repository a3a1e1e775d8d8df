"""Tool-calling eval: suites of cases, provider-agnostic call parsing, scoring and judging.

Pure Python and Jupyter-free. The public functions are re-exported here:
:func:`load_suite` / :func:`dump_suite` (YAML or JSON suites, strictly validated),
:func:`import_bfcl` (BFCL's own data files), :func:`parse_tool_calls` (any provider's
response format), :func:`score_case` / :func:`score_suite` (rules and worked examples in
docs/scoring.md). The subpackages hold the rest and are internal unless their
``__init__`` documents a name: :mod:`.model` (the data model), :mod:`.suites`,
:mod:`.importers` (BFCL, the predecessor's JSON, MCP servers), :mod:`.scoring`,
:mod:`.judge`, :mod:`.mocks`, :mod:`.runner` and :mod:`.chat`.
"""

from llmbench_jupyter.evals.importers import import_bfcl
from llmbench_jupyter.evals.parsing import parse_tool_calls
from llmbench_jupyter.evals.scoring import score_case, score_suite
from llmbench_jupyter.evals.suites import dump_suite, load_suite

__all__ = [
    "dump_suite",
    "import_bfcl",
    "load_suite",
    "parse_tool_calls",
    "score_case",
    "score_suite",
]
