"""Tool-calling eval: suites of cases, provider-agnostic call parsing, and scoring.

Pure Python and Jupyter-free. The data model is in :mod:`.model`, parsing of every
provider's tool-call format in :mod:`.parsing`, and the one scoring module in
:mod:`.scoring` (rules and worked examples in docs/scoring.md).
"""

from llmbench_jupyter.evals.model import (
    MATCHER_KINDS,
    Case,
    EvalModelError,
    ExpectedCall,
    ParamMatcher,
    ParsedCall,
    Suite,
)
from llmbench_jupyter.evals.parsing import parse_tool_calls
from llmbench_jupyter.evals.scoring import (
    ERROR_TYPES,
    MODES,
    OUTCOMES,
    CaseScore,
    Rate,
    SuiteScore,
    score_case,
    score_suite,
    to_bfcl_answer,
)

__all__ = [
    "ERROR_TYPES",
    "MATCHER_KINDS",
    "MODES",
    "OUTCOMES",
    "Case",
    "CaseScore",
    "EvalModelError",
    "ExpectedCall",
    "ParamMatcher",
    "ParsedCall",
    "Rate",
    "Suite",
    "SuiteScore",
    "parse_tool_calls",
    "score_case",
    "score_suite",
    "to_bfcl_answer",
]
