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
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import scrub
from llmbench_jupyter.evals.model import (
    Case,
    EvalModelError,
    ExpectedCall,
    ParamMatcher,
    ParsedCall,
    is_matcher_spec,
)

__all__ = [
    "ERROR_TYPES",
    "MODES",
    "OUTCOMES",
    "CaseScore",
    "Rate",
    "SuiteScore",
    "assign",
    "case_value",
    "match_param",
    "score_case",
    "score_suite",
    "to_bfcl_answer",
]

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
_MISSING: Any = object()


# =========================================================================== matchers


def _jtype(value: Any) -> str:
    """JSON type name of a value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _exact(expected: Any, actual: Any) -> str | None:
    """Type-strict deep equality (an int is accepted for a float). None, or the problem kind."""
    if isinstance(expected, float) and type(actual) is int:
        return None if float(actual) == expected else "wrong_value"
    if _jtype(expected) != _jtype(actual):
        return "type_error"
    if isinstance(expected, dict):
        if set(expected) != set(actual):
            return "wrong_value"
        problems = [_exact(v, actual[k]) for k, v in expected.items()]
        return next((p for p in problems if p), None)
    if isinstance(expected, list | tuple):
        if len(expected) != len(actual):
            return "wrong_value"
        return next((p for e, a in zip(expected, actual, strict=True) if (p := _exact(e, a))), None)
    return None if expected == actual else "wrong_value"


def _norm_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def describe(matcher: ParamMatcher) -> str:
    """What a matcher accepts, in words (used in verdicts and explanations)."""
    kind, value = matcher.kind, matcher.value
    if kind == "exact":
        text = repr(value)
    elif kind == "one_of":
        text = f"one of {value!r}"
    elif kind == "numeric":
        tols = []
        if matcher.abs_tol is not None:
            tols.append(f"±{matcher.abs_tol:g}")
        if matcher.rel_tol is not None:
            tols.append(f"±{matcher.rel_tol:.4g}×")
        text = f"{value!r} {' or '.join(tols)}".strip()
    elif kind == "text":
        text = f"text {value!r} (any case/spacing)"
    elif kind == "regex":
        text = f"a string matching /{value}/"
    elif kind == "unordered":
        items = [describe(v) if isinstance(v, ParamMatcher) else repr(v) for v in value]
        text = f"in any order [{', '.join(items)}]"
    elif kind == "object":
        inner = ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items())
        text = "{" + inner + "}"
    elif kind == "any":
        text = "any value"
    else:  # optional
        return "any value or nothing"
    return f"{text} (optional)" if matcher.optional else text


def _match(matcher: ParamMatcher, actual: Any) -> tuple[str, str] | None:
    """Judge one present value: None when it matches, else (problem, reason)."""
    kind, value = matcher.kind, matcher.value
    problem: str | None = None
    detail = ""
    if kind in ("any", "optional"):
        return None
    if kind == "exact":
        problem = _exact(value, actual)
    elif kind == "one_of":
        results = [_exact(option, actual) for option in value]
        if None not in results:
            problem = "wrong_value" if "wrong_value" in results else "type_error"
    elif kind == "numeric":
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            problem = "type_error"
        else:
            tol = max(matcher.abs_tol or 0.0, (matcher.rel_tol or 0.0) * abs(value))
            if not abs(actual - value) <= tol:  # also false for NaN
                problem = "wrong_value"
    elif kind in ("text", "regex"):
        if not isinstance(actual, str):
            problem = "type_error"
        elif (kind == "text" and _norm_text(actual) != _norm_text(value)) or (
            kind == "regex" and re.search(value, actual) is None
        ):
            problem = "wrong_value"
    elif kind == "unordered":
        if not isinstance(actual, list):
            problem = "type_error"
        elif len(actual) != len(value):
            problem, detail = "wrong_value", f" ({len(actual)} items, expected {len(value)})"
        else:
            ok = [[_item_ok(e, a) for a in actual] for e in value]
            if len(assign([[int(x) for x in row] for row in ok], require_positive=True)) < len(
                value
            ):
                problem = "wrong_value"
    elif kind == "object":
        if not isinstance(actual, dict):
            problem = "type_error"
        else:
            reasons = []
            for key, sub in value.items():
                verdict = match_param(sub, actual.get(key, _MISSING))
                if not verdict["ok"]:
                    reasons.append(f"{key!r} {verdict['reason']}")
            reasons += [f"{key!r} is not expected" for key in actual if key not in value]
            if reasons:
                problem, detail = "wrong_value", " (" + "; ".join(reasons) + ")"
    if problem is None:
        return None
    if problem == "type_error":
        detail = f" (a {_jtype(actual)})"
    return problem, f"expected {describe(matcher)} got {actual!r}{detail}"


def _item_ok(expected: Any, actual: Any) -> bool:
    if isinstance(expected, ParamMatcher):
        return _match(expected, actual) is None
    return _exact(expected, actual) is None


def match_param(matcher: ParamMatcher, actual: Any = _MISSING) -> dict[str, Any]:
    """Verdict for one parameter: ``{ok, expected, actual, reason, problem}``.

    Leave ``actual`` out for an omitted argument. ``problem`` is None, ``"missing"``,
    ``"type_error"`` or ``"wrong_value"``.
    """
    expected = describe(matcher)
    if actual is _MISSING:
        if matcher.optional or matcher.kind == "optional":
            return _verdict(True, expected, None, "omitted (optional)", None)
        return _verdict(False, expected, None, f"missing (expected {expected})", "missing")
    result = _match(matcher, actual)
    if result is None:
        return _verdict(True, expected, actual, "", None)
    return _verdict(False, expected, actual, result[1], result[0])


def _verdict(ok: bool, expected: Any, actual: Any, reason: str, problem: str | None) -> dict:
    return {"ok": ok, "expected": expected, "actual": actual, "reason": reason, "problem": problem}


# =========================================================================== assignment


def assign(
    weights: Sequence[Sequence[float]], *, require_positive: bool = False
) -> list[tuple[int, int]]:
    """Maximum-weight assignment of rows to columns (Hungarian algorithm, O(n³)).

    Returns sorted ``(row, column)`` pairs; a rectangular matrix pairs min(rows, cols).
    With ``require_positive`` pairs of weight <= 0 are dropped (bipartite matching use).
    """
    rows = len(weights)
    cols = len(weights[0]) if rows else 0
    if rows == 0 or cols == 0:
        return []
    n = max(rows, cols)
    top = max(max(row) for row in weights)

    def cost(i: int, j: int) -> float:
        return top - (weights[i][j] if i < rows and j < cols else 0)

    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    owner = [0] * (n + 1)  # owner[j]: row (1-based) assigned to column j
    way = [0] * (n + 1)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = [math.inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = owner[j0], math.inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost(i0 - 1, j - 1) - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    pairs = [(owner[j] - 1, j - 1) for j in range(1, n + 1) if 0 < owner[j] <= rows and j <= cols]
    if require_positive:
        pairs = [(i, j) for i, j in pairs if weights[i][j] > 0]
    return sorted(pairs)


# =========================================================================== results


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


# =========================================================================== entry point


def score_case(
    case: Case,
    calls: Iterable[ParsedCall],
    *,
    mode: str = "default",
    tools: Sequence[Mapping[str, Any]] | None = None,
    error: str | None = None,
    final_state: Any = None,
) -> CaseScore:
    """Score the calls a model made on one case.

    ``tools``: the suite's tools (OpenAI ``{"type": "function", "function": {...}}`` or bare
    function dicts) for schema validity and, in bfcl mode, parameter types and required
    lists; without them ``case.source["function"]`` (BFCL entries) is used if present.
    ``error``: the request failed (outcome ``api_error``; the message is scrubbed).
    ``final_state``: the stateful mock tools' state after a multi-turn case; checked
    against ``case.expected_final_state`` (default mode).
    """
    if mode not in MODES:
        raise EvalModelError(f"unknown scoring mode {mode!r}; expected one of {list(MODES)}")
    if not isinstance(case, Case):
        raise TypeError(f"score_case needs a Case, got {type(case).__name__}")
    call_list = list(calls)
    for i, call in enumerate(call_list):
        if not isinstance(call, ParsedCall):
            raise TypeError(
                f"case {case.id!r}: call {i} is a {type(call).__name__}; expected a ParsedCall "
                "(see llmbench_jupyter.evals.parsing.parse_tool_calls)"
            )
    specs = _tool_specs(case, tools)
    if error is not None:
        score = _blank(case, mode, call_list, "api_error", [f"the request failed: {scrub(error)}"])
    elif mode == "bfcl":
        score = _score_bfcl(case, call_list, specs)
    else:
        score = _score_default(case, call_list)
        problems = _sequence_problems(case.required_sequence, [c.name for c in call_list])
        if case.expected_final_state is not None:
            problems += _state_problems(case.expected_final_state, final_state)
        if problems and score.passed:
            _finish(score, problems, "")
        elif problems:
            score.explanation += [p[1] for p in problems]
            outcomes = [score.outcome, *(p[0] for p in problems)]
            score.outcome = min(outcomes, key=_RANK.__getitem__)
    score.schema_errors = _schema_errors(call_list, specs) if specs is not None else []
    score.schema_valid = None if specs is None else not score.schema_errors
    if not case.should_call:
        score.abstention_correct = score.passed
    score.error_type = _error_type(score)
    return score


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


def _error_type(score: CaseScore) -> str | None:
    if score.outcome == "pass":
        return None
    if score.outcome == "wrong_arguments":
        problems = [
            v["problem"] for _, _, verdicts in score.pairs for v in verdicts.values() if not v["ok"]
        ]
        return "type_error" if problems[:1] == ["type_error"] else "wrong_value"
    return _ERROR_TYPE[score.outcome]


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


# =========================================================================== default mode


def _judge(expected: ExpectedCall, index: int, call: ParsedCall) -> _Eval:
    label = _call_label(index, call)
    if not expected.accepts(call.name):
        want = " or ".join([expected.name, *expected.alternatives])
        return _Eval(False, False, 0, {}, [("wrong_tool", f"{label}: expected {want}")])
    if call.arguments is None:
        return _Eval(True, False, 0, {}, [_unparsed(index, call)])
    verdicts: dict[str, dict[str, Any]] = {}
    problems: list[tuple[str, str]] = []
    outcome_of = {"missing": "missing_argument", "type_error": "wrong_arguments"}
    for name, matcher in expected.params.items():
        verdict = match_param(matcher, call.arguments.get(name, _MISSING))
        verdicts[name] = verdict
        if not verdict["ok"]:
            kind = outcome_of.get(verdict["problem"], "wrong_arguments")
            problems.append((kind, f"{label}: {name} {verdict['reason']}"))
    hallucinated = 0
    if not expected.allow_extra_params:
        for name, value in call.arguments.items():
            if name not in expected.params:
                hallucinated += 1
                verdicts[name] = _verdict(
                    False, None, value, "not expected (hallucinated argument)", "hallucinated"
                )
                problems.append(
                    ("hallucinated_argument", f"{label}: {name}={value!r} was not expected")
                )
    ok = sum(1 for name in expected.params if verdicts[name]["ok"])
    return _Eval(True, not problems, ok, verdicts, problems, len(call.arguments), hallucinated)


def _pair_weights(evals: list[list[_Eval]]) -> list[list[int]]:
    """Integer weights ranking pairs by: same name, then fully right, then params right.

    Each tier outweighs everything below it summed over all pairs; a tie-break below all
    of them keeps in-order pairs when nothing else distinguishes them (stable reports).
    """
    n = max(len(evals), len(evals[0]))
    max_params = max((e.params_ok for row in evals for e in row), default=0)
    tier_valid = n * (max_params + 1) + 1
    tier_name = n * (tier_valid + max_params + 1) + 1
    return [
        [
            (e.name_ok * tier_name + e.valid * tier_valid + e.params_ok) * (n + 1) + (i == j)
            for j, e in enumerate(row)
        ]
        for i, row in enumerate(evals)
    ]


def _score_default(case: Case, calls: list[ParsedCall]) -> CaseScore:
    early = _abstention_cases(case, calls, "default", [e.name for e in case.expected])
    if early is not None:
        return early
    expected = case.expected
    evals = [[_judge(e, j, c) for j, c in enumerate(calls)] for e in expected]
    pairs = assign(_pair_weights(evals))
    score = _blank(case, "default", calls, "pass", [])
    _fill_pairs(score, [len(e.params) for e in expected], evals, pairs)
    if any(e.alternatives for e in expected):  # an accepted alternative counts as the name
        names = [e.name for e in expected]
        for i, j in pairs:
            if evals[i][j].name_ok:
                names[i] = calls[j].name
        prf = _tool_prf(True, names, [c.name for c in calls])
        score.tool_precision, score.tool_recall, score.tool_f1 = prf
    problems: list[tuple[str, str]] = []
    for i, j in pairs:
        problems += evals[i][j].problems
    for i in score.unmatched_expected:
        problems.append(("missing_call", f"expected call {i + 1} {expected[i].name} was not made"))
    for j in score.unmatched_actual:
        call = calls[j]
        problems.append(
            _unparsed(j, call)
            if call.parse_error
            else ("extra_call", f"{_call_label(j, call)}: not expected (extra call)")
        )
    if case.ordered and len(pairs) > 1:
        order = [j for _, j in sorted(pairs)]
        if order != sorted(order):
            got = ", ".join(calls[j].name for j in sorted(order))
            want = ", ".join(expected[i].name for i, _ in sorted(pairs))
            problems.append(("wrong_order", f"calls came in the order {got}; expected {want}"))
    return _finish(score, problems, f"all {len(expected)} expected call(s) match")


def _fill_pairs(
    score: CaseScore,
    n_params: list[int],
    evals: list[list[_Eval]],
    pairs: list[tuple[int, int]],
) -> None:
    """Record pairs, leftovers and argument metrics (``n_params``: params per expected call)."""
    score.pairs = [(i, j, evals[i][j].verdicts) for i, j in pairs]
    score.unmatched_expected = sorted(set(range(len(n_params))) - {i for i, _ in pairs})
    score.unmatched_actual = sorted(set(range(score.n_actual)) - {j for _, j in pairs})
    total = sum(n_params)
    ok = sum(evals[i][j].params_ok for i, j in pairs if evals[i][j].name_ok)
    score.argument_accuracy = ok / total if total else None
    score.n_arguments = sum(evals[i][j].n_arguments for i, j in pairs if evals[i][j].name_ok)
    score.hallucinated_arguments = sum(evals[i][j].hallucinated for i, j in pairs)


def _sequence_problems(required: list[str], made: list[str]) -> list[tuple[str, str]]:
    """``required`` must occur in ``made`` as a subsequence (other calls may come between)."""
    if not required:
        return []
    pos = 0
    for name in made:
        if pos < len(required) and name == required[pos]:
            pos += 1
    if pos == len(required):
        return []
    missing = [n for n in required if n not in made]
    if missing:
        return [("missing_call", f"required call(s) {', '.join(missing)} never made")]
    return [
        (
            "wrong_order",
            f"calls {', '.join(made)} do not contain the required sequence "
            f"{' -> '.join(required)} in order",
        )
    ]


def _state_problems(expected: Mapping[str, Any], state: Any) -> list[tuple[str, str]]:
    """The mock tools' final state against ``expected_final_state``.

    Only the keys listed are checked, recursively through plain mappings; any other value
    is a matcher (short or long form), so a suite states what must hold and leaves the
    rest of the state free.
    """
    if state is None:
        return [("wrong_state", "no final state: the case has no stateful mock tools to inspect")]
    reasons = _state_diff(expected, state, "")
    return [("wrong_state", f"final state: {'; '.join(reasons)}")] if reasons else []


def _state_diff(expected: Mapping[str, Any], actual: Any, path: str) -> list[str]:
    if not isinstance(actual, Mapping):
        return [f"{path or 'state'} expected a mapping, got {actual!r}"]
    reasons: list[str] = []
    for key, spec in expected.items():
        where = f"{path}.{key}" if path else str(key)
        if isinstance(spec, Mapping) and not is_matcher_spec(spec):
            if key not in actual:
                reasons.append(f"{where} is missing")
            else:
                reasons += _state_diff(spec, actual[key], where)
            continue
        verdict = match_param(ParamMatcher.parse(spec, where), actual.get(key, _MISSING))
        if not verdict["ok"]:
            reasons.append(f"{where} {verdict['reason']}")
    return reasons


# =========================================================================== tool schemas


def _specs_from(case: Case, source: Any) -> dict[str, dict[str, Any]]:
    """Function specs by name from OpenAI tools or bare/BFCL function dicts."""
    if isinstance(source, Mapping):
        source = [source]
    if not isinstance(source, list | tuple):
        raise EvalModelError(f"case {case.id!r}: tools must be a list of tool definitions")
    specs: dict[str, dict[str, Any]] = {}
    for i, tool in enumerate(source):
        spec = tool.get("function") if isinstance(tool, Mapping) else None
        spec = spec if isinstance(spec, Mapping) else tool
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise EvalModelError(
                f"case {case.id!r}: tool {i} has no function name; expected an OpenAI tool "
                '{"type": "function", "function": {"name": ..., "parameters": ...}}'
            )
        specs[spec["name"]] = dict(spec)
    return specs


def _tool_specs(
    case: Case, tools: Sequence[Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]] | None:
    """The tools offered on this case, by the name the model sees, or None if unknown.

    ``tools`` (the suite's) narrowed to ``case.tools``; else a BFCL entry's own
    ``source["function"]`` renamed through ``source["name_map"]`` (dots are not allowed
    in OpenAI tool names, so importers rename ``math.factorial``).
    """
    if tools is not None:
        specs = _specs_from(case, list(tools))
        if case.tools is not None:
            specs = {name: s for name, s in specs.items() if name in case.tools}
        return specs
    if case.source.get("function") is None:
        return None
    renamed = _name_map(case)
    return {
        renamed.get(name, name): spec
        for name, spec in _specs_from(case, case.source["function"]).items()
    }


def _name_map(case: Case) -> dict[str, str]:
    name_map = case.source.get("name_map")
    return dict(name_map) if isinstance(name_map, Mapping) else {}


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "float": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "tuple": (list,),
    "object": (dict,),
    "dict": (dict,),
    "null": (type(None),),
}


def _schema_errors(calls: list[ParsedCall], specs: dict[str, dict[str, Any]]) -> list[str]:
    errors: list[str] = []
    for j, call in enumerate(calls):
        label = _call_label(j, call)
        if call.name not in specs:
            errors.append(f"{label}: not an offered tool")
        elif call.arguments is None:
            errors.append(f"{label}: arguments could not be parsed")
        else:
            schema = specs[call.name].get("parameters") or {"type": "object"}
            errors += [f"{label}: {e}" for e in _validate(schema, call.arguments, "arguments")]
    return errors


def _validate(schema: Any, value: Any, path: str) -> list[str]:
    """The JSON-Schema subset function tools use: type, enum, required, properties, items."""
    if not isinstance(schema, Mapping):
        return []
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    allowed = [_JSON_TYPES[k] for k in kinds if k in _JSON_TYPES]
    if allowed:
        fits = any(
            isinstance(value, t) and not (isinstance(value, bool) and bool not in t)
            for t in allowed
        )
        if not fits:
            return [f"{path} is a {_jtype(value)}, schema says {'/'.join(kinds)}"]
    if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
        return [f"{path}={value!r} is not one of {schema['enum']!r}"]
    errors: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        errors += [
            f"{path}.{name} is required"
            for name in schema.get("required") or []
            if name not in value
        ]
        for name, item in value.items():
            if name in props:
                errors += _validate(props[name], item, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}.{name} is not in the schema")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for k, item in enumerate(value):
            errors += _validate(schema["items"], item, f"{path}[{k}]")
    return errors


# =========================================================================== bfcl mode


class _Fallback:
    """A matcher BFCL's answer format cannot express; judged by the default rules."""

    __slots__ = ("matcher",)

    def __init__(self, matcher: ParamMatcher):
        self.matcher = matcher

    def __repr__(self) -> str:
        return describe(self.matcher)


def _bfcl_value(value: Any) -> Any:
    """An exact value as BFCL writes acceptable values (dict values become lists)."""
    if isinstance(value, dict):
        return {k: [v] for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [{k: [x] for k, x in v.items()} for v in value]
    return value


def _bfcl_acceptable(matcher: ParamMatcher) -> list[Any] | _Fallback:
    kind = matcher.kind
    values: list[Any]
    if (
        kind == "exact"
        or kind == "text"
        or (kind == "numeric" and matcher.abs_tol is None and matcher.rel_tol is None)
    ):
        values = [_bfcl_value(matcher.value)]
    elif kind == "one_of":
        values = [_bfcl_value(v) for v in matcher.value]
    elif kind == "object" and all(
        isinstance(sub, ParamMatcher) and isinstance(_bfcl_acceptable(sub), list)
        for sub in matcher.value.values()
    ):
        values = [{k: _bfcl_acceptable(sub) for k, sub in matcher.value.items()}]
    else:
        return _Fallback(matcher)
    return [*values, ""] if matcher.optional else values


def to_bfcl_answer(expected: Sequence[ExpectedCall]) -> list[dict[str, dict[str, Any]]]:
    """Expected calls as a BFCL ``possible_answer`` list: ``[{name: {param: [values]}}]``.

    Matchers BFCL cannot express (regex, any, optional-any, numeric tolerance, unordered,
    objects holding those) raise EvalModelError; score_case's bfcl mode judges them by
    the default rules instead and notes it.
    """
    out = []
    for call in expected:
        params: dict[str, Any] = {}
        for name, matcher in call.params.items():
            acceptable = _bfcl_acceptable(matcher)
            if isinstance(acceptable, _Fallback):
                raise EvalModelError(
                    f"{call.name}.{name}: a {matcher.kind} matcher has no BFCL equivalent"
                )
            params[name] = acceptable
        out.append({call.name: params})
    return out


def _bfcl_answers(case: Case) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The case's BFCL answer: ``source["possible_answer"]`` or converted matchers."""
    raw = case.source.get("possible_answer")
    notes: list[str] = []
    if raw is None:
        answers = []
        for call in case.expected:
            params: dict[str, Any] = {}
            for name, matcher in call.params.items():
                params[name] = _bfcl_acceptable(matcher)
                if isinstance(params[name], _Fallback):
                    notes.append(
                        f"{call.name}.{name} uses a {matcher.kind} matcher, which BFCL cannot "
                        "express: judged by the default rules"
                    )
            answers.append((call.name, params))
        return answers, notes
    if isinstance(raw, Mapping) and "ground_truth" in raw:
        raw = raw["ground_truth"]
    where = f"case {case.id!r}: source.possible_answer"
    if not isinstance(raw, list):
        raise EvalModelError(f"{where} must be a list of {{function: {{param: [values]}}}}")
    answers = []
    for k, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise EvalModelError(f"{where}[{k}] must be a mapping with exactly one function name")
        ((name, params),) = entry.items()
        if not isinstance(params, Mapping):
            raise EvalModelError(f"{where}[{k}].{name} must map parameters to value lists")
        answers.append(
            (str(name), {p: v if isinstance(v, list) else [v] for p, v in params.items()})
        )
    return answers, notes


_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
    "any": str,
}


def _bfcl_std(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ,./-_*^, lower-case, ' -> "."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def _first_type(acceptable: list[Any]) -> type | None:
    return next((type(a) for a in acceptable if a != ""), None)


def _bfcl_type_ok(
    value: Any, acceptable: list[Any], expected: type, nested: type | None
) -> tuple[bool, bool]:
    """BFCL's type_checker: (valid, is_variable). Nested types are checked one level deep."""
    answer_type = _first_type(acceptable)
    is_variable = answer_type is not None and answer_type is not expected
    items: list[Any] = value if isinstance(value, list) else []
    if type(value) is expected:
        if nested is None:
            return True, is_variable
        for option in acceptable:
            if type(option) is list and not all(
                _bfcl_type_ok(item, option, nested, None)[0] for item in items
            ):
                continue
            return True, is_variable
        return False, is_variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, is_variable


def _bfcl_dict_ok(value: dict[str, Any], acceptable: list[Any]) -> bool:
    for option in acceptable:
        if option == "" or not isinstance(option, dict):
            continue
        good = True
        for key, item in value.items():
            if key not in option:
                good = False
                break
            std = _bfcl_std(item) if type(item) is str else item
            allowed = option[key] if isinstance(option[key], list) else [option[key]]
            if std not in [_bfcl_std(a) if type(a) is str else a for a in allowed]:
                good = False
                break
        if good and all(
            key in value or "" in (v if isinstance(v, list) else [v]) for key, v in option.items()
        ):
            return True
    return False


def _bfcl_list_ok(value: list[Any], acceptable: list[Any]) -> bool:
    std = [_bfcl_std(v) if type(v) is str else v for v in value]
    options = [
        [_bfcl_std(a) if type(a) is str else a for a in option]
        for option in acceptable
        if isinstance(option, list | str)
    ]
    return std in options


def _bfcl_list_dict_ok(value: list[Any], acceptable: list[Any]) -> bool:
    for option in acceptable:
        if not isinstance(option, list | str) or len(option) != len(value):
            continue
        if all(_bfcl_dict_ok(v, [o]) for v, o in zip(value, option, strict=True)):
            return True
    return False


def _bfcl_param(
    value: Any, acceptable: list[Any], spec: Mapping[str, Any] | None
) -> tuple[str, str] | None:
    """One parameter under BFCL's rules: None when valid, else (problem, detail)."""
    type_name = spec.get("type") if spec else None
    if not isinstance(type_name, str) or type_name not in _PY_TYPES:
        inferred = _first_type(acceptable)
        type_name = next((k for k, t in _PY_TYPES.items() if t is inferred), None)
    expected = _PY_TYPES.get(type_name or "")
    nested: type | None = None
    if type_name in ("array", "tuple"):
        items = spec.get("items") if spec else None
        item_type = items.get("type") if isinstance(items, Mapping) else None
        if isinstance(item_type, str):
            nested = _PY_TYPES.get(item_type)
        elif spec is None:
            first = next((a for a in acceptable if isinstance(a, list) and a), None)
            nested = type(first[0]) if first else None
    if type_name in ("float", "number") and type(value) is int:
        value = float(value)
    is_variable = expected is None
    if expected is not None:
        valid, is_variable = _bfcl_type_ok(value, acceptable, expected, nested)
        if not valid and type(value) is expected and nested is not None:
            item_type = next((k for k, t in _PY_TYPES.items() if t is nested), "?")
            return "type_error", f"items must be {item_type}; int counts as float only at top level"
        if not valid:
            return "type_error", f"wrong type {_jtype(value)}, BFCL expects {type_name}"
    if not is_variable:
        if expected is dict:
            ok = _bfcl_dict_ok(value, acceptable)
        elif expected is list and nested is dict:
            ok = _bfcl_list_dict_ok(value, acceptable)
        elif expected is str:
            ok = _bfcl_std(value) in [_bfcl_std(a) for a in acceptable if type(a) is str]
        elif expected is list:
            ok = _bfcl_list_ok(value, acceptable)
        else:
            ok = value in acceptable
    else:
        ok = value in acceptable
    return None if ok else ("wrong_value", "")


def _bfcl_judge(
    answer: tuple[str, dict[str, Any]],
    spec: Mapping[str, Any] | None,
    index: int,
    call: ParsedCall,
    alias: str,
) -> _Eval:
    """BFCL's simple_function_checker on one pair; problems in the order BFCL reports them."""
    name, acceptable_by_param = answer
    label = _call_label(index, call)
    if call.name not in (name, name.replace(".", "_"), alias):
        return _Eval(False, False, 0, {}, [("wrong_tool", f"{label}: expected {name}")])
    args = call.arguments or {}
    params_schema = (spec or {}).get("parameters") or {}
    properties = params_schema.get("properties") if spec else None
    required = params_schema.get("required") if spec else None
    if required is None:  # no schema: what the answer cannot omit is required
        required = [
            p
            for p, acc in acceptable_by_param.items()
            if not (isinstance(acc, _Fallback) and acc.matcher.optional)
            and not (isinstance(acc, list) and "" in acc)
        ]
    verdicts: dict[str, dict[str, Any]] = {}
    problems: list[tuple[str, str]] = []
    for param in required:
        if param not in args:
            verdicts[param] = _verdict(
                False, "required", None, "missing required parameter", "missing"
            )
            problems.append(("missing_argument", f"{label}: required {param} is missing"))
    for param, value in args.items():
        acceptable = acceptable_by_param.get(param)
        if acceptable is None or (properties is not None and param not in properties):
            verdicts[param] = _verdict(
                False, None, value, "not in the possible answer (hallucinated)", "hallucinated"
            )
            problems.append(
                ("hallucinated_argument", f"{label}: {param}={value!r} was not expected")
            )
            continue
        if isinstance(acceptable, _Fallback):
            verdicts[param] = match_param(acceptable.matcher, value)
        else:
            prop = properties.get(param) if isinstance(properties, Mapping) else None
            result = _bfcl_param(value, acceptable, prop)
            shown = list(acceptable)
            if result is None:
                verdicts[param] = _verdict(True, f"one of {shown!r}", value, "", None)
            else:
                reason = f"expected one of {shown!r} got {value!r}"
                reason += f" ({result[1]})" if result[1] else ""
                verdicts[param] = _verdict(False, f"one of {shown!r}", value, reason, result[0])
        if not verdicts[param]["ok"]:
            problems.append(("wrong_arguments", f"{label}: {param} {verdicts[param]['reason']}"))
    for param, acceptable in acceptable_by_param.items():
        if param in args or param in verdicts:
            continue
        optional = (
            acceptable.matcher.optional or acceptable.matcher.kind == "optional"
            if isinstance(acceptable, _Fallback)
            else "" in acceptable
        )
        if optional:
            verdicts[param] = _verdict(True, repr(acceptable), None, "omitted (optional)", None)
        else:
            verdicts[param] = _verdict(False, repr(acceptable), None, "missing", "missing")
            problems.append(("missing_argument", f"{label}: {param} is missing"))
    ok = sum(1 for p in acceptable_by_param if p in verdicts and verdicts[p]["ok"])
    hallucinated = sum(1 for v in verdicts.values() if v["problem"] == "hallucinated")
    return _Eval(True, not problems, ok, verdicts, problems, len(args), hallucinated)


def _bfcl_spec(
    case: Case, specs: dict[str, dict[str, Any]] | None, name: str
) -> dict[str, Any] | None:
    """The function doc BFCL checks against: the entry's original one when imported."""
    if case.source.get("function") is not None:
        return _specs_from(case, case.source["function"]).get(name)
    if specs is None:
        return None
    return specs.get(_name_map(case).get(name, name)) or specs.get(name.replace(".", "_"))


def _score_bfcl(
    case: Case, calls: list[ParsedCall], specs: dict[str, dict[str, Any]] | None
) -> CaseScore:
    answers, notes = _bfcl_answers(case) if case.should_call else ([], [])
    names = [a[0] for a in answers]
    early = _abstention_cases(case, calls, "bfcl", names)
    if early is not None:
        early.notes = notes
        return early
    score = _blank(case, "bfcl", calls, "pass", [], names)
    score.notes = notes
    n_params = [len(params) for _, params in answers]
    aliases = _name_map(case)
    unparsed = [_unparsed(j, c) for j, c in enumerate(calls) if c.parse_error]
    if unparsed:  # BFCL decodes the whole output or nothing
        return _finish(score, unparsed, "")
    evals = [
        [
            _bfcl_judge(a, _bfcl_spec(case, specs, a[0]), j, c, aliases.get(a[0], a[0]))
            for j, c in enumerate(calls)
        ]
        for a in answers
    ]
    optimal = assign(_pair_weights(evals))
    optimal_pass = len(calls) == len(answers) and all(evals[i][j].valid for i, j in optimal)
    if len(calls) != len(answers):
        _fill_pairs(score, n_params, evals, optimal)
        kind = "missing_call" if len(calls) < len(answers) else "extra_call"
        sentence = f"BFCL requires exactly {len(answers)} call(s), got {len(calls)}"
        return _finish(score, [(kind, sentence)], "")
    greedy: list[tuple[int, int]] = []
    failure: list[tuple[str, str]] = []
    for i in range(len(answers)):
        free = [j for j in range(len(calls)) if j not in {b for _, b in greedy}]
        hit = next((j for j in free if evals[i][j].valid), None)
        if hit is not None:
            greedy.append((i, hit))
            continue
        tried = next((j for j in free if evals[i][j].name_ok), free[0])
        greedy.append((i, tried))
        failure = evals[i][tried].problems[:1] + evals[i][tried].problems[1:]
        break
    _fill_pairs(score, n_params, evals, greedy)
    if failure and optimal_pass:
        pairing = ", ".join(f"expected {i + 1} ↔ call {j + 1}" for i, j in optimal)
        score.bfcl_differs = (
            "BFCL's in-order greedy pairing fails this case, but a valid pairing exists "
            f"({pairing}); the default mode would pass it"
        )
    return _finish(score, failure, f"all {len(answers)} call(s) pass BFCL's AST checker")


# =========================================================================== aggregation


@dataclass(slots=True)
class Rate:
    """A pass rate with its Wilson 95% interval. ``successes`` is None for macro averages."""

    rate: float
    ci_low: float
    ci_high: float
    n: int
    successes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "successes": self.successes,
        }


@dataclass(slots=True)
class SuiteScore:
    """Aggregate of case scores. A category that did not run is None ("N/A"), never 0."""

    n_cases: int
    n_passed: int
    micro: Rate | None  # over all cases
    macro: Rate | None  # mean of the categories that ran; n = number of those categories
    categories: dict[str, Rate | None]
    outcomes: dict[str, int]
    error_types: dict[str, int]
    mean_tool_f1: float | None
    mean_argument_accuracy: float | None
    hallucination_rate: float | None
    schema_validity: Rate | None
    abstention: Rate | None  # irrelevance cases answered with no call
    bfcl_differs: int = 0

    def to_dict(self) -> dict[str, Any]:
        def rate(r: Rate | None) -> dict[str, Any] | None:
            return None if r is None else r.to_dict()

        return {
            "n_cases": self.n_cases,
            "n_passed": self.n_passed,
            "micro": rate(self.micro),
            "macro": rate(self.macro),
            "categories": {k: rate(v) for k, v in self.categories.items()},
            "outcomes": dict(self.outcomes),
            "error_types": dict(self.error_types),
            "mean_tool_f1": self.mean_tool_f1,
            "mean_argument_accuracy": self.mean_argument_accuracy,
            "hallucination_rate": self.hallucination_rate,
            "schema_validity": rate(self.schema_validity),
            "abstention": rate(self.abstention),
            "bfcl_differs": self.bfcl_differs,
        }


def _rate(successes: int, n: int) -> Rate | None:
    from llmbench_jupyter.stats import wilson_interval

    if n == 0:
        return None
    low, high = wilson_interval(successes, n)
    return Rate(successes / n, low, high, n, successes)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def score_suite(case_scores: Iterable[CaseScore], categories: Iterable[str] = ()) -> SuiteScore:
    """Pass rates per category, micro (all cases) and macro (mean of categories) with CIs.

    ``categories``: every category the suite has, so one that did not run shows as None.
    Each score is one observation: with repeats, every attempt counts.
    """
    from llmbench_jupyter.stats import macro_average

    scores = list(case_scores)
    by_category: dict[str, list[CaseScore]] = {str(c): [] for c in categories}
    for s in scores:
        if not isinstance(s, CaseScore):
            raise TypeError(f"score_suite needs CaseScore objects, got {type(s).__name__}")
        by_category.setdefault(s.category, []).append(s)
    per_category = {
        name: _rate(sum(s.passed for s in members), len(members))
        for name, members in by_category.items()
    }
    ran = [(r.successes or 0, r.n) for r in per_category.values() if r is not None]
    macro = None
    if ran:
        mean, low, high = macro_average(ran)
        macro = Rate(mean, low, high, len(ran), None)
    n_args = sum(s.n_arguments for s in scores)
    validity = [s.schema_valid for s in scores if s.schema_valid is not None]
    abstain = [s.abstention_correct for s in scores if s.abstention_correct is not None]
    outcomes = dict.fromkeys(OUTCOMES, 0)
    outcomes.update(Counter(s.outcome for s in scores))
    error_types = dict.fromkeys(ERROR_TYPES, 0)
    error_types.update(Counter(s.error_type for s in scores if s.error_type))
    return SuiteScore(
        n_cases=len(scores),
        n_passed=sum(s.passed for s in scores),
        micro=_rate(sum(s.passed for s in scores), len(scores)),
        macro=macro,
        categories=per_category,
        outcomes=outcomes,
        error_types=error_types,
        mean_tool_f1=_mean(s.tool_f1 for s in scores),
        mean_argument_accuracy=_mean(s.argument_accuracy for s in scores),
        hallucination_rate=sum(s.hallucinated_arguments for s in scores) / n_args
        if n_args
        else None,
        schema_validity=_rate(sum(validity), len(validity)),
        abstention=_rate(sum(abstain), len(abstain)),
        bfcl_differs=sum(1 for s in scores if s.bfcl_differs),
    )
