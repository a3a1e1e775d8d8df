"""OpenAI chat-completions wire format: SSE chunk bytes and the non-stream body.

Chunks are built by string formatting around a prebuilt prefix (no json.dumps of dicts on
the per-chunk path) so the sim can send tens of thousands of chunks per second.
"""

# ruff: noqa: UP031  (%-templates keep the JSON braces readable and are fast)

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llmbench_jupyter.sim.plan import Piece, Plan

_esc = json.encoder.encode_basestring  # C-accelerated JSON string quoting

DONE = b"data: [DONE]\n\n"


def usage_dict(plan: Plan, prompt_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": prompt_tokens + plan.completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": plan.reasoning_n},
    }


def content_delta(text: str) -> bytes:
    """A content delta's fields, the part of a chunk between :meth:`OpenAIStream.frame`."""
    return ('"content":%s' % _esc(text)).encode()


class OpenAIStream:
    """Bytes of each SSE event of one streamed chat completion."""

    pre: Sequence[bytes] = ()  # OpenAI has no unlogged framing events before a chunk

    def __init__(self, response_id: str, model: str, created: int, tool_ids: list[str]):
        self.tool_ids = tool_ids
        self._head = 'data: {"id":%s,"object":"chat.completion.chunk","created":%d,"model":%s,' % (
            _esc(response_id),
            created,
            _esc(model),
        )
        self._open = self._head + '"choices":[{"index":0,"delta":{'
        self._close = '},"finish_reason":null}]}\n\n'
        self._role = ""  # prefix for the first delta when no role chunk was sent

    def role(self, prompt_tokens: int = 0) -> bytes:
        """The role-only chunk (``prompt_tokens`` is for the Anthropic twin's message_start)."""
        return (self._open + '"role":"assistant","content":""' + self._close).encode()

    @property
    def pending_role(self) -> bool:
        """True until the chunk that carries the role (no role-only chunk) is built."""
        return bool(self._role)

    def role_with_first_chunk(self) -> None:
        """Without a role-only chunk, the first content chunk carries the role (as some do)."""
        self._role = '"role":"assistant",'

    def piece(self, piece: Piece) -> tuple[Sequence[bytes], bytes]:
        kind, _tokens, text, index = piece
        role, self._role = self._role, ""
        if kind == "answer":
            delta = '%s"content":%s' % (role, _esc(text))  # as content_delta()
        elif kind == "reasoning":
            delta = '%s"reasoning_content":%s' % (role, _esc(text))
        elif kind == "tool_start":
            delta = (
                '%s"tool_calls":[{"index":%d,"id":%s,"type":"function",'
                '"function":{"name":%s,"arguments":""}}]'
                % (role, index, _esc(self.tool_ids[index]), _esc(text))
            )
        else:
            delta = '%s"tool_calls":[{"index":%d,"function":{"arguments":%s}}]' % (
                role,
                index,
                _esc(text),
            )
        return self.pre, (self._open + delta + self._close).encode()

    def frame(self) -> tuple[bytes, bytes]:
        """The bytes before and after a delta's own fields: a content chunk is
        ``head + b'"content":"…"' + tail`` (once the role went out on its own)."""
        return self._open.encode(), self._close.encode()

    def malformed(self) -> bytes:
        return (self._open + '"content":"broken' + "\n\n").encode()

    def finish(self, reason: str) -> bytes:
        return (self._open + '},"finish_reason":%s}]}\n\n' % _esc(reason)).encode()

    def usage(self, usage: dict[str, Any]) -> bytes:
        return (
            self._head
            + '"choices":[],"usage":'
            + json.dumps(usage, separators=(",", ":"))
            + "}\n\n"
        ).encode()


def completion_body(
    response_id: str,
    model: str,
    created: int,
    plan: Plan,
    reasoning: str,
    answer: str,
    prompt_tokens: int,
) -> dict[str, Any]:
    """The non-stream chat.completion object."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": answer if answer or not plan.tool_calls else None,
    }
    if plan.reasoning_n:
        message["reasoning_content"] = reasoning
    if plan.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in plan.tool_calls
        ]
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": plan.finish_reason}],
        "usage": usage_dict(plan, prompt_tokens),
    }
