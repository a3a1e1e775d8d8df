"""One judge request each: a case graded, a pair compared in both orders, a report.

Provider failures become ``api_error`` (scrubbed) and bad replies ``invalid``: a judge
call never raises for them, so the run goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.params import for_target
from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.evals.chat import chat_completion, require_openai
from llmbench_jupyter.evals.judge._prompts import (
    _content_text,
    answer_text,
    case_messages,
    pair_messages,
    report_messages,
)
from llmbench_jupyter.evals.judge._results import JudgeError, Judgement, PairVerdict
from llmbench_jupyter.evals.judge._verdicts import parse_verdict
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.runner import CaseRun, RequestMeter
from llmbench_jupyter.evals.scoring import case_value

_PURPOSE = "LLM judges"


async def _ask(
    session: aiohttp.ClientSession,
    judge: Target,
    kind: str,
    case_id: str | None,
    messages: list[dict[str, Any]],
    subject: dict[str, Any],
    timeout_s: float,
    slots: asyncio.Semaphore | None = None,
    meter: RequestMeter | None = None,
) -> Judgement:
    """One judge call; provider failures become ``api_error``, bad replies ``invalid``.
    A ``meter`` (a tuner's budget) books the call before it is sent and may refuse it."""
    payload: dict[str, Any] = {
        "model": judge.api_model or judge.model,
        "messages": messages,
    }
    # through the registry: a reasoning judge takes no temperature, skip_params honoured;
    # in a thread, since its first call may import litellm (seconds: never on the loop)
    payload.update((await asyncio.to_thread(for_target, judge, {"temperature": 0})).payload)
    out = Judgement(
        kind, judge.key, case_id, "api_error", messages, None, None, None, None, subject
    )
    started = time.perf_counter()
    ticket = meter.reserve(payload) if meter is not None else None  # may stop here
    body = None
    try:
        if slots is None:
            body = await chat_completion(session, judge, payload, timeout_s)
        else:
            async with slots:
                body = await chat_completion(session, judge, payload, timeout_s)
    except (LLMBenchError, aiohttp.ClientError, TimeoutError) as exc:
        out.latency_ms = (time.perf_counter() - started) * 1000.0
        out.error = scrub(f"{type(exc).__name__}: {exc}", judge.secrets())
        return out
    finally:
        if meter is not None:
            meter.settle(ticket, body)
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
    meter: RequestMeter | None = None,
) -> Judgement:
    require_openai(judge, _PURPOSE)
    if run.case_id != case.id:
        raise JudgeError(f"judge_case: the run is of case {run.case_id!r}, not {case.id!r}")
    subject = {**_run_label(run), "outcome": run.score.outcome, "case_value": case_value(run.score)}
    messages = case_messages(suite, case, run)
    return await _ask(session, judge, "case", case.id, messages, subject, timeout_s, slots, meter)


async def judge_case(
    session: aiohttp.ClientSession,
    judge: Target,
    suite: Suite,
    case: Case,
    run: CaseRun,
    *,
    timeout_s: float = 60.0,
    meter: RequestMeter | None = None,
) -> Judgement:
    """Grade one run of one case: ``parsed = {"score": 1..10, "passed": bool, "reasoning"}``.

    Usable inline (see :class:`InlineJudge`) or after a run; never raises for provider
    failures or bad replies (status ``api_error`` / ``invalid``). A tuner's ``meter``
    books the call against its budget (and raises ``StopSending`` when it does not fit).
    """
    return await _judge_case(session, judge, suite, case, run, timeout_s, None, meter)


_TO_RUN = {
    "forward": {"A": "first", "B": "second", "tie": "tie"},
    "backward": {"A": "second", "B": "first", "tie": "tie"},
}


async def judge_pair(
    session: aiohttp.ClientSession,
    judge: Target,
    suite: Suite,
    case: Case,
    first: CaseRun,
    second: CaseRun,
    *,
    timeout_s: float = 60.0,
    slots: asyncio.Semaphore | None = None,
) -> PairVerdict:
    """Compare two runs' answers on one case, judged with each run shown first once.

    A verdict that changes with the order is a tie (``consistent=False``); an invalid or
    failed side makes the pair ``invalid`` (``consistent=None``), never a win. ``slots``
    bounds the judge calls in flight when several share it (compare_runs passes its own).
    """
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
