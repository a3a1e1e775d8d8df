"""Suite importers and exporters: the predecessor's JSON and BFCL's own files, both ways."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from suite_paths import EXAMPLE, FIXTURES, SHARED_EXAMPLE

from llmbench_jupyter.evals.importers import (
    export_bfcl,
    export_predecessor,
    import_bfcl,
    import_predecessor,
)
from llmbench_jupyter.evals.model import ParamMatcher
from llmbench_jupyter.evals.suites import SuiteError, dump_suite, load_suite


def _pred_fixture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "predecessor_suite.json").read_text("utf-8"))
    return data


def test_predecessor_import_maps_modes_onto_matchers() -> None:
    suite = import_predecessor(FIXTURES / "predecessor_suite.json")
    by = {i: c for i, c in enumerate(suite.cases)}
    # default "exact": the predecessor compared strings case-insensitively
    assert by[0].expected[0].params == {
        "temperature": ParamMatcher(kind="exact", value=200),
        "mode": ParamMatcher(kind="text", value="bake"),
    }
    assert by[0].expected[0].allow_extra_params  # it only checked the listed params
    assert by[0].messages[0] == {"role": "system", "content": _pred_fixture()["system_prompt"]}
    assert by[1].id == "grill-ci" and by[1].category == "oven"
    contains = by[2].expected[0].params["dish"]
    assert contains.kind == "regex" and "lemon" in contains.value
    tol = by[3].expected[0].params
    assert tol["temperature"] == ParamMatcher(kind="numeric", value=180.0, abs_tol=2.5)
    assert tol["timer"].kind == "object" and tol["timer"].value["label"].kind == "text"
    assert by[4].expected[0].params["store"] == ParamMatcher(kind="regex", value="^(Lidl|lidl)$")
    assert by[5].expected[0].name == "find_recipe"
    assert by[5].source["case"]["expected_tool"] == ["find_recipe", "add_to_list"]
    for i in (6, 7):  # expected_tool null: abstain
        assert not by[i].should_call and not by[i].expected
        assert by[i].category == "irrelevance"
    mt = by[8]
    assert mt.category == "multi_turn" and mt.max_rounds == 3
    assert [e.name for e in mt.expected] == ["get_time", "set_oven"]
    assert mt.required_sequence == ["get_time", "set_oven"]
    assert mt.mock_responses == {"get_time": {"time": "18:42", "date": "2026-01-10"}}
    assert by[9].expected[0].params["items"].kind == "any"
    assert "llmbench tests" in suite.description


def test_predecessor_round_trip_drops_nothing(tmp_path: Path) -> None:
    original = _pred_fixture()
    suite = import_predecessor(copy.deepcopy(original))
    assert export_predecessor(suite) == original
    # ... also through our own suite file
    again = load_suite(dump_suite(suite, tmp_path / "pred.yaml"))
    assert export_predecessor(again) == original


def test_predecessor_errors_are_precise() -> None:
    data = _pred_fixture()
    data["test_cases"][2]["param_scoring"] = "bogus"
    with pytest.raises(SuiteError, match=r"test_cases\[2\].*'bogus'.*expected one of"):
        import_predecessor(data)
    data = _pred_fixture()
    data["test_cases"][0]["expected_params"]["temp"] = 5
    with pytest.raises(SuiteError, match=r"cases\[0\]\.expected\[0\]\.params\.temp"):
        import_predecessor(data)


def test_native_suite_exports_to_predecessor_and_back() -> None:
    suite = load_suite(EXAMPLE)
    exported = export_predecessor(suite)
    assert len(exported["test_cases"]) == len(suite.cases)
    back = import_predecessor(exported)
    for a, b in zip(suite.cases, back.cases, strict=True):
        assert (a.id, a.should_call, a.category, a.max_rounds, a.mock_responses) == (
            b.id,
            b.should_call,
            b.category,
            b.max_rounds,
            b.mock_responses,
        )
        assert [e.name for e in a.expected] == [
            e.name for e in b.expected
        ] or a.category == "parallel"  # the predecessor had one expected tool per case


def test_shared_predecessor_example_imports_without_loss() -> None:
    if not SHARED_EXAMPLE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_EXAMPLE} must be present in CI (shared/ beside the clone)")
        pytest.skip(f"{SHARED_EXAMPLE} not present outside CI")
    original = json.loads(SHARED_EXAMPLE.read_text(encoding="utf-8"))
    suite = import_predecessor(SHARED_EXAMPLE)
    assert len(suite.cases) == len(original["test_cases"])
    assert export_predecessor(suite) == original
    for raw, case in zip(original["test_cases"], suite.cases, strict=True):
        assert case.messages[-1]["content"] == raw["prompt"]
        assert case.expected[-1].name == raw["expected_tool"]
        assert set(case.expected[-1].params) == set(raw.get("expected_params") or {})
        if raw.get("multi_turn"):
            assert case.mock_responses == raw["mock_responses"]
            assert case.max_rounds == raw["max_rounds"]


# --- BFCL ------------------------------------------------------------------------------
def _jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text("utf-8").splitlines()]


def test_bfcl_import_converts_schemas_answers_and_categories() -> None:
    suite = import_bfcl(FIXTURES / "bfcl_questions.jsonl", FIXTURES / "bfcl_possible_answers.jsonl")
    tools = {t["function"]["name"]: t["function"] for t in suite.tools}
    assert set(tools) == {"geometry_triangle_area", "solve_quadratic", "book_table", "get_weather"}
    quad = tools["solve_quadratic"]["parameters"]
    assert quad["type"] == "object"
    assert quad["properties"]["coefficients"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "(a, b, c)",
    }
    assert quad["properties"]["precision"]["type"] == "number"
    assert "type" not in quad["properties"]["extra"]  # BFCL "any"
    assert tools["book_table"]["parameters"]["properties"]["options"]["type"] == "object"
    cases = {c.id: c for c in suite.cases}
    simple = cases["simple_0"]
    assert simple.category == "simple" and simple.tools == ["geometry_triangle_area"]
    assert simple.source["name_map"] == {"geometry.triangle_area": "geometry_triangle_area"}
    assert simple.source["possible_answer"] == _jsonl("bfcl_possible_answers.jsonl")[0]
    params = simple.expected[0].params
    assert params["base"] == ParamMatcher(kind="exact", value=10)
    assert params["unit"] == ParamMatcher(kind="text", value="units", optional=True)
    assert not simple.expected[0].allow_extra_params
    assert cases["simple_1"].expected[0].params["precision"].kind == "optional"
    assert cases["multiple_0"].messages[0]["role"] == "system"
    assert cases["multiple_0"].expected[0].params["time"] == ParamMatcher(
        kind="one_of", value=["19:30", "7:30 PM"], normalize=True
    )
    par = cases["parallel_0"]
    assert [e.name for e in par.expected] == ["get_weather", "get_weather"]
    pm = cases["parallel_multiple_0"]
    assert [e.name for e in pm.expected] == ["book_table", "get_weather"]
    options = pm.expected[0].params["options"]
    assert options.kind == "object" and options.value["notes"].optional
    irr = cases["irrelevance_0"]
    assert not irr.should_call and not irr.expected and irr.category == "irrelevance"


def test_bfcl_export_reproduces_imported_entries() -> None:
    questions = _jsonl("bfcl_questions.jsonl")
    answers = _jsonl("bfcl_possible_answers.jsonl")
    suite = import_bfcl(questions, answers)
    assert export_bfcl(suite) == (questions, answers)


def test_bfcl_export_of_a_native_suite_imports_back() -> None:
    suite = load_suite(EXAMPLE)
    with pytest.raises(SuiteError, match="regex"):
        export_bfcl(suite)
    questions, answers = export_bfcl(suite, skip_unsupported=True)
    exported_ids = {q["id"] for q in questions}
    assert "single-weather-paris" in exported_ids and "irr-joke" in exported_ids
    assert not any(i.startswith("mt-") for i in exported_ids)
    weather = next(q for q in questions if q["id"] == "single-weather-paris")
    assert weather["function"][0]["parameters"]["type"] == "dict"
    back = {c.id: c for c in import_bfcl(questions, answers, category="mine").cases}
    orig = {c.id: c for c in suite.cases}

    def view(calls: list[Any]) -> list[Any]:  # BFCL has one kind of value: text ~ exact
        def one(m: ParamMatcher) -> Any:
            value = {k: one(v) for k, v in m.value.items()} if m.kind == "object" else m.value
            kind = "exact" if m.kind in ("text", "numeric", "unordered") else m.kind
            return (kind, value, m.optional)

        return [(c.name, {k: one(m) for k, m in c.params.items()}) for c in calls]

    for cid in exported_ids - {i for i in exported_ids if i.startswith("irr-")}:
        assert view(back[cid].expected) == view(orig[cid].expected), cid
    assert "irr-joke" not in {a["id"] for a in answers}  # abstention: no possible answer


def test_bfcl_errors_are_precise() -> None:
    questions = _jsonl("bfcl_questions.jsonl")
    answers = _jsonl("bfcl_possible_answers.jsonl")
    answers[3]["ground_truth"][0] = {"get_forecast": {"city": ["Paris"]}}
    failed: list[tuple[str, str]] = []
    suite = import_bfcl(questions, answers, failed=failed)
    assert "parallel_0" not in {c.id for c in suite.cases}
    assert len(suite.cases) == len(questions) - 1
    ((cid, reason),) = failed
    assert cid == "parallel_0"
    assert "(id 'parallel_0')" in reason and "'get_forecast', not among" in reason
    assert "['get_weather']" in reason
    failed = []
    import_bfcl(
        questions,
        [*_jsonl("bfcl_possible_answers.jsonl"), {"id": "nope_1", "ground_truth": []}],
        failed=failed,
    )
    assert failed == [
        ("nope_1", "BFCL possible answers list: entry 5: possible answer 'nope_1' has no question")
    ]


# --- the example suite against the simulated endpoint -----------------------------------
