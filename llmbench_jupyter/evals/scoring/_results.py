"""What scoring produces: the outcome vocabulary and the verdict on one case.

One definition of the outcomes, their precedence and ``CaseScore`` for every scoring
module (both modes, aggregation, the judge's threshold via ``case_value``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODES = ("default", "bfcl")
#: Every per-case outcome; the order is the precedence when a case has several problems.
OUTCOMES = (
    "pass",
    "api_error",
    "parse_error",
    "should_not_call",
    "no_call",
    "wrong_tool",
    "missing_call",
    "extra_call",
    "missing_argument",
    "wrong_arguments",
    "hallucinated_argument",
    "wrong_order",
    "wrong_state",
)
#: The issue's error-type vocabulary (``CaseScore.error_type``), finer for argument values.
ERROR_TYPES = (
    "wrong_tool",
    "missing_call",
    "extra_call",
    "wrong_value",
    "hallucinated_param",
    "missing_param",
    "type_error",
    "parse_error",
    "api_error",
    "wrong_order",
)
_RANK = {name: i for i, name in enumerate(OUTCOMES)}
_ERROR_TYPE = {
    "api_error": "api_error",
    "parse_error": "parse_error",
    "should_not_call": "extra_call",
    "no_call": "missing_call",
    "wrong_tool": "wrong_tool",
    "missing_call": "missing_call",
    "extra_call": "extra_call",
    "missing_argument": "missing_param",
    "hallucinated_argument": "hallucinated_param",
    "wrong_order": "wrong_order",
    "wrong_state": "wrong_value",
}


@dataclass(slots=True)
class CaseScore:
    """The verdict on one case, with the evidence (see docs/scoring.md for each field)."""

    case_id: str
    category: str
    mode: str
    passed: bool
    outcome: str
    error_type: str | None
    tool_precision: float | None
    tool_recall: float | None
    tool_f1: float | None
    argument_accuracy: float | None
    pairs: list[tuple[int, int, dict[str, dict[str, Any]]]] = field(default_factory=list)
    unmatched_expected: list[int] = field(default_factory=list)
    unmatched_actual: list[int] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    bfcl_differs: str | None = None
    n_expected: int = 0
    n_actual: int = 0
    n_arguments: int = 0  # arguments given in calls paired with a same-name expected call
    hallucinated_arguments: int = 0
    schema_valid: bool | None = None  # every call valid against the offered tools' schemas
    schema_errors: list[str] = field(default_factory=list)
    abstention_correct: bool | None = None  # irrelevance cases only
    notes: list[str] = field(default_factory=list)

    @property
    def hallucination_rate(self) -> float | None:
        return self.hallucinated_arguments / self.n_arguments if self.n_arguments else None

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["pairs"] = [[e, a, verdicts] for e, a, verdicts in self.pairs]
        out["hallucination_rate"] = self.hallucination_rate
        return out


def case_value(score: CaseScore) -> float:
    """One number per case in [0, 1] (auto-judge threshold): 1 if passed, else the mean of the
    defined tool F1 and argument accuracy, 0 when neither is defined or the request failed
    (an API error says nothing about the model's calls) (docs/scoring.md)."""
    if score.outcome == "api_error":
        return 0.0
    parts = [v for v in (score.tool_f1, score.argument_accuracy) if v is not None]
    return 1.0 if score.passed else (sum(parts) / len(parts) if parts else 0.0)


@dataclass(slots=True)
class _Eval:
    """One expected call judged against one actual call."""

    name_ok: bool
    valid: bool
    params_ok: int
    verdicts: dict[str, dict[str, Any]]
    problems: list[tuple[str, str]]  # (outcome, sentence) in report order
    n_arguments: int = 0
    hallucinated: int = 0
