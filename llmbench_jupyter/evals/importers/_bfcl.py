"""Import suites from BFCL entries (and export them back).

BFCL's raw ``possible_answer`` is kept in ``case.source`` so nothing is lost: the
scorer's ``bfcl`` mode reads it, since BFCL's rules differ from our matchers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from llmbench_jupyter.evals.model import Case, ExpectedCall, ParamMatcher, Suite
from llmbench_jupyter.evals.suites import SuiteError, load_suite

PathOrData = str | os.PathLike[str] | list[Any] | Mapping[str, Any]


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
    elif (
        m.kind == "unordered"
        and len(m.value) <= 1
        and not any(isinstance(v, ParamMatcher) for v in m.value)
    ):
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
