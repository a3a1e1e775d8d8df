"""LLM-as-judge for the tool-calling eval: per-case grades, pairwise comparisons, suite reports.

A judge is a second opinion beside the rule-based score, never a replacement for it, so:

* every judge call keeps the exact messages sent and the raw reply (``Judgement``), for
  the caller to store and for anyone to audit;
* a reply that is not exactly one JSON object of the expected shape is ``invalid``,
  never a pass or a win; a failed request is ``api_error`` (scrubbed), and the run goes on;
* pairwise comparisons are judged in both orders, because judges prefer a position;
  verdicts that disagree across orders count as a tie, and position consistency is
  reported with its interval (counting in ``stats.pairwise_summary``).

Prompts, verdict formats and a worked example are in docs/scoring.md ("LLM-as-judge").
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.evals.chat import chat_completion, require_openai
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import case_value, describe, score_suite
from llmbench_jupyter.stats import pairwise_summary

__all__ = [
    "JUDGE_KINDS",
    "JUDGE_STATUSES",
    "InlineJudge",
    "JudgeError",
    "Judgement",
    "PairVerdict",
    "PairwiseReport",
    "answer_text",
    "case_messages",
    "compare_runs",
    "judge_case",
    "judge_pair",
    "judge_report",
    "judge_runs",
    "pair_messages",
    "parse_verdict",
    "report_messages",
]

JUDGE_KINDS = ("case", "pairwise", "report")
JUDGE_STATUSES = ("ok", "invalid", "api_error")
_PURPOSE = "LLM judges"
# Bounds that keep a judge prompt small whatever the model under test produced.
_ANSWER_CHARS = 4000
_MESSAGE_CHARS = 2000
_TOOLS_CHARS = 3000
_EXAMPLE_CHARS = 400
_GRADE = re.compile(r"^(?:[ABCD][+-]?|F)$")
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)


class JudgeError(LLMBenchError, ValueError):
    """A judge request we refuse before sending anything: says what, where and what was expected."""


# =========================================================================== results


@dataclass
class Judgement:
    """One judge call: what was sent, what came back, and the validated verdict (if any)."""

    kind: str  # "case" | "pairwise" | "report"
    judge: str  # judge target key "provider/model"
    case_id: str | None
    status: str  # one of JUDGE_STATUSES
    messages: list[dict[str, Any]]  # exactly what was sent
    raw_output: str | None
    parsed: dict[str, Any] | None  # validated verdict; None unless status == "ok"
    error: str | None
    latency_ms: float | None
    subject: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] | None = None  # the judge's token usage, when the server reports it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PairVerdict:
    """One case compared in both orders; ``winner`` is in terms of runs, not positions."""

    case_id: str
    forward: Judgement  # first run shown as A
    backward: Judgement  # first run shown as B
    winner: str  # "first" | "second" | "tie" | "invalid"
    consistent: bool | None  # None when either side is invalid/api_error

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "winner": self.winner,
            "consistent": self.consistent,
            "forward": self.forward.to_dict(),
            "backward": self.backward.to_dict(),
        }


@dataclass
class PairwiseReport:
    """Every pair's verdict and the summary (counts, win rate, position consistency, unpaired)."""

    verdicts: list[PairVerdict]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"verdicts": [v.to_dict() for v in self.verdicts], "summary": self.summary}


# =========================================================================== verdict parsing


def _extract_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The one JSON object in a reply: bare, in a ```json fence, or inside prose."""
    stripped = text.strip()
    if not stripped:
        return None, "empty output"
    try:
        whole = json.loads(stripped)
    except ValueError:
        pass
    else:
        if isinstance(whole, dict):
            return whole, None
        return None, f"the output is a JSON {type(whole).__name__}, expected an object"
    found: list[dict[str, Any]] = []
    for block in _FENCE.findall(text):
        try:
            obj = json.loads(block.strip())
        except ValueError:
            continue
        if isinstance(obj, dict):
            found.append(obj)
    if not found:  # objects embedded in prose; nested ones are consumed by their parent
        decoder = json.JSONDecoder()
        at = text.find("{")
        while at != -1:
            try:
                obj, end = decoder.raw_decode(text, at)
            except ValueError:
                at = text.find("{", at + 1)
                continue
            if isinstance(obj, dict):
                found.append(obj)
            at = text.find("{", end)
    distinct = list({json.dumps(o, sort_keys=True): o for o in found}.values())
    if not distinct:
        return None, "no JSON object found in the output"
    if len(distinct) > 1:
        return None, f"{len(distinct)} different JSON objects in the output, expected exactly one"
    return distinct[0], None


def _text_ok(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check(obj: dict[str, Any], key: str, ok: Callable[[Any], bool], expected: str) -> str | None:
    if key not in obj:
        return f"{key}: missing (expected {expected})"
    if not ok(obj[key]):
        return f"{key}: expected {expected}, got {json.dumps(obj[key])[:80]}"
    return None


# Per kind: (key, check, what is expected) for every required field.
_SCHEMAS: dict[str, list[tuple[str, Callable[[Any], bool], str]]] = {
    "case": [
        ("score", lambda v: type(v) is int and 1 <= v <= 10, "an integer 1..10"),
        ("passed", lambda v: type(v) is bool, "true or false"),
        ("reasoning", _text_ok, "a non-empty string"),
    ],
    "pairwise": [
        ("winner", lambda v: v in ("A", "B", "tie"), '"A", "B" or "tie"'),
        ("reasoning", _text_ok, "a non-empty string"),
    ],
    "report": [
        (
            "grade",
            lambda v: isinstance(v, str) and _GRADE.match(v) is not None,
            "a letter grade A, B, C, D (optionally with + or -) or F",
        ),
        *(
            (
                name,
                lambda v: isinstance(v, list) and all(_text_ok(x) for x in v),
                "a list of non-empty strings",
            )
            for name in ("strengths", "weaknesses", "recommendations")
        ),
        ("summary", _text_ok, "a non-empty string"),
    ],
}


def parse_verdict(kind: str, text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Validate a judge reply: ``(verdict, None)`` or ``(None, why it is invalid)``.

    Exactly one JSON object must be found; every field of the kind's schema must be
    present with the right type and range (no coercion: ``7.0`` is not an integer score,
    ``"true"`` is not a boolean). Extra keys are ignored and not kept.
    """
    if kind not in _SCHEMAS:
        raise JudgeError(f"judge kind {kind!r} is unknown; expected one of {list(JUDGE_KINDS)}")
    obj, error = _extract_object(text)
    if obj is None:
        return None, error
    problems = [p for key, ok, what in _SCHEMAS[kind] if (p := _check(obj, key, ok, what))]
    if problems:
        return None, "; ".join(problems)
    return {key: obj[key] for key, _, _ in _SCHEMAS[kind]}, None


# =========================================================================== prompt text


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
        "case_runs_scored": total.n_cases,
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


# =========================================================================== judge calls


async def _ask(
    session: aiohttp.ClientSession,
    judge: Target,
    kind: str,
    case_id: str | None,
    messages: list[dict[str, Any]],
    subject: dict[str, Any],
    timeout_s: float,
    slots: asyncio.Semaphore | None = None,
) -> Judgement:
    """One judge call; provider failures become ``api_error``, bad replies ``invalid``."""
    payload: dict[str, Any] = {
        "model": judge.api_model or judge.model,
        "messages": messages,
        "temperature": 0,
    }
    if "temperature" in judge.skip_params:
        payload.pop("temperature")
    out = Judgement(
        kind, judge.key, case_id, "api_error", messages, None, None, None, None, subject
    )
    started = time.perf_counter()
    try:
        if slots is None:
            body = await chat_completion(session, judge, payload, timeout_s)
        else:
            async with slots:
                body = await chat_completion(session, judge, payload, timeout_s)
    except (LLMBenchError, aiohttp.ClientError, TimeoutError) as exc:
        out.latency_ms = (time.perf_counter() - started) * 1000.0
        out.error = scrub(f"{type(exc).__name__}: {exc}", [judge.api_key or ""])
        return out
    out.latency_ms = (time.perf_counter() - started) * 1000.0
    usage = body.get("usage")
    out.usage = usage if isinstance(usage, dict) else None
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        out.error = scrub(f"response has no choices[0].message: {json.dumps(body)[:200]}")
        return out
    raw = _content_text(message.get("content"))
    out.raw_output = raw or None
    if not raw.strip():
        out.status, out.error = "invalid", "the judge returned no text"
        return out
    out.parsed, out.error = parse_verdict(kind, raw)
    out.status = "ok" if out.parsed is not None else "invalid"
    return out


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JudgeError(f"{name}: found {value!r}, expected an integer >= 1")


def _check_threshold(threshold: float | None) -> None:
    if threshold is None:
        return
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not (0.0 <= threshold <= 1.0)
    ):
        raise JudgeError(
            f"threshold: found {threshold!r}, expected a number in [0, 1] compared with "
            "scoring.case_value (or None to judge every case)"
        )


def _run_label(run: CaseRun) -> dict[str, Any]:
    return {"provider": run.provider, "model": run.model, "attempt": run.attempt}


async def _judge_case(
    session: aiohttp.ClientSession,
    judge: Target,
    suite: Suite,
    case: Case,
    run: CaseRun,
    timeout_s: float,
    slots: asyncio.Semaphore | None,
) -> Judgement:
    require_openai(judge, _PURPOSE)
    if run.case_id != case.id:
        raise JudgeError(f"judge_case: the run is of case {run.case_id!r}, not {case.id!r}")
    subject = {**_run_label(run), "outcome": run.score.outcome, "case_value": case_value(run.score)}
    messages = case_messages(suite, case, run)
    return await _ask(session, judge, "case", case.id, messages, subject, timeout_s, slots)


async def judge_case(
    session: aiohttp.ClientSession,
    judge: Target,
    suite: Suite,
    case: Case,
    run: CaseRun,
    *,
    timeout_s: float = 60.0,
) -> Judgement:
    """Grade one run of one case: ``parsed = {"score": 1..10, "passed": bool, "reasoning"}``.

    Usable inline (see :class:`InlineJudge`) or after a run; never raises for provider
    failures or bad replies (status ``api_error`` / ``invalid``).
    """
    return await _judge_case(session, judge, suite, case, run, timeout_s, None)


_TO_RUN = {
    "forward": {"A": "first", "B": "second", "tie": "tie"},
    "backward": {"A": "second", "B": "first", "tie": "tie"},
}


async def _judge_pair(
    session: aiohttp.ClientSession,
    judge: Target,
    suite: Suite,
    case: Case,
    first: CaseRun,
    second: CaseRun,
    timeout_s: float,
    slots: asyncio.Semaphore | None,
) -> PairVerdict:
    require_openai(judge, _PURPOSE)
    for side, run in (("first", first), ("second", second)):
        if run.case_id != case.id:
            raise JudgeError(
                f"judge_pair: the {side} run is of case {run.case_id!r}, not {case.id!r}"
            )
    one, two = answer_text(case, first), answer_text(case, second)
    labels = {"first": _run_label(first), "second": _run_label(second)}
    forward, backward = await asyncio.gather(
        *(
            _ask(
                session,
                judge,
                "pairwise",
                case.id,
                pair_messages(suite, case, shown_a, shown_b),
                {**labels, "order": order, "A": a, "B": b},
                timeout_s,
                slots,
            )
            for order, shown_a, shown_b, a, b in (
                ("forward", one, two, "first", "second"),
                ("backward", two, one, "second", "first"),
            )
        )
    )
    if forward.parsed is None or backward.parsed is None:
        return PairVerdict(case.id, forward, backward, "invalid", None)
    a = _TO_RUN["forward"][forward.parsed["winner"]]
    b = _TO_RUN["backward"][backward.parsed["winner"]]
    return PairVerdict(case.id, forward, backward, a if a == b else "tie", a == b)


async def judge_pair(
    session: aiohttp.ClientSession,
    judge: Target,
    suite: Suite,
    case: Case,
    first: CaseRun,
    second: CaseRun,
    *,
    timeout_s: float = 60.0,
) -> PairVerdict:
    """Compare two runs' answers on one case, judged with each run shown first once.

    A verdict that changes with the order is a tie (``consistent=False``); an invalid or
    failed side makes the pair ``invalid`` (``consistent=None``), never a win.
    """
    return await _judge_pair(session, judge, suite, case, first, second, timeout_s, None)


async def judge_report(
    session: aiohttp.ClientSession,
    judge: Target,
    suite: Suite,
    runs: list[CaseRun],
    *,
    max_examples: int = 8,
    timeout_s: float = 60.0,
) -> Judgement:
    """A cross-case report on one model's runs: grade, strengths, weaknesses,
    recommendations, summary. The prompt holds the SuiteScore numbers and at most
    ``max_examples`` failing cases, so it stays small whatever the suite size."""
    require_openai(judge, _PURPOSE)
    messages, subject = report_messages(suite, runs, max_examples=max_examples)
    return await _ask(session, judge, "report", None, messages, subject, timeout_s)


class InlineJudge:
    """Judge runs while a suite runs: pass ``submit`` as ``run_suite(..., on_case=...)``.

    Cases at or above ``threshold`` (``scoring.case_value``) are not judged; None judges
    every case. ``submit`` must be called on the running event loop (``run_suite`` does);
    ``await finish()`` returns the judgements in submission order and closes the session.
    """

    def __init__(
        self,
        judge: Target,
        suite: Suite,
        *,
        threshold: float | None = None,
        concurrency: int = 4,
        on_judgement: Callable[[Judgement], None] | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        require_openai(judge, _PURPOSE)
        _check_threshold(threshold)
        _check_positive("concurrency", concurrency)
        self.judge, self.suite, self.threshold = judge, suite, threshold
        self.timeout_s = timeout_s
        self._on_judgement = on_judgement
        self._slots = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[Judgement]] = []

    def case_for(self, run: CaseRun) -> Case:
        """The suite's case a run belongs to (JudgeError when the suite has no such case)."""
        return _case(self.suite, run.case_id, f"run of {run.provider}/{run.model}")

    def wants(self, run: CaseRun) -> bool:
        """Whether the threshold selects this run for judging."""
        return self.threshold is None or case_value(run.score) < self.threshold

    def submit(self, run: CaseRun) -> None:
        case = self.case_for(run)
        if not self.wants(run):
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._tasks.append(asyncio.get_running_loop().create_task(self._one(case, run)))

    async def _one(self, case: Case, run: CaseRun) -> Judgement:
        assert self._session is not None
        out = await _judge_case(
            self._session, self.judge, self.suite, case, run, self.timeout_s, self._slots
        )
        if self._on_judgement is not None:
            self._on_judgement(out)
        return out

    async def abort(self) -> None:
        """Cancel judge calls still in flight (the eval was cancelled) and close the session."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def finish(self) -> list[Judgement]:
        tasks, self._tasks = self._tasks, []
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return [r for r in results if isinstance(r, Judgement)]


async def judge_runs(
    judge: Target,
    suite: Suite,
    runs: Sequence[CaseRun],
    *,
    threshold: float | None = None,
    concurrency: int = 4,
    on_judgement: Callable[[Judgement], None] | None = None,
    timeout_s: float = 60.0,
) -> list[Judgement]:
    """Judge finished runs (post-run); ``threshold`` as in :class:`InlineJudge`.

    Returns the judgements in the order of ``runs``; ``on_judgement`` sees each as it lands.
    """
    inline = InlineJudge(
        judge,
        suite,
        threshold=threshold,
        concurrency=concurrency,
        on_judgement=on_judgement,
        timeout_s=timeout_s,
    )
    for run in runs:  # every run must belong to the suite before anything is sent
        inline.case_for(run)
    for run in runs:
        inline.submit(run)
    return await inline.finish()


def _attempt_zero(runs: Sequence[CaseRun], side: str, suite: Suite) -> dict[str, CaseRun]:
    chosen: dict[str, CaseRun] = {}
    for run in runs:
        _case(suite, run.case_id, f"compare_runs {side} run")
        if run.attempt != 0:
            continue
        if run.case_id in chosen:
            other = chosen[run.case_id]
            raise JudgeError(
                f"compare_runs: {side} has two runs of case {run.case_id!r} at attempt 0 "
                f"({other.provider}/{other.model} and {run.provider}/{run.model}); "
                "pass one target's runs per side"
            )
        chosen[run.case_id] = run
    return chosen


async def compare_runs(
    judge: Target,
    suite: Suite,
    first: Sequence[CaseRun],
    second: Sequence[CaseRun],
    *,
    concurrency: int = 4,
    on_verdict: Callable[[PairVerdict], None] | None = None,
    timeout_s: float = 60.0,
) -> PairwiseReport:
    """Compare two runs case by case (attempt 0 of each), both orders per case.

    Cases present on one side only are listed in ``summary["unpaired"]``, not judged.
    ``concurrency`` bounds the judge calls in flight (two per case).
    """
    require_openai(judge, _PURPOSE)
    _check_positive("concurrency", concurrency)
    a, b = _attempt_zero(first, "first", suite), _attempt_zero(second, "second", suite)
    order = [c.id for c in suite.cases]
    paired = [c for c in suite.cases if c.id in a and c.id in b]
    unpaired = [
        {"case_id": cid, "missing_from": "second" if cid in a else "first"}
        for cid in order
        if (cid in a) != (cid in b)
    ]
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(case: Case) -> PairVerdict:
            verdict = await _judge_pair(
                session, judge, suite, case, a[case.id], b[case.id], timeout_s, slots
            )
            if on_verdict is not None:
                on_verdict(verdict)
            return verdict

        verdicts = list(await asyncio.gather(*(one(c) for c in paired)))
    summary = pairwise_summary([v.winner for v in verdicts], [v.consistent for v in verdicts])
    summary["unpaired"] = unpaired
    return PairwiseReport(verdicts, summary)
