"""Importing the predecessor's exported tool-eval runs (llm-benchmark-studio's ``eval-<id>.json``).

Its ``GET /api/export/eval/{id}`` wrote ``{eval_id, suite_name, temperature, timestamp,
results, summary}`` (before its schema rework also ``models``). A result is one case of one
model: its first tool call (``actual_tool``/``actual_params``), its scores
(``tool_selection_score``, ``param_accuracy``, ``overall_score`` = 0.6·tool + 0.4·params,
multi-turn: completion·efficiency − penalties), ``success`` (false: the API call failed),
``latency_ms`` and the raw request and response. Each becomes an ``eval_results`` row of
an eval run stored at the export's time, so it shows in ``eval_history``, loads with
``load_eval`` and pairs with our runs of the same suite.

Its verdicts are kept as its verdicts: a case passed when the call succeeded and its
overall score was 1.0 (its own ``cases_passed``); the scores' mode says
``llm-benchmark-studio`` and the run's ``spec["imported"]["caveats"]`` say how that
differs from our scorer. Our pass rates, intervals and counts are computed from those
verdicts by ``score_suite``. Cases are matched by prompt to a stored suite of the same
name (one imported with the predecessor-suite importer); without one, a suite is rebuilt
from the export's own case fields under a name of its own. Keys in the raw data never
reach the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from llmbench_jupyter.core.errors import REDACTED, InputError, LLMBenchError, scrub, scrub_deep
from llmbench_jupyter.core.redact import redact_url

SOURCE = "llm-benchmark-studio"
CAVEATS = (
    "verdicts are llm-benchmark-studio's, not our scorer's: a case passed when its call "
    "succeeded and its overall score was 1.0",
    "its overall score was 0.6 x tool + 0.4 x parameters on the first tool call only: extra "
    "calls and arguments it did not expect were never penalised",
    "its parameter matching compared strings case-insensitively (or by its fuzzy modes); "
    "arguments were not checked against the tool schema",
    "its multi-turn score was completion x efficiency minus redundancy and detour penalties",
    "tool_f1 and argument_accuracy are not computed (its scores are kept in each case's "
    "score['predecessor'] and the run summary's 'predecessor')",
    "outcomes are read from its scores (no call, wrong tool, wrong arguments, extra hops)",
)
_SECRET_KEY = re.compile(
    r"(?i)^(api[_-]?key|x-api-key|authorization|proxy-authorization|cookie|token|"
    r"access[_-]?token|.*secret.*|.*password.*|(extra_)?headers)$"
)
_CASE_FIELDS = (
    "tool_selection_score",
    "param_accuracy",
    "overall_score",
    "irrelevance_score",
    "format_compliance",
    "error_type",
    "multi_turn",
    "rounds_used",
    "completion_score",
    "efficiency_score",
    "redundancy_penalty",
    "detour_penalty",
    "nested_arg_score",
    "schema_score",
    "required_present",
    "type_correct",
    "hallucination_free",
    "expected_tool",
    "expected_params",
    "should_call_tool",
    "test_case_id",
)


def looks_like_eval_export(data: Any) -> bool:
    return (
        isinstance(data, dict) and "results" in data and ("eval_id" in data or "suite_name" in data)
    )


def _json_field(value: Any, where: str, kinds: tuple[type, ...]) -> Any:
    """A field its newer export wrote as JSON text, the older one as a value."""
    if isinstance(value, str) and kinds != (str,):
        try:
            value = json.loads(value)
        except ValueError:
            if list in kinds:  # an expected tool stored as a plain name
                return value
            raise InputError(f"{where}: {value[:60]!r} is not JSON") from None
    if value is not None and not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise InputError(f"{where}: found {type(value).__name__}, expected {names} or null")
    return value


def _score(entry: dict[str, Any], key: str, where: str, required: bool = False) -> float | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InputError(f"{where}.{key}: found {value!r}, expected a number from 0 to 1")
    return float(value)


def read_eval_export(data: Any, source: str) -> dict[str, Any]:
    """The export checked and normalised; InputError says what, where and what was expected."""
    if not looks_like_eval_export(data):
        raise InputError(
            f"{source}: not a {SOURCE} eval export: expected a JSON object with "
            "'eval_id', 'suite_name', 'timestamp', 'results' and 'summary'"
        )
    results, summary = data.get("results"), data.get("summary") or []
    if not isinstance(results, list) or not results:
        raise InputError(f"{source}: 'results' must be a non-empty list of case results")
    if not isinstance(summary, list) or not all(isinstance(s, dict) for s in summary):
        raise InputError(f"{source}: 'summary' must be a list of objects (one per model)")
    suite = data.get("suite_name")
    if not isinstance(suite, str) or not suite.strip():
        raise InputError(f"{source}: 'suite_name' must be a non-empty string, found {suite!r}")
    when = None
    if data.get("timestamp"):
        try:
            when = datetime.fromisoformat(str(data["timestamp"]).strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"{source}: timestamp {data['timestamp']!r} is not an ISO date and time"
            ) from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return {
        "eval_id": str(data.get("eval_id") or ""),
        "suite": suite.strip(),
        "when": when,
        "temperature": data.get("temperature"),
        "models": data.get("models"),
        "summary": summary,
        "cases": [_case(e, f"{source}: results[{i}]") for i, e in enumerate(results)],
    }


def _case(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise InputError(f"{where}: found {type(entry).__name__}, expected an object")
    for key in ("model_id", "test_case_id"):
        if not isinstance(entry.get(key), str | int) or str(entry.get(key)).strip() == "":
            raise InputError(f"{where}.{key}: found {entry.get(key)!r}, expected an id")
    prompt = entry.get("prompt", entry.get("test_case_prompt"))
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(
            f"{where}: no prompt: expected 'prompt' (or 'test_case_prompt'), "
            f"a non-empty string, found {prompt!r}"
        )
    success = entry.get("success", True)
    if success not in (True, False, 0, 1):
        raise InputError(f"{where}.success: found {success!r}, expected true or false")
    expected_tool = _json_field(entry.get("expected_tool"), f"{where}.expected_tool", (str, list))
    case = {
        **{k: entry.get(k) for k in _CASE_FIELDS},
        "model_id": str(entry["model_id"]).strip(),
        "litellm_id": entry.get("model_litellm_id"),
        "display_name": entry.get("model_name") or entry.get("model_display_name"),
        "test_case_id": str(entry["test_case_id"]).strip(),
        "prompt": prompt,
        "success": bool(success),
        "error": str(entry.get("error") or ""),
        "category": entry.get("category") or None,
        "expected_tool": expected_tool,
        "expected_params": _json_field(
            entry.get("expected_params"), f"{where}.expected_params", (dict,)
        ),
        "actual_params": _json_field(
            entry.get("actual_params"),
            f"{where}.actual_params",
            (dict, list, str, int, float, bool),
        ),
        "actual_tool": entry.get("actual_tool"),
        "raw_request": _json_field(entry.get("raw_request"), f"{where}.raw_request", (dict,)),
        "raw_response": _json_field(entry.get("raw_response"), f"{where}.raw_response", (dict,)),
        "raw_exchanges": entry.get("raw_exchanges") or [],
        "tool_chain": entry.get("tool_chain") or [],
    }
    for key in ("tool_selection_score", "param_accuracy", "irrelevance_score"):
        case[key] = _score(entry, key, where)
    case["overall_score"] = _score(entry, "overall_score", where, required=case["success"])
    latency = entry.get("latency_ms")
    if latency is not None and (
        isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0
    ):
        raise InputError(f"{where}.latency_ms: found {latency!r}, expected a number >= 0")
    case["latency_ms"] = float(latency) if latency is not None else None
    if case["should_call_tool"] is None:
        case["should_call_tool"] = bool(expected_tool)
    if not isinstance(case["raw_exchanges"], list) or not isinstance(case["tool_chain"], list):
        raise InputError(f"{where}: raw_exchanges and tool_chain must be lists")
    return case


# ---------------------------------------------------------------------------- secrets
def _redact(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """Request metadata without credentials: secret-named fields masked, URLs redacted,
    key-shaped and ``key: value`` text masked (this is configuration, not model output)."""
    if isinstance(value, dict):
        return {
            str(k): REDACTED
            if _SECRET_KEY.match(str(k)) and v
            else redact_url(v)
            if isinstance(v, str) and str(k).endswith(("api_base", "url"))
            else _redact(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    return scrub(value, secrets) if isinstance(value, str) else value


def _conversation(case: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The messages and the model's tool calls, from its raw exchanges when it kept them."""
    from llmbench_jupyter.evals.parsing import parse_openai_message

    exchanges = [x for x in case["raw_exchanges"] if isinstance(x, dict)]
    if not exchanges and (case["raw_request"] or case["raw_response"]):
        exchanges = [{"request": case["raw_request"] or {}, "response": case["raw_response"]}]
    messages: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for x in exchanges:
        request, response = x.get("request") or {}, x.get("response") or {}
        sent = [m for m in request.get("messages") or [] if isinstance(m, dict)]
        messages = [*messages, *sent[len(messages) :]]
        for choice in (response.get("choices") or [])[:1]:
            message = (choice or {}).get("message") or {}
            messages.append({k: v for k, v in message.items() if v is not None})
            with contextlib.suppress(LLMBenchError):  # unreadable: the fallback below
                calls += [asdict(c) for c in parse_openai_message(message)]
    if not calls and case["success"]:  # its own reading of the (first or chain of) calls
        steps = case["tool_chain"] or (
            [{"tool_name": case["actual_tool"], "params": case["actual_params"]}]
            if case["actual_tool"]
            else []
        )
        raw = [
            {
                "type": "function",
                "function": {
                    "name": str(s.get("tool_name") or ""),
                    "arguments": json.dumps(s.get("params")),
                },
            }
            for s in steps
            if isinstance(s, dict)
        ]
        calls = [asdict(c) for c in parse_openai_message({"tool_calls": raw})] if raw else []
    if not messages:
        messages = [{"role": "user", "content": case["prompt"]}]
    return scrub_deep(messages), scrub_deep(calls)


def _request_meta(case: dict[str, Any]) -> dict[str, Any]:
    """What was sent besides the messages and tools, and the response's bookkeeping."""
    req = {
        k: v
        for k, v in (case["raw_request"] or {}).items()
        if k not in ("messages", "tools", "tools_summary")
    }
    resp = case["raw_response"] or {}
    first = (resp.get("choices") or [{}])[0] or {}
    meta = {
        "request": req,
        "response": {
            "id": resp.get("id"),
            "model": resp.get("model"),
            "usage": resp.get("usage"),
            "finish_reason": first.get("finish_reason"),
        },
    }
    return _redact(meta)


# ------------------------------------------------------------------------- verdicts
def _outcome(case: dict[str, Any]) -> tuple[bool, str, str | None]:
    """Its verdict (passed: the call succeeded and overall was 1.0) and our outcome word
    for what its scores say went wrong."""
    if not case["success"]:
        return False, "api_error", "api_error"
    overall = case["overall_score"] or 0.0
    if overall >= 1.0 - 1e-9:
        return True, "pass", None
    called = bool(case["actual_tool"])
    if not case["should_call_tool"] or not case["expected_tool"]:
        return False, "should_not_call" if called else "extra_call", "extra_call"
    if not called:
        return False, "no_call", "missing_call"
    if (case["tool_selection_score"] or 0.0) < 1.0:
        return False, "wrong_tool", "wrong_tool"
    if case["param_accuracy"] is not None and case["param_accuracy"] < 1.0:
        return False, "wrong_arguments", "wrong_value"
    return False, "extra_call", "extra_call"  # multi-turn: right call, too many hops


def case_score(case: dict[str, Any], case_id: str, category: str) -> dict[str, Any]:
    """A ``CaseScore.to_dict()``-shaped verdict marked as the predecessor's, with its scores."""
    passed, outcome, error_type = _outcome(case)
    theirs = {k: case[k] for k in _CASE_FIELDS if case.get(k) is not None}
    note = (
        f"scored by {SOURCE}: tool {case['tool_selection_score']}, parameters "
        f"{case['param_accuracy']}, overall {case['overall_score']}"
    )
    return {
        "case_id": case_id,
        "category": category,
        "mode": SOURCE,
        "passed": passed,
        "outcome": outcome,
        "error_type": error_type,
        "tool_precision": None,
        "tool_recall": None,
        "tool_f1": None,
        "argument_accuracy": None,
        "pairs": [],
        "unmatched_expected": [],
        "unmatched_actual": [],
        "explanation": [f"{SOURCE}: {case['error_type'] or outcome}"],
        "bfcl_differs": None,
        "n_expected": 0,
        "n_actual": 0,
        "n_arguments": 0,
        "hallucinated_arguments": 0,
        "schema_valid": None,
        "schema_errors": [],
        "abstention_correct": None,
        "notes": [note],
        "hallucination_rate": None,
        "predecessor": scrub_deep({**theirs, **_request_meta(case)}),
    }


def run_id_for(owner: str, digest: str) -> str:
    """Derived from the file and its owner: a second import of the file is found."""
    return hashlib.sha256(f"{SOURCE}:eval:{owner}:{digest}".encode()).hexdigest()[:16]


def _targets(export: dict[str, Any], given: Mapping[str, str] | None) -> dict[str, tuple[str, str]]:
    """Its model id -> our (provider, model): ``given`` first (by its model id, litellm id or
    display name), else the summary's provider (or the litellm id's prefix) and litellm id."""
    given = dict(given or {})
    providers = {str(s.get("model_id")): s.get("provider") for s in export["summary"]}
    out: dict[str, tuple[str, str]] = {}
    for case in export["cases"]:
        mid = case["model_id"]
        if mid in out:
            continue
        model = str(case["litellm_id"] or mid)
        names = (mid, model, case["display_name"])
        mapped = next((given[n] for n in names if n and n in given), None)
        if mapped is not None:
            provider, sep, name = str(mapped).partition("/")
            if not sep or not provider or not name:
                raise InputError(f"targets: {mapped!r}: expected 'provider/model'")
            out[mid] = (provider, name)
            continue
        prefix, sep, _ = model.partition("/")
        out[mid] = (str(providers.get(mid) or (prefix if sep else SOURCE)), model)
    return out
