"""How canonical parameter values are spelled in each API's request body.

Most parameters only change name (``renames`` in the table); two change shape:

- ``tool_choice``: OpenAI takes ``"auto"``/``"none"``/``"required"`` or
  ``{"type": "function", "function": {"name": ...}}``; Anthropic takes
  ``{"type": "auto"|"none"|"any"}`` or ``{"type": "tool", "name": ...}``, and carries
  ``parallel_tool_calls=False`` inside it as ``disable_parallel_tool_use: true``.
- ``reasoning_effort``: OpenAI sends it as is; Anthropic turns extended thinking on with
  a token budget, ``{"type": "enabled", "budget_tokens": N}``. The budgets are litellm's
  (1024/2048/4096), so a ``kind: litellm`` target and a lean one think alike.
"""

from __future__ import annotations

from typing import Any

#: Anthropic thinking budget per effort level (litellm's DEFAULT_REASONING_EFFORT_*).
THINKING_BUDGET = {"low": 1024, "medium": 2048, "high": 4096}
#: With thinking on, Anthropic allows top_p only in this range (and no temperature/top_k).
THINKING_TOP_P = (0.95, 1.0)


def openai_tool_choice(value: str | dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {"type": "function", "function": {"name": value["name"]}}
    return value


def anthropic_tool_choice(value: str | dict[str, str] | None, parallel: bool | None) -> Any:
    """The Anthropic object for a canonical tool_choice (None: the default, auto)."""
    if isinstance(value, dict):
        shaped: dict[str, Any] = {"type": "tool", "name": value["name"]}
    else:
        shaped = {"type": {"required": "any"}.get(value or "auto", value or "auto")}
    if parallel is not None:
        shaped["disable_parallel_tool_use"] = not parallel
    return shaped


def anthropic_thinking(effort: str) -> dict[str, Any]:
    return {"type": "enabled", "budget_tokens": THINKING_BUDGET[effort]}


def forces_a_tool(value: Any) -> bool:
    """True for a tool_choice that makes the model call a tool (required or a named one)."""
    return isinstance(value, dict) or value == "required"
