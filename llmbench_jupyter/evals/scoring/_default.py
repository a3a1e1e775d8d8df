"""The default mode: every expected call judged by its matchers, pairs chosen optimally.

Then the order of calls, a case's required sequence and the mock tools' final state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmbench_jupyter.evals.model import (
    Case,
    ExpectedCall,
    ParamMatcher,
    ParsedCall,
    is_matcher_spec,
)
from llmbench_jupyter.evals.scoring._assignment import _fill_pairs, _pair_weights, assign
from llmbench_jupyter.evals.scoring._matchers import _MISSING, _verdict, match_param
from llmbench_jupyter.evals.scoring._outcomes import (
    _abstention_cases,
    _blank,
    _call_label,
    _finish,
    _tool_prf,
    _unparsed,
)
from llmbench_jupyter.evals.scoring._results import CaseScore, _Eval


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
