"""Hostile behaviours of the simulated endpoint: what a server we do not control may send.

``sim:hostile=<kind>`` names one. Each is a regression test bed for a way a client can
leak, crash or run out of memory; ``docs/security.md`` maps them to what stops them.

- ``echo``: answers with every request header and the URL, in text, split across chunks,
  and in a tool call's arguments, so a key sent to it comes straight back.
- ``echo_error``: a 400 that quotes the bare key, as real providers do ("Incorrect API
  key provided: ..."), placed so it straddles character 300, where a careless client
  cuts the message; then the echo.
- ``endless_error``: a 500 whose body never ends.
- ``endless_line``: a 200 whose first SSE line (or JSON body) never ends.
- ``endless_body``: a 200 that streams valid chunks forever (or a JSON string that never
  closes, non-streamed).
- ``bad_utf8``: invalid UTF-8 inside the content.
- ``scalar_choice``: ``{"choices":[1]}``.
- ``deep_json``: a message nested 200,000 arrays deep.
- ``nan_usage``: a normal answer whose usage counts are NaN, Infinity and negative.
- ``bad_tool_args``: calls to an offered tool with arguments of the wrong shape (a list,
  then nested objects where scalars belong).

Endless bodies stop after ``_ENDLESS_CAP`` bytes so a client that never hangs up cannot
keep the sim busy forever.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web

HOSTILE_KINDS = (
    "echo",
    "echo_error",
    "endless_error",
    "endless_line",
    "endless_body",
    "bad_utf8",
    "scalar_choice",
    "deep_json",
    "nan_usage",
    "bad_tool_args",
)
_ENDLESS_CAP = 2 * 1024**3
_BLOCK = b"A" * 65536
_DEPTH = 200_000
_SKIP_HEADERS = {"host", "content-length", "content-type", "accept", "accept-encoding"}


def _echo_text(request: web.Request) -> str:
    headers = "; ".join(
        f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in _SKIP_HEADERS
    )
    return f"You sent {headers}; url {request.url}"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body: dict[str, Any] = {"id": "chatcmpl-hostile", "object": "chat.completion.chunk"}
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _whole(message: dict[str, Any], usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "model": "hostile",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage or {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }


async def _stream(
    request: web.Request, events: list[bytes], sse: bool = True
) -> web.StreamResponse:
    ctype = "text/event-stream" if sse else "application/json"
    resp = web.StreamResponse(status=200, headers={"Content-Type": ctype})
    await resp.prepare(request)
    for data in events:
        await resp.write(data)
    await resp.write_eof()
    return resp


async def _endless(
    request: web.Request, status: int, ctype: str, head: bytes, block: bytes = _BLOCK
) -> web.StreamResponse:
    resp = web.StreamResponse(status=status, headers={"Content-Type": ctype})
    await resp.prepare(request)
    sent = 0
    try:
        await resp.write(head)
        while sent < _ENDLESS_CAP:
            await resp.write(block)
            sent += len(block)
    except (ConnectionError, RuntimeError):
        pass  # the client hung up: that is the point
    return resp


async def _offered_tool(request: web.Request) -> tuple[str, list[str]]:
    body = await request.json()
    for tool in body.get("tools") or ():
        fn = tool.get("function") or {}
        if fn.get("name"):
            params = (fn.get("parameters") or {}).get("properties") or {}
            return fn["name"], list(params) or ["value"]
    return "echo", ["value"]


async def serve_hostile(
    request: web.Request, kind: str, stream: bool, anthropic: bool
) -> web.StreamResponse:
    """Answer ``request`` the ``kind`` way (see the module docstring)."""
    if kind == "echo_error":
        auth = request.headers.get("Authorization", "").partition(" ")[2]
        key = auth or request.headers.get("x-api-key", "")
        message = "x" * 258 + f" Incorrect API key provided: {key}. " + _echo_text(request)
        return web.json_response({"error": {"message": message, "type": "echo"}}, status=400)
    if kind == "endless_error":
        return await _endless(request, 500, "application/json", b'{"error":{"message":"')
    if kind == "endless_line":
        ctype = "text/event-stream" if stream else "application/json"
        head = b'data: {"choices":[{"delta":{"content":"' if stream else b'{"choices":["'
        return await _endless(request, 200, ctype, head)
    if kind == "endless_body":
        if stream:
            block = _chunk({"content": "A" * 1024}) * 32
            return await _endless(request, 200, "text/event-stream", b"", block)
        head = b'{"choices":[{"message":{"role":"assistant","content":"'
        return await _endless(request, 200, "application/json", head)
    if anthropic and kind == "echo":
        return await _anthropic_echo(request, stream)
    if stream:
        return await _stream(request, await _stream_events(request, kind))
    return await _stream(request, [await _whole_body(request, kind)], sse=False)


async def _stream_events(request: web.Request, kind: str) -> list[bytes]:
    done = [_chunk({}, "stop"), b"data: [DONE]\n\n"]
    if kind == "echo":
        text = _echo_text(request)
        pieces = [text[i : i + 7] for i in range(0, len(text), 7)]  # keys straddle chunks
        args = json.dumps({"echo": text})
        call: dict[str, Any] = {"index": 0, "id": "call_echo", "type": "function"}
        call["function"] = {"name": "echo", "arguments": args}
        return [_chunk({"content": p}) for p in pieces] + [_chunk({"tool_calls": [call]})] + done
    if kind == "bad_utf8":
        return [b'data: {"choices":[{"index":0,"delta":{"content":"ok \xff\xfe"}}]}\n\n', *done]
    if kind == "scalar_choice":
        return [b'data: {"choices":[1]}\n\n', *done]
    if kind == "deep_json":
        deep = b"[" * _DEPTH + b"]" * _DEPTH
        return [b'data: {"choices":[{"index":0,"delta":{"content":' + deep + b"}}]}\n\n", *done]
    if kind == "nan_usage":
        usage = b'"usage":{"prompt_tokens":NaN,"completion_tokens":Infinity,"total_tokens":-5}'
        return [
            _chunk({"content": "a short answer"}),
            _chunk({}, "stop"),
            b'data: {"id":"chatcmpl-hostile","choices":[],' + usage + b"}\n\n",
            b"data: [DONE]\n\n",
        ]
    name, params = await _offered_tool(request)
    calls = _bad_calls(name, params)
    return [_chunk({"tool_calls": [dict(c, index=i)]}) for i, c in enumerate(calls)] + done


def _bad_calls(name: str, params: list[str]) -> list[dict[str, Any]]:
    shapes = [[1, 2, 3], {p: {"nested": [1, {"deeper": None}]} for p in params}]
    calls = []
    for i, args in enumerate(shapes):
        function = {"name": name, "arguments": json.dumps(args)}
        calls.append({"id": f"call_bad{i}", "type": "function", "function": function})
    return calls


async def _whole_body(request: web.Request, kind: str) -> bytes:
    if kind == "echo":
        text = _echo_text(request)
        call: dict[str, Any] = {"id": "call_echo", "type": "function"}
        call["function"] = {"name": "echo", "arguments": json.dumps({"echo": text})}
        return json.dumps(
            _whole({"role": "assistant", "content": text, "tool_calls": [call]})
        ).encode()
    if kind == "bad_utf8":
        body = json.dumps(_whole({"role": "assistant", "content": "@@"})).encode()
        return body.replace(b"@@", b"ok \xff\xfe")
    if kind == "scalar_choice":
        return b'{"choices":[1]}'
    if kind == "deep_json":
        deep = b"[" * _DEPTH + b"]" * _DEPTH
        return b'{"choices":[{"message":{"role":"assistant","content":' + deep + b"}}]}"
    if kind == "nan_usage":
        usage = {"prompt_tokens": float("nan"), "completion_tokens": float("inf")}
        usage["total_tokens"] = -5
        return json.dumps(
            _whole({"role": "assistant", "content": "a short answer"}, usage)
        ).encode()
    name, params = await _offered_tool(request)
    message = {"role": "assistant", "content": None, "tool_calls": _bad_calls(name, params)}
    return json.dumps(_whole(message)).encode()


async def _anthropic_echo(request: web.Request, stream: bool) -> web.StreamResponse:
    text = _echo_text(request)
    if not stream:
        body = {
            "id": "msg_hostile", "type": "message", "role": "assistant", "model": "hostile",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 5},
        }  # fmt: skip
        return web.json_response(body)
    rid = "msg_" + secrets.token_hex(6)

    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    events = [
        event("message_start", {"type": "message_start",
                                "message": {"id": rid, "usage": {"input_tokens": 5}}}),
        event("content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}}),
    ]  # fmt: skip
    for i in range(0, len(text), 7):
        delta = {"type": "text_delta", "text": text[i : i + 7]}
        events.append(event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                    "delta": delta}))  # fmt: skip
    events += [
        event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                "usage": {"output_tokens": 5}}),
        event("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return await _stream(request, events)
