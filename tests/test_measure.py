"""Per-request metric derivation and the lean SSE parsing, without a network."""

from __future__ import annotations

import json

import pytest

from llmbench_jupyter.core.measure import fill_record
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.transports import anthropic, openai
from llmbench_jupyter.core.transports.base import StreamResult
from llmbench_jupyter.core.transports.sse import SSESplitter

MS = 1_000_000


def chunk(delta: dict, **extra: object) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            **extra,
        }
    ).encode()


class FakeTokenizer:
    name = "words"
    exact = True

    def count(self, text: str) -> int:
        return len(text.split())


def feed(events: list[tuple[int, bytes]]) -> StreamResult:
    result = StreamResult()
    for at_ms, payload in events:
        if openai.handle_event(b"", payload, at_ms * MS, result):
            result.completed = True
        result.end_ns = at_ms * MS
    return result


def test_sse_splitter_handles_any_split_points_and_crlf() -> None:
    stream = b"data: one\r\n\r\n: comment\n\nevent: x\ndata: a\ndata: b\n\ndata: [DONE]\n\n"
    for cut in range(1, len(stream)):
        splitter = SSESplitter()
        events = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
        assert events == [(b"", b"one"), (b"x", b"a\nb"), (b"", b"[DONE]")], cut
        assert splitter.pending == b""


def test_role_only_and_empty_chunks_are_not_the_first_token() -> None:
    result = feed(
        [
            (1, chunk({"role": "assistant", "content": ""})),
            (2, chunk({"content": None})),
            (3, chunk({})),
            (40, chunk({"content": "Hello"})),
            (50, chunk({"content": " world"})),
            (60, b"[DONE]"),
        ]
    )
    record = fill_record(RequestRecord(request_id="r"), result, origin_ns=0)
    assert record.ttft_ms == 40.0
    assert record.chunk_times_ms == [40.0, 50.0]
    assert record.n_chunks == 2
    assert record.status == "ok"


def test_multi_token_chunks_prefer_usage_and_keep_every_source() -> None:
    events = [(10 + 10 * i, chunk({"content": "a b c "})) for i in range(5)]
    events.append(
        (
            70,
            json.dumps(
                {
                    "id": "c",
                    "choices": [],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 15, "total_tokens": 27},
                }
            ).encode(),
        )
    )
    events.append((71, b"[DONE]"))
    record = fill_record(
        RequestRecord(request_id="r"), feed(events), origin_ns=0, tokenizer=FakeTokenizer()
    )
    assert record.output_tokens == 15 and record.output_tokens_source == "usage"
    assert record.output_tokens_chunks == 5
    assert record.output_tokens_tokenizer == 15
    assert record.output_tokens_disagree is False
    assert record.input_tokens == 12 and record.input_tokens_source == "usage"
    # e2e = 71, ttft = 10: tpot = 61 / 14, decode excludes TTFT, total includes it
    assert record.tpot_ms == pytest.approx(61 / 14)
    assert record.decode_tps == pytest.approx(14 / 61 * 1000)
    assert record.decode_tps == pytest.approx(1000 / record.tpot_ms)
    assert record.total_tps == pytest.approx(15 / 71 * 1000)
    assert record.prefill_tps == pytest.approx(12 / 10 * 1000)
    assert record.itl_ms == [10.0, 10.0, 10.0, 10.0]


def test_disagreement_between_usage_and_an_exact_tokenizer_is_flagged() -> None:
    events = [
        (10, chunk({"content": "one two three four five six seven eight nine ten"})),
        (20, json.dumps({"choices": [], "usage": {"completion_tokens": 30}}).encode()),
        (21, b"[DONE]"),
    ]
    record = fill_record(
        RequestRecord(request_id="r"), feed(events), origin_ns=0, tokenizer=FakeTokenizer()
    )
    assert record.output_tokens == 30
    assert record.output_tokens_tokenizer == 10
    assert record.output_tokens_disagree is True


def test_without_usage_the_tokenizer_counts_and_says_so() -> None:
    events = [
        (5, chunk({"content": "alpha beta"})),
        (9, chunk({"content": " gamma"})),
        (10, b"[DONE]"),
    ]
    record = fill_record(
        RequestRecord(request_id="r"),
        feed(events),
        origin_ns=0,
        tokenizer=FakeTokenizer(),
        prompt_text="a b c d",
    )
    assert (record.output_tokens, record.output_tokens_source) == (3, "tokenizer")
    assert (record.input_tokens, record.input_tokens_source) == (4, "tokenizer")


def test_reasoning_chunks_give_ttft_before_ttfat() -> None:
    events = [
        (20, chunk({"reasoning_content": "think"})),
        (30, chunk({"reasoning_content": "more"})),
        (90, chunk({"content": "answer"})),
        (91, b"[DONE]"),
    ]
    record = fill_record(RequestRecord(request_id="r"), feed(events), origin_ns=0)
    assert record.ttft_ms == 20.0 and record.ttfat_ms == 90.0
    assert record.chunk_kinds == "rra"


def test_stream_without_done_or_content_is_an_error() -> None:
    result = feed([(1, chunk({"role": "assistant"})), (2, b"[DONE]")])
    record = fill_record(RequestRecord(request_id="r"), result, origin_ns=0)
    assert record.status == "error" and record.error_category == "empty_response"


def test_tool_call_fragments_are_reassembled() -> None:
    events = [
        (
            10,
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            ),
        ),
        (12, chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]})),
        (14, chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]})),
        (15, b"[DONE]"),
    ]
    record = fill_record(RequestRecord(request_id="r"), feed(events), origin_ns=0)
    out = json.loads(record.output_text or "")
    assert out["tool_calls"][0]["name"] == "get_weather"
    assert json.loads(out["tool_calls"][0]["arguments"]) == {"city": "Paris"}
    assert record.chunk_kinds == "ttt" and record.ttft_ms == 10.0


def test_anthropic_events_map_to_the_same_fields() -> None:
    result = StreamResult()
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 7}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hmm"},
        },
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 4},
        },
        {"type": "message_stop"},
    ]
    for i, ev in enumerate(events):
        if anthropic.handle_event(
            ev["type"].encode(), json.dumps(ev).encode(), (i + 1) * MS, result
        ):
            result.completed = True
        result.end_ns = (i + 1) * MS
    record = fill_record(RequestRecord(request_id="r"), result, origin_ns=0)
    assert record.response_id == "msg_1"
    assert (record.ttft_ms, record.ttfat_ms) == (3.0, 4.0)
    assert (record.output_tokens, record.input_tokens) == (4, 7)
    assert record.finish_reason == "end_turn"


def test_error_messages_are_scrubbed_of_keys() -> None:
    result = StreamResult(end_ns=MS)
    result.fail(
        "auth_failed", "HTTP 401: bad key sk-proj-abcdefghijklmnop1234 and mysecretvalue", 401
    )
    record = fill_record(
        RequestRecord(request_id="r"), result, origin_ns=0, known_secrets=("mysecretvalue",)
    )
    assert "sk-proj-" not in (record.error_message or "")
    assert "mysecretvalue" not in (record.error_message or "")
    assert record.http_status == 401
