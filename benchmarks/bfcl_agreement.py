"""BFCL's real files through our importer and bfcl mode, per file.

    python benchmarks/bfcl_agreement.py PATH [--show N]

PATH is a local checkout of BFCL: the gorilla repository, its
``berkeley-function-call-leaderboard`` folder, or a data folder itself (the one holding
``BFCL_v*_*.json`` with ``possible_answer/`` next to them). Every file with answers whose
answers are single-turn calls is imported with ``import_bfcl_entries``; for each imported
entry a *perfect answer* is built (the first acceptable value of each parameter; a
parameter whose first value is ``""`` is left out; Java and JavaScript values written as
source code, as BFCL asks models to) and scored in bfcl mode.

The reference verdict is BFCL's own AST checker, run from the same checkout
(``bfcl_eval/eval_checker/ast_eval/ast_checker.py``; its model table is replaced by one
model that turns dots into underscores, as function-calling models need). Without the
checker in the checkout the agreement column is "n/a". Nothing from BFCL is copied here:
the checker is loaded from the path given.

Columns: entries in the file, imported, failed to import (reasons summarised below the
table), bfcl-mode pass of the perfect answer, BFCL's checker pass, agreement.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

from llmbench_jupyter.evals.importers import import_bfcl_entries
from llmbench_jupyter.evals.model import Case, ParsedCall
from llmbench_jupyter.evals.scoring import score_case

SKIP = ("multi_turn", "memory", "web_search", "format_sensitivity")


def find_data(root: Path) -> Path:
    for candidate in (
        root,
        root / "bfcl_eval" / "data",
        root / "data",
        root / "berkeley-function-call-leaderboard" / "bfcl_eval" / "data",
        root / "berkeley-function-call-leaderboard" / "data",
    ):
        if (candidate / "possible_answer").is_dir() and list(candidate.glob("BFCL_v*_*.json")):
            return candidate
    raise SystemExit(f"no BFCL data folder (BFCL_v*_*.json and possible_answer/) under {root}")


def load_checker(data: Path) -> Any | None:
    """BFCL's ``ast_checker`` from the checkout holding ``data``, or None."""
    for base in (data.parent.parent, data.parent):  # bfcl_eval/data or <repo>/data
        if (base / "bfcl_eval" / "eval_checker" / "ast_eval" / "ast_checker.py").is_file():
            break
    else:
        return None
    sys.path.insert(0, str(base))
    config = types.ModuleType("bfcl_eval.constants.model_config")

    class _Any(dict):  # every model name: a function-calling model (dots -> underscores)
        def __missing__(self, key: str) -> Any:
            return types.SimpleNamespace(underscore_to_dot=True)

    config.MODEL_CONFIG_MAPPING = _Any()  # type: ignore[attr-defined]
    importlib.import_module("bfcl_eval.constants")
    sys.modules["bfcl_eval.constants.model_config"] = config
    module = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
    enums = importlib.import_module("bfcl_eval.constants.enums")
    return module.ast_checker, enums.Language


# --- the perfect answer ----------------------------------------------------------------
def first(values: Any) -> Any:
    """The first acceptable value, nested {key: [values]} dicts reduced the same way."""
    value = values[0] if isinstance(values, list) and values else values
    return reduce(value)


def reduce(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, values in value.items():
            picked = values[0] if isinstance(values, list) and values else values
            if picked != "":
                out[key] = reduce(picked)
        return out
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return [reduce(v) for v in value]
    return value


def _java(value: Any, spec: dict[str, Any]) -> str:
    kind = spec.get("type", "any")
    item = (spec.get("items") or {}).get("type", "String")
    if kind == "long":
        return f"{value}L"
    if kind == "float" and not isinstance(value, str):
        return f"{float(value)}f"
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "char":
        return str(value)
    if kind in ("Array", "ArrayList") and isinstance(value, list):
        items = [_java_item(v, item) for v in value]
        if kind == "Array":
            return f"new {item}[]{{{', '.join(items)}}}"
        return f"new ArrayList<>(Arrays.asList({', '.join(items)}))"
    if kind == "HashMap" and isinstance(value, dict):
        puts = " ".join(f'put("{k}", {_java_item(v, "")});' for k, v in value.items())
        return f"new HashMap<String, Object>() {{{{ {puts} }}}}"
    return str(value)


def _java_item(value: Any, kind: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "long":
        return f"{value}L"
    if kind == "float":
        return f"{float(value)}f"
    if isinstance(value, str) and kind != "char":
        return f'"{value}"'
    return str(value)


def _js(value: Any, spec: dict[str, Any]) -> str:
    kind = spec.get("type", "any")
    if kind == "Bigint" and isinstance(value, int):
        return f"{value}n"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def perfect_calls(case: Case) -> list[ParsedCall]:
    answer = case.source["possible_answer"]["ground_truth"]
    docs = {fn["name"]: fn for fn in case.source["function"]}
    name_map = case.source.get("name_map", {})
    language = case.source.get("language", "python")
    calls = []
    for call in answer:
        ((name, params),) = call.items()
        props = docs.get(name, {}).get("parameters", {}).get("properties", {})
        args = {}
        for param, values in params.items():
            value = first(values)
            if value == "":
                continue
            spec = props.get(param, {})
            if language == "java":
                value = _java(value, spec)
            elif language == "javascript":
                value = _js(value, spec)
            args[param] = value
        calls.append(ParsedCall(name=name_map.get(name, name), arguments=args))
    return calls


def bfcl_verdict(checker: Any, case: Case, calls: list[ParsedCall]) -> bool:
    ast_checker, language = checker
    lang = {"java": language.JAVA, "javascript": language.JAVASCRIPT}.get(
        case.source.get("language", ""), language.PYTHON
    )
    output = [{re.sub(r"\.", "_", _original(case, c.name)): c.arguments} for c in calls]
    result = ast_checker(
        json.loads(json.dumps(case.source["function"])),
        output,
        case.source["possible_answer"]["ground_truth"],
        lang,
        case.category,
        "fc_model",
    )
    return bool(result["valid"])


def _original(case: Case, tool: str) -> str:
    back = {v: k for k, v in case.source.get("name_map", {}).items()}
    return back.get(tool, tool)


def _reason(text: str) -> str:
    """A failure reason without its ids and values, to count alike reasons together."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]|\d+", "…", text.split(": ", 2)[-1])
    return text[:90]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--show", type=int, default=3, help="disagreements shown per file")
    args = parser.parse_args()
    data = find_data(args.path)
    checker = load_checker(data)
    rows, reasons, shown = [], collections.Counter[str](), []
    total = collections.Counter[str]()
    for qfile in sorted(data.glob("BFCL_v*_*.json")):
        afile = data / "possible_answer" / qfile.name
        category = re.sub(r"^BFCL_v\d+_", "", qfile.stem)
        if not afile.is_file() or category.startswith(SKIP):
            continue
        result = import_bfcl_entries(qfile, afile)
        for _, reason in result.failed:
            reasons[f"{category}: {_reason(reason)}"] += 1
        n_pass = n_ref = n_agree = n_scored = 0
        for case in result.suite.cases:
            if "possible_answer" not in case.source:
                continue
            calls = perfect_calls(case)
            ours = score_case(case, calls, mode="bfcl")
            n_scored += 1
            n_pass += ours.passed
            if checker is not None:
                ref = bfcl_verdict(checker, case, calls)
                n_ref += ref
                n_agree += ref == ours.passed
                if ref != ours.passed and len(shown) < args.show * 20:
                    shown.append(f"{case.id}: ours {ours.outcome} ({ours.explanation}), BFCL {ref}")
        row = (
            category,
            result.n_entries,
            len(result.suite.cases),
            len(result.failed),
            n_scored,
            n_pass,
            n_ref if checker else None,
            n_agree if checker else None,
        )
        rows.append(row)
        for key, value in zip(("entries", "imported", "failed", "scored", "pass", "ref", "agree"),
                              row[1:], strict=True):  # fmt: skip
            total[key] += value or 0
    head = ("file", "entries", "imported", "failed", "scored", "bfcl-mode pass",
            "BFCL checker pass", "agreement")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for cat, n, imp, fail, scored, ok, ref, agree in rows:
        pct = 100 * (agree or 0) / max(scored, 1)
        agreement = "n/a" if agree is None else f"{agree}/{scored} ({pct:.1f}%)"
        shown_ref = "n/a" if ref is None else ref
        print(f"| {cat} | {n} | {imp} | {fail} | {scored} | {ok} | {shown_ref} | {agreement} |")
    if checker is not None:
        t = total
        print(f"| **all** | {t['entries']} | {t['imported']} | {t['failed']} | {t['scored']} | "
              f"{t['pass']} | {t['ref']} | {t['agree']}/{t['scored']} |")  # fmt: skip
    else:
        print("\nBFCL's checker is not in this checkout: agreement not measured.")
    if reasons:
        print("\nfailed to import:")
        for reason, count in reasons.most_common():
            print(f"  {count:5d}  {reason}")
    if shown:
        print("\ndisagreements:")
        for line in shown:
            print("  " + line[:300])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
