"""BFCL answer shapes found in BFCL's real files (invented entries in BFCL's format).

Every entry imports, one bad entry never aborts a file, and in bfcl mode a perfect answer
(the first acceptable value of each parameter) gets BFCL's checker's verdict: Python,
Java and JavaScript. benchmarks/bfcl_agreement.py checks the same on BFCL's own files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmbench_jupyter.evals.importers import import_bfcl, import_bfcl_entries
from llmbench_jupyter.evals.model import ParamMatcher, ParsedCall
from llmbench_jupyter.evals.scoring import score_case


def _fn(name: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "description": "d",
        "parameters": {"type": "dict", "properties": props, "required": required},
    }


def _q(cid: str, fn: dict[str, Any]) -> dict[str, Any]:
    return {"id": cid, "question": [[{"role": "user", "content": "go"}]], "function": [fn]}


STR, INT, FLOAT = {"type": "string"}, {"type": "integer"}, {"type": "float"}
# (id, function doc, ground truth params, BFCL's verdict on the perfect answer)
SHAPES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # null among an optional parameter's acceptable values
    ("simple_0", _fn("trip.plan", {"days": INT, "mode": STR}, ["mode"]),
     {"mode": ["car"], "days": [None, ""]}, True),
    # values of another type than the doc's: "dontcare" for an integer, true for a string
    ("live_simple_1-1-0", _fn("find_flat", {"rooms": INT, "pets": STR}, ["rooms"]),
     {"rooms": ["dontcare"], "pets": [True, ""]}, True),
    # a list of dicts in BFCL form (each value a list of acceptable values)
    ("simple_2", _fn("db.query", {"conditions": {"type": "array", "items": {"type": "dict"}}},
                     ["conditions"]),
     {"conditions": [[{"field": ["age", "Age"], "op": [">"], "value": [30]},
                      {"field": ["city"], "op": ["="], "value": ["Oslo"], "x": ["", 1]}]]}, True),
    # several acceptable dicts
    ("simple_3", _fn("book", {"when": {"type": "dict"}}, ["when"]),
     {"when": [{"day": ["mon"], "hour": [9]}, {"day": ["tue"], "hour": [10, 11]}]}, True),
    # a nested dict value not in list form
    ("live_multiple_4-2-0", _fn("drive", {"ego": {"type": "dict"}}, ["ego"]),
     {"ego": [{"position": [{"lateral": 10.5, "lane": {"id": "l1"}}], "speed": [3.0]}]}, True),
    # an answer parameter the doc does not list: BFCL fails the call that sends it ...
    ("simple_5", _fn("ping", {"host": STR}, ["host"]),
     {"host": ["example.org"], "port": [80]}, False),
    # ... and passes one that leaves it out when "" is among its values
    ("simple_6", _fn("ping", {"host": STR}, ["host"]),
     {"host": ["example.org"], "retries": ["", 3]}, True),
    # "" listed for a parameter the doc requires: BFCL fails a perfect answer leaving it out
    ("simple_7", _fn("greet", {"name": STR, "lang": STR}, ["name", "lang"]),
     {"name": ["Ana"], "lang": ["", "pt"]}, False),
    # a float parameter given an integer answer
    ("simple_8", _fn("scale", {"by": FLOAT}, ["by"]), {"by": [2]}, True),
]  # fmt: skip


def _files(tmp_path: Path, shapes: list[tuple[str, dict, dict, bool]]) -> tuple[Path, Path]:
    q, a = tmp_path / "q.json", tmp_path / "a.json"
    q.write_text("".join(json.dumps(_q(cid, fn)) + "\n" for cid, fn, _, _ in shapes))
    a.write_text(
        "".join(
            json.dumps({"id": cid, "ground_truth": [{fn["name"]: truth}]}) + "\n"
            for cid, fn, truth, _ in shapes
        )
    )
    return q, a


def _first(values: Any) -> Any:
    value = values[0]
    if isinstance(value, dict):
        return {k: _first(v) if isinstance(v, list) else v for k, v in value.items()
                if not (isinstance(v, list) and v[0] == "")}  # fmt: skip
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [_first([v]) for v in value]
    return value


def test_every_shape_imports_and_the_perfect_answer_gets_bfcls_verdict(tmp_path: Path) -> None:
    q, a = _files(tmp_path, SHAPES)
    result = import_bfcl_entries(q, a)
    assert result.failed == []
    cases = {c.id: c for c in result.suite.cases}
    assert list(cases) == [s[0] for s in SHAPES]
    for cid, fn, truth, verdict in SHAPES:
        args = {p: _first(v) for p, v in truth.items() if v[0] != ""}
        name = fn["name"].replace(".", "_")
        score = score_case(cases[cid], [ParsedCall(name=name, arguments=args)], mode="bfcl")
        assert score.passed is verdict, (cid, score.explanation)


def test_default_mode_matchers_fit_the_schema_and_say_what_they_drop(tmp_path: Path) -> None:
    q, a = _files(tmp_path, SHAPES)
    cases = {c.id: c for c in import_bfcl(q, a).cases}
    params = {cid: c.expected[0].params for cid, c in cases.items()}
    assert params["simple_0"]["days"] == ParamMatcher(kind="optional", optional=True)
    assert "None" in cases["simple_0"].source["default_mode_notes"][0]
    assert params["live_simple_1-1-0"]["rooms"].kind == "any"
    # BFCL's {key: [values]} dicts become concrete values, never literal lists
    conditions = params["simple_2"]["conditions"]
    assert conditions.kind == "one_of" and conditions.normalize
    assert conditions.value[0] == [
        {"field": "age", "op": ">", "value": 30},
        {"field": "city", "op": "=", "value": "Oslo"},
    ]
    assert len(conditions.value) == 4  # age/Age x with/without the optional "x"
    when = params["simple_3"]["when"]
    assert {"day": "tue", "hour": 11} in when.value and len(when.value) == 3
    assert "port" not in params["simple_5"]
    assert "not in the function's doc" in cases["simple_5"].source["default_mode_notes"][0]
    ok = {"ego": {"position": {"lateral": 10.5, "lane": {"id": "l1"}}, "speed": 3.0}}
    assert score_case(cases["live_multiple_4-2-0"], [ParsedCall("drive", ok)]).passed
    good = [{"field": "AGE", "op": ">", "value": 30}, {"field": "CITY", "op": "=", "value": "oslo"}]
    assert score_case(cases["simple_2"], [ParsedCall("db_query", {"conditions": good})]).passed


def test_one_bad_entry_is_listed_and_the_rest_import(tmp_path: Path) -> None:
    q, a = _files(tmp_path, SHAPES[:3])
    lines = q.read_text().splitlines()
    lines.insert(1, "{not json")
    lines.append(json.dumps({"id": "simple_9", "question": "hi", "function": [{"nm": "x"}]}))
    q.write_text("\n".join(lines) + "\n")
    answers = a.read_text().splitlines()
    answers[2] = json.dumps({"id": "simple_2", "ground_truth": [{"nope": {"a": [1]}}]})
    answers.append(json.dumps({"id": "orphan_1", "ground_truth": []}))
    a.write_text("\n".join(answers) + "\n")
    result = import_bfcl_entries(q, a)
    assert [c.id for c in result.suite.cases] == ["simple_0", "live_simple_1-1-0"]
    failed = dict(result.failed)
    assert set(failed) == {"line 2", "simple_2", "simple_9", "orphan_1"}
    assert "line 2 is not JSON" in failed["line 2"]
    assert "'nope', not among the entry's functions ['db_query']" in failed["simple_2"]
    assert "function[0]: expected a function doc with a string 'name'" in failed["simple_9"]
    assert "has no question" in failed["orphan_1"]
    with pytest.warns(UserWarning, match="4 entries left out"):
        assert len(import_bfcl(q, a).cases) == 2


# --- Java and JavaScript: arguments are source code in strings ----------------------------
JAVA = _fn(
    "Store.put",
    {
        "n": {"type": "integer"},
        "big": {"type": "long"},
        "ratio": {"type": "float"},
        "ok": {"type": "boolean"},
        "ids": {"type": "ArrayList", "items": {"type": "long"}},
        "meta": {"type": "HashMap"},
        "who": {"type": "any"},
    },
    ["n"],
)
JS = _fn(
    "render",
    {
        "label": {"type": "String"},
        "count": {"type": "integer"},
        "on": {"type": "Boolean"},
        "xs": {"type": "array", "items": {"type": "float"}},
        "opts": {"type": "dict"},
    },
    ["label"],
)
JAVA_TRUTH = {"n": [5], "big": [42], "ratio": [0.5], "ok": [True], "ids": [[1, 2]],
              "meta": [{"k": ["v"]}], "who": ["mapController"]}  # fmt: skip
JS_TRUTH = {"label": ["Hello"], "count": [3], "on": [False], "xs": [[1.5, 2.0]],
            "opts": [{"mode": ["fast"]}]}  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "truth", "args", "verdict"),
    [
        (JAVA, JAVA_TRUTH, {"n": "5", "big": "42L", "ratio": "0.5f", "ok": "true",
          "ids": "new ArrayList<>(Arrays.asList(1L, 2L))",
          "meta": 'new HashMap<String, String>() {{ put("k", "v"); }}', "who": "mapController"},
         True),
        (JAVA, JAVA_TRUTH, {"n": 5}, False),  # not a string: BFCL's Java type error
        (JAVA, JAVA_TRUTH, {**dict.fromkeys(JAVA_TRUTH, ""), "n": "5", "big": "42"}, False),
        (JS, JS_TRUTH, {"label": "'Hello'", "count": "3", "on": "false", "xs": "[1.5, 2.0]",
          "opts": "{mode: 'fast'}"}, True),
        (JS, JS_TRUTH, {"label": "Hello", "count": "3", "on": "false", "xs": "[1.5, 2.0]",
          "opts": "{mode: 'slow'}"}, False),
        (JS, JS_TRUTH, {"label": "Hello", "count": "3.0", "on": "false", "xs": "[1.5, 2.0]",
          "opts": "{mode: 'fast'}"}, False),  # "3.0" is no JavaScript integer
    ],
)  # fmt: skip
def test_java_and_javascript_follow_bfcls_type_rules(
    tmp_path: Path, entry: dict, truth: dict, args: dict, verdict: bool
) -> None:
    lang = "java" if entry is JAVA else "javascript"
    q, a = _files(tmp_path, [(f"simple_{lang}_0", entry, truth, verdict)])
    (case,) = import_bfcl(q, a).cases
    assert case.source["language"] == lang
    tool = entry["name"].replace(".", "_")
    score = score_case(case, [ParsedCall(name=tool, arguments=args)], mode="bfcl")
    assert score.passed is verdict, score.explanation


def test_java_and_javascript_tools_ask_for_source_code_strings(tmp_path: Path) -> None:
    q, a = _files(tmp_path, [("simple_java_0", JAVA, JAVA_TRUTH, True)])
    suite = import_bfcl(q, a)
    props = suite.tools[0]["function"]["parameters"]["properties"]
    assert {p["type"] for p in props.values()} == {"string"}
    assert "Java 8 SDK long" in props["big"]["description"]
    assert "ArrayList of long" in props["ids"]["description"]


# --- default mode: one rule for strings --------------------------------------------------
@pytest.mark.parametrize(
    ("truth", "value", "ok"),
    [
        (["Portuguese"], "PORTUGUESE", True),
        (["Portuguese", "pt"], "PORTUGUESE", True),  # was exact and case-sensitive
        (["Portuguese", "pt"], " PT ", True),
        (["Portuguese", "pt"], "Spanish", False),
        ([["New York", "Paris"]], ["new york", "PARIS"], True),  # list items too
        ([["New York", "Paris"]], ["Paris", "New York"], False),  # lists keep their order
        ([["New York"], ["Boston"]], ["BOSTON"], True),
        (["New-York"], "New York", False),  # punctuation counts in default mode
    ],
)
def test_default_mode_normalises_every_answer_string_alike(
    tmp_path: Path, truth: list[Any], value: Any, ok: bool
) -> None:
    kind = "array" if isinstance(value, list) else "string"
    spec: dict[str, Any] = {"type": kind}
    if kind == "array":
        spec["items"] = {"type": "string"}
    fn = _fn("say", {"x": spec}, ["x"])
    q, a = _files(tmp_path, [("simple_0", fn, {"x": truth}, True)])
    (case,) = import_bfcl(q, a).cases
    assert score_case(case, [ParsedCall(name="say", arguments={"x": value})]).passed is ok
