"""Parsing and validating a judge's reply against the verdict schema of its kind.

A reply that is not exactly one JSON object of the expected shape is ``invalid``, never
a pass or a win: no coercion, and the reason is said.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from llmbench_jupyter.evals.judge._results import JUDGE_KINDS, JudgeError

_GRADE = re.compile(r"^(?:[ABCD][+-]?|F)$")
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)


def _extract_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The one JSON object in a reply: bare, in a ```json fence, or inside prose."""
    stripped = text.strip()
    if not stripped:
        return None, "empty output"
    try:
        whole = json.loads(stripped)
    except ValueError:
        pass
    else:
        if isinstance(whole, dict):
            return whole, None
        return None, f"the output is a JSON {type(whole).__name__}, expected an object"
    found: list[dict[str, Any]] = []
    for block in _FENCE.findall(text):
        try:
            obj = json.loads(block.strip())
        except ValueError:
            continue
        if isinstance(obj, dict):
            found.append(obj)
    if not found:  # objects embedded in prose; nested ones are consumed by their parent
        decoder = json.JSONDecoder()
        at = text.find("{")
        while at != -1:
            try:
                obj, end = decoder.raw_decode(text, at)
            except ValueError:
                at = text.find("{", at + 1)
                continue
            if isinstance(obj, dict):
                found.append(obj)
            at = text.find("{", end)
    distinct = list({json.dumps(o, sort_keys=True): o for o in found}.values())
    if not distinct:
        return None, "no JSON object found in the output"
    if len(distinct) > 1:
        return None, f"{len(distinct)} different JSON objects in the output, expected exactly one"
    return distinct[0], None


def _text_ok(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check(obj: dict[str, Any], key: str, ok: Callable[[Any], bool], expected: str) -> str | None:
    if key not in obj:
        return f"{key}: missing (expected {expected})"
    if not ok(obj[key]):
        return f"{key}: expected {expected}, got {json.dumps(obj[key])[:80]}"
    return None


# Per kind: (key, check, what is expected) for every required field.
_SCHEMAS: dict[str, list[tuple[str, Callable[[Any], bool], str]]] = {
    "case": [
        ("score", lambda v: type(v) is int and 1 <= v <= 10, "an integer 1..10"),
        ("passed", lambda v: type(v) is bool, "true or false"),
        ("reasoning", _text_ok, "a non-empty string"),
    ],
    "pairwise": [
        ("winner", lambda v: v in ("A", "B", "tie"), '"A", "B" or "tie"'),
        ("reasoning", _text_ok, "a non-empty string"),
    ],
    "report": [
        (
            "grade",
            lambda v: isinstance(v, str) and _GRADE.match(v) is not None,
            "a letter grade A, B, C, D (optionally with + or -) or F",
        ),
        *(
            (
                name,
                lambda v: isinstance(v, list) and all(_text_ok(x) for x in v),
                "a list of non-empty strings",
            )
            for name in ("strengths", "weaknesses", "recommendations")
        ),
        ("summary", _text_ok, "a non-empty string"),
    ],
}


def parse_verdict(kind: str, text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Validate a judge reply: ``(verdict, None)`` or ``(None, why it is invalid)``.

    Exactly one JSON object must be found; every field of the kind's schema must be
    present with the right type and range (no coercion: ``7.0`` is not an integer score,
    ``"true"`` is not a boolean). Extra keys are ignored and not kept.
    """
    if kind not in _SCHEMAS:
        raise JudgeError(f"judge kind {kind!r} is unknown; expected one of {list(JUDGE_KINDS)}")
    obj, error = _extract_object(text)
    if obj is None:
        return None, error
    problems = [p for key, ok, what in _SCHEMAS[kind] if (p := _check(obj, key, ok, what))]
    if problems:
        return None, "; ".join(problems)
    return {key: obj[key] for key, _, _ in _SCHEMAS[kind]}, None
