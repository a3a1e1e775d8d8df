"""Run a tool-calling suite against targets and score every case with ``scoring.score_case``.

Each case is sent with the suite's tools and ``tool_choice: auto`` (never ``required``:
an irrelevance case must be passable by calling nothing). Multi-turn cases feed the
case's mock tool responses back for up to ``max_rounds`` rounds. Provider failures,
malformed answers included, become ``api_error`` scores with an error category and a
scrubbed message; the run goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import aiohttp

from llmbench_jupyter.core import errors
from llmbench_jupyter.core.errors import LLMBenchError, RequestFailed, scrub
from llmbench_jupyter.core.params import Resolved, for_target
from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.core.transports.http import MALFORMED_EVENT
from llmbench_jupyter.evals.chat import chat_completion, first_message, require_openai
from llmbench_jupyter.evals.mocks import MockTools, build
from llmbench_jupyter.evals.model import Case, ParsedCall, Suite
from llmbench_jupyter.evals.parsing import parse_tool_calls
from llmbench_jupyter.evals.scoring import CaseScore, score_case


class StopSending(Exception):
    """Raised by a :class:`RequestMeter` to stop before a request; never caught here."""


class RequestMeter(Protocol):
    """Budget accounting around each request of a case (see ``jobs.tune.budget``)."""

    def reserve(self, payload: dict[str, Any]) -> Any:
        """Book the most this request can cost, or raise :class:`StopSending`."""

    def settle(self, ticket: Any, body: dict[str, Any] | None) -> None:
        """Replace the booking with what the response says it cost (None: it failed)."""


@dataclass
class CaseRun:
    """One attempt of one case by one target: what was sent, what came back, the verdict."""

    provider: str
    model: str
    case_id: str
    category: str
    attempt: int
    score: CaseScore
    calls: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: float | None = None
    error: str | None = None
    final_state: dict[str, Any] | None = None
    #: Why the request failed (``core.errors`` categories), None when it did not.
    error_category: str | None = None
    #: Requests sent (one per round) and the tokens their ``usage`` reported, summed
    #: (None when a response did not report them): what budgets and costs count.
    requests: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    #: The judge's score (1-10) when a tuner had the case judged; None otherwise.
    judge_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["score"] = self.score.to_dict()
        return out


def _mock_result(case: Case, name: str, used: Counter[str]) -> Any:
    result = case.mock_responses.get(name, {"ok": True})
    if isinstance(result, list):
        result = result[min(used[name], len(result) - 1)] if result else {"ok": True}
    used[name] += 1
    return result


async def run_case(
    session: aiohttp.ClientSession,
    target: Target,
    suite: Suite,
    case: Case,
    *,
    attempt: int = 0,
    mode: str = "default",
    timeout_s: float = 60.0,
    mock_classes: dict[str, type[MockTools]] | None = None,
    params: Mapping[str, Any] | None = None,
    system_prompt: str | None = None,
    meter: RequestMeter | None = None,
) -> CaseRun:
    """Send one case (all its rounds) and score what the model called.

    With ``case.mock_tools`` the calls run against a fresh stateful mock instance (see
    :mod:`.mocks`); otherwise the case's static ``mock_responses`` answer them.
    ``params`` (canonical names, e.g. a tuner's trial) override the defaults
    ``tool_choice: auto, temperature: 0``; ``system_prompt`` replaces the target's.
    A ``meter`` is asked before every request and told what it cost (budgets).
    """
    require_openai(target, "tool evals")
    offered = [t for t in suite.tools if case.tools is None or t["function"]["name"] in case.tools]
    messages: list[dict[str, Any]] = [dict(m) for m in case.messages]
    system = system_prompt if system_prompt is not None else target.system_prompt
    if system and not any(m.get("role") == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system})
    calls: list[ParsedCall] = []
    used: Counter[str] = Counter()
    error: str | None = None
    category: str | None = None
    world = build(case.mock_tools, case.initial_state, mock_classes) if case.mock_tools else None
    # through the registry: what this target takes (no temperature for a reasoning model,
    # skip_params honoured); the payload is the same for every round
    sampling = resolve_eval_params(target, params, has_tools=bool(offered)).payload
    started = time.perf_counter()
    sent = 0
    tokens: list[int | None] = [0, 0]
    try:
        for round_no in range(max(1, case.max_rounds)):
            payload = {
                "model": target.api_model,
                "messages": messages,
                "tools": offered,
                **sampling,
            }
            ticket = meter.reserve(payload) if meter is not None else None  # may stop here
            sent += 1
            body = None
            try:
                body = await chat_completion(session, target, payload, timeout_s)
            finally:
                if meter is not None:
                    meter.settle(ticket, body)
            tokens = _add_usage(tokens, body)
            message = first_message(body)
            got = _calls_in(body)
            calls += got
            messages.append(message)
            if not got or round_no == case.max_rounds - 1:
                break
            for call in got:
                if world is None:
                    result = _mock_result(case, call.name, used)
                elif call.arguments is None:
                    result = {"error": f"arguments are not valid JSON: {call.parse_error}"}
                else:
                    result = world.call(call.name, call.arguments)
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": json.dumps(result, default=str),
                    }
                )
    except RequestFailed as exc:
        error, category = scrub(str(exc), target.secrets()), exc.category
    except (LLMBenchError, aiohttp.ClientError, TimeoutError) as exc:
        error = scrub(f"{type(exc).__name__}: {exc}", target.secrets())
        category = errors.CLIENT
    latency = (time.perf_counter() - started) * 1000.0
    final_state = world.state() if world is not None else None
    score = score_case(
        case, calls, mode=mode, tools=suite.tools, error=error, final_state=final_state
    )
    return CaseRun(
        provider=target.provider,
        model=target.model,
        case_id=case.id,
        category=case.category,
        attempt=attempt,
        score=score,
        calls=[asdict(c) for c in calls],
        transcript=messages,
        latency_ms=latency,
        error=error,
        final_state=final_state,
        error_category=category,
        requests=sent,
        input_tokens=tokens[0] if sent and error is None else None,
        output_tokens=tokens[1] if sent and error is None else None,
    )


def resolve_eval_params(
    target: Target, params: Mapping[str, Any] | None, *, has_tools: bool = True
) -> Resolved:
    """What an eval sends: ``tool_choice: auto`` and ``temperature: 0`` (deterministic,
    tools optional) unless the target's profile or ``params`` (which win) override them,
    through the parameter registry."""
    given = {"tool_choice": "auto", "temperature": 0, **dict(target.params), **(params or {})}
    return for_target(target, given, has_tools=has_tools)


def _add_usage(tokens: list[int | None], body: dict[str, Any]) -> list[int | None]:
    usage = body.get("usage") if isinstance(body, dict) else None
    got = [None, None]
    if isinstance(usage, dict):
        got = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
    return [
        a + b if isinstance(a, int) and isinstance(b, int) and not isinstance(b, bool) else None
        for a, b in zip(tokens, got, strict=True)
    ]


def _calls_in(body: dict[str, Any]) -> list[ParsedCall]:
    """The tool calls of a completion; calls of a shape no parser expects are malformed."""
    try:
        return parse_tool_calls(body)
    except (LLMBenchError, *MALFORMED_EVENT) as exc:
        raise RequestFailed(
            errors.MALFORMED, f"unreadable tool calls ({type(exc).__name__}: {exc})"
        ) from None


async def run_suite(
    targets: list[Target],
    suite: Suite,
    *,
    k: int = 1,
    mode: str = "default",
    concurrency: int = 4,
    timeout_s: float = 60.0,
    on_case: Callable[[CaseRun], None] | None = None,
    mock_classes: dict[str, type[MockTools]] | None = None,
) -> list[CaseRun]:
    """Every case ``k`` times for every target; returns the runs in completion order."""
    if k < 1:
        raise LLMBenchError(f"k: found {k}, expected an integer >= 1")
    if concurrency < 1:
        raise LLMBenchError(f"concurrency: found {concurrency}, expected an integer >= 1")
    for case in suite.cases:  # fail before sending anything if a mock class is unknown
        if case.mock_tools:
            build(case.mock_tools, case.initial_state, mock_classes)
    # the parameter registry may import litellm (seconds, once): ask it off the event loop
    await asyncio.to_thread(
        lambda: [for_target(t, {"temperature": 0}) for t in targets if t.kind == "openai"]
    )
    work = [(t, c, a) for t in targets for a in range(k) for c in suite.cases]
    results: list[CaseRun] = []
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(target: Target, case: Case, attempt: int) -> None:
            async with slots:
                run = await run_case(
                    session,
                    target,
                    suite,
                    case,
                    attempt=attempt,
                    mode=mode,
                    timeout_s=timeout_s,
                    mock_classes=mock_classes,
                )
            results.append(run)
            if on_case is not None:
                on_case(run)

        await asyncio.gather(*(one(t, c, a) for t, c, a in work))
    return results
