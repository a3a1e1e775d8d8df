"""Tool-call scoring: every matcher, every outcome, pairing, BFCL parity, aggregation."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from llmbench_jupyter.core.errors import REDACTED
from llmbench_jupyter.evals.model import (
    Case,
    EvalModelError,
    ExpectedCall,
    ParamMatcher,
    ParsedCall,
    Suite,
)
from llmbench_jupyter.evals.scoring import (
    OUTCOMES,
    assign,
    match_param,
    score_case,
    score_suite,
    to_bfcl_answer,
)
from llmbench_jupyter.stats import StatsInputError, macro_average, wilson_interval

M = ParamMatcher.parse


def call(name: str, **arguments: Any) -> ParsedCall:
    return ParsedCall(name=name, arguments=arguments)


def broken(name: str) -> ParsedCall:
    return ParsedCall(name=name, arguments=None, raw_arguments='{"city": ', parse_error="bad JSON")


def case(*expected: tuple[str, dict[str, Any]], **fields: Any) -> Case:
    calls = [ExpectedCall(name, {k: M(v) for k, v in params.items()}) for name, params in expected]
    return Case(id=fields.pop("id", "c1"), messages=[], expected=calls, **fields)


WEATHER = case(("get_weather", {"city": {"text": "Paris"}, "unit": {"one_of": ["celsius"]}}))
IRRELEVANT = Case(id="irr", messages=[], category="irrelevance", should_call=False)


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


# --------------------------------------------------------------------------- outcomes


def test_pass() -> None:
    score = score_case(WEATHER, [call("get_weather", city=" paris", unit="celsius")])
    assert score.passed and score.outcome == "pass" and score.error_type is None
    assert score.tool_f1 == 1.0 and score.argument_accuracy == 1.0
    assert score.pairs[0][:2] == (0, 0) and score.pairs[0][2]["unit"]["ok"]


def test_right_tool_wrong_value_is_not_a_pass() -> None:
    """The predecessor scored this 100%."""
    score = score_case(WEATHER, [call("get_weather", city="Paris", unit="kelvin")])
    assert not score.passed
    assert score.outcome == "wrong_arguments" and score.error_type == "wrong_value"
    assert score.tool_f1 == 1.0 and score.argument_accuracy == 0.5
    verdict = score.pairs[0][2]["unit"]
    assert verdict == {
        "ok": False,
        "expected": "one of ['celsius']",
        "actual": "kelvin",
        "reason": "expected one of ['celsius'] got 'kelvin'",
        "problem": "wrong_value",
    }


def test_explanation_names_the_call_and_the_value() -> None:
    two = case(("get_time", {"tz": "CET"}), ("get_weather", {"unit": {"one_of": ["celsius"]}}))
    score = score_case(two, [call("get_time", tz="CET"), call("get_weather", unit="kelvin")])
    assert score.explanation == [
        "call 2 get_weather: unit expected one of ['celsius'] got 'kelvin'"
    ]


def test_type_error_error_type() -> None:
    score = score_case(case(("f", {"n": 3})), [call("f", n="3")])
    assert score.outcome == "wrong_arguments" and score.error_type == "type_error"


def test_wrong_tool() -> None:
    score = score_case(WEATHER, [call("get_forecast", city="Paris", unit="celsius")])
    assert (score.outcome, score.error_type) == ("wrong_tool", "wrong_tool")
    assert score.tool_f1 == 0.0 and score.argument_accuracy == 0.0
    assert score.explanation == ["call 1 get_forecast: expected get_weather"]


def test_missing_call_only_first_call_right() -> None:
    two = case(("a", {"x": 1}), ("b", {"y": 2}), category="parallel")
    score = score_case(two, [call("a", x=1)])
    assert score.outcome == "missing_call" and score.unmatched_expected == [1]
    assert score.tool_recall == 0.5 and score.tool_precision == 1.0


def test_second_call_is_scored_too() -> None:
    """The predecessor looked at the first call only."""
    two = case(("a", {"x": 1}), ("b", {"y": 2}), category="parallel")
    score = score_case(two, [call("a", x=1), call("b", y=3)])
    assert score.outcome == "wrong_arguments"
    assert score.explanation == ["call 2 b: y expected 2 got 3"]
    assert score.argument_accuracy == 0.5


def test_extra_call() -> None:
    score = score_case(
        WEATHER,
        [call("get_weather", city="Paris", unit="celsius"), call("get_weather", city="Rome")],
    )
    assert score.outcome == "extra_call" and score.unmatched_actual == [1]
    assert score.tool_precision == 0.5 and score.tool_recall == 1.0
    assert score.tool_f1 == pytest.approx(2 / 3)


def test_missing_argument() -> None:
    score = score_case(WEATHER, [call("get_weather", city="Paris")])
    assert (score.outcome, score.error_type) == ("missing_argument", "missing_param")


def test_optional_argument_may_be_omitted() -> None:
    c = case(("f", {"a": 1, "b": {"optional": True, "one_of": [2, 3]}}))
    assert score_case(c, [call("f", a=1)]).passed
    assert score_case(c, [call("f", a=1, b=3)]).passed
    assert score_case(c, [call("f", a=1, b=4)]).outcome == "wrong_arguments"


def test_hallucinated_argument() -> None:
    score = score_case(WEATHER, [call("get_weather", city="Paris", unit="celsius", days=3)])
    assert (score.outcome, score.error_type) == ("hallucinated_argument", "hallucinated_param")
    assert score.hallucinated_arguments == 1 and score.hallucination_rate == pytest.approx(1 / 3)
    assert score.argument_accuracy == 1.0  # every expected argument was right


def test_extra_params_allowed_when_declared() -> None:
    c = Case(
        id="x", messages=[], expected=[ExpectedCall("f", {"a": M(1)}, allow_extra_params=True)]
    )
    assert score_case(c, [call("f", a=1, b=2)]).passed


def test_parse_error() -> None:
    score = score_case(WEATHER, [broken("get_weather")])
    assert (score.outcome, score.error_type) == ("parse_error", "parse_error")
    assert "could not be parsed" in score.explanation[0]


def test_no_call() -> None:
    score = score_case(WEATHER, [])
    assert (score.outcome, score.error_type) == ("no_call", "missing_call")
    assert score.tool_f1 == 0.0 and score.argument_accuracy == 0.0


def test_irrelevance_passes_when_nothing_is_called() -> None:
    """The predecessor forced tool_choice=required, so this case could never pass."""
    score = score_case(IRRELEVANT, [])
    assert score.passed and score.abstention_correct is True and score.tool_f1 == 1.0


def test_should_not_call() -> None:
    score = score_case(IRRELEVANT, [call("get_weather", city="Paris")])
    assert (score.outcome, score.error_type) == ("should_not_call", "extra_call")
    assert score.abstention_correct is False and score.tool_f1 == 0.0


def test_parse_error_on_irrelevance_is_not_an_abstention() -> None:
    score = score_case(IRRELEVANT, [broken("get_weather")])
    assert not score.passed and score.outcome == "parse_error"
    assert score.abstention_correct is False


def test_wrong_order() -> None:
    seq = case(("login", {}), ("fetch", {}), ordered=True)
    assert score_case(seq, [call("login"), call("fetch")]).passed
    score = score_case(seq, [call("fetch"), call("login")])
    assert score.outcome == "wrong_order" and score.error_type == "wrong_order"
    unordered = case(("login", {}), ("fetch", {}))
    assert score_case(unordered, [call("fetch"), call("login")]).passed


def test_api_error_is_scrubbed() -> None:
    score = score_case(WEATHER, [], error="HTTP 401 for key sk-proj-abcdefghijklmnop123")
    assert (score.outcome, score.error_type) == ("api_error", "api_error")
    assert "sk-proj" not in score.explanation[0] and REDACTED in score.explanation[0]


def test_relevance_case_accepts_any_call() -> None:
    anything = Case(id="rel", messages=[], should_call=True)
    assert score_case(anything, [call("whatever", a=1)]).passed
    assert score_case(anything, []).outcome == "no_call"
    assert score_case(anything, [broken("whatever")]).outcome == "parse_error"


def test_precedence_and_every_problem_explained() -> None:
    two = case(("a", {"x": 1}), ("b", {"y": 2}))
    score = score_case(two, [call("a", x=2), broken("b")])
    assert score.outcome == "parse_error"
    assert len(score.explanation) == 2


def test_every_outcome_is_exercised() -> None:
    """Guards the lists above: a new outcome needs a test here too."""
    assert set(OUTCOMES) == {
        "pass", "api_error", "parse_error", "should_not_call", "no_call", "wrong_tool",
        "missing_call", "extra_call", "missing_argument", "wrong_arguments",
        "hallucinated_argument", "wrong_order", "wrong_state",
    }  # fmt: skip


def test_required_sequence_is_a_subsequence_of_the_calls() -> None:
    chain = Case(
        id="chain",
        messages=[],
        expected=[],
        required_sequence=["search", "convert"],
    )
    ok = score_case(chain, [call("search", q="x"), call("weather"), call("convert", v=1)])
    assert ok.passed  # other calls may come between the required ones
    swapped = score_case(chain, [call("convert", v=1), call("search", q="x")])
    assert swapped.outcome == "wrong_order" and swapped.error_type == "wrong_order"
    assert "search -> convert" in swapped.explanation[0]
    short = score_case(chain, [call("search", q="x")])
    assert short.outcome == "missing_call" and "convert never made" in short.explanation[0]


def test_final_state_checks_only_the_keys_listed_with_matchers() -> None:
    heating = Case(
        id="heat",
        messages=[],
        expected=[],
        mock_tools="assistant_world",
        expected_final_state={"thermostats": {"hall": {"numeric": 22, "abs_tol": 0.5}}},
    )
    made = [call("set_thermostat", room="hall", temperature=22)]
    state = {"thermostats": {"hall": 22.3, "attic": 5.0}, "outbox": []}
    assert score_case(heating, made, final_state=state).passed
    wrong = score_case(heating, made, final_state={"thermostats": {"hall": 18.0}})
    assert wrong.outcome == "wrong_state" and wrong.error_type == "wrong_value"
    assert "thermostats.hall expected 22" in wrong.explanation[0]
    gone = score_case(heating, made, final_state={"thermostats": {}})
    assert gone.outcome == "wrong_state" and "thermostats.hall" in gone.explanation[0]
    assert score_case(heating, made, final_state=None).outcome == "wrong_state"
    # a worse call-level outcome still wins the headline, and both are explained
    both = score_case(heating, [], final_state={"thermostats": {"hall": 18.0}})
    assert both.outcome == "no_call" and len(both.explanation) == 2


def test_alternative_tool_names_are_accepted_and_count_for_f1() -> None:
    either = Case(
        id="alt",
        messages=[],
        expected=[ExpectedCall(name="find_recipe", alternatives=["search_recipes"])],
    )
    assert score_case(either, [call("search_recipes")]).passed
    assert score_case(either, [call("search_recipes")]).tool_f1 == 1.0
    wrong = score_case(either, [call("add_to_list")])
    assert wrong.outcome == "wrong_tool"
    assert "find_recipe or search_recipes" in wrong.explanation[0]


def test_schema_validity_uses_the_offered_tools() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string"},
                        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    },
                    "required": ["city"],
                },
            },
        }
    ]
    good = score_case(WEATHER, [call("get_weather", city="Paris", unit="celsius")], tools=tools)
    assert good.schema_valid is True and good.schema_errors == []
    bad = score_case(WEATHER, [call("get_weather", unit="kelvin")], tools=tools)
    assert bad.schema_valid is False
    assert any("required" in e for e in bad.schema_errors)
    assert any("kelvin" in e for e in bad.schema_errors)
    unknown = score_case(WEATHER, [call("get_forecast", city="Paris")], tools=tools)
    assert unknown.schema_errors == ["call 1 get_forecast: not an offered tool"]
    assert score_case(WEATHER, [call("get_weather")]).schema_valid is None


def test_unknown_mode_and_bad_calls_are_clear_errors() -> None:
    with pytest.raises(EvalModelError, match="unknown scoring mode"):
        score_case(WEATHER, [], mode="strict")
    with pytest.raises(TypeError, match="expected a ParsedCall"):
        score_case(WEATHER, [{"name": "get_weather"}])  # type: ignore[list-item]


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


# --------------------------------------------------------------------------- aggregation


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    low, high = wilson_interval(0, 10)
    assert high == pytest.approx(0.2775, abs=1e-4)
    for bad in [(1, 0), (11, 10), (-1, 10)]:
        with pytest.raises(StatsInputError):
            wilson_interval(*bad)


def test_macro_average_equals_micro_for_equal_sizes() -> None:
    mean, low, high = macro_average([(8, 10), (4, 10)])
    assert mean == pytest.approx(0.6)
    assert (low, high) == pytest.approx(wilson_interval(12, 20))
    with pytest.raises(StatsInputError):
        macro_average([])


def _scores(category: str, passed: int, failed: int) -> list:
    c = case(("f", {"x": 1}), category=category)
    return [score_case(c, [call("f", x=1)]) for _ in range(passed)] + [
        score_case(c, [call("f", x=2)]) for _ in range(failed)
    ]


def test_suite_micro_macro_and_not_run_categories() -> None:
    scores = _scores("single", 8, 2) + _scores("parallel", 1, 1)
    suite = score_suite(scores, ["single", "parallel", "multi_turn"])
    assert suite.n_cases == 12 and suite.n_passed == 9
    assert suite.micro is not None and suite.micro.rate == pytest.approx(0.75)
    assert (suite.micro.ci_low, suite.micro.ci_high) == pytest.approx(wilson_interval(9, 12))
    assert suite.macro is not None and suite.macro.rate == pytest.approx((0.8 + 0.5) / 2)
    assert suite.macro.n == 2 and suite.macro.ci_low < suite.macro.rate < suite.macro.ci_high
    assert suite.categories["multi_turn"] is None  # N/A, never 0
    single = suite.categories["single"]
    assert single is not None and (round(single.ci_low, 3), round(single.ci_high, 3)) == (
        0.490,
        0.943,
    )
    assert suite.outcomes["pass"] == 9 and suite.outcomes["wrong_arguments"] == 3
    assert suite.error_types["wrong_value"] == 3
    assert suite.to_dict()["categories"]["multi_turn"] is None


def test_suite_of_nothing_is_not_zero() -> None:
    suite = score_suite([], ["single"])
    assert suite.micro is None and suite.macro is None and suite.categories == {"single": None}


def test_suite_abstention_rate() -> None:
    scores = [score_case(IRRELEVANT, []), score_case(IRRELEVANT, [broken("f")])]
    suite = score_suite(scores)
    assert suite.abstention is not None and suite.abstention.rate == 0.5


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
