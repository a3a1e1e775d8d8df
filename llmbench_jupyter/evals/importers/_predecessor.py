"""Import suites from the predecessor app's suite JSON (and export them back).

The predecessor's raw test case is kept in ``case.source`` so nothing is lost: its
scoring modes, hop counts and any field we do not know.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from llmbench_jupyter.evals.model import Case, ExpectedCall, ParamMatcher, Suite
from llmbench_jupyter.evals.suites import SuiteError, check_tools, load_suite, read_data_file

_PRED_SUITE_KEYS = ("name", "description", "tools", "test_cases")
_EXTRAS_MARK = "\n\n[predecessor suite fields] "
_MODES = {
    "exact",
    "case_insensitive",
    "fuzzy",
    "contains",
    "numeric_tolerance",
    "regex",
    "any",
    "none",
}


def _pred_matcher(value: Any, mode: str, epsilon: float) -> ParamMatcher:
    """One expected value under one of the predecessor's modes, as our matcher.

    Its ``exact`` compared strings case-insensitively and numbers as floats, so strings
    map to ``text``; nested objects become ``object`` matchers (their keys were partial
    expectations); ``contains`` becomes a case-insensitive regex on the escaped value.
    """
    if mode in ("any", "none"):
        return ParamMatcher(kind="any")
    if isinstance(value, dict):
        return ParamMatcher(
            kind="object",
            value={
                k: _pred_matcher(v, "exact" if mode in ("regex", "contains") else mode, epsilon)
                for k, v in value.items()
            },
        )
    if isinstance(value, str):
        if mode == "regex":
            return ParamMatcher(kind="regex", value=value)
        if mode == "contains":
            return ParamMatcher(kind="regex", value=f"(?is).*{re.escape(value)}.*")
        if mode == "numeric_tolerance":
            try:
                return ParamMatcher(kind="numeric", value=float(value), abs_tol=epsilon)
            except ValueError:
                pass
        return ParamMatcher(kind="text", value=value)
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and mode == "numeric_tolerance"
    ):
        return ParamMatcher(kind="numeric", value=value, abs_tol=epsilon)
    return ParamMatcher(kind="exact", value=value)


def import_predecessor(
    source: str | os.PathLike[str] | Mapping[str, Any], name: str | None = None
) -> Suite:
    """Build a suite from the predecessor app's suite JSON, without losing any field.

    Each raw test case is kept in ``case.source["case"]``; suite-level fields other than
    name/description/tools/test_cases are appended to the description as JSON.
    """
    if isinstance(source, Mapping):
        data: Any = dict(source)
        origin = "predecessor suite"
    else:
        data, origin = read_data_file(source, "predecessor suite file")
    if not isinstance(data, dict) or not isinstance(data.get("test_cases"), list):
        raise SuiteError(f"{origin}: expected a mapping with 'tools' and a 'test_cases' list")
    check_tools(data.get("tools", []), origin)
    system_prompt = data.get("system_prompt")
    cases = [_pred_case(raw, i, system_prompt, origin) for i, raw in enumerate(data["test_cases"])]
    description = str(data.get("description") or "")
    extras = {k: v for k, v in data.items() if k not in _PRED_SUITE_KEYS}
    if extras:
        description += _EXTRAS_MARK + json.dumps(extras, ensure_ascii=False, sort_keys=True)
    suite_name = name or str(data.get("name") or "predecessor suite")
    return load_suite(
        Suite(
            name=suite_name, tools=list(data.get("tools", [])), cases=cases, description=description
        )
    )


def _pred_case(raw: Any, i: int, system_prompt: Any, origin: str) -> Case:
    where = f"{origin}: test_cases[{i}]"
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: found {type(raw).__name__}, expected a mapping")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise SuiteError(f"{where}.prompt: found {prompt!r}, expected a non-empty string")
    messages = [{"role": "user", "content": prompt}]
    if isinstance(system_prompt, str) and system_prompt:
        messages.insert(0, {"role": "system", "content": system_prompt})
    mt = dict(raw.get("multi_turn_config") or {})
    mt.update(
        {
            k: raw[k]
            for k in (
                "multi_turn",
                "max_rounds",
                "mock_responses",
                "valid_prerequisites",
                "optimal_hops",
            )
            if k in raw
        }
    )
    multi = bool(mt.get("multi_turn") or mt.get("mock_responses"))
    scoring = raw.get("scoring_config") or {}
    if not isinstance(scoring, dict):
        raise SuiteError(f"{where}.scoring_config: found {scoring!r}, expected a mapping")
    mode = str(scoring.get("mode") or raw.get("param_scoring") or "exact").lower()
    if mode not in _MODES:
        raise SuiteError(
            f"{where}: scoring mode {mode!r} is unknown; expected one of {sorted(_MODES)}"
        )
    epsilon = float(scoring.get("epsilon", 0.01))
    tool = raw.get("expected_tool")
    names = [tool] if isinstance(tool, str) else list(tool or [])
    if not all(isinstance(n, str) for n in names):
        raise SuiteError(
            f"{where}.expected_tool: found {tool!r}, expected a name, a list of names or null"
        )
    should_call = bool(raw.get("should_call_tool", bool(names)))
    expected: list[ExpectedCall] = []
    if names and should_call:
        params = raw.get("expected_params") or {}
        if not isinstance(params, dict):
            raise SuiteError(f"{where}.expected_params: found {params!r}, expected a mapping")
        # Its multi-turn cases needed the prerequisite calls first (each "optimal hop").
        prerequisites = (mt.get("valid_prerequisites") or []) if multi else []
        expected.extend(ExpectedCall(name=pre, allow_extra_params=True) for pre in prerequisites)
        # A list of names meant "any of these": the first, with the rest as alternatives.
        expected.append(
            ExpectedCall(
                name=names[0],
                allow_extra_params=True,
                params={k: _pred_matcher(v, mode, epsilon) for k, v in params.items()},
                alternatives=names[1:],
            )
        )
    category = raw.get("category") or (
        "multi_turn" if multi else "irrelevance" if not should_call else "single"
    )
    return Case(
        id=str(raw.get("id") or f"case-{i + 1:03d}"),
        messages=messages,
        category=str(category),
        should_call=should_call,
        expected=expected,
        max_rounds=int(mt.get("max_rounds") or (5 if multi else 1)),
        mock_responses=dict(mt.get("mock_responses") or {}),
        required_sequence=_pred_sequence(expected) if multi else [],
        source={"format": "predecessor", "index": i, "case": copy.deepcopy(raw)},
    )


def _pred_sequence(expected: list[ExpectedCall]) -> list[str]:
    """One prerequisite must precede the final call; several may come in any order."""
    names = [c.name for c in expected]
    return names if len(names) <= 2 else names[-1:]


def export_predecessor(suite: Suite) -> dict[str, Any]:
    """The suite in the predecessor's JSON format; imported suites come back field for field.

    Cases written in our format export their prompt, tool, exact/text/numeric values and
    multi-turn fields; matchers the predecessor cannot express are left out.
    """
    description, _, extras_json = suite.description.partition(_EXTRAS_MARK)
    out: dict[str, Any] = {
        "name": suite.name,
        "description": description,
        "tools": suite.tools,
        "test_cases": [],
    }
    if extras_json:
        out.update(json.loads(extras_json))
    for case in suite.cases:
        raw = case.source.get("case") if case.source.get("format") == "predecessor" else None
        out["test_cases"].append(
            copy.deepcopy(raw) if isinstance(raw, dict) else _native_to_pred(case)
        )
    return out


def _native_to_pred(case: Case) -> dict[str, Any]:
    users = [m for m in case.messages if m.get("role") == "user"]
    tc: dict[str, Any] = {"id": case.id, "prompt": users[-1].get("content") if users else ""}
    final = case.expected[-1] if case.expected else None
    tc["expected_tool"] = final.name if final else None
    if final and final.params:
        values = {
            k: m.value
            for k, m in final.params.items()
            if m.kind in ("exact", "text", "numeric") and not m.optional
        }
        if values:
            tc["expected_params"] = values
    tc["should_call_tool"] = case.should_call
    tc["category"] = case.category
    if case.max_rounds > 1 or case.mock_responses:
        tc.update(
            multi_turn=True,
            max_rounds=case.max_rounds,
            mock_responses=case.mock_responses,
            valid_prerequisites=[c.name for c in case.expected[:-1]],
            optimal_hops=max(1, len(case.expected)),
        )
    return tc
