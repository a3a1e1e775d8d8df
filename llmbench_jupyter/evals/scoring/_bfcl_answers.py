"""BFCL's answer format (``possible_answer``): ``[{name: {param: [values]}}]``.

Our matchers converted to it (``to_bfcl_answer``), or an imported entry's own answer
read; a matcher BFCL cannot express is kept as a ``_Fallback`` judged by our rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmbench_jupyter.evals.model import Case, EvalModelError, ExpectedCall, ParamMatcher
from llmbench_jupyter.evals.scoring._matchers import describe


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
