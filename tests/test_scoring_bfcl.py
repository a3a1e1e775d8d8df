"""Tool-call scoring in BFCL parity mode: BFCL V4's AST checker verdicts reproduced."""

from __future__ import annotations

from typing import Any

import pytest
from scoring_helpers import IRRELEVANT, WEATHER, broken, call, case

from llmbench_jupyter.evals.model import (
    Case,
    EvalModelError,
)
from llmbench_jupyter.evals.scoring import (
    score_case,
    to_bfcl_answer,
)

# --------------------------------------------------------------------------- BFCL mode

CALC = {
    "name": "calc",
    "parameters": {
        "type": "dict",
        "required": ["a"],
        "properties": {
            "a": {"type": "float"},
            "b": {"type": "array", "items": {"type": "float"}},
            "s": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "grid": {"type": "array", "items": {"type": "array"}},
            "opts": {"type": "dict"},
            "flag": {"type": "boolean"},
        },
    },
}


def bfcl(answer: dict[str, list[Any]], **arguments: Any) -> Any:
    entry = Case(
        id="simple_1",
        messages=[],
        source={"format": "bfcl", "function": [CALC], "possible_answer": [{"calc": answer}]},
    )
    return score_case(entry, [call("calc", **arguments)], mode="bfcl")


@pytest.mark.parametrize(
    ("answer", "arguments", "outcome"),
    [
        # int accepted for float at the top level ...
        ({"a": [2.0]}, {"a": 2}, "pass"),
        # ... but not inside an array, unless "" (optional) is among the acceptable values
        ({"a": [2.0], "b": [[1.0, 2.0]]}, {"a": 2.0, "b": [1, 2]}, "wrong_arguments"),
        ({"a": [2.0], "b": [[1.0, 2.0], ""]}, {"a": 2.0, "b": [1, 2]}, "pass"),
        # top-level strings and items of top-level lists are normalised
        ({"a": [2.0], "s": ["New York, NY"]}, {"a": 2.0, "s": "new york ny"}, "pass"),
        ({"a": [2.0], "tags": [["New-York"]]}, {"a": 2.0, "tags": ["new york"]}, "pass"),
        # strings nested deeper are not
        (
            {"a": [2.0], "grid": [[["New York"]]]},
            {"a": 2.0, "grid": [["newyork"]]},
            "wrong_arguments",
        ),
        (
            {"a": [2.0], "opts": [{"k": [{"x": "New York"}]}]},
            {"a": 2.0, "opts": {"k": {"x": "new york"}}},
            "wrong_arguments",
        ),
        # dict values: normalised strings, plain equality otherwise (1 == True)
        (
            {"a": [2.0], "opts": [{"k": ["New York"]}]},
            {"a": 2.0, "opts": {"k": "new york"}},
            "pass",
        ),
        ({"a": [2.0], "opts": [{"k": [1]}]}, {"a": 2.0, "opts": {"k": True}}, "pass"),
        ({"a": [2.0], "opts": [{"k": [1], "m": ["", 2]}]}, {"a": 2.0, "opts": {"k": 1}}, "pass"),
        (
            {"a": [2.0], "opts": [{"k": [1]}]},
            {"a": 2.0, "opts": {"k": 1, "z": 0}},
            "wrong_arguments",
        ),
        # but a top-level boolean is type-checked
        ({"a": [2.0], "flag": [True]}, {"a": 2.0, "flag": 1}, "wrong_arguments"),
        # "" marks an optional parameter
        ({"a": [2.0], "flag": ["", False]}, {"a": 2.0}, "pass"),
        ({"a": [2.0], "flag": [False]}, {"a": 2.0}, "missing_argument"),
        # a valid schema parameter absent from the possible answer is hallucinated
        ({"a": [2.0]}, {"a": 2.0, "flag": True}, "hallucinated_argument"),
        # required parameters come from the function doc
        ({"a": [2.0, ""]}, {}, "missing_argument"),
    ],
)
def test_bfcl_rules(answer: dict, arguments: dict, outcome: str) -> None:
    assert bfcl(answer, **arguments).outcome == outcome


def test_bfcl_call_count_must_be_exact() -> None:
    entry = Case(id="e", messages=[], source={"possible_answer": [{"f": {"x": [1]}}]})
    score = score_case(entry, [call("f", x=1), call("f", x=1)], mode="bfcl")
    assert score.outcome == "extra_call" and "exactly 1" in score.explanation[0]


def test_bfcl_irrelevance_counts_undecodable_output_as_abstention() -> None:
    bfcl_score = score_case(IRRELEVANT, [broken("get_weather")], mode="bfcl")
    assert bfcl_score.passed and bfcl_score.bfcl_differs
    assert not score_case(IRRELEVANT, [broken("get_weather")]).passed
    assert score_case(IRRELEVANT, [call("f")], mode="bfcl").outcome == "should_not_call"


def test_bfcl_parse_error_fails_a_normal_case() -> None:
    assert score_case(WEATHER, [broken("get_weather")], mode="bfcl").outcome == "parse_error"


def test_bfcl_possible_answer_record_and_renamed_functions() -> None:
    """Importers keep BFCL's {id, ground_truth} record and rename dotted functions."""
    fn = {
        "name": "math.factorial",
        "parameters": {
            "type": "dict",
            "properties": {"n": {"type": "integer"}},
            "required": ["n"],
        },
    }
    entry = Case(
        id="simple_9",
        messages=[],
        source={
            "function": [fn],
            "name_map": {"math.factorial": "math__factorial"},
            "possible_answer": {"id": "simple_9", "ground_truth": [{"math.factorial": {"n": [5]}}]},
        },
    )
    assert score_case(entry, [call("math__factorial", n=5)], mode="bfcl").passed
    assert score_case(entry, [call("math_factorial", n=5)], mode="bfcl").passed
    assert score_case(entry, [call("math__factorial", n=5.0)], mode="bfcl").outcome == (
        "wrong_arguments"
    )


def test_bfcl_mode_converts_matchers_without_possible_answer() -> None:
    assert to_bfcl_answer(WEATHER.expected) == [
        {"get_weather": {"city": ["Paris"], "unit": ["celsius"]}}
    ]
    optional = case(("f", {"a": {"one_of": [1, 2], "optional": True}}))
    assert to_bfcl_answer(optional.expected) == [{"f": {"a": [1, 2, ""]}}]
    assert score_case(optional, [call("f")], mode="bfcl").passed
    # BFCL's string normalisation applies in bfcl mode
    assert score_case(
        WEATHER, [call("get_weather", city="PA-RIS", unit="Celsius")], mode="bfcl"
    ).passed
    assert not score_case(WEATHER, [call("get_weather", city="PA-RIS", unit="celsius")]).passed


def test_bfcl_mode_notes_matchers_it_cannot_express() -> None:
    dated = case(("f", {"day": {"regex": r"\d{4}-\d{2}-\d{2}"}}))
    with pytest.raises(EvalModelError, match="no BFCL equivalent"):
        to_bfcl_answer(dated.expected)
    score = score_case(dated, [call("f", day="2024-05-01")], mode="bfcl")
    assert score.passed and score.notes and "regex" in score.notes[0]
    assert not score_case(dated, [call("f", day="May 1")], mode="bfcl").passed
