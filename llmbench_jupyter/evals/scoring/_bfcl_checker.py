"""``mode="bfcl"``: BFCL V4's AST checker verdicts, reproduced.

Its type rules, string normalisation and greedy in-order pairing included; says in
``bfcl_differs`` when optimal pairing would disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llmbench_jupyter.evals.model import Case, ParsedCall
from llmbench_jupyter.evals.scoring._assignment import _fill_pairs, _pair_weights, assign
from llmbench_jupyter.evals.scoring._bfcl_answers import _bfcl_answers, _Fallback
from llmbench_jupyter.evals.scoring._bfcl_lang import (
    JAVA_TYPES,
    JS_TYPES,
    LIST_TYPES,
    Unreadable,
    java_value,
    js_value,
)
from llmbench_jupyter.evals.scoring._matchers import _jtype, _verdict, match_param
from llmbench_jupyter.evals.scoring._outcomes import (
    _abstention_cases,
    _blank,
    _call_label,
    _finish,
    _unparsed,
)
from llmbench_jupyter.evals.scoring._results import CaseScore, _Eval
from llmbench_jupyter.evals.scoring._schema import _name_map, _specs_from

_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
    "any": str,
}


def _bfcl_std(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ,./-_*^, lower-case, ' -> "."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def _first_type(acceptable: list[Any]) -> type | None:
    return next((type(a) for a in acceptable if a != ""), None)


def _bfcl_type_ok(
    value: Any, acceptable: list[Any], expected: type, nested: type | None
) -> tuple[bool, bool]:
    """BFCL's type_checker: (valid, is_variable). Nested types are checked one level deep."""
    answer_type = _first_type(acceptable)
    is_variable = answer_type is not None and answer_type is not expected
    items: list[Any] = value if isinstance(value, list) else []
    if type(value) is expected:
        if nested is None:
            return True, is_variable
        for option in acceptable:
            if type(option) is list and not all(
                _bfcl_type_ok(item, option, nested, None)[0] for item in items
            ):
                continue
            return True, is_variable
        return False, is_variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, is_variable


def _dict_values(values: Any) -> list[Any]:
    """A dict key's acceptable values as BFCL iterates them: a bare string is its characters."""
    if isinstance(values, list):
        return values
    return list(values) if isinstance(values, str) else [values]


def _bfcl_dict_ok(value: dict[str, Any], acceptable: list[Any]) -> bool:
    for option in acceptable:
        if option == "" or not isinstance(option, dict):
            continue
        good = True
        for key, item in value.items():
            if key not in option:
                good = False
                break
            std = _bfcl_std(item) if type(item) is str else item
            allowed = _dict_values(option[key])
            if std not in [_bfcl_std(a) if type(a) is str else a for a in allowed]:
                good = False
                break
        if good and all(key in value or "" in _dict_values(v) for key, v in option.items()):
            return True
    return False


def _bfcl_list_ok(value: list[Any], acceptable: list[Any]) -> bool:
    std = [_bfcl_std(v) if type(v) is str else v for v in value]
    options = [
        [_bfcl_std(a) if type(a) is str else a for a in option]
        for option in acceptable
        if isinstance(option, list | str)
    ]
    return std in options


def _bfcl_list_dict_ok(value: list[Any], acceptable: list[Any]) -> bool:
    for option in acceptable:
        if not isinstance(option, list | str) or len(option) != len(value):
            continue
        if all(_bfcl_dict_ok(v, [o]) for v, o in zip(value, option, strict=True)):
            return True
    return False


def _language_read(
    value: Any, spec: Mapping[str, Any], language: str
) -> tuple[Any, type | None, type | None]:
    """A Java/JavaScript argument read back: (value, expected type, item type).

    Raises Unreadable (a type problem) when BFCL's checker would reject or cannot read it.
    """
    table = JAVA_TYPES if language == "java" else JS_TYPES
    type_name = spec.get("type")
    items = spec.get("items")
    item_name = items.get("type") if isinstance(items, Mapping) else None
    if not isinstance(type_name, str) or type_name not in table:
        raise Unreadable(f"BFCL has no {language} type {type_name!r}")
    if type(value) is not str:
        raise Unreadable(f"BFCL expects {language} source code in a string, got {_jtype(value)}")
    nested: type | None = None
    if type_name in LIST_TYPES:
        if not isinstance(item_name, str) or item_name not in table:
            raise Unreadable(f"BFCL has no {language} item type {item_name!r}")
        nested = table[item_name]
    read = java_value if language == "java" else js_value
    converted = read(value, type_name, item_name if type_name in LIST_TYPES else None)
    return converted, table[type_name], nested


def _bfcl_param(
    value: Any, acceptable: list[Any], spec: Mapping[str, Any] | None, language: str = "python"
) -> tuple[str, str] | None:
    """One parameter under BFCL's rules: None when valid, else (problem, detail)."""
    type_name = spec.get("type") if spec else None
    nested: type | None = None
    expected: type | None
    if language != "python" and spec is not None:
        try:
            value, expected, nested = _language_read(value, spec, language)
        except Unreadable as exc:
            return "type_error", str(exc)
    else:
        if not isinstance(type_name, str) or type_name not in _PY_TYPES:
            inferred = _first_type(acceptable)
            type_name = next((k for k, t in _PY_TYPES.items() if t is inferred), None)
        expected = _PY_TYPES.get(type_name or "")
        if type_name in ("array", "tuple"):
            items = spec.get("items") if spec else None
            item_type = items.get("type") if isinstance(items, Mapping) else None
            if isinstance(item_type, str):
                nested = _PY_TYPES.get(item_type)
            elif spec is None:
                first = next((a for a in acceptable if isinstance(a, list) and a), None)
                nested = type(first[0]) if first else None
        if type_name in ("float", "number") and type(value) is int:
            value = float(value)
    is_variable = expected is None
    if expected is not None:
        valid, is_variable = _bfcl_type_ok(value, acceptable, expected, nested)
        if not valid and type(value) is expected and nested is not None:
            item_type = next((k for k, t in _PY_TYPES.items() if t is nested), "?")
            return "type_error", f"items must be {item_type}; int counts as float only at top level"
        if not valid:
            return "type_error", f"wrong type {_jtype(value)}, BFCL expects {type_name}"
    if not is_variable:
        if expected is dict:
            ok = _bfcl_dict_ok(value, acceptable)
        elif expected is list and nested is dict:
            ok = _bfcl_list_dict_ok(value, acceptable)
        elif expected is str:
            ok = _bfcl_std(value) in [_bfcl_std(a) for a in acceptable if type(a) is str]
        elif expected is list:
            ok = _bfcl_list_ok(value, acceptable)
        else:
            ok = value in acceptable
    else:
        ok = value in acceptable
    return None if ok else ("wrong_value", "")


def _bfcl_judge(
    answer: tuple[str, dict[str, Any]],
    spec: Mapping[str, Any] | None,
    index: int,
    call: ParsedCall,
    alias: str,
    language: str = "python",
) -> _Eval:
    """BFCL's simple_function_checker on one pair; problems in the order BFCL reports them."""
    name, acceptable_by_param = answer
    label = _call_label(index, call)
    if call.name not in (name, name.replace(".", "_"), alias):
        return _Eval(False, False, 0, {}, [("wrong_tool", f"{label}: expected {name}")])
    args = call.arguments or {}
    params_schema = (spec or {}).get("parameters") or {}
    properties = params_schema.get("properties") if spec else None
    required = params_schema.get("required") if spec else None
    if required is None:  # no schema: what the answer cannot omit is required
        required = [
            p
            for p, acc in acceptable_by_param.items()
            if not (isinstance(acc, _Fallback) and acc.matcher.optional)
            and not (isinstance(acc, list) and "" in acc)
        ]
    verdicts: dict[str, dict[str, Any]] = {}
    problems: list[tuple[str, str]] = []
    for param in required:
        if param not in args:
            verdicts[param] = _verdict(
                False, "required", None, "missing required parameter", "missing"
            )
            problems.append(("missing_argument", f"{label}: required {param} is missing"))
    for param, value in args.items():
        acceptable = acceptable_by_param.get(param)
        if acceptable is None or (properties is not None and param not in properties):
            verdicts[param] = _verdict(
                False, None, value, "not in the possible answer (hallucinated)", "hallucinated"
            )
            problems.append(
                ("hallucinated_argument", f"{label}: {param}={value!r} was not expected")
            )
            continue
        if isinstance(acceptable, _Fallback):
            verdicts[param] = match_param(acceptable.matcher, value)
        else:
            prop = properties.get(param) if isinstance(properties, Mapping) else None
            result = _bfcl_param(value, acceptable, prop, language)
            shown = list(acceptable)
            if result is None:
                verdicts[param] = _verdict(True, f"one of {shown!r}", value, "", None)
            else:
                reason = f"expected one of {shown!r} got {value!r}"
                reason += f" ({result[1]})" if result[1] else ""
                verdicts[param] = _verdict(False, f"one of {shown!r}", value, reason, result[0])
        if not verdicts[param]["ok"]:
            problems.append(("wrong_arguments", f"{label}: {param} {verdicts[param]['reason']}"))
    for param, acceptable in acceptable_by_param.items():
        if param in args or param in verdicts:
            continue
        optional = (
            acceptable.matcher.optional or acceptable.matcher.kind == "optional"
            if isinstance(acceptable, _Fallback)
            else "" in acceptable
        )
        if optional:
            verdicts[param] = _verdict(True, repr(acceptable), None, "omitted (optional)", None)
        else:
            verdicts[param] = _verdict(False, repr(acceptable), None, "missing", "missing")
            problems.append(("missing_argument", f"{label}: {param} is missing"))
    ok = sum(1 for p in acceptable_by_param if p in verdicts and verdicts[p]["ok"])
    hallucinated = sum(1 for v in verdicts.values() if v["problem"] == "hallucinated")
    return _Eval(True, not problems, ok, verdicts, problems, len(args), hallucinated)


def _bfcl_spec(
    case: Case, specs: dict[str, dict[str, Any]] | None, name: str
) -> dict[str, Any] | None:
    """The function doc BFCL checks against: the entry's original one when imported."""
    if case.source.get("function") is not None:
        return _specs_from(case, case.source["function"]).get(name)
    if specs is None:
        return None
    return specs.get(_name_map(case).get(name, name)) or specs.get(name.replace(".", "_"))


def _score_bfcl(
    case: Case, calls: list[ParsedCall], specs: dict[str, dict[str, Any]] | None
) -> CaseScore:
    answers, notes = _bfcl_answers(case) if case.should_call else ([], [])
    names = [a[0] for a in answers]
    early = _abstention_cases(case, calls, "bfcl", names)
    if early is not None:
        early.notes = notes
        return early
    score = _blank(case, "bfcl", calls, "pass", [], names)
    score.notes = notes
    n_params = [len(params) for _, params in answers]
    aliases = _name_map(case)
    language = str(case.source.get("language", "python"))
    unparsed = [_unparsed(j, c) for j, c in enumerate(calls) if c.parse_error]
    if unparsed:  # BFCL decodes the whole output or nothing
        return _finish(score, unparsed, "")
    evals = [
        [
            _bfcl_judge(a, _bfcl_spec(case, specs, a[0]), j, c, aliases.get(a[0], a[0]), language)
            for j, c in enumerate(calls)
        ]
        for a in answers
    ]
    optimal = assign(_pair_weights(evals))
    optimal_pass = len(calls) == len(answers) and all(evals[i][j].valid for i, j in optimal)
    if len(calls) != len(answers):
        _fill_pairs(score, n_params, evals, optimal)
        kind = "missing_call" if len(calls) < len(answers) else "extra_call"
        sentence = f"BFCL requires exactly {len(answers)} call(s), got {len(calls)}"
        return _finish(score, [(kind, sentence)], "")
    greedy: list[tuple[int, int]] = []
    failure: list[tuple[str, str]] = []
    for i in range(len(answers)):
        free = [j for j in range(len(calls)) if j not in {b for _, b in greedy}]
        hit = next((j for j in free if evals[i][j].valid), None)
        if hit is not None:
            greedy.append((i, hit))
            continue
        tried = next((j for j in free if evals[i][j].name_ok), free[0])
        greedy.append((i, tried))
        failure = evals[i][tried].problems[:1] + evals[i][tried].problems[1:]
        break
    _fill_pairs(score, n_params, evals, greedy)
    if failure and optimal_pass:
        pairing = ", ".join(f"expected {i + 1} ↔ call {j + 1}" for i, j in optimal)
        score.bfcl_differs = (
            "BFCL's in-order greedy pairing fails this case, but a valid pairing exists "
            f"({pairing}); the default mode would pass it"
        )
    return _finish(score, failure, f"all {len(answers)} call(s) pass BFCL's AST checker")
