"""The one place tool calls are scored: per-parameter matchers, pairing, outcomes, aggregation.

Rules, every matcher and worked examples are in docs/scoring.md. In short:

* ``passed`` is all or nothing: every expected call made, with the right tool and every
  argument right, nothing extra, nothing unparseable.
* Several calls are paired with their expected calls by optimal assignment (Hungarian),
  never greedily and never by looking at the first call only.
* A call whose arguments do not parse is outcome ``parse_error``; it is never read as
  a correct abstention.
* ``mode="bfcl"`` reproduces BFCL V4's AST checker verdicts instead (greedy in-order
  pairing included) and says in ``bfcl_differs`` when optimal pairing would disagree.

Layout: ``_results`` (outcomes, ``CaseScore``), ``_matchers``, ``_assignment`` (pairing),
``_outcomes`` (shared by both modes), ``_default`` and ``_bfcl_checker`` / ``_bfcl_answers``
(the two modes), ``_schema`` (schema validity), ``_case`` (``score_case``) and
``_aggregate`` (``score_suite``).
"""

from llmbench_jupyter.evals.scoring._aggregate import Rate, SuiteScore, score_suite
from llmbench_jupyter.evals.scoring._assignment import assign
from llmbench_jupyter.evals.scoring._bfcl_answers import to_bfcl_answer
from llmbench_jupyter.evals.scoring._case import score_case
from llmbench_jupyter.evals.scoring._matchers import describe, match_param
from llmbench_jupyter.evals.scoring._results import (
    ERROR_TYPES,
    MODES,
    OUTCOMES,
    CaseScore,
    case_value,
)
from llmbench_jupyter.evals.scoring._summary import (
    SUMMARY_FIELDS,
    stored_summary,
    summary_fields,
)

__all__ = [
    "ERROR_TYPES",
    "MODES",
    "OUTCOMES",
    "SUMMARY_FIELDS",
    "CaseScore",
    "Rate",
    "SuiteScore",
    "assign",
    "case_value",
    "describe",
    "match_param",
    "score_case",
    "score_suite",
    "stored_summary",
    "summary_fields",
    "to_bfcl_answer",
]
