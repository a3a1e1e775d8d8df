"""From problems to a ``CaseScore``, shared by both modes.

A blank score with tool precision/recall/F1, the outcome chosen by precedence, call
labels in explanations, and the irrelevance / "call something" / "no call" cases.
"""

from __future__ import annotations

from collections import Counter

from llmbench_jupyter.evals.model import Case, ParsedCall
from llmbench_jupyter.evals.scoring._results import _RANK, CaseScore


def _blank(
    case: Case,
    mode: str,
    calls: list[ParsedCall],
    outcome: str,
    explanation: list[str],
    expected: list[str] | None = None,
) -> CaseScore:
    if expected is None:
        expected = [e.name for e in case.expected]
    if not case.should_call:
        expected = []
    precision, recall, f1 = _tool_prf(case.should_call, expected, [c.name for c in calls])
    return CaseScore(
        case_id=case.id,
        category=case.category,
        mode=mode,
        passed=outcome == "pass",
        outcome=outcome,
        error_type=None,
        tool_precision=precision,
        tool_recall=recall,
        tool_f1=f1,
        argument_accuracy=None,
        unmatched_expected=list(range(len(expected))),
        unmatched_actual=list(range(len(calls))),
        explanation=explanation,
        n_expected=len(expected),
        n_actual=len(calls),
    )


def _tool_prf(
    should_call: bool, expected: list[str], actual: list[str]
) -> tuple[float | None, float | None, float | None]:
    """Precision/recall/F1 of tool names as multisets (None on "call anything" cases)."""
    if should_call and not expected:
        return None, None, None
    if not expected and not actual:
        return 1.0, 1.0, 1.0
    common = sum((Counter(expected) & Counter(actual)).values())
    precision = common / len(actual) if actual else 0.0
    recall = common / len(expected) if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _call_label(index: int, call: ParsedCall) -> str:
    return f"call {index + 1} {call.name or '(no name)'}"


def _unparsed(index: int, call: ParsedCall) -> tuple[str, str]:
    return (
        "parse_error",
        f"{_call_label(index, call)}: arguments could not be parsed ({call.parse_error})",
    )


def _finish(score: CaseScore, problems: list[tuple[str, str]], passed_sentence: str) -> CaseScore:
    if problems:
        score.outcome = min((p[0] for p in problems), key=_RANK.__getitem__)
        score.explanation = [p[1] for p in problems]
        score.passed = False
    else:
        score.outcome, score.passed, score.explanation = "pass", True, [passed_sentence]
    return score


def _abstention_cases(
    case: Case, calls: list[ParsedCall], mode: str, expected: list[str]
) -> CaseScore | None:
    """Irrelevance, "call something" and "no call made" cases, shared by both modes."""
    if not case.should_call:
        score = _blank(case, mode, calls, "pass", [], expected)
        unparsed = [_unparsed(i, c) for i, c in enumerate(calls) if c.parse_error]
        if not calls:
            return _finish(score, [], "correctly made no tool call")
        if unparsed and mode == "bfcl":
            score.bfcl_differs = (
                "BFCL counts this as an abstention because the output does not decode to a "
                "call; the default mode scores it parse_error"
            )
            return _finish(score, [], "nothing decodes to a call, which BFCL counts as abstaining")
        if unparsed:
            return _finish(score, [*unparsed, ("should_not_call", _called(calls))], "")
        return _finish(score, [("should_not_call", _called(calls))], "")
    if not expected:
        score = _blank(case, mode, calls, "pass", [], expected)
        problems = [_unparsed(i, c) for i, c in enumerate(calls) if c.parse_error]
        if not calls:
            problems.append(("no_call", "expected a tool call, the model made none"))
        return _finish(score, problems, f"made {len(calls)} tool call(s) as expected")
    if not calls:
        sentence = f"expected {len(expected)} call(s) ({', '.join(expected)}), the model made none"
        score = _blank(case, mode, calls, "no_call", [sentence], expected)
        score.argument_accuracy = 0.0
        return score
    return None


def _called(calls: list[ParsedCall]) -> str:
    names = ", ".join(c.name or "(no name)" for c in calls)
    return f"expected no tool call, got {len(calls)}: {names}"
