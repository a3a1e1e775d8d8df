"""Import suites from BFCL entries and from the predecessor app's suite JSON (and back).

Both importers keep what our model cannot express in ``case.source`` so nothing is lost:
BFCL's raw ``possible_answer`` (the scorer's ``bfcl`` mode reads it, since BFCL's rules
differ from our matchers) and the predecessor's raw test case (its scoring modes, hop
counts and any field we do not know).
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

__all__ = ["export_bfcl", "export_predecessor", "import_bfcl", "import_predecessor"]

PathOrData = str | os.PathLike[str] | list[Any] | Mapping[str, Any]


# --- BFCL --------------------------------------------------------------------------------
# BFCL type names -> JSON Schema types (None: any type, so no "type" key).
_BFCL_TYPES: dict[str, str | None] = {
    "dict": "object",
    "object": "object",
    "float": "number",
    "number": "number",
    "integer": "integer",
    "int": "integer",
    "string": "string",
    "str": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "any": None,
    "null": "null",
}
_SCHEMA_TO_BFCL = {"object": "dict", "number": "float"}
_BAD_NAME = re.compile(r"[^A-Za-z0-9_-]")


def _read_entries(source: PathOrData, what: str) -> tuple[list[Any], str]:
    """BFCL files are JSON Lines (one entry per line); a JSON list is accepted too."""
    if isinstance(source, list):
        return source, f"{what} list"
    if isinstance(source, Mapping):
        return [dict(source)], f"{what} entry"
    origin = f"{what} file {os.fspath(source)}"
    try:
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise SuiteError(f"{origin}: cannot read ({exc.strerror})") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{origin}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        return list(data), origin
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SuiteError(f"{origin}: line {n} is not JSON ({exc.msg})") from None
    return entries, origin


def _bfcl_schema(node: Any, origin: str, where: str) -> Any:
    """Convert a BFCL parameter schema to JSON Schema, recursively."""
    if isinstance(node, list):
        return [_bfcl_schema(v, origin, f"{where}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            mapped = _BFCL_TYPES.get(value.lower())
            if mapped is not None:
                out["type"] = mapped
            # unknown (Java/JS types like "HashMap") and "any": leave the type open
        elif key == "properties" and isinstance(value, dict):
            out[key] = {
                k: _bfcl_schema(v, origin, f"{where}.properties.{k}") for k, v in value.items()
            }
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            out[key] = _bfcl_schema(value, origin, f"{where}.{key}")
        else:
            out[key] = value
    return out


def _to_bfcl_schema(node: Any) -> Any:
    """Our JSON Schema back to BFCL's dialect (object -> dict, number -> float)."""
    if isinstance(node, list):
        return [_to_bfcl_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            out[key] = _SCHEMA_TO_BFCL.get(value, value)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: _to_bfcl_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            out[key] = _to_bfcl_schema(value)
        else:
            out[key] = value
    return out


def _bfcl_tool(fn: Any, origin: str, where: str) -> tuple[str, dict[str, Any]]:
    """(original name, OpenAI tool) of one BFCL function doc. Dots become '_' as BFCL does."""
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise SuiteError(f"{origin}: {where}: expected a function doc with a string 'name'")
    params = _bfcl_schema(
        fn.get("parameters") or {"type": "dict", "properties": {}}, origin, f"{where}.parameters"
    )
    if isinstance(params, dict):
        params.setdefault("type", "object")
    body: dict[str, Any] = {
        "name": _BAD_NAME.sub("_", fn["name"])[:64],
        "description": fn.get("description", ""),
        "parameters": params,
    }
    return fn["name"], {"type": "function", "function": body}


def _unique_name(tools: Mapping[str, dict[str, Any]], tool: dict[str, Any]) -> str:
    """The tool's name, or ``name_2``, ``name_3``... when another entry's doc took it."""
    base = tool["function"]["name"]

    def same(other: dict[str, Any]) -> bool:
        strip = {k: v for k, v in other["function"].items() if k != "name"}
        return strip == {k: v for k, v in tool["function"].items() if k != "name"}

    candidate, k = base, 2
    while candidate in tools and not same(tools[candidate]):
        candidate, k = f"{base[:60]}_{k}", k + 1
    return candidate


def _acceptable_to_matcher(values: Any, origin: str, where: str) -> ParamMatcher:
    """BFCL's list of acceptable values -> our matcher ("" among them = may be omitted)."""
    if not isinstance(values, list):
        raise SuiteError(
            f"{origin}: {where}: found {values!r}, expected a list of acceptable values"
        )
    optional = "" in values
    rest = [v for v in values if v != ""]
    if not rest:
        return ParamMatcher(kind="optional", optional=True)
    if len(rest) == 1:
        value = rest[0]
        if isinstance(value, dict):
            return ParamMatcher(
                kind="object",
                optional=optional,
                value={
                    k: _acceptable_to_matcher(v, origin, f"{where}.{k}") for k, v in value.items()
                },
            )
        kind = "text" if isinstance(value, str) else "exact"
        return ParamMatcher(kind=kind, value=value, optional=optional)
    return ParamMatcher(kind="one_of", value=rest, optional=optional)


def _bfcl_category(entry_id: str, category: str | None) -> str:
    if category:
        return category
    m = re.match(r"^(.*?)_\d+(?:-\d+)*$", entry_id)
    return m.group(1) if m else "bfcl"


def import_bfcl(
    questions: PathOrData,
    possible_answers: PathOrData | None = None,
    category: str | None = None,
    name: str = "bfcl",
) -> Suite:
    """Build a suite from BFCL entries (JSON Lines file, JSON list, or parsed list).

    Parallel entries keep every call; irrelevance entries become abstention cases. The raw
    ``possible_answer`` and any renamed function names are kept in ``case.source``.
    """
    entries, origin = _read_entries(questions, "BFCL questions")
    answers: dict[str, Any] = {}
    if possible_answers is not None:
        raw_answers, a_origin = _read_entries(possible_answers, "BFCL possible answers")
        for i, ans in enumerate(raw_answers):
            if not isinstance(ans, dict) or "id" not in ans or "ground_truth" not in ans:
                raise SuiteError(f"{a_origin}: entry {i}: expected {{id, ground_truth}}")
            answers[str(ans["id"])] = ans
    tools: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    for i, entry in enumerate(entries):
        where = f"entry {i}"
        if not isinstance(entry, dict) or "question" not in entry or "function" not in entry:
            raise SuiteError(f"{origin}: {where}: expected {{id, question, function}}")
        cid = str(entry.get("id", f"{category or 'bfcl'}_{i}"))
        where = f"entry {i} (id {cid!r})"
        cat = _bfcl_category(cid, category)
        question = entry["question"]
        if isinstance(question, str):
            question = [[{"role": "user", "content": question}]]
        if not (
            isinstance(question, list)
            and question
            and isinstance(question[0], list)
            and question[0]
        ):
            raise SuiteError(
                f"{origin}: {where}.question: expected a list of turns, each a list of messages"
            )
        functions = entry["function"]
        functions = [functions] if isinstance(functions, dict) else functions
        if not isinstance(functions, list):
            raise SuiteError(f"{origin}: {where}.function: expected a list of function docs")
        name_map: dict[str, str] = {}
        offered: list[str] = []
        for j, fn in enumerate(functions):
            original, tool = _bfcl_tool(fn, origin, f"{where}.function[{j}]")
            tname = _unique_name(tools, tool)
            tool["function"]["name"] = tname
            tools.setdefault(tname, tool)
            offered.append(tname)
            if tname != original:
                name_map[original] = tname
        source: dict[str, Any] = {"format": "bfcl", "id": cid, "function": functions}
        if len(question) > 1:
            source["question"] = question
        if name_map:
            source["name_map"] = name_map
        should_call = "irrelevance" not in cat
        expected: list[ExpectedCall] = []
        answer = answers.pop(cid, None)
        if answer is not None:
            source["possible_answer"] = answer
            truth = answer["ground_truth"]
            if not isinstance(truth, list):
                raise SuiteError(
                    f"{origin}: possible answer {cid!r}: ground_truth must be a "
                    "list of {function: {param: [values]}}"
                )
            for j, call in enumerate(truth):
                if not isinstance(call, dict) or len(call) != 1:
                    raise SuiteError(
                        f"{origin}: possible answer {cid!r}: ground_truth[{j}] "
                        "must map one function name to its parameters"
                    )
                ((fname, params),) = call.items()
                fname = name_map.get(fname, fname)
                if fname not in offered:
                    raise SuiteError(
                        f"{origin}: possible answer {cid!r}: ground_truth[{j}] "
                        f"calls {fname!r}, not among the entry's functions "
                        f"{offered}"
                    )
                expected.append(
                    ExpectedCall(
                        name=fname,
                        params={
                            p: _acceptable_to_matcher(
                                v, origin, f"possible answer {cid!r}.{fname}.{p}"
                            )
                            for p, v in (params or {}).items()
                        },
                    )
                )
        extra = {k: v for k, v in entry.items() if k not in ("id", "question", "function")}
        if extra:
            source["extra"] = extra
        cases.append(
            Case(
                id=cid,
                messages=list(question[0]),
                category=cat,
                should_call=should_call,
                expected=expected,
                tools=offered,
                source=source,
            )
        )
    if answers:
        raise SuiteError(f"BFCL possible answers: ids {sorted(answers)[:5]} have no question")
    return load_suite(
        Suite(
            name=name,
            tools=list(tools.values()),
            cases=cases,
            description=f"Imported from BFCL ({len(cases)} entries)",
        )
    )


def _matcher_to_acceptable(m: ParamMatcher, where: str) -> list[Any]:
    if m.kind == "optional":
        return [""]
    if m.kind == "numeric" and (m.abs_tol or m.rel_tol):
        raise SuiteError(f"{where}: a numeric tolerance has no BFCL equivalent")
    if m.kind in ("exact", "text", "numeric"):
        values = [m.value]
    elif m.kind == "one_of":
        values = list(m.value)
    elif m.kind == "object":
        values = [{k: _matcher_to_acceptable(v, f"{where}.{k}") for k, v in m.value.items()}]
    elif m.kind == "unordered" and len(m.value) <= 1 \
            and not any(isinstance(v, ParamMatcher) for v in m.value):
        values = [list(m.value)]  # BFCL compares lists in order: fine for one item only
    else:
        raise SuiteError(f"{where}: a {m.kind!r} matcher has no BFCL equivalent")
    return [*values, ""] if m.optional else values


def export_bfcl(
    suite: Suite, skip_unsupported: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(question entries, possible-answer entries) in BFCL's format.

    Imported BFCL cases come back verbatim. Cases BFCL cannot express (multi-turn with
    mocks, regex/any matchers) raise :class:`SuiteError`, or are left out when
    ``skip_unsupported``.
    """
    by_name = {t["function"]["name"]: t for t in suite.tools}
    questions: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for case in suite.cases:
        where = f"suite {suite.name!r} case {case.id!r}"
        src = case.source if case.source.get("format") == "bfcl" else {}
        try:
            if case.mock_responses or case.max_rounds > 1 or case.expected_final_state:
                raise SuiteError(f"{where}: multi-turn cases have no BFCL equivalent here")
            answer = src.get("possible_answer")
            if answer is None and case.should_call and case.expected:
                answer = {
                    "ground_truth": [
                        {
                            c.name: {
                                p: _matcher_to_acceptable(m, f"{where}.{c.name}.{p}")
                                for p, m in c.params.items()
                            }
                        }
                        for c in case.expected
                    ]
                }
        except SuiteError:
            if skip_unsupported:
                continue
            raise
        functions = src.get("function") or [
            {
                **{k: v for k, v in by_name[n]["function"].items() if k != "parameters"},
                "parameters": _to_bfcl_schema(
                    by_name[n]["function"].get("parameters", {"type": "object", "properties": {}})
                ),
            }
            for n in (case.tools if case.tools is not None else list(by_name))
        ]
        entry = {
            "id": case.id,
            "question": src.get("question") or [case.messages],
            "function": functions,
            **src.get("extra", {}),
        }
        questions.append(entry)
        if answer is not None:
            answers.append({**answer, "id": case.id})
    return questions, answers


# --- the predecessor's suite JSON --------------------------------------------------------
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
