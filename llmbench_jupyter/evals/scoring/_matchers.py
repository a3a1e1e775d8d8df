"""Per-parameter matchers: does one argument value match what the case expects?

Both modes and the final-state check judge values here, so a value is judged by the same
rules wherever it appears (every matcher is described in docs/scoring.md).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from llmbench_jupyter.evals.model import ParamMatcher
from llmbench_jupyter.evals.scoring._assignment import assign

_MISSING: Any = object()


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


def _exact(expected: Any, actual: Any, norm: bool = False) -> str | None:
    """Type-strict deep equality (an int is accepted for a float). None, or the problem kind.

    With ``norm``, strings at any depth compare like the ``text`` matcher.
    """
    if isinstance(expected, float) and type(actual) is int:
        return None if float(actual) == expected else "wrong_value"
    if _jtype(expected) != _jtype(actual):
        return "type_error"
    if isinstance(expected, dict):
        if set(expected) != set(actual):
            return "wrong_value"
        problems = [_exact(v, actual[k], norm) for k, v in expected.items()]
        return next((p for p in problems if p), None)
    if isinstance(expected, list | tuple):
        if len(expected) != len(actual):
            return "wrong_value"
        pairs = zip(expected, actual, strict=True)
        return next((p for e, a in pairs if (p := _exact(e, a, norm))), None)
    if norm and isinstance(expected, str):
        return None if _norm_text(expected) == _norm_text(actual) else "wrong_value"
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
    if matcher.normalize:
        text += " (strings: any case/spacing)"
    return f"{text} (optional)" if matcher.optional else text


def _match(matcher: ParamMatcher, actual: Any) -> tuple[str, str] | None:
    """Judge one present value: None when it matches, else (problem, reason)."""
    kind, value = matcher.kind, matcher.value
    problem: str | None = None
    detail = ""
    if kind in ("any", "optional"):
        return None
    if kind == "exact":
        problem = _exact(value, actual, matcher.normalize)
    elif kind == "one_of":
        results = [_exact(option, actual, matcher.normalize) for option in value]
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
            ok = [[_item_ok(e, a, matcher.normalize) for a in actual] for e in value]
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


def _item_ok(expected: Any, actual: Any, norm: bool = False) -> bool:
    if isinstance(expected, ParamMatcher):
        return _match(expected, actual) is None
    return _exact(expected, actual, norm) is None


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
