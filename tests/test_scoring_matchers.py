"""Tool-call scoring: every matcher, optimal pairing, and the suite data model."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from scoring_helpers import M, call, case

from llmbench_jupyter.evals.model import (
    EvalModelError,
    ParamMatcher,
    Suite,
)
from llmbench_jupyter.evals.scoring import (
    assign,
    match_param,
    score_case,
    score_suite,
)

# --------------------------------------------------------------------------- matchers


@pytest.mark.parametrize(
    ("spec", "actual", "ok"),
    [
        # exact: type-strict, except an int is accepted for a float
        (3, 3, True),
        (3, 4, False),
        (3, "3", False),
        (2.5, 2.5, True),
        (2.0, 2, True),
        (2, 2.0, False),
        (True, 1, False),
        (1, True, False),
        ({"a": [1, "x"]}, {"a": [1, "x"]}, True),
        ({"a": [1, "x"]}, {"a": [1, "X"]}, False),
        (None, None, True),
        # one_of
        ({"one_of": ["celsius", "fahrenheit"]}, "fahrenheit", True),
        ({"one_of": ["celsius"]}, "kelvin", False),
        # numeric: absolute and relative tolerance
        ({"numeric": 3.5, "abs_tol": 0.1}, 3.58, True),
        ({"numeric": 3.5, "abs_tol": 0.1}, 3.7, False),
        ({"numeric": 200, "rel_tol": 0.05}, 209, True),
        ({"numeric": 200, "rel_tol": 0.05}, 211, False),
        ({"numeric": 2}, 2.0, True),
        ({"numeric": 1}, True, False),
        ({"numeric": 3.5, "abs_tol": 1}, "3.5", False),
        ({"numeric": 1.0, "abs_tol": 1}, float("nan"), False),
        # text: case- and whitespace-insensitive, nothing else
        ({"text": "New York"}, "  new   YORK ", True),
        ({"text": "New York"}, "New-York", False),
        ({"text": "x"}, 1, False),
        # regex: found anywhere (re.search); anchors require the whole string
        ({"regex": r"\d{4}-\d{2}-\d{2}"}, "on 2024-05-01", True),
        ({"regex": r"^\d{4}-\d{2}-\d{2}$"}, "on 2024-05-01", False),
        ({"regex": r"^\d{4}-\d{2}-\d{2}$"}, "2024-05-01", True),
        ({"regex": "(?i)dentist"}, "Dentist appointment", True),
        # unordered: multiset, items may be matchers
        ({"unordered": ["a", "b", "a"]}, ["a", "a", "b"], True),
        ({"unordered": ["a", "b", "a"]}, ["a", "b", "b"], False),
        ({"unordered": ["a", "b"]}, ["a", "b", "c"], False),
        ({"unordered": [{"regex": "x+"}, 1]}, [1, "xxx"], True),
        ({"unordered": ["a"]}, "a", False),
        # object: recursive, unexpected keys fail, optional keys may be omitted
        (
            {"object": {"lat": {"numeric": 48.85, "abs_tol": 0.01}, "tag": {"text": "Home"}}},
            {"lat": 48.851, "tag": "home"},
            True,
        ),
        ({"object": {"lat": 1}}, {"lat": 1, "lon": 2}, False),
        ({"object": {"lat": 1, "lon": {"optional": True, "numeric": 2}}}, {"lat": 1}, True),
        ({"object": {"lat": 1}}, [1], False),
        # any
        ({"any": True}, {"whatever": [1]}, True),
        ({"optional": True}, "anything", True),
    ],
)
def test_matchers(spec: Any, actual: Any, ok: bool) -> None:
    verdict = match_param(M(spec), actual)
    assert verdict["ok"] is ok, verdict
    if not ok:
        assert verdict["reason"].startswith("expected ") and verdict["problem"]


def test_missing_values_depend_on_optional() -> None:
    assert match_param(M({"optional": True}))["ok"]
    assert match_param(M({"optional": True, "one_of": ["c"]}))["ok"]
    assert not match_param(M({"optional": True, "one_of": ["c"]}), "k")["ok"]
    missing = match_param(M({"any": True}))
    assert not missing["ok"] and missing["problem"] == "missing"


def test_type_errors_are_told_apart_from_wrong_values() -> None:
    assert match_param(M(3), "3")["problem"] == "type_error"
    assert match_param(M(3), 4)["problem"] == "wrong_value"


# --------------------------------------------------------------------------- pairing


def test_optimal_pairing_where_greedy_fails() -> None:
    """Expected 1 accepts x=1 or 2, expected 2 only x=1; the model sends x=1 then x=2.

    In-order greedy gives x=1 to expected 1 and has nothing left for expected 2.
    """
    parallel = case(("f", {"x": {"one_of": [1, 2]}}), ("f", {"x": 1}), category="parallel")
    calls = [call("f", x=1), call("f", x=2)]
    default = score_case(parallel, calls)
    assert default.passed and default.bfcl_differs is None
    assert sorted((e, a) for e, a, _ in default.pairs) == [(0, 1), (1, 0)]
    bfcl = score_case(parallel, calls, mode="bfcl")
    assert not bfcl.passed and bfcl.outcome == "wrong_arguments"
    assert bfcl.bfcl_differs and "greedy" in bfcl.bfcl_differs
    assert score_suite([bfcl]).bfcl_differs == 1


def test_argument_accuracy_uses_the_best_pairing() -> None:
    two = case(("f", {"a": 1, "b": 2}), ("f", {"a": 3, "b": 4}))
    score = score_case(two, [call("f", a=3, b=0), call("f", a=1, b=2)])
    assert score.argument_accuracy == 0.75
    assert sorted((e, a) for e, a, _ in score.pairs) == [(0, 1), (1, 0)]


def _brute_force(weights: list[list[int]]) -> int:
    rows, cols = len(weights), len(weights[0])
    if rows <= cols:
        return max(
            sum(weights[i][p[i]] for i in range(rows))
            for p in itertools.permutations(range(cols), rows)
        )
    return max(
        sum(weights[p[j]][j] for j in range(cols))
        for p in itertools.permutations(range(rows), cols)
    )


def test_assignment_is_optimal_against_brute_force() -> None:
    rng = random.Random(7)
    for _ in range(200):
        rows, cols = rng.randint(1, 6), rng.randint(1, 6)
        weights = [[rng.randint(0, 9) for _ in range(cols)] for _ in range(rows)]
        pairs = assign(weights)
        assert len(pairs) == min(rows, cols)
        assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)
        assert sum(weights[i][j] for i, j in pairs) == _brute_force(weights)
    assert assign([]) == []


# --------------------------------------------------------------------------- model


def test_model_round_trips_and_short_forms() -> None:
    suite = Suite.from_dict(
        {
            "name": "s",
            "tools": [],
            "cases": [
                {
                    "id": "a",
                    "prompt": "weather in Paris?",
                    "expected": [
                        {
                            "name": "get_weather",
                            "params": {
                                "city": {"text": "paris"},
                                "days": {"numeric": 3, "abs_tol": 1, "optional": True},
                                "tags": {"unordered": ["x", {"regex": "y+"}]},
                                "where": {"object": {"lat": 1.5}},
                                "meta": {"a": 1},
                            },
                        }
                    ],
                }
            ],
        }
    )
    params = suite.cases[0].expected[0].params
    assert suite.cases[0].messages == [{"role": "user", "content": "weather in Paris?"}]
    assert params["city"].kind == "text" and params["days"].optional
    assert params["tags"].value[1] == ParamMatcher(kind="regex", value="y+")
    assert params["where"].value["lat"] == ParamMatcher(kind="exact", value=1.5)
    assert params["meta"] == ParamMatcher(kind="exact", value={"a": 1})
    assert Suite.from_dict(suite.to_dict()) == suite


def test_model_rejects_bad_matchers_clearly() -> None:
    with pytest.raises(EvalModelError, match="invalid regex"):
        M({"regex": "("})
    with pytest.raises(EvalModelError, match="unknown matcher kind"):
        M({"kind": "fuzzy", "value": 1})
    with pytest.raises(EvalModelError, match="one_of needs a list"):
        M({"one_of": "celsius"})
