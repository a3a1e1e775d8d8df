"""Every provider's tool-call format parses into the same ParsedCall list."""

from __future__ import annotations

import json

import pytest

from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.evals.model import ParsedCall
from llmbench_jupyter.evals.parsing import (
    parse_arguments,
    parse_output_text,
    parse_text_calls,
    parse_tool_calls,
)


def _names_args(calls: list[ParsedCall]) -> list[tuple[str, dict | None]]:
    return [(c.name, c.arguments) for c in calls]


def test_openai_chat_completion_with_parallel_calls() -> None:
    response = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": '{"tz": "CET"}'},
                        },
                    ],
                }
            }
        ]
    }
    calls = parse_tool_calls(response)
    assert _names_args(calls) == [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})]
    assert [c.id for c in calls] == ["call_1", "call_2"]
    assert all(c.parse_error is None for c in calls)


def test_openai_message_and_legacy_function_call() -> None:
    message = {"role": "assistant", "function_call": {"name": "f", "arguments": '{"a": 1}'}}
    assert _names_args(parse_tool_calls(message)) == [("f", {"a": 1})]


def test_unparseable_arguments_are_kept_as_parse_errors() -> None:
    message = {
        "tool_calls": [
            {"id": "x", "function": {"name": "f", "arguments": '{"a": 1'}},
            {"id": "y", "function": {"name": "g", "arguments": "[1, 2]"}},
        ]
    }
    calls = parse_tool_calls(message)
    assert [c.name for c in calls] == ["f", "g"]
    assert all(c.arguments is None for c in calls)
    assert "not valid JSON" in (calls[0].parse_error or "")
    assert "array" in (calls[1].parse_error or "")
    assert calls[0].raw_arguments == '{"a": 1'


def test_empty_arguments_mean_no_arguments() -> None:
    assert parse_arguments("") == ({}, None, "")
    assert parse_arguments(None)[0] == {}
    assert parse_arguments('"{}"')[0] is None  # double-encoded: a string, not an object


def test_call_without_a_name_is_a_parse_error() -> None:
    (call,) = parse_tool_calls([{"function": {"name": "", "arguments": "{}"}}])
    assert call.parse_error and call.arguments is None


def test_anthropic_tool_use_blocks() -> None:
    message = {
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
        ],
    }
    calls = parse_tool_calls(message)
    assert _names_args(calls) == [("get_weather", {"city": "Oslo"}), ("get_time", {})]
    assert calls[0].id == "toolu_1"
    assert json.loads(calls[0].raw_arguments) == {"city": "Oslo"}


def test_gemini_function_calls_rest_and_sdk_spelling() -> None:
    rest = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}],
                }
            }
        ]
    }
    assert _names_args(parse_tool_calls(rest)) == [("get_weather", {"city": "Rome"})]
    sdk = {"parts": [{"function_call": {"name": "ping"}}]}  # no args at all
    assert _names_args(parse_tool_calls(sdk)) == [("ping", {})]


def test_openai_responses_api_items() -> None:
    response = {
        "output": [
            {"type": "reasoning", "summary": []},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"x": 2}'},
        ]
    }
    (call,) = parse_tool_calls(response)
    assert (call.name, call.arguments, call.id) == ("f", {"x": 2}, "c1")


def test_transport_output_text_from_streamed_fragments() -> None:
    text = json.dumps(
        {
            "content": "",
            "tool_calls": [
                {"id": "a", "name": "get_weather", "arguments": '{"city": "Lima"}'},
                {"id": "b", "name": "get_time", "arguments": ""},
            ],
        }
    )
    record = RequestRecord(request_id="r1", output_text=text)
    assert _names_args(parse_tool_calls(record)) == [
        ("get_weather", {"city": "Lima"}),
        ("get_time", {}),
    ]
    assert _names_args(parse_tool_calls(text)) == _names_args(parse_output_text(text))


def test_truncated_output_text_keeps_the_cut_call_as_parse_error() -> None:
    full = json.dumps(
        {
            "content": "",
            "tool_calls": [
                {"id": "a", "name": "f", "arguments": '{"x": 1}'},
                {"id": "b", "name": "g", "arguments": '{"y": "' + "z" * 100 + '"}'},
            ],
        }
    )
    calls = parse_output_text(full[:120])
    assert [c.name for c in calls] == ["f", "g"]
    assert calls[0].arguments == {"x": 1}
    assert calls[1].arguments is None and "cut off" in (calls[1].parse_error or "")


def test_plain_answer_is_no_call() -> None:
    assert parse_tool_calls("The weather in Paris is sunny.") == []
    assert parse_tool_calls("The weather in Paris is sunny.", allow_text=True) == []
    assert parse_tool_calls(None) == []


def test_text_json_calls_only_when_asked() -> None:
    text = 'Calling now:\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'
    assert parse_tool_calls(text) == []
    assert _names_args(parse_tool_calls(text, allow_text=True)) == [
        ("get_weather", {"city": "Paris"})
    ]
    message = {"role": "assistant", "content": text}
    assert parse_tool_calls(message) == []
    assert len(parse_tool_calls(message, allow_text=True)) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "f", "parameters": {"a": 1}}', [("f", {"a": 1})]),  # Llama style
        ('{"name": "f", "arguments": "{\\"a\\": 1}"}', [("f", {"a": 1})]),  # string args
        (
            '[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {"b": 2}}]',
            [("f", {}), ("g", {"b": 2})],
        ),
        (
            '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>\n'
            '<tool_call>{"name": "g", "arguments": {}}</tool_call>',
            [("f", {"a": 1}), ("g", {})],
        ),
        ('{"tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}', [("f", {})]),
        ('Sure, I will call {"name": "f", "arguments": {"a": 1}} for you.', [("f", {"a": 1})]),
        ('Here is some JSON: {"city": "Paris"}', []),
    ],
)
def test_text_formats(text: str, expected: list) -> None:
    assert _names_args(parse_text_calls(text)) == expected


def test_malformed_text_call_is_a_parse_error_not_silence() -> None:
    (call,) = parse_text_calls('<tool_call>{"name": "f", "arguments": {"a": 1</tool_call>')
    assert call.name == "f" and call.arguments is None and call.parse_error
    (fenced,) = parse_text_calls('```json\n{"name": "g", "arguments": {"a": }\n```')
    assert fenced.name == "g" and fenced.parse_error


def test_unknown_input_type_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="cannot read tool calls from a int"):
        parse_tool_calls(42)
