"""The predecessor's exported tool-eval runs (its eval-<id>.json, both of its shapes) imported
as eval runs on both backends: its verdicts kept and labelled as its own, pass rates that
match its file, cases paired with a suite imported from its suite export, a second import
skipped, malformed files refused with what and where, and no key from its raw data stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.store.import_predecessor import import_predecessor
from llmbench_jupyter.store.import_predecessor_evals import CAVEATS, SOURCE

DATA = Path(__file__).parent / "data"
EVAL = DATA / "predecessor_eval_smart_home.json"
SUITE = DATA / "predecessor_suite_smart_home.json"
SECRETS = (
    "SECRETVALUE1234567890",
    "plain-secret-value-987654",
    "AbCdEfGhIjKlMnOp1234",
    "qwertyuiop123456",
)
GPT, CLAUDE = "OpenAI/gpt-4o-mini", "Anthropic/anthropic/claude-3-5-haiku"


def _eval(tmp_path: Path, data: Any = None, name: str = "eval-3f2a9c41.json") -> Path:
    path = tmp_path / name
    path.write_text(
        json.dumps(data, ensure_ascii=False)
        if data is not None
        else EVAL.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return path


def _verdicts(export: dict[str, Any]) -> dict[tuple[str, str], bool]:
    """Its own pass rule, read off the file: the call succeeded and overall was 1.0."""
    return {
        (r["model_id"], r["prompt"]): bool(r.get("success", True)) and r["overall_score"] == 1.0
        for r in export["results"]
    }


def test_an_eval_export_round_trips_with_its_verdicts(store, owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from llmbench_jupyter.analysis.eval_history import eval_history, load_eval
    from llmbench_jupyter.evals.scoring import stored_summary

    path = _eval(tmp_path)
    (run_id,) = import_predecessor(store, path, owner=owner)["imported"]
    run = store.get_run(run_id, owner=owner)
    assert run["kind"] == "eval" and run["status"] == "done"
    assert run["created_at"] == datetime(2026, 2, 21, 14, 3, 27, tzinfo=UTC)
    spec = run["spec"]
    assert spec["mode"] == SOURCE and spec["k"] == 1
    assert spec["imported"]["caveats"][: len(CAVEATS)] == list(CAVEATS)
    assert "rebuilt from the export" in spec["imported"]["caveats"][len(CAVEATS)]
    assert spec["imported"]["eval_id"] == "3f2a9c41d8e04b7f9a1c2e3d4f5a6b7c"
    assert spec["suite"] == "Smart Home ☀ Suite (rebuilt from a llm-benchmark-studio eval export)"

    result = load_eval(run_id, store, owner=owner)
    assert sorted(result.targets) == sorted([GPT, CLAUDE])
    export = json.loads(EVAL.read_text(encoding="utf-8"))
    prompts = {c.id: c.messages[-1]["content"] for c in result.suite.cases}
    model_of = {GPT: "gpt-4o-mini", CLAUDE: "anthropic/claude-3-5-haiku"}
    got = {
        (model_of[f"{r.provider}/{r.model}"], prompts[r.case_id]): r.score.passed
        for r in result.runs
    }
    assert got == _verdicts(export)
    by = {(f"{r.provider}/{r.model}", prompts[r.case_id][:4]): r for r in result.runs}
    assert by[(GPT, "Set ")].score.outcome == "wrong_arguments"
    assert by[(GPT, "Tell")].score.outcome == "should_not_call"
    assert by[(CLAUDE, "Tell")].score.outcome == "api_error"
    assert by[(CLAUDE, "What")].score.outcome == "extra_call"  # right call, one hop too many
    assert by[(GPT, "What")].category == "multi_turn"
    assert [c["name"] for c in by[(GPT, "What")].calls] == ["get_location", "get_weather"]
    assert by[(GPT, "What")].transcript[2]["role"] == "tool"
    assert by[(GPT, "Wie ")].calls[0]["arguments"] == {"city": "zürich", "unit": "celsius"}
    assert by[(CLAUDE, "Wie ")].latency_ms == 1033.4 and by[(CLAUDE, "Wie ")].calls  # few fields
    assert all(r.score.mode == SOURCE and r.score.tool_f1 is None for r in result.runs)

    # pass rates: its cases_passed / cases_run, and our stored summary is stored_summary's
    scores = result.scores()
    for s in export["summary"]:
        target = GPT if s["model_id"] == "gpt-4o-mini" else CLAUDE
        assert scores[target].micro.rate == s["cases_passed"] / s["cases_run"]
        stored = run["summary"][target]
        assert stored.pop("predecessor")["overall_pct"] == s["overall_pct"]
        assert stored == json.loads(json.dumps(stored_summary(scores[target])))
    hist = eval_history(all_owners=True, store=store, full=True)
    mine = hist[hist.run_id == run_id]
    assert sorted(mine.target) == sorted([GPT, CLAUDE]) and set(mine.pass_rate) == {0.5}

    # imported again: skipped, nothing doubled
    assert import_predecessor(store, path, owner=owner) == {"imported": [], "skipped": [run_id]}
    assert len(store.eval_results(run_id)) == 8


def test_no_key_in_its_raw_data_is_stored(db_url, store, owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (run_id,) = import_predecessor(store, _eval(tmp_path), owner=owner)["imported"]
    dumped = json.dumps(
        [store.get_run(run_id, owner=owner), store.eval_results(run_id)],
        default=str,
        ensure_ascii=False,
    )
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT body FROM suites WHERE owner = :o"), {"o": owner}).all()
    engine.dispose()
    dumped += json.dumps([r[0] for r in rows], default=str, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in dumped
    assert "[REDACTED]" in dumped  # the header, the api_key field, the URL token, the error
    row = next(r for r in store.eval_results(run_id) if r["error"])
    assert row["error"].startswith("AuthenticationError: Incorrect API key provided: ")
    assert "Zürich" in dumped and "😄" in dumped  # data itself untouched


def test_cases_pair_with_a_suite_imported_from_its_suite_export(  # type: ignore[no-untyped-def]
    store, tmp_path: Path
) -> None:
    owner = None  # the comparison reads the runs as their owner: you
    from llmbench_jupyter.analysis.eval_history import load_eval
    from llmbench_jupyter.analysis.experiments import _compare_evals
    from llmbench_jupyter.evals.importers import import_predecessor as import_suite

    suite = import_suite(SUITE)
    row = store.save_suite(suite, owner=owner)
    (first,) = import_predecessor(store, _eval(tmp_path), owner=owner)["imported"]
    spec = store.get_run(first, owner=owner)["spec"]
    assert (spec["suite"], spec["suite_id"]) == ("Smart Home ☀ Suite", row["suite_id"])
    assert "matched by prompt" in spec["imported"]["caveats"][len(CAVEATS)]
    result = load_eval(first, store, owner=owner)
    assert {r.case_id for r in result.runs} == {c.id for c in suite.cases}
    # a later run of the same suite (another export: one more pass) pairs case by case
    later = json.loads(EVAL.read_text(encoding="utf-8"))
    later["eval_id"], later["timestamp"] = "99aa", "2026-02-22T09:00:00Z"
    fixed = later["results"][1]
    fixed.update(param_accuracy=1.0, overall_score=1.0, actual_params=fixed["expected_params"])
    (second,) = import_predecessor(store, _eval(tmp_path, later, "eval-99aa.json"), owner=owner)[
        "imported"
    ]
    rows = {r["target"]: r for r in _compare_evals(store, first, second)}
    assert rows[GPT]["test"] == "McNemar exact, paired cases"
    assert rows[GPT]["note"].startswith("4 paired cases: 1 only this run passed")
    assert rows[GPT]["diff"] == 0.25 and rows[CLAUDE]["diff"] == 0.0


def test_its_newer_export_shape_and_target_names(store, owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """After its schema rework: case_results rows (JSON text fields, a database model id, no
    provider, no models list) and a summary whose cases_passed counted calls without error."""
    rows = [
        {
            "id": "r1",
            "eval_run_id": "e2",
            "test_case_id": "t1",
            "model_id": "m9",
            "model_litellm_id": "groq/llama-3.1-8b",
            "model_display_name": "Llama ⚡",
            "test_case_prompt": "Turn on the porch light",
            "expected_tool": '["lights_on", "switch"]',
            "expected_params": '{"where": "porch"}',
            "actual_tool": "switch",
            "actual_params": '{"where": "Porch"}',
            "tool_selection_score": 1.0,
            "param_accuracy": 1.0,
            "overall_score": 1.0,
            "success": 1,
            "error": "",
            "latency_ms": 300,
            "raw_request": None,
            "raw_response": None,
            "category": None,
        },
        {
            "id": "r2",
            "eval_run_id": "e2",
            "test_case_id": "t2",
            "model_id": "m9",
            "model_litellm_id": "groq/llama-3.1-8b",
            "test_case_prompt": "What is 2+2?",
            "expected_tool": None,
            "expected_params": None,
            "actual_tool": "switch",
            "actual_params": "{}",
            "tool_selection_score": 0.0,
            "param_accuracy": None,
            "overall_score": 0.0,
            "success": 1,
            "error": "",
        },
    ]
    export = {
        "eval_id": "e2",
        "suite_name": "Lights",
        "temperature": 0.2,
        "timestamp": "2026-02-28T08:00:00",
        "results": rows,
        "summary": [
            {
                "model_id": "m9",
                "model_litellm_id": "groq/llama-3.1-8b",
                "total_cases": 2,
                "cases_passed": 2,
                "overall_score_pct": 50.0,
            }
        ],
    }
    path = _eval(tmp_path, export, "eval-e2.json")
    (run_id,) = import_predecessor(store, path, owner=owner, targets={"Llama ⚡": "groq/llama-8b"})[
        "imported"
    ]
    run = store.get_run(run_id, owner=owner)
    assert list(run["summary"]) == ["groq/llama-8b"]
    assert run["summary"]["groq/llama-8b"]["passed"] == 1
    assert any(
        "counted calls without an API error" in c for c in run["spec"]["imported"]["caveats"]
    )
    r1, r2 = store.eval_results(run_id)
    assert (r1["passed"], r2["passed"], r2["outcome"]) == (True, False, "should_not_call")
    assert r1["calls"][0]["arguments"] == {"where": "Porch"}
    # without a mapping: the litellm id's prefix is the provider
    (other,) = import_predecessor(
        store, _eval(tmp_path, {**export, "eval_id": "e3"}, "e3.json"), owner=owner
    )["imported"]
    assert list(store.get_run(other, owner=owner)["summary"]) == ["groq/groq/llama-3.1-8b"]


def _broken(change: Any) -> dict[str, Any]:
    data = json.loads(EVAL.read_text(encoding="utf-8"))
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "tools": []}, "not a llm-benchmark-studio export: a JSON export must be"),
        ([1, 2], "not a llm-benchmark-studio export"),
        (_broken(lambda d: d.update(results=[])), "'results' must be a non-empty list"),
        (_broken(lambda d: d.update(suite_name="")), "'suite_name' must be a non-empty string"),
        (_broken(lambda d: d.update(timestamp="last tuesday")), "timestamp 'last tuesday' is"),
        (
            _broken(lambda d: d["results"][3].update(overall_score=1.5)),
            r"results\[3\]\.overall_score: found 1\.5, expected a number from 0 to 1",
        ),
        (
            _broken(lambda d: d["results"][2].pop("model_id")),
            r"results\[2\]\.model_id: found None, expected an id",
        ),
        (_broken(lambda d: d["results"][0].update(prompt="")), r"results\[0\]: no prompt"),
        (
            _broken(lambda d: d["results"][1].update(success="yes")),
            r"results\[1\]\.success: found 'yes', expected true or false",
        ),
        (
            _broken(lambda d: d["results"][1].update(raw_request="{not json")),
            r"results\[1\]\.raw_request: '\{not json' is not JSON",
        ),
        (
            _broken(lambda d: d["results"][4].update(latency_ms=-3)),
            r"results\[4\]\.latency_ms: found -3, expected a number >= 0",
        ),
    ],
)
def test_bad_eval_exports_say_what_and_where(
    store,
    owner,
    tmp_path: Path,
    data: Any,  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    with pytest.raises(InputError, match=message):
        import_predecessor(store, _eval(tmp_path, data), owner=owner)
    assert store.list_runs(owner=owner) == []  # nothing half-imported


def test_truncated_json_and_no_timestamp(store, owner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "eval-cut.json"
    path.write_text(EVAL.read_text(encoding="utf-8")[:500], encoding="utf-8")
    with pytest.raises(InputError, match=r"eval-cut\.json: not valid JSON"):
        import_predecessor(store, path, owner=owner)
    data = _broken(lambda d: d.update(timestamp=""))
    with pytest.raises(InputError, match="has no timestamp: give when="):
        import_predecessor(store, _eval(tmp_path, data), owner=owner)
    when = datetime(2026, 1, 5, tzinfo=UTC)
    (run_id,) = import_predecessor(store, _eval(tmp_path, data), when=when, owner=owner)["imported"]
    assert store.get_run(run_id, owner=owner)["created_at"] == when


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,suite_name,model,provider,tool_accuracy_pct,param_accuracy_pct,overall_pct,"
        "cases_run,cases_passed",
        "timestamp,suite_name,model_id,model_display_name,tool_accuracy_pct,param_accuracy_pct,"
        "overall_score_pct,total_cases,cases_passed",
    ],
)
def test_its_tool_eval_history_csv_is_refused_with_the_reason(  # type: ignore[no-untyped-def]
    store, owner, tmp_path: Path, header: str
) -> None:
    path = tmp_path / "tool_eval_history.csv"
    path.write_text(header + "\n2026-02-21 14:03:27,Smart Home,gpt-4o-mini,OpenAI,75,83,70,4,2\n")
    with pytest.raises(InputError, match=r"tool-eval history CSV .*GET /api/export/eval/"):
        import_predecessor(store, path, owner=owner)
    assert store.list_runs(owner=owner) == []


def test_the_cli_imports_an_eval_export(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from llmbench_jupyter.cli import main

    path, db = _eval(tmp_path), f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["results", "import", str(path), "--db", db]) == 0
    assert "imported run " in capsys.readouterr().out
    assert main(["results", "import", str(path), "--db", db]) == 0
    assert "imported from this file before" in capsys.readouterr().out
    csv_path = tmp_path / "tool_eval_history.csv"
    csv_path.write_text(
        "timestamp,suite_name,model,provider,tool_accuracy_pct,"
        "param_accuracy_pct,overall_pct,cases_run,cases_passed\n"
    )
    assert main(["results", "import", str(csv_path), "--db", db]) == 2
    assert "eval-<id>.json" in capsys.readouterr().err
