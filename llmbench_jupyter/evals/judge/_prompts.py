"""The messages a judge is sent: the task, the answer(s) and the checker's verdict.

Every piece is clipped to a bound, so a judge prompt stays small whatever the model under
test produced or the suite's size (prompts are quoted in docs/scoring.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from llmbench_jupyter.evals.judge._results import JudgeError
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import case_value, describe, score_suite

# Bounds that keep a judge prompt small whatever the model under test produced.
_ANSWER_CHARS = 4000
_MESSAGE_CHARS = 2000
_TOOLS_CHARS = 3000
_EXAMPLE_CHARS = 400


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f" … [{len(text) - limit} more characters cut]"


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def _case(suite: Suite, case_id: str, where: str) -> Case:
    for case in suite.cases:
        if case.id == case_id:
            return case
    raise JudgeError(f"{where}: case {case_id!r} is not in suite {suite.name!r}")


def _task_text(suite: Suite, case: Case) -> str:
    """The conversation, the tools offered and the reference behaviour of one case."""
    lines = ["## Task", "Conversation given to the assistant:"]
    for m in case.messages:
        text = _clip(_content_text(m.get("content")), _MESSAGE_CHARS)
        lines.append(f"[{m.get('role', '?')}] {text}")
    offered = [
        t.get("function", t)
        for t in suite.tools
        if case.tools is None or t.get("function", t).get("name") in case.tools
    ]
    tools = "\n".join(
        f"- {f.get('name')}: {f.get('description', '')} "
        f"parameters {json.dumps(f.get('parameters', {}), separators=(',', ':'))}"
        for f in offered
    )
    lines += ["", "Tools offered:", _clip(tools, _TOOLS_CHARS) if tools else "(none)"]
    lines += ["", "Reference behaviour:"]
    if not case.should_call:
        lines.append("- make no tool call (the tools cannot serve this request)")
    elif not case.expected:
        lines.append("- call a suitable tool (any call with valid arguments)")
    for e in case.expected:
        params = ", ".join(f"{k}: {describe(m)}" for k, m in e.params.items())
        extra = "; other arguments allowed" if e.allow_extra_params else ""
        others = getattr(e, "alternatives", None)
        name = " or ".join([e.name, *others]) if others else e.name
        lines.append(f"- call {name}({params}){extra}")
    if case.expected and len(case.expected) > 1:
        lines.append("- in this order" if case.ordered else "- in any order")
    if case.required_sequence:
        lines.append(f"- tools must be used in the sequence {case.required_sequence}")
    if case.expected_final_state is not None:
        state = json.dumps(case.expected_final_state, separators=(",", ":"))
        lines.append(f"- expected final state: {_clip(state, _MESSAGE_CHARS)}")
    return "\n".join(lines)


def _answer_start(case: Case, transcript: list[dict[str, Any]]) -> int:
    """Index in a run's transcript of the first message the model (or its tools) produced."""
    start = len(case.messages)
    has_system = any(m.get("role") == "system" for m in case.messages)
    if not has_system and transcript and transcript[0].get("role") == "system":
        start += 1  # the runner inserted the target's system prompt
    return start


def answer_text(case: Case, run: CaseRun) -> str:
    """What one run did on a case, as the judge sees it: calls, tool results, text, failure."""
    lines: list[str] = []
    produced = run.transcript[_answer_start(case, run.transcript) :]
    if any(m.get("role") == "assistant" for m in produced):
        for m in produced:
            if m.get("role") == "tool":
                lines.append(f"tool result: {_content_text(m.get('content'))}")
                continue
            text = _content_text(m.get("content")).strip()
            if text:
                lines.append(f"text: {text}")
            for call in m.get("tool_calls") or []:
                fn = call.get("function") or {}
                lines.append(f"tool call: {fn.get('name')}({fn.get('arguments', '')})")
    else:  # no transcript kept: the parsed calls are all we have
        for call in run.calls:
            args = call.get("raw_arguments") or json.dumps(call.get("arguments"))
            lines.append(f"tool call: {call.get('name')}({args})")
    if run.error:
        lines.append(f"the request failed: {run.error}")
    if not lines:
        lines.append("(no tool call and no text)")
    return _clip("\n".join(lines), _ANSWER_CHARS)


def _block(label: str, text: str) -> str:
    return f"[{label}]\n{text}\n[end of {label}]"


_JSON_ONLY = (
    "Reply with the JSON object only: no code fence, no text before or after it, no extra keys."
)
_CASE_SYSTEM = (
    "You grade how well an AI assistant used tools on one task. You are shown the task "
    "(the conversation, the tools offered and the reference behaviour), the assistant's "
    "answer (the tool calls it made with their arguments, the tool results it received "
    "and any text it wrote) and the verdict of an automatic checker. The checker compares "
    "arguments literally and can be wrong when an answer is equivalent in meaning; decide "
    "for yourself. Judge whether the answer does what the user asked: the right tools, "
    "correct argument values, no unnecessary or invented calls or arguments, and no call "
    "when none is appropriate.\n"
    'Reply in this JSON format: {"score": <integer 1-10>, "passed": <true or false>, '
    '"reasoning": "<at most three sentences>"}. 10 means fully correct, 1 useless or '
    "harmful; passed is true only if the answer fully serves the user. " + _JSON_ONLY
)
_PAIR_SYSTEM = (
    "You compare two answers of AI assistants to the same tool-use task: Answer A and "
    "Answer B. Each shows the tool calls made with their arguments, the tool results "
    "received and any text written. Decide which answer better does what the user asked "
    "(right tools, correct argument values, no unnecessary or invented calls or "
    "arguments, no call when none is appropriate). The order of the answers is arbitrary: "
    "do not let position, length or style influence you. Use tie when both are equally "
    "good or equally bad.\n"
    'Reply in this JSON format: {"winner": "A" or "B" or "tie", "reasoning": "<at most '
    'three sentences>"}. ' + _JSON_ONLY
)
_REPORT_SYSTEM = (
    "You assess one AI model's results on a tool-calling evaluation suite, from the "
    "aggregate scores (pass rates with 95% confidence intervals, per-category pass rates, "
    "counts of error types) and a sample of failing cases. Base every statement on these "
    "numbers and examples; the grade must be consistent with the pass rates.\n"
    'Reply in this JSON format: {"grade": "<A, B, C, D or F; A-D may carry + or ->", '
    '"strengths": ["..."], "weaknesses": ["..."], "recommendations": ["..."], '
    '"summary": "<two or three sentences>"}. ' + _JSON_ONLY
)


def case_messages(suite: Suite, case: Case, run: CaseRun) -> list[dict[str, Any]]:
    """The messages of a per-case judgement (system: instructions; user: task and answer)."""
    s = run.score

    def num(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.2f}"

    checker = [
        "## Automatic checker",
        f"outcome {s.outcome} (passed: {'yes' if s.passed else 'no'}; tool F1 "
        f"{num(s.tool_f1)}, argument accuracy {num(s.argument_accuracy)})",
        *(f"- {line}" for line in s.explanation[:5]),
    ]
    user = "\n\n".join(
        [_task_text(suite, case), "\n".join(checker), _block("Answer", answer_text(case, run))]
    )
    return [{"role": "system", "content": _CASE_SYSTEM}, {"role": "user", "content": user}]


def pair_messages(suite: Suite, case: Case, answer_a: str, answer_b: str) -> list[dict[str, Any]]:
    """The messages of one pairwise judgement, with the answers as Answer A / Answer B blocks."""
    user = "\n\n".join(
        [_task_text(suite, case), _block("Answer A", answer_a), _block("Answer B", answer_b)]
    )
    return [{"role": "system", "content": _PAIR_SYSTEM}, {"role": "user", "content": user}]


def _rounded(rate: Any) -> Any:
    if rate is None:
        return "N/A (did not run)"
    return {k: round(v, 3) for k, v in rate.to_dict().items() if k in ("rate", "ci_low", "ci_high")}


def _sample_failures(runs: list[CaseRun], limit: int) -> list[CaseRun]:
    """Up to ``limit`` failing runs, spread over outcomes (most frequent first), worst first."""
    groups: dict[str, list[CaseRun]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (case_value(r.score), r.case_id, r.attempt)):
        if not run.score.passed:
            groups[run.score.outcome].append(run)
    order = sorted(groups, key=lambda o: (-len(groups[o]), o))
    picked: list[CaseRun] = []
    while len(picked) < limit and any(groups.values()):
        for outcome in order:
            if groups[outcome] and len(picked) < limit:
                picked.append(groups[outcome].pop(0))
    return picked


def report_messages(
    suite: Suite, runs: Sequence[CaseRun], *, max_examples: int = 8
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages of a cross-case report, and the subject (model, counts, cases shown)."""
    runs = list(runs)
    if not runs:
        raise JudgeError("judge_report: no runs to report on")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise JudgeError(f"max_examples: found {max_examples!r}, expected an integer >= 0")
    keys = sorted({f"{r.provider}/{r.model}" for r in runs})
    if len(keys) > 1:
        raise JudgeError(
            f"judge_report grades one model; the runs come from {len(keys)} targets "
            f"({', '.join(keys)}): pass one target's runs"
        )
    cases = {r.case_id: _case(suite, r.case_id, "judge_report") for r in runs}
    total = score_suite([r.score for r in runs], sorted({c.category for c in suite.cases}))
    numbers = {
        "case_runs_scored": total.n_attempts,
        "passed": total.n_passed,
        "micro_pass_rate": _rounded(total.micro),
        "macro_pass_rate": _rounded(total.macro),
        "per_category_pass_rate": {k: _rounded(v) for k, v in total.categories.items()},
        "error_types": {k: v for k, v in total.error_types.items() if v},
        "mean_tool_f1": None if total.mean_tool_f1 is None else round(total.mean_tool_f1, 3),
        "mean_argument_accuracy": None
        if total.mean_argument_accuracy is None
        else round(total.mean_argument_accuracy, 3),
    }
    failing = [r for r in runs if not r.score.passed]
    shown = _sample_failures(failing, max_examples)
    examples = []
    for r in shown:
        case = cases[r.case_id]
        asked = next(
            (
                _content_text(m.get("content"))
                for m in reversed(case.messages)
                if m.get("role") == "user"
            ),
            "",
        )
        examples.append(
            f"- case {r.case_id} ({r.category}), outcome {r.score.outcome}\n"
            f"  user: {_clip(asked, _EXAMPLE_CHARS)}\n"
            f"  model: {_clip(answer_text(case, r), _EXAMPLE_CHARS)}\n"
            f"  checker: {_clip('; '.join(r.score.explanation[:3]), _EXAMPLE_CHARS)}"
        )
    shown_text = "\n".join(examples) if examples else "(none shown)"
    user = "\n\n".join(
        [
            f"## Suite {suite.name!r}: {len(suite.cases)} cases",
            "## Aggregate scores\n" + json.dumps(numbers),
            f"## Failing cases: {len(shown)} shown of {len(failing)}\n" + shown_text,
        ]
    )
    provider, _, model = keys[0].partition("/")
    subject = {
        "provider": provider,
        "model": model,
        "n_runs": len(runs),
        "n_failing": len(failing),
        "examples": [r.case_id for r in shown],
    }
    return [
        {"role": "system", "content": _REPORT_SYSTEM},
        {"role": "user", "content": user},
    ], subject
