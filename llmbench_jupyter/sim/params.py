"""What the simulated endpoint accepts in a request body, checked like a strict provider.

Written from the providers' API references, independently of the parameter registry
(``core.params``): the sim stands in for a real provider, so a wrong registry entry shows
up as a 400 here instead of passing unnoticed. Messages follow the providers' own
wording and always name the parameter.

OpenAI ``/v1/chat/completions``:
  - only documented chat-completions arguments ("Unrecognized request argument");
  - temperature 0-2, top_p 0-1, seed a 64-bit integer, n = 1 (the sim makes one choice),
    max_tokens / max_completion_tokens >= 1, parallel_tool_calls a boolean, tool_choice
    ``auto``/``none``/``required`` or ``{"type": "function", "function": {"name"}}``;
    tool_choice and parallel_tool_calls only with tools;
  - scenarios with ``params=reasoning`` (``sim-reasoning``) act like OpenAI's reasoning
    models: temperature and top_p only at their default 1, no max_tokens (use
    max_completion_tokens), reasoning_effort low/medium/high; other scenarios refuse
    reasoning_effort. Reasoning *tokens* alone (``reason=N``) do not change the rules:
    open reasoning models served by vLLM take temperature and max_tokens.

Anthropic ``/v1/messages``:
  - only documented Messages fields ("Extra inputs are not permitted"); max_tokens
    required (>= 1); temperature 0-1, top_p 0-1, top_k >= 1; temperature and top_p not
    together, as Claude Opus 4.1, Sonnet 4.5, Haiku 4.5 and later refuse (chosen for every
    sim model: the strictest current rule); tool_choice ``{"type": auto|any|none|tool}``
    (``tool`` with a name), only with tools;
  - ``thinking`` ``{"type": "enabled", "budget_tokens": N}`` with 1024 <= N < max_tokens,
    or ``{"type": "disabled"}``; with thinking on, temperature only 1, no top_k, top_p
    0.95-1, and no tool_choice that forces a tool.
"""

from __future__ import annotations

from typing import Any, NamedTuple

OPENAI_ARGS = frozenset(
    {
        "model", "messages", "audio", "frequency_penalty", "function_call", "functions",
        "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
        "modalities", "n", "parallel_tool_calls", "prediction", "presence_penalty",
        "prompt_cache_key", "prompt_cache_retention", "reasoning_effort", "response_format",
        "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
        "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p",
        "user", "verbosity", "web_search_options",
    }
)  # fmt: skip
ANTHROPIC_ARGS = frozenset(
    {
        "model", "messages", "max_tokens", "system", "stream", "temperature", "top_p",
        "top_k", "stop_sequences", "tools", "tool_choice", "metadata", "thinking",
        "service_tier", "container", "mcp_servers", "context_management",
    }
)  # fmt: skip
REASONING_EFFORTS = ("low", "medium", "high")
#: How ``reasoning_effort`` scales a reasoning scenario's reasoning tokens (``reason=N``
#: is what "medium", the default, thinks): lower effort thinks less, so the first answer
#: token comes sooner; a tuner searching effort has a known trade to find.
EFFORT_SCALE = {"low": 0.25, "medium": 1.0, "high": 2.0}
MIN_THINKING_BUDGET = 1024
_INT64 = (-(2**63), 2**63 - 1)


class Violation(NamedTuple):
    """Why a request is refused: the message, the parameter it names, an error code."""

    message: str
    param: str
    code: str = "invalid_value"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _openai_number(body: dict[str, Any], key: str, low: float, high: float) -> Violation | None:
    if key not in body:
        return None
    value = body[key]
    if not _is_number(value):
        return Violation(
            f"Invalid type for '{key}': expected a decimal, but got {type(value).__name__} "
            "instead.",
            key,
            "invalid_type",
        )
    if value < low:
        return Violation(
            f"Invalid '{key}': decimal below minimum value. Expected a value >= {low:g}, "
            f"but got {value} instead.",
            key,
            "decimal_below_min_value",
        )
    if value > high:
        return Violation(
            f"Invalid '{key}': decimal above maximum value. Expected a value <= {high:g}, "
            f"but got {value} instead.",
            key,
            "decimal_above_max_value",
        )
    return None


def _openai_integer(body: dict[str, Any], key: str, low: int, high: int) -> Violation | None:
    if key not in body:
        return None
    value = body[key]
    if not _is_int(value):
        return Violation(
            f"Invalid type for '{key}': expected an integer, but got {type(value).__name__} "
            "instead.",
            key,
            "invalid_type",
        )
    if not low <= value <= high:
        return Violation(
            f"Invalid '{key}': integer out of range. Expected a value from {low} to {high}, "
            f"but got {value} instead.",
            key,
            "integer_out_of_range",
        )
    return None


def _openai_tool_choice(value: Any) -> bool:
    if value in ("auto", "none", "required"):
        return True
    if isinstance(value, dict) and value.get("type") == "function":
        function = value.get("function")
        return isinstance(function, dict) and isinstance(function.get("name"), str)
    return False


def openai_violation(body: dict[str, Any], reasoning: bool) -> Violation | None:
    """The first rule this chat-completions body breaks, or None."""
    for key in body:
        if key not in OPENAI_ARGS:
            return Violation(
                f"Unrecognized request argument supplied: {key}", key, "unrecognized_argument"
            )
    if reasoning:
        if "max_tokens" in body:
            return Violation(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        for key in ("temperature", "top_p"):
            if key in body and body[key] != 1:
                return Violation(
                    f"Unsupported value: '{key}' does not support {body[key]!r} with this "
                    "model. Only the default (1) value is supported.",
                    key,
                    "unsupported_value",
                )
        effort = body.get("reasoning_effort")
        if "reasoning_effort" in body and effort not in REASONING_EFFORTS:
            return Violation(
                f"Invalid value for 'reasoning_effort': {effort!r}. Supported values are: "
                + ", ".join(repr(e) for e in REASONING_EFFORTS)
                + ".",
                "reasoning_effort",
            )
    elif "reasoning_effort" in body:
        return Violation(
            "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
            "reasoning_effort",
            "unsupported_parameter",
        )
    checks = (
        _openai_number(body, "temperature", 0, 2),
        _openai_number(body, "top_p", 0, 1),
        _openai_integer(body, "seed", *_INT64),
        _openai_integer(body, "max_tokens", 1, _INT64[1]),
        _openai_integer(body, "max_completion_tokens", 1, _INT64[1]),
        _openai_integer(body, "n", 1, 1),
    )
    for found in checks:
        if found is not None:
            return found
    if "parallel_tool_calls" in body and not isinstance(body["parallel_tool_calls"], bool):
        return Violation(
            "Invalid type for 'parallel_tool_calls': expected a boolean.",
            "parallel_tool_calls",
            "invalid_type",
        )
    if "tool_choice" in body and not _openai_tool_choice(body["tool_choice"]):
        return Violation(
            f"Invalid value for 'tool_choice': {body['tool_choice']!r}. Expected 'auto', "
            "'none', 'required' or {'type': 'function', 'function': {'name': ...}}.",
            "tool_choice",
        )
    for key in ("tool_choice", "parallel_tool_calls"):
        if key in body and not body.get("tools"):
            return Violation(
                f"Invalid value for '{key}': '{key}' is only allowed when 'tools' are specified.",
                key,
            )
    return None


def _anthropic_range(
    body: dict[str, Any], key: str, low: float, high: float | None, integer: bool = False
) -> Violation | None:
    if key not in body:
        return None
    value = body[key]
    if not (_is_int(value) if integer else _is_number(value)):
        kind = "a valid integer" if integer else "a valid number"
        return Violation(f"{key}: Input should be {kind}", key)
    if value < low:
        return Violation(f"{key}: Input should be greater than or equal to {low:g}", key)
    if high is not None and value > high:
        return Violation(f"{key}: Input should be less than or equal to {high:g}", key)
    return None


def _anthropic_tool_choice(body: dict[str, Any]) -> Violation | None:
    choice = body["tool_choice"]
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "none", "tool"):
        return Violation(
            "tool_choice: Input tag does not match any of the expected tags: "
            "'auto', 'any', 'tool', 'none'",
            "tool_choice",
        )
    assert isinstance(choice, dict)
    allowed = {"type", "disable_parallel_tool_use"} | ({"name"} if kind == "tool" else set())
    if kind == "none":
        allowed = {"type"}
    extra = sorted(set(choice) - allowed)
    if extra:
        return Violation(
            f"tool_choice.{kind}.{extra[0]}: Extra inputs are not permitted", "tool_choice"
        )
    if kind == "tool" and not isinstance(choice.get("name"), str):
        return Violation("tool_choice.tool.name: Field required", "tool_choice")
    flag = choice.get("disable_parallel_tool_use")
    if flag is not None and not isinstance(flag, bool):
        return Violation(
            f"tool_choice.{kind}.disable_parallel_tool_use: Input should be a valid boolean",
            "tool_choice",
        )
    if not body.get("tools"):
        return Violation("tool_choice: may only be specified while providing tools", "tool_choice")
    return None


def _thinking(body: dict[str, Any]) -> Violation | None:
    thinking = body["thinking"]
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return None
    if kind != "enabled":
        return Violation(
            "thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled'",
            "thinking",
        )
    assert isinstance(thinking, dict)
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < MIN_THINKING_BUDGET:
        return Violation(
            f"thinking.enabled.budget_tokens: Input should be an integer >= {MIN_THINKING_BUDGET}",
            "thinking",
        )
    if budget >= body["max_tokens"]:
        return Violation(
            "`max_tokens` must be greater than `thinking.budget_tokens`.", "max_tokens"
        )
    if "temperature" in body and body["temperature"] != 1:
        return Violation(
            "`temperature` may only be set to 1 when thinking is enabled.", "temperature"
        )
    if "top_k" in body:
        return Violation("`top_k` is not supported when thinking is enabled.", "top_k")
    if "top_p" in body and not 0.95 <= body["top_p"] <= 1:
        return Violation("`top_p` must be between 0.95 and 1 when thinking is enabled.", "top_p")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        return Violation(
            "Thinking may not be enabled when tool_choice forces tool use.", "tool_choice"
        )
    return None


def anthropic_violation(body: dict[str, Any]) -> Violation | None:
    """The first rule this Messages body breaks, or None."""
    for key in body:
        if key not in ANTHROPIC_ARGS:
            return Violation(f"{key}: Extra inputs are not permitted", key)
    if "max_tokens" not in body:
        return Violation("max_tokens: Field required", "max_tokens")
    checks = (
        _anthropic_range(body, "max_tokens", 1, None, integer=True),
        _anthropic_range(body, "temperature", 0, 1),
        _anthropic_range(body, "top_p", 0, 1),
        _anthropic_range(body, "top_k", 1, None, integer=True),
    )
    for found in checks:
        if found is not None:
            return found
    if "temperature" in body and "top_p" in body:
        return Violation(
            "`temperature` and `top_p` cannot both be specified for this model. "
            "Please use only one.",
            "top_p",
        )
    if "tool_choice" in body and (found := _anthropic_tool_choice(body)) is not None:
        return found
    if "thinking" in body:
        return _thinking(body)
    return None
