"""The entry point for one case: ``score_case``.

It checks its inputs, hands the calls to the default or BFCL mode, and adds what every
mode reports: schema validity, abstention and the error type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llmbench_jupyter.core.errors import InputTypeError, scrub
from llmbench_jupyter.evals.model import Case, EvalModelError, ParsedCall
from llmbench_jupyter.evals.scoring._bfcl_checker import _score_bfcl
from llmbench_jupyter.evals.scoring._default import (
    _score_default,
    _sequence_problems,
    _state_problems,
)
from llmbench_jupyter.evals.scoring._outcomes import _blank, _finish
from llmbench_jupyter.evals.scoring._results import _ERROR_TYPE, _RANK, MODES, CaseScore
from llmbench_jupyter.evals.scoring._schema import _schema_errors, _tool_specs


def score_case(
    case: Case,
    calls: Iterable[ParsedCall],
    *,
    mode: str = "default",
    tools: Sequence[Mapping[str, Any]] | None = None,
    error: str | None = None,
    final_state: Any = None,
) -> CaseScore:
    """Score the calls a model made on one case.

    ``tools``: the suite's tools (OpenAI ``{"type": "function", "function": {...}}`` or bare
    function dicts) for schema validity and, in bfcl mode, parameter types and required
    lists; without them ``case.source["function"]`` (BFCL entries) is used if present.
    ``error``: the request failed (outcome ``api_error``; the message is scrubbed).
    ``final_state``: the stateful mock tools' state after a multi-turn case; checked
    against ``case.expected_final_state`` (default mode).
    """
    if mode not in MODES:
        raise EvalModelError(f"unknown scoring mode {mode!r}; expected one of {list(MODES)}")
    if not isinstance(case, Case):
        raise InputTypeError(f"score_case needs a Case, got {type(case).__name__}")
    call_list = list(calls)
    for i, call in enumerate(call_list):
        if not isinstance(call, ParsedCall):
            raise InputTypeError(
                f"case {case.id!r}: call {i} is a {type(call).__name__}; expected a ParsedCall "
                "(see llmbench_jupyter.evals.parsing.parse_tool_calls)"
            )
    specs = _tool_specs(case, tools)
    if error is not None:
        score = _blank(case, mode, call_list, "api_error", [f"the request failed: {scrub(error)}"])
    elif mode == "bfcl":
        score = _score_bfcl(case, call_list, specs)
    else:
        score = _score_default(case, call_list)
        problems = _sequence_problems(case.required_sequence, [c.name for c in call_list])
        if case.expected_final_state is not None:
            problems += _state_problems(case.expected_final_state, final_state)
        if problems and score.passed:
            _finish(score, problems, "")
        elif problems:
            score.explanation += [p[1] for p in problems]
            outcomes = [score.outcome, *(p[0] for p in problems)]
            score.outcome = min(outcomes, key=_RANK.__getitem__)
    score.schema_errors = _schema_errors(call_list, specs) if specs is not None else []
    score.schema_valid = None if specs is None else not score.schema_errors
    if not case.should_call:
        score.abstention_correct = score.passed
    score.error_type = _error_type(score)
    return score


def _error_type(score: CaseScore) -> str | None:
    if score.outcome == "pass":
        return None
    if score.outcome == "wrong_arguments":
        problems = [
            v["problem"] for _, _, verdicts in score.pairs for v in verdicts.values() if not v["ok"]
        ]
        return "type_error" if problems[:1] == ["type_error"] else "wrong_value"
    return _ERROR_TYPE[score.outcome]
