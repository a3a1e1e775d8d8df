"""Builders shared by the scoring tests (tests/test_scoring_*.py): calls, cases, matchers."""

from __future__ import annotations

from typing import Any

from llmbench_jupyter.evals.model import (
    Case,
    ExpectedCall,
    ParamMatcher,
    ParsedCall,
)

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
