"""Tool-call scoring: every outcome of one case, and aggregation across cases."""

from __future__ import annotations

import pytest
from scoring_helpers import IRRELEVANT, WEATHER, M, broken, call, case

from llmbench_jupyter.core.errors import REDACTED
from llmbench_jupyter.evals.model import (
    Case,
    EvalModelError,
    ExpectedCall,
)
from llmbench_jupyter.evals.scoring import (
    OUTCOMES,
    score_case,
    score_suite,
)
from llmbench_jupyter.stats import StatsInputError, macro_average, wilson_interval

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
    assert suite.n_attempts == 12 and suite.n_passed == 9
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
