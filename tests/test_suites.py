"""Suites: loading with precise errors, lossless save, hashing, importers, and the example
suite answered by the simulated endpoint with its scripted mix of right and wrong calls."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from suite_paths import EXAMPLE, RULES

from llmbench_jupyter.evals.model import MATCHER_KINDS, Case, ParamMatcher, Suite
from llmbench_jupyter.evals.suites import SuiteError, dump_suite, load_suite, suite_hash
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.sim.rules import load_rules


def _kinds(m: ParamMatcher) -> set[str]:
    kinds = {m.kind} | ({"optional"} if m.optional else set())
    if m.kind == "object":
        for sub in m.value.values():
            kinds |= _kinds(sub)
    if m.kind == "unordered":
        for sub in m.value:
            if isinstance(sub, ParamMatcher):
                kinds |= _kinds(sub)
    return kinds


# --- the example suite ----------------------------------------------------------------
def test_example_suite_covers_every_category_and_matcher() -> None:
    suite = load_suite(EXAMPLE)
    assert len(suite.cases) >= 40
    assert len(suite.tools) >= 8
    cats = Counter(c.category for c in suite.cases)
    assert set(cats) == {"single", "multiple", "parallel", "irrelevance", "multi_turn"}
    assert all(n >= 5 for n in cats.values()), cats
    kinds = {
        k for c in suite.cases for e in c.expected for m in e.params.values() for k in _kinds(m)
    }
    assert kinds == set(MATCHER_KINDS)
    for case in suite.cases:
        if case.category == "parallel":
            assert 2 <= len(case.expected) <= 3
        if case.category == "irrelevance":
            assert not case.should_call and not case.expected
        if case.category == "multi_turn" and case.mock_tools is None:
            assert 2 <= case.max_rounds <= 3 and case.ordered
            assert case.required_sequence == [e.name for e in case.expected]
            assert set(case.mock_responses) == set(case.required_sequence)
        elif case.category == "multi_turn":  # stateful mock tools: scored on the final state
            assert case.mock_tools == "assistant_world" and case.expected_final_state
            assert not case.mock_responses and case.required_sequence
    assert sum(c.mock_tools is not None for c in suite.cases) == 3


@pytest.mark.parametrize("ext", ["yaml", "json"])
def test_dump_and_load_round_trip_losslessly(tmp_path: Path, ext: str) -> None:
    suite = load_suite(EXAMPLE)
    path = dump_suite(suite, tmp_path / f"again.{ext}")
    again = load_suite(path)
    assert again == suite
    assert suite_hash(again) == suite_hash(suite)


def test_suite_hash_tracks_content_not_version() -> None:
    suite = load_suite(EXAMPLE)
    h = suite_hash(suite)
    assert len(h) == 64 and h == suite_hash(load_suite(EXAMPLE))
    bumped = copy.deepcopy(suite)
    bumped.version = 7
    assert suite_hash(bumped) == h
    changed = copy.deepcopy(suite)
    changed.cases[0].expected[0].params["city"] = ParamMatcher(kind="text", value="Lyon")
    assert suite_hash(changed) != h


def test_load_accepts_short_and_long_matcher_forms() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "number"}, "b": {"type": "string"}},
                },
            },
        }
    ]
    short = load_suite(
        {
            "name": "s",
            "tools": tools,
            "cases": [
                {
                    "id": 1,
                    "prompt": "x",
                    "expected": [
                        {"name": "f", "params": {"a": {"numeric": 2, "rel_tol": 0.1}, "b": "hi"}}
                    ],
                }
            ],
        }
    )
    long = load_suite(
        {
            "name": "s",
            "tools": tools,
            "cases": [
                {
                    "id": "1",
                    "messages": [{"role": "user", "content": "x"}],
                    "expected": [
                        {
                            "name": "f",
                            "params": {
                                "a": {"kind": "numeric", "value": 2, "rel_tol": 0.1},
                                "b": {"kind": "exact", "value": "hi"},
                            },
                        }
                    ],
                }
            ],
        }
    )
    assert short == long
    assert short.cases[0].expected[0].params["a"] == ParamMatcher(
        kind="numeric", value=2, rel_tol=0.1
    )


# --- precise errors -------------------------------------------------------------------
def _bad_suite(tmp_path: Path, mutate: Any) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _city(data: dict) -> dict:
    return data["cases"][3]["expected"][0]["params"]


BAD_CASES = {
    "unknown tool": (
        lambda d: d["cases"][3]["expected"][0].update(name="get_wether"),
        ["cases[3].expected[0].name", "'get_wether'", "calculate"],
    ),
    "param not in schema": (
        lambda d: d["cases"][0]["expected"][0]["params"].update(town="Paris"),
        ["cases[0].expected[0].params.town", "'town'", "get_weather", "city"],
    ),
    "misspelt matcher kind": (
        lambda d: d["cases"][0]["expected"][0]["params"].update(city={"txt": "Paris"}),
        ["cases[0].expected[0].params.city", "not a matcher", "text"],
    ),
    "unknown long-form kind": (
        lambda d: d["cases"][0]["expected"][0]["params"].update(
            city={"kind": "fuzzy", "value": "Paris"}
        ),
        ["cases[0].expected[0].params.city", "'fuzzy'", "one_of"],
    ),
    "matcher for the wrong type": (
        lambda d: d["cases"][0]["expected"][0]["params"].update(city={"numeric": 3}),
        ["cases[0].expected[0].params.city", "numeric", "string"],
    ),
    "value of the wrong type": (
        lambda d: d["cases"][2]["expected"][0]["params"].update(days="three"),
        ["cases[2].expected[0].params.days", "'three'", "integer"],
    ),
    "duplicate ids": (
        lambda d: d["cases"][5].update(id=d["cases"][1]["id"]),
        ["cases[5].id", "duplicate", "cases[1]"],
    ),
    "bare function tool": (
        lambda d: d["tools"].__setitem__(0, d["tools"][0]["function"]),
        ["tools[0]", "OpenAI function format", "bare function"],
    ),
    "tool not offered to the case": (
        lambda d: d["cases"][0]["expected"][0].update(name="calculate"),
        ["cases[0].expected[0].name", "not in this case's 'tools'"],
    ),
    "calls expected on an abstention case": (
        lambda d: d["cases"][0].update(should_call=False),
        ["cases[0].expected", "should_call is false"],
    ),
    "unknown case key": (
        lambda d: d["cases"][4].update(expect=[]),
        ["cases[4]", "unknown keys ['expect']"],
    ),
    "unknown tool in required_sequence": (
        lambda d: d["cases"][-1].update(required_sequence=["get_weather", "book"]),
        ["required_sequence[1]", "'book'"],
    ),
}


@pytest.mark.parametrize("name", list(BAD_CASES))
def test_errors_name_file_key_path_found_and_expected(tmp_path: Path, name: str) -> None:
    mutate, needles = BAD_CASES[name]
    path = _bad_suite(tmp_path, mutate)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    msg = str(info.value)
    assert str(path) in msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    assert info.value.__cause__ is None  # a message for the user, not a chained traceback


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="cannot read"):
        load_suite(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ncases: [\n  {id: 1\n", encoding="utf-8")
    with pytest.raises(SuiteError, match=r"invalid YAML at line \d+ column \d+"):
        load_suite(broken)
    bad_json = tmp_path / "broken.json"
    bad_json.write_text('{"name": "x",}', encoding="utf-8")
    with pytest.raises(SuiteError, match="invalid JSON at line 1"):
        load_suite(bad_json)


# --- the predecessor's format -----------------------------------------------------------
def _prompt(case: Case) -> str:
    return next(m["content"] for m in reversed(case.messages) if m["role"] == "user")


def test_every_case_is_targeted_by_exactly_one_rule() -> None:
    suite = load_suite(EXAMPLE)
    # rules for every model (model-specific variants and the judge are tested elsewhere)
    first = [r for r in load_rules(RULES) if r.tool_result is None and r.model is None]
    used: Counter[int] = Counter()
    for case in suite.cases:
        hits = [
            i for i, r in enumerate(first) if r.match is not None and r.match.search(_prompt(case))
        ]
        assert len(hits) == 1, (case.id, hits)
        used[hits[0]] += 1
    assert set(used) == set(range(len(first))) and set(used.values()) == {1}


async def _run_case(
    session: aiohttp.ClientSession, url: str, suite: Suite, case: Case
) -> list[list[tuple[str, dict[str, Any]]]]:
    """Calls per round, feeding mock responses back like a multi-turn runner would."""
    offered = case.tools or [t["function"]["name"] for t in suite.tools]
    tools = [t for t in suite.tools if t["function"]["name"] in offered]
    messages = list(case.messages)
    rounds: list[list[tuple[str, dict[str, Any]]]] = []
    for _ in range(case.max_rounds):
        body = {
            "model": "sim:ttft=1,itl=0,jitter=0",
            "messages": messages,
            "tools": tools,
            "tool_choice": "auto",
        }
        async with session.post(url + "/chat/completions", json=body) as resp:
            assert resp.status == 200, await resp.text()
            message = (await resp.json())["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        rounds.append(
            [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]
        )
        if not calls:
            break
        messages = [*messages, message] + [
            {
                "role": "tool",
                "tool_call_id": c["id"],
                "content": json.dumps(case.mock_responses.get(c["function"]["name"], {})),
            }
            for c in calls
        ]
    return rounds


def test_sim_answers_the_example_suite_with_the_scripted_mix() -> None:
    suite = load_suite(EXAMPLE)

    async def main() -> dict[str, list[list[tuple[str, dict[str, Any]]]]]:
        async with SimServer(rules=RULES) as srv, aiohttp.ClientSession() as session:
            results = await asyncio.gather(
                *(_run_case(session, srv.base_url, suite, c) for c in suite.cases)
            )
        return {c.id: r for c, r in zip(suite.cases, results, strict=True)}

    got = asyncio.run(main())
    names = {cid: sorted(n for rnd in rounds for n, _ in rnd) for cid, rounds in got.items()}
    static = [c for c in suite.cases if c.mock_tools is None]  # stateful: test_eval_example
    mismatched = {c.id for c in static if names[c.id] != sorted(e.name for e in c.expected)}
    # wrong tool x2, calls on irrelevance x2, a missing parallel call, a chain cut short
    assert mismatched == {
        "multi-ounces",
        "multi-spreadsheet",
        "irr-translate",
        "irr-python-tuple",
        "par-lights-three-rooms",
        "mt-everest-boiling",
    }
    assert len(static) - len(mismatched) == 35
    args = {cid: [a for rnd in rounds for _, a in rnd] for cid, rounds in got.items()}
    # right names, wrong arguments, as scripted
    assert args["single-weather-tokyo-f"] == [{"city": "Tokyo", "unit": "celsius"}]
    assert args["single-convert-fahrenheit"][0]["value"] == "100"
    assert args["single-calendar-dentist"][0]["time"] == "21:30"
    assert "language" in args["single-search-python"][0]
    assert "level" not in args["single-lamp-dim"][0]
    assert "attendees" not in args["multi-sync-priya"][0]
    assert args["par-convert-two"][1]["to_unit"] == "quarts"
    # multi-turn chains: one call per round, then a final text answer
    for case in static:
        if case.category == "multi_turn" and case.id != "mt-everest-boiling":
            assert [[n for n, _ in rnd] for rnd in got[case.id]] == [
                [name] for name in case.required_sequence
            ] + [[]]
    assert [[n for n, _ in rnd] for rnd in got["mt-everest-boiling"]] == [["web_search"], []]
    abstained = [c.id for c in suite.cases if c.category == "irrelevance" and not names[c.id]]
    assert len(abstained) == 5


def test_concurrent_saves_of_one_suite_name_never_collide(db_url: str) -> None:
    """Two kernels starting evals of the same suite at once: each save gets a version."""
    import dataclasses
    import threading

    from llmbench_jupyter.store import open_store

    store = open_store(db_url)
    base = load_suite("example")
    owner = f"race-{uuid.uuid4().hex[:8]}"
    variants = [
        dataclasses.replace(base, name="raced", cases=base.cases[: i + 1]) for i in range(8)
    ]
    barrier = threading.Barrier(len(variants))
    rows: list[dict] = []
    failures: list[BaseException] = []

    def save(suite) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            rows.append(store.save_suite(suite, owner))
        except BaseException as exc:  # the test reports it
            failures.append(exc)

    threads = [threading.Thread(target=save, args=(v,)) for v in variants]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert sorted(r["version"] for r in rows) == list(range(1, len(variants) + 1))
