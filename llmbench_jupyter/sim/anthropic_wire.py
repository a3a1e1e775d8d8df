"""Anthropic Messages wire format: ``event:``/``data:`` SSE events and the non-stream body.

Content blocks open and close around the deltas (thinking, then text, then tool_use);
those framing events are written separately but are not content, so only deltas (and
message_start / message_delta) are recorded in the send log.
"""

# ruff: noqa: UP031  (%-templates keep the JSON braces readable and are fast)

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llmbench_jupyter.sim.plan import Piece, Plan

_esc = json.encoder.encode_basestring

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_BLOCK_TYPE = {"reasoning": "thinking", "answer": "text"}


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


class AnthropicStream:
    """Bytes of each SSE event of one streamed message; tracks the open content block."""

    def __init__(self, response_id: str, model: str, tool_ids: list[str]):
        self.id = response_id
        self.model = model
        self.tool_ids = tool_ids
        self._block = -1  # index of the open content block
        self._block_kind = ""  # reasoning | answer | tool:<index>

    def role(self, prompt_tokens: int = 0) -> bytes:
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": 0},
        }
        return _event("message_start", json.dumps({"type": "message_start", "message": message}))

    def role_with_first_chunk(self) -> None:
        """message_start always precedes content here; the engine sends it at TTFT instead."""

    def _switch(self, kind: str) -> list[bytes]:
        out = []
        if self._block >= 0:
            out.append(
                _event(
                    "content_block_stop", '{"type":"content_block_stop","index":%d}' % self._block
                )
            )
        self._block += 1
        self._block_kind = kind
        return out

    def piece(self, piece: Piece) -> tuple[Sequence[bytes], bytes]:
        kind, _tokens, text, index = piece
        if kind == "tool_start":
            pre = self._switch(f"tool:{index}")
            block = {"type": "tool_use", "id": self.tool_ids[index], "name": text, "input": {}}
            data = _event(
                "content_block_start",
                json.dumps(
                    {"type": "content_block_start", "index": self._block, "content_block": block}
                ),
            )
            return pre, data
        pre = []
        if kind == "tool_args":
            delta = '{"type":"input_json_delta","partial_json":%s}' % _esc(text)
        else:
            if self._block_kind != kind:
                pre = self._switch(kind)
                btype = _BLOCK_TYPE[kind]
                pre.append(
                    _event(
                        "content_block_start",
                        '{"type":"content_block_start","index":%d,"content_block":'
                        '{"type":"%s","%s":""}}' % (self._block, btype, btype),
                    )
                )
            if kind == "reasoning":
                delta = '{"type":"thinking_delta","thinking":%s}' % _esc(text)
            else:
                delta = '{"type":"text_delta","text":%s}' % _esc(text)
        data = _event(
            "content_block_delta",
            '{"type":"content_block_delta","index":%d,"delta":%s}' % (max(self._block, 0), delta),
        )
        return pre, data

    def malformed(self) -> bytes:
        return (
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
            '"delta":{"type":"text_delta","text":"broken\n\n' % max(self._block, 0)
        ).encode()

    def close_block(self) -> list[bytes]:
        if self._block < 0:
            return []
        return [
            _event("content_block_stop", '{"type":"content_block_stop","index":%d}' % self._block)
        ]

    def message_delta(self, finish_reason: str, output_tokens: int) -> bytes:
        return _event(
            "message_delta",
            json.dumps(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": STOP_REASONS[finish_reason], "stop_sequence": None},
                    "usage": {"output_tokens": output_tokens},
                }
            ),
        )

    @staticmethod
    def message_stop() -> bytes:
        return _event("message_stop", '{"type":"message_stop"}')


def message_body(
    response_id: str, model: str, plan: Plan, reasoning: str, answer: str, input_tokens: int
) -> dict[str, Any]:
    """The non-stream Messages response."""
    content: list[dict[str, Any]] = []
    if plan.reasoning_n:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if plan.answer_n:
        content.append({"type": "text", "text": answer})
    for call in plan.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": json.loads(call.arguments),
            }
        )
    return {
        "id": response_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASONS[plan.finish_reason],
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": plan.completion_tokens},
    }
