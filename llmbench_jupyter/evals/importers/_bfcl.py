"""Import suites from BFCL entries (and export them back).

BFCL's raw ``possible_answer`` is kept in ``case.source`` so nothing is lost: the
scorer's ``bfcl`` mode reads it, since BFCL's rules differ from our matchers. One bad
entry never aborts a file: it is listed (id and reason) and the others import.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmbench_jupyter.evals.importers._bfcl_convert import (
    bfcl_tool,
    language_of,
    to_bfcl_schema,
    to_matcher,
)
from llmbench_jupyter.evals.model import Case, ExpectedCall, ParamMatcher, Suite
from llmbench_jupyter.evals.suites import SuiteError, load_suite

PathOrData = str | os.PathLike[str] | list[Any] | Mapping[str, Any]


@dataclass(slots=True)
class BfclImport:
    """A BFCL import: the suite of every good entry, and each entry left out, with why."""

    suite: Suite
    #: (entry id, or "line N" when the line has no id, and the reason)
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: entries read from the questions file
    n_entries: int = 0


def _read_entries(
    source: PathOrData, what: str, failed: list[tuple[str, str]]
) -> tuple[list[tuple[str, Any]], str]:
    """[(where, entry)]: BFCL files are JSON Lines (one entry a line); a JSON list works too.

    A line that is not JSON is listed in ``failed``; an unreadable file raises.
    """
    if isinstance(source, list):
        return [(f"entry {i}", e) for i, e in enumerate(source)], f"{what} list"
    if isinstance(source, Mapping):
        return [("entry 0", dict(source))], f"{what} entry"
    origin = f"{what} file {os.fspath(source)}"
    try:
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise SuiteError(f"{origin}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{origin}: not UTF-8 text ({exc.reason})") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{origin}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        return [(f"entry {i}", e) for i, e in enumerate(data)], origin
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                entries.append((f"line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                failed.append((f"line {n}", f"{origin}: line {n} is not JSON ({exc.msg})"))
    return entries, origin


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


def _bfcl_category(entry_id: str, category: str | None) -> str:
    if category:
        return category
    m = re.match(r"^(.*?)_\d+(?:-\d+)*$", entry_id)
    return m.group(1) if m else "bfcl"


def _answers(
    source: PathOrData, failed: list[tuple[str, str]]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """id -> (where, answer entry)."""
    raw, origin = _read_entries(source, "BFCL possible answers", failed)
    answers: dict[str, tuple[str, dict[str, Any]]] = {}
    for where, ans in raw:
        if not isinstance(ans, dict) or "id" not in ans or "ground_truth" not in ans:
            failed.append((where, f"{origin}: {where}: expected {{id, ground_truth}}"))
        else:
            answers[str(ans["id"])] = (f"{origin}: {where}", ans)
    return answers


def _question(entry: dict[str, Any], where: str) -> list[Any]:
    question = entry["question"]
    if isinstance(question, str):
        question = [[{"role": "user", "content": question}]]
    if not (
        isinstance(question, list) and question and isinstance(question[0], list) and question[0]
    ):
        raise SuiteError(f"{where}.question: expected a list of turns, each a list of messages")
    return question


def _expected(
    truth: Any, where: str, name_map: dict[str, str], offered: dict[str, dict[str, Any]]
) -> tuple[list[ExpectedCall], list[str]]:
    """The ground truth as expected calls, and notes on what default mode cannot keep."""
    if not isinstance(truth, list):
        raise SuiteError(
            f"{where}: ground_truth must be a list of {{function: {{param: [values]}}}}"
        )
    expected, notes = [], []
    for j, call in enumerate(truth):
        if not isinstance(call, dict) or len(call) != 1:
            raise SuiteError(
                f"{where}: ground_truth[{j}] must map one function name to its parameters"
            )
        ((fname, params),) = call.items()
        fname = name_map.get(fname, fname)
        if fname not in offered:
            raise SuiteError(
                f"{where}: ground_truth[{j}] calls {fname!r}, not among the entry's functions "
                f"{sorted(offered)}"
            )
        if not isinstance(params, dict):
            raise SuiteError(f"{where}: ground_truth[{j}].{fname}: expected {{param: [values]}}")
        props = offered[fname]["function"]["parameters"].get("properties") or {}
        matchers = {}
        for p, values in params.items():
            if p not in props:
                notes.append(
                    f"{fname}.{p} is not in the function's doc: default mode leaves it out "
                    "(BFCL fails any call that sends it, and any that omits it unless '' is "
                    "among its values)"
                )
                continue
            matchers[p], param_notes = to_matcher(values, props[p])
            notes.extend(f"{fname}.{p}: {n}" for n in param_notes)
        expected.append(ExpectedCall(name=fname, params=matchers))
    return expected, notes


def _entry_case(
    entry: Any,
    where: str,
    index: int,
    category: str | None,
    tools: dict[str, dict[str, Any]],
    answers: dict[str, tuple[str, dict[str, Any]]],
) -> tuple[Case, dict[str, dict[str, Any]]]:
    """One entry as a validated case, and the tools it adds (``tools`` is not changed)."""
    if not isinstance(entry, dict) or "question" not in entry or "function" not in entry:
        raise SuiteError(f"{where}: expected {{id, question, function}}")
    cid = str(entry.get("id", f"{category or 'bfcl'}_{index}"))
    where = f"{where} (id {cid!r})"
    cat = _bfcl_category(cid, category)
    language = language_of(cat)
    question = _question(entry, where)
    functions = entry["function"]
    functions = [functions] if isinstance(functions, dict) else functions
    if not isinstance(functions, list):
        raise SuiteError(f"{where}.function: expected a list of function docs")
    name_map: dict[str, str] = {}
    offered: dict[str, dict[str, Any]] = {}
    new_tools: dict[str, dict[str, Any]] = {}
    for j, fn in enumerate(functions):
        original, tool = bfcl_tool(fn, f"{where}.function[{j}]", language)
        tname = _unique_name({**tools, **new_tools}, tool)
        tool["function"]["name"] = tname
        if tname not in tools:
            new_tools.setdefault(tname, tool)
        offered[tname] = tools.get(tname, tool)
        if tname != original:
            name_map[original] = tname
    source: dict[str, Any] = {"format": "bfcl", "id": cid, "function": functions}
    if language != "python":
        source["language"] = language
    if len(question) > 1:
        source["question"] = question
    if name_map:
        source["name_map"] = name_map
    expected: list[ExpectedCall] = []
    if cid in answers:
        a_where, answer = answers[cid]
        source["possible_answer"] = answer
        expected, notes = _expected(
            answer["ground_truth"], f"{a_where} (id {cid!r})", name_map, offered
        )
        if notes:
            source["default_mode_notes"] = notes
    extra = {k: v for k, v in entry.items() if k not in ("id", "question", "function")}
    if extra:
        source["extra"] = extra
    case = Case(
        id=cid,
        messages=list(question[0]),
        category=cat,
        should_call="irrelevance" not in cat,
        expected=expected,
        tools=list(offered),
        source=source,
    )
    try:  # the entry on its own, so one bad entry is reported by itself
        load_suite(Suite(name="bfcl", tools=list(offered.values()), cases=[case]))
    except SuiteError as exc:
        raise SuiteError(f"{where}: {exc}") from None
    return case, new_tools


def import_bfcl_entries(
    questions: PathOrData,
    possible_answers: PathOrData | None = None,
    category: str | None = None,
    name: str = "bfcl",
) -> BfclImport:
    """Build a suite from BFCL entries; entries that cannot import are listed, not fatal.

    Parallel entries keep every call; irrelevance entries become abstention cases. The raw
    ``possible_answer`` and any renamed function names are kept in ``case.source``.
    """
    failed: list[tuple[str, str]] = []
    entries, origin = _read_entries(questions, "BFCL questions", failed)
    answers = _answers(possible_answers, failed) if possible_answers is not None else {}
    tools: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    seen: set[str] = set()
    for i, (where, entry) in enumerate(entries):
        cid = str(entry.get("id", where)) if isinstance(entry, dict) else where
        try:
            if cid in seen:
                raise SuiteError(f"{where}: duplicate id {cid!r}")
            case, new_tools = _entry_case(entry, f"{origin}: {where}", i, category, tools, answers)
        except SuiteError as exc:
            failed.append((cid, str(exc)))
            continue
        seen.add(cid)
        tools.update(new_tools)
        cases.append(case)
    for cid in sorted(set(answers) - seen - {f for f, _ in failed}):
        failed.append((cid, f"{answers[cid][0]}: possible answer {cid!r} has no question"))
    suite = load_suite(
        Suite(
            name=name,
            tools=list(tools.values()),
            cases=cases,
            description=f"Imported from BFCL ({len(cases)} entries)",
        )
    )
    return BfclImport(suite=suite, failed=failed, n_entries=len(entries))


def import_bfcl(
    questions: PathOrData,
    possible_answers: PathOrData | None = None,
    category: str | None = None,
    name: str = "bfcl",
    failed: list[tuple[str, str]] | None = None,
) -> Suite:
    """Build a suite from BFCL entries (JSON Lines file, JSON list, or parsed list).

    Entries that cannot import are left out: appended to ``failed`` as (id, reason) when a
    list is given, else reported in one warning. See :func:`import_bfcl_entries`.
    """
    result = import_bfcl_entries(questions, possible_answers, category, name)
    if failed is not None:
        failed.extend(result.failed)
    elif result.failed:
        shown = "; ".join(reason for _, reason in result.failed[:5])
        more = f" (and {len(result.failed) - 5} more)" if len(result.failed) > 5 else ""
        warnings.warn(
            f"BFCL import: {len(result.failed)} entries left out: {shown}{more}", stacklevel=2
        )
    return result.suite


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
                "parameters": to_bfcl_schema(
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
