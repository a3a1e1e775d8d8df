"""Storing an imported predecessor eval run: its suite, its case rows and its summary.

The suite comes first, since cases pair across runs by suite name and case id: a stored
suite of the export's name whose cases match every exported case by prompt (as the
predecessor-suite importer stores them: its suite export had no case ids) lends its case
ids; otherwise a suite is rebuilt from the export's case fields under a name of its own,
so it never becomes a new version of a suite of yours.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import InputError, LLMBenchError, scrub, scrub_deep
from llmbench_jupyter.store.import_predecessor_evals import (
    CAVEATS,
    SOURCE,
    _conversation,
    _targets,
    case_score,
    read_eval_export,
    run_id_for,
)

if TYPE_CHECKING:
    from llmbench_jupyter.evals.model import Suite

REBUILT = " (rebuilt from a llm-benchmark-studio eval export)"
#: What its eval export does not hold, so no imported run has it.
MISSING = (
    "tool schemas per case (kept once, in a rebuilt suite, when its raw requests had them)",
    "its per-case scoring mode and tolerance, mock responses and prerequisites of "
    "multi-turn cases (a rebuilt suite has none of them)",
    "judge verdicts (its export leaves them out)",
    "token counts other than those in each raw response's usage",
)


def _first_user(messages: list[dict[str, Any]]) -> str:
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    return str(users[-1]).strip() if users else ""


def _tool_name(expected: Any) -> str | None:
    names = [expected] if isinstance(expected, str) else list(expected or [])
    return str(names[0]).lower() if names else None


def _match(suite: Suite, cases: dict[str, dict[str, Any]]) -> dict[str, str] | None:
    """Its case id -> ours, when every exported case has exactly one match by prompt (and
    by expected tool among equal prompts) and no two share one; else None."""
    by_prompt: dict[str, list[Any]] = {}
    for c in suite.cases:
        by_prompt.setdefault(_first_user(c.messages), []).append(c)
    out: dict[str, str] = {}
    for tcid, case in cases.items():
        found = by_prompt.get(case["prompt"].strip(), [])
        if len(found) > 1:
            want = _tool_name(case["expected_tool"])
            found = [
                c for c in found if (c.expected[-1].name.lower() if c.expected else None) == want
            ]
        if len(found) != 1:
            return None
        out[tcid] = found[0].id
    return out if len(set(out.values())) == len(out) else None


def _rebuild(name: str, cases: dict[str, dict[str, Any]]) -> Suite:
    """A suite from what the export says of each case; the tools from its raw requests,
    a parameter-less stub (marked as such) for a tool they do not show."""
    from llmbench_jupyter.evals.importers import import_predecessor
    from llmbench_jupyter.evals.suites import SuiteError

    tools: dict[str, Any] = {}
    for case in cases.values():
        for t in (case["raw_request"] or {}).get("tools") or []:
            fn = t.get("function") if isinstance(t, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                tools.setdefault(fn["name"], scrub_deep(t))
    tests = []
    for tcid, case in cases.items():
        tc = {
            "id": tcid,
            "prompt": case["prompt"],
            "expected_tool": case["expected_tool"],
            "should_call_tool": bool(case["should_call_tool"]),
        }
        for key in ("expected_params", "category"):
            if case[key]:
                tc[key] = case[key]
        if case["multi_turn"]:
            tc["multi_turn"] = True
        tests.append(tc)

    def stubs(keep: dict[str, Any]) -> list[Any]:
        out = dict(keep)
        for tc in tests:
            expected = tc["expected_tool"]
            for n in [expected] if isinstance(expected, str) else list(expected or []):
                params: dict[str, Any] = {k: {} for k in tc.get("expected_params") or {}}
                if n not in out:
                    out[n] = {
                        "type": "function",
                        "function": {
                            "name": n,
                            "description": "schema not in the eval export (a stub)",
                            "parameters": {"type": "object", "properties": {}},
                        },
                    }
                props = out[n]["function"].setdefault("parameters", {}).setdefault("properties", {})
                if "not in the eval export" in out[n]["function"].get("description", ""):
                    props.update(params)
        return list(out.values())

    body = {
        "name": name,
        "test_cases": tests,
        "description": f"Rebuilt from a {SOURCE} eval export: prompts and expected calls "
        "only (no scoring modes, mock responses or prerequisites).",
    }
    try:
        return import_predecessor({**body, "tools": stubs(tools)}, name=name)
    except SuiteError:  # its requests' schemas disagree with its expectations: stubs only
        return import_predecessor({**body, "tools": stubs({})}, name=name)


def _suite(
    store: Any, owner: str, name: str, cases: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], Suite, dict[str, str], str]:
    """(suite row, suite, its case id -> ours, how it was found)."""
    for row in store.list_suites(owner=owner):  # newest version first
        if row["name"] != name:
            continue
        suite = store.get_suite(row["suite_id"], owner=owner)
        ids = _match(suite, cases)
        if ids is not None:
            return (
                row,
                suite,
                ids,
                f"cases matched by prompt to stored suite {name!r} version {row['version']}",
            )
    suite = _rebuild(name + REBUILT, cases)
    row = store.save_suite(suite, owner=owner)
    return (
        row,
        suite,
        {k: k for k in cases},
        (
            f"no stored suite {name!r} matched every case by prompt: rebuilt from the export "
            f"as {suite.name!r} (import the suite first to pair its cases with your runs)"
        ),
    )


def summaries(
    rows: list[dict[str, Any]], targets: list[str], categories: list[str]
) -> dict[str, dict[str, Any]]:
    """Per target, what an eval job stores (``stored_summary``), from the rows' scores."""
    from llmbench_jupyter.evals.scoring import CaseScore, score_suite, stored_summary

    out = {}
    for target in targets:
        scores = [
            CaseScore(
                **{k: v for k, v in r["score"].items() if k in CaseScore.__dataclass_fields__}
            )
            for r in rows
            if f"{r['provider']}/{r['model']}" == target
        ]
        out[target] = stored_summary(score_suite(scores, categories))
    return out


def _their_summary(export: dict[str, Any], mid: str, passed: int, n: int) -> tuple[Any, str | None]:
    """Its summary entry for model ``mid`` and, when its pass count is not the cases', why."""
    entry = next((s for s in export["summary"] if str(s.get("model_id")) == mid), None)
    if entry is None:
        return None, None
    said = entry.get("cases_passed")
    if "total_cases" in entry and said is not None and said != passed:
        return entry, (
            f"{mid}: its summary's cases_passed ({said}) counted calls without an "
            f"API error; by its own pass rule {passed} of {n} passed"
        )
    if said is not None and said != passed:
        return entry, f"{mid}: its summary says {said} passed, its cases say {passed} of {n}"
    return entry, None


def store_eval_export(
    store: Any,
    data: Any,
    path: Path,
    digest: str,
    *,
    when: datetime | None = None,
    owner: str | None = None,
    targets: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """Store the eval export ``data`` (read from ``path``) as one eval run, unless it is
    already stored; ``{"imported": [id], "skipped": []}`` or the other way round."""
    export = read_eval_export(data, str(path))
    at = export["when"] or when
    if at is None:
        raise InputError(f"{path}: the export has no timestamp: give when=")
    who = store._owner(owner, write=True)
    run_id = run_id_for(who, digest)
    try:
        store.get_run(run_id, owner=who)
        return {"imported": [], "skipped": [run_id]}
    except LLMBenchError:
        pass
    names = _targets(export, targets)
    cases: dict[str, dict[str, Any]] = {}
    for c in export["cases"]:
        cases.setdefault(c["test_case_id"], c)
    row, suite, ids, how = _suite(store, who, export["suite"], cases)
    category = {c.id: c.category for c in suite.cases}
    attempts: dict[tuple[str, str], int] = {}
    rows = []
    for c in export["cases"]:
        provider, model = names[c["model_id"]]
        case_id = ids[c["test_case_id"]]
        attempt = attempts[(c["model_id"], case_id)] = (
            attempts.get((c["model_id"], case_id), -1) + 1
        )
        transcript, calls = _conversation(c)
        score = case_score(c, case_id, category[case_id])
        rows.append(
            {
                "provider": provider,
                "model": model,
                "case_id": case_id,
                "category": category[case_id],
                "attempt": attempt,
                "passed": score["passed"],
                "outcome": score["outcome"],
                "error_type": score["error_type"],
                "tool_f1": None,
                "argument_accuracy": None,
                "latency_ms": c["latency_ms"],
                "error": None
                if c["success"]
                else (scrub(c["error"]).strip() or f"failed in {SOURCE} (no reason given)"),
                "error_category": None if c["success"] else "unknown",
                "score": score,
                "calls": calls,
                "transcript": transcript,
                "final_state": None,
            }
        )
    keys = list(
        dict.fromkeys(f"{p}/{m}" for p, m in (names[c["model_id"]] for c in export["cases"]))
    )
    summary = summaries(rows, keys, sorted(set(category.values())))
    caveats = [*CAVEATS, how]
    for mid, (provider, model) in names.items():
        mine = [r for r, c in zip(rows, export["cases"], strict=True) if c["model_id"] == mid]
        entry, note = _their_summary(export, mid, sum(r["passed"] for r in mine), len(mine))
        if entry is not None:
            summary[f"{provider}/{model}"]["predecessor"] = scrub_deep(copy.deepcopy(entry))
        if note:
            caveats.append(note)
    spec = {
        "suite": suite.name,
        "suite_version": row["version"],
        "suite_id": row["suite_id"],
        "n_cases": len(suite.cases),
        "targets": keys,
        "profiles": {},
        "k": 1,
        "mode": SOURCE,
        "temperature": export["temperature"],
        "judge": None,
        "judge_threshold": None,
        "imported": {
            "source": SOURCE,
            "file": path.name,
            "sha256": digest,
            "eval_id": export["eval_id"],
            "rows": len(rows),
            "models": {mid: {"target": f"{p}/{m}"} for mid, (p, m) in names.items()},
            "caveats": caveats,
            "missing": list(MISSING),
        },
    }
    store.create_run(
        run_id=run_id,
        owner=who,
        kind="eval",
        name=f"imported: {suite.name}",
        spec=spec,
        config_snapshot={},
        versions={},
        host={},
        created_at=at,
    )
    try:
        store.add_eval_results(run_id, rows)
        store.set_run_summary(run_id, summary)
        store.finish_run(
            run_id, "failed" if all(r["outcome"] == "api_error" for r in rows) else "done"
        )
    except BaseException:
        store.delete_run(run_id)  # nothing half-imported
        raise
    return {"imported": [run_id], "skipped": []}
