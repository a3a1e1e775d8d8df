"""Serving one completion request: parse, decide faults, then stream (or answer) on schedule.

The OpenAI and Anthropic endpoints share everything here; only their wire modules differ.
Every chunk is written with its own ``resp.write`` right after its send time is logged,
so the send log is the ground truth a timing test compares a client against.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from aiohttp import web

from llmbench_jupyter.sim.anthropic_wire import AnthropicStream, message_body
from llmbench_jupyter.sim.batched import LOG_KIND, Batch, burst, can_burst
from llmbench_jupyter.sim.openai_wire import DONE, OpenAIStream, completion_body, usage_dict
from llmbench_jupyter.sim.params import EFFORT_SCALE, anthropic_violation, openai_violation
from llmbench_jupyter.sim.plan import Plan, Schedule
from llmbench_jupyter.sim.rules import Conversation, find_rule
from llmbench_jupyter.sim.scenarios import Fault, Scenario, ScenarioError
from llmbench_jupyter.sim.sendlog import KIND_CODE, LogEntry
from llmbench_jupyter.sim.text import content_text, count_tokens

if TYPE_CHECKING:
    from llmbench_jupyter.sim.server import SimServer

OPENAI, ANTHROPIC = "openai", "anthropic"
_BIG_PROMPT = 100_000  # chars; count these off the event loop
# The loop's epoll timer has 1 ms granularity and rounds up, so a sleep wakes 0-1 ms late;
# aiming half a millisecond early centres the send-time error on the target.
_LEAD_NS = 500_000
_LOG_KIND = LOG_KIND
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
}


class RequestError(Exception):
    """An HTTP error to answer with, in the endpoint's own error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        param: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}
        self.param = param


def error_response(protocol: str, exc: RequestError) -> web.Response:
    if protocol == ANTHROPIC:
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": _ERROR_TYPES.get(exc.status, "api_error"), "message": str(exc)},
        }
    else:
        etype = {401: "invalid_request_error", 429: "rate_limit_error", 500: "server_error"}.get(
            exc.status, "invalid_request_error"
        )
        body = {"error": {"message": str(exc), "type": etype, "param": exc.param, "code": exc.code}}
    return web.json_response(body, status=exc.status, headers=exc.headers)


def http_fault(fault: Fault) -> RequestError:
    if fault.kind == "429":
        return RequestError(
            429,
            "Rate limit reached (simulated). Please retry after 1s.",
            "rate_limit_exceeded",
            {"Retry-After": "1"},
        )
    if fault.kind == "401":
        return RequestError(401, "Incorrect API key provided (simulated).", "invalid_api_key")
    return RequestError(
        500, "The server had an error while processing your request (simulated).", "server_error"
    )


@dataclass
class Job:
    """One parsed request and everything decided about it before the first byte."""

    protocol: str
    model: str
    scenario: Scenario
    stream: bool
    include_usage: bool
    max_tokens: int | None
    conversation: Conversation
    prompt_text: str
    fault: Fault | None
    arrived_ns: int
    number: int
    #: Scales the scenario's reasoning tokens (``EFFORT_SCALE``; 1 without an effort).
    reasoning_scale: float = 1.0
    #: When service began: a free decode slot (``Scenario.slots``), else arrival. The
    #: scenario's timings count from here; the send log keeps the true arrival.
    started_ns: int = 0


def _int_param(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RequestError(
            400, f"'{key}' must be a non-negative integer, got {value!r}", "invalid_value"
        )
    return value


def _conversation(protocol: str, body: dict[str, Any], model: str) -> tuple[Conversation, str]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise RequestError(400, "'messages' must be a list of message objects", "invalid_value")
    texts = [content_text(body.get("system"))] if protocol == ANTHROPIC else []
    last_user = ""
    for m in messages:
        text = content_text(m.get("content"))
        texts.append(text)
        for call in m.get("tool_calls") or ():
            if isinstance(call, dict):
                texts.append(str((call.get("function") or {}).get("arguments", "")))
        if m.get("role") == "user" and not _is_tool_result(m):
            last_user = text
    tool_result = None
    if messages and (messages[-1].get("role") == "tool" or _is_tool_result(messages[-1])):
        tool_result = content_text(messages[-1].get("content"))
    prompt = "\n".join(t for t in texts if t)
    system = [content_text(body.get("system"))] if protocol == ANTHROPIC else []
    system += [
        content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    ]
    params = {k: v for k, v in body.items() if isinstance(v, str | int | float | bool)}
    conv = Conversation(model, last_user, tool_result, "\n".join(t for t in system if t), params)
    return conv, prompt


def _is_tool_result(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") == "tool_result" for p in content
    )


async def parse_job(srv: SimServer, request: web.Request, protocol: str, arrived_ns: int) -> Job:
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "request body is not valid JSON", "invalid_json") from None
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object", "invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "'model' is required (a string)", "invalid_value")
    try:
        scenario = srv.scenario_for(model)
    except ScenarioError as exc:
        raise RequestError(400, str(exc), "invalid_model_spec") from None
    if scenario is None:
        raise RequestError(
            404,
            f"The model '{model}' does not exist. Known models: "
            f"{', '.join(srv.model_names())}, or sim:key=val,...",
            "model_not_found",
        )
    violation = (
        openai_violation(body, scenario.params == "reasoning")
        if protocol == OPENAI
        else anthropic_violation(body)
    )
    if violation is not None:
        raise RequestError(400, violation.message, violation.code, param=violation.param)
    if protocol == OPENAI:
        max_tokens = _int_param(body, "max_completion_tokens")
        if max_tokens is None:
            max_tokens = _int_param(body, "max_tokens")
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    else:
        max_tokens = _int_param(body, "max_tokens")
        include_usage = True
    conversation, prompt = _conversation(protocol, body, model)
    number = srv.next_request_number()
    fault = scenario.fault
    if (
        fault is not None
        and scenario.fault_rate < 1
        and srv.rng(number, "fault").random() >= scenario.fault_rate
    ):
        fault = None
    effort = body.get("reasoning_effort") if protocol == OPENAI else None
    scale = EFFORT_SCALE.get(effort, 1.0) if isinstance(effort, str) else 1.0
    return Job(
        protocol,
        model,
        scenario,
        bool(body.get("stream")),
        include_usage,
        max_tokens,
        conversation,
        prompt,
        fault,
        arrived_ns,
        number,
        scale,
        arrived_ns,
    )


async def _count_prompt(text: str) -> int:
    if len(text) > _BIG_PROMPT:  # tiktoken releases the GIL: keep the loop serving others
        return await asyncio.get_running_loop().run_in_executor(None, count_tokens, text)
    return count_tokens(text)


def _plan(srv: SimServer, job: Job) -> Plan:
    rule = find_rule(srv.rules, job.conversation)
    prefix = "toolu_" if job.protocol == ANTHROPIC else "call_"
    return Plan(job.scenario, rule, srv.rng(job.number, "words"), job.max_tokens, prefix,
                job.reasoning_scale)  # fmt: skip


async def _sleep_until(target_ns: int) -> None:
    delay = target_ns - perf_counter_ns() - _LEAD_NS
    if delay > 0:
        await asyncio.sleep(delay / 1e9)


async def serve_stream(srv: SimServer, request: web.Request, job: Job) -> web.StreamResponse:
    anthropic = job.protocol == ANTHROPIC
    rid = ("msg_" if anthropic else "chatcmpl-") + secrets.token_hex(12)
    plan = _plan(srv, job)
    tool_ids = [c.id for c in plan.tool_calls]
    fmt: AnthropicStream | OpenAIStream = (
        AnthropicStream(rid, job.model, tool_ids)
        if anthropic
        else OpenAIStream(rid, job.model, int(time.time()), tool_ids)
    )
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "x-sim-response-id": rid,
        }
    )
    await resp.prepare(request)
    entry = srv.log.open(rid, job.model, job.arrived_ns)
    write = resp.write
    role_code = KIND_CODE["role"]
    prompt_tokens = -1
    if job.scenario.role_first:
        if anthropic:  # message_start carries input_tokens: count first
            prompt_tokens = await _count_prompt(job.prompt_text)
        data = fmt.role(prompt_tokens)
        entry.add(role_code, 0, perf_counter_ns(), -1)
        await write(data)
    else:
        fmt.role_with_first_chunk()
    if prompt_tokens < 0:
        prompt_tokens = await _count_prompt(job.prompt_text)
    sched = Schedule(job.scenario, job.started_ns, prompt_tokens, srv.rng(job.number, "jitter"))
    fault = job.fault
    fault_at = fault.at if fault is not None else -1
    arrived = job.arrived_ns
    sent = 0
    limit = job.scenario.write_batch
    batch = Batch(entry, write) if limit > 1 else None
    try:
        if batch is not None and isinstance(fmt, OpenAIStream) and can_burst(job.scenario, fault):
            await burst(plan, fmt, entry, sched, write, limit)  # every chunk due at once
            await _finish_stream(job, plan, fmt, entry, write, prompt_tokens)
            return resp
        for piece in plan.pieces():
            if batch is not None and (sent == fault_at or len(batch.parts) >= limit):
                await batch.flush()
            if sent == fault_at and not await _stream_fault(
                srv, request, job, fmt, entry, sched, write
            ):
                return resp
            target = sched.target(sent)
            delay = target - perf_counter_ns() - _LEAD_NS
            if delay > 0:
                if batch is not None:
                    await batch.flush()
                await asyncio.sleep(delay / 1e9)
            elif sent & 255 == 255 and batch is None:
                await asyncio.sleep(0)  # itl=0: let other streams run now and then
            if batch is not None:
                batch.add(fmt, piece, target - arrived)
                sent += 1
                continue
            pre, data = fmt.piece(piece)
            if sent == 0 and anthropic and not job.scenario.role_first:
                entry.add(role_code, 0, perf_counter_ns(), -1)
                await write(fmt.role(prompt_tokens))
            for extra in pre:
                await write(extra)
            entry.add(_LOG_KIND[piece[0]], piece[1], perf_counter_ns(), target - arrived)
            await write(data)
            sent += 1
        if batch is not None:
            await batch.flush()
        if sent <= fault_at and not await _stream_fault(
            srv, request, job, fmt, entry, sched, write
        ):
            return resp
        await _finish_stream(job, plan, fmt, entry, write, prompt_tokens)
    except ConnectionError:
        srv.count("disconnected")
    finally:
        srv.log.close(entry)
    return resp


async def _stream_fault(
    srv: SimServer,
    request: web.Request,
    job: Job,
    fmt: AnthropicStream | OpenAIStream,
    entry: LogEntry,
    sched: Schedule,
    write: Any,
) -> bool:
    """Apply a mid-stream fault; False means the stream is over (connection cut)."""
    fault = job.fault
    assert fault is not None
    srv.count(f"fault_{fault.kind}")
    if fault.kind == "cut":
        if request.transport is not None:
            request.transport.abort()  # no terminating chunk: the client sees a truncated body
        return False
    if fault.kind == "malformed":
        entry.add(KIND_CODE["malformed"], 0, perf_counter_ns(), -1)
        await write(fmt.malformed())
        return True
    stall_ns = int(job.scenario.stall_s * 1e9)
    await asyncio.sleep(stall_ns / 1e9)  # cancelled if the client goes away
    sched.first_ns += stall_ns
    return True


async def _finish_stream(
    job: Job,
    plan: Plan,
    fmt: AnthropicStream | OpenAIStream,
    entry: LogEntry,
    write: Any,
    prompt_tokens: int,
) -> None:
    if isinstance(fmt, AnthropicStream):
        for extra in fmt.close_block():
            await write(extra)
        entry.add(KIND_CODE["usage"], 0, perf_counter_ns(), -1)
        await write(fmt.message_delta(plan.finish_reason, plan.completion_tokens))
        await write(fmt.message_stop())
    else:
        entry.add(KIND_CODE["finish"], 0, perf_counter_ns(), -1)
        await write(fmt.finish(plan.finish_reason))
        if job.include_usage:
            entry.add(KIND_CODE["usage"], 0, perf_counter_ns(), -1)
            await write(fmt.usage(usage_dict(plan, prompt_tokens)))
        await write(DONE)


async def serve_whole(srv: SimServer, request: web.Request, job: Job) -> web.StreamResponse:
    """Non-stream: answer once, when the last chunk would have been sent."""
    anthropic = job.protocol == ANTHROPIC
    rid = ("msg_" if anthropic else "chatcmpl-") + secrets.token_hex(12)
    plan = _plan(srv, job)
    prompt_tokens = await _count_prompt(job.prompt_text)
    sched = Schedule(job.scenario, job.started_ns, prompt_tokens, srv.rng(job.number, "jitter"))
    texts: dict[str, list[str]] = {"reasoning": [], "answer": []}
    count = 0
    for kind, _tokens, text, _index in plan.pieces():
        if kind in texts:
            texts[kind].append(text)
        count += 1
    fault = job.fault
    last = max(count - 1, 0)
    target = sched.target(min(fault.at, last) if fault is not None else last)
    if fault is not None and fault.kind == "stall":
        target += int(job.scenario.stall_s * 1e9)
    await _sleep_until(target)
    reasoning, answer = "".join(texts["reasoning"]), "".join(texts["answer"])
    if anthropic:
        body = message_body(rid, job.model, plan, reasoning, answer, prompt_tokens)
    else:
        body = completion_body(
            rid, job.model, int(time.time()), plan, reasoning, answer, prompt_tokens
        )
    payload = json.dumps(body).encode()
    if fault is not None and fault.kind in ("cut", "malformed"):
        srv.count(f"fault_{fault.kind}")
        if fault.kind == "cut" and request.transport is not None:
            request.transport.abort()
            return web.Response(status=200)
        payload = payload[: len(payload) // 2]
    resp = web.Response(
        body=payload, content_type="application/json", headers={"x-sim-response-id": rid}
    )
    entry = srv.log.open(rid, job.model, job.arrived_ns)
    now = perf_counter_ns()
    for kind, n in (
        ("reasoning", plan.reasoning_n),
        ("answer", plan.answer_n),
        ("tool", plan.completion_tokens - plan.reasoning_n - plan.answer_n),
    ):
        if n:
            entry.add(KIND_CODE[kind], n, now, target - job.arrived_ns)
    srv.log.close(entry)
    await resp.prepare(request)
    await resp.write_eof()
    return resp
