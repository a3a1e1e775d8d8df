"""THE table: which parameters each provider's model families accept, with their limits.

One row per (provider, model family, API kind). Rows are tried top to bottom and the first
whose ``provider`` and ``model`` patterns both match the whole name (``re.fullmatch``,
case-insensitive) and whose ``kind`` is the request's API kind wins; nothing is merged
from later rows, so each row reads on its own. The last rows catch any provider.

A parameter a row does not ``accept`` is dropped with the row's reason for it (``why``)
or a generic one. ``limits`` narrow a parameter's range, ``choices`` its values,
``renames`` give its name on the wire, and ``exclusive`` pairs say only one of two may
be sent (the first is kept). ``litellm`` names the provider to ask litellm about, which
can only narrow a row further (see :mod:`.derive`). docs/parameters.md gives the sources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from llmbench_jupyter.core.params.definitions import Range


@dataclass(frozen=True)
class Family:
    """What one model family behind one provider accepts, on one API kind."""

    label: str
    provider: str
    model: str
    kind: str
    accepts: tuple[str, ...]
    why: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, Range] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    renames: Mapping[str, str] = field(default_factory=dict)
    exclusive: tuple[tuple[str, str, str], ...] = ()  # (kept, dropped, reason)
    litellm: str | None = None
    source: str = ""

    def matches(self, provider: str, model: str, kind: str) -> bool:
        return (
            kind == self.kind
            and re.fullmatch(self.provider, provider, re.IGNORECASE) is not None
            and re.fullmatch(self.model, model, re.IGNORECASE) is not None
        )

    def reason(self, name: str) -> str:
        return self.why.get(name) or f"{self.label} does not accept {name}"


_OPENAI_CHAT = ("temperature", "top_p", "max_tokens", "seed", "tool_choice", "parallel_tool_calls")
_ANTHROPIC = ("temperature", "top_p", "top_k", "max_tokens", "tool_choice", "parallel_tool_calls")
_THINKING = ("low", "medium", "high")  # Anthropic thinking budgets, see wire.THINKING_BUDGET

_NO_TOP_K = "top_k is not an OpenAI chat-completions parameter (OpenAI answers 400)"
_NOT_REASONING = "not a reasoning model: reasoning_effort is rejected"
_REASONING_SAMPLING = (
    "OpenAI reasoning models accept only the default sampling (1); "
    "any other value is a 400 'unsupported_value'"
)
_REASONING_WHY = {"temperature": _REASONING_SAMPLING, "top_p": _REASONING_SAMPLING}
_CHAT_WHY = {"top_k": _NO_TOP_K, "reasoning_effort": _NOT_REASONING}
_NO_SEED = "the Anthropic Messages API has no seed"
_ANTHROPIC_01 = {"temperature": Range(0.0, 1.0)}
_ONE_SAMPLER = (
    (
        "temperature",
        "top_p",
        "Anthropic: temperature and top_p cannot both be specified for this model "
        "(Claude Opus 4.1, Sonnet 4.5, Haiku 4.5 and later answer 400); temperature kept",
    ),
)
_COMPLETION_TOKENS = {"max_tokens": "max_completion_tokens"}
_SIM = "local-sim"

# fmt: off
FAMILIES: tuple[Family, ...] = (
    # --- the built-in simulator (llmbench_jupyter.sim.params enforces these on its own) ---
    Family("simulated reasoning model (OpenAI reasoning-model rules)", _SIM,
           r"sim-reasoning|sim:(.*,)?params=reasoning(,.*)?", "openai",
           ("max_tokens", "seed", "tool_choice", "parallel_tool_calls", "reasoning_effort"),
           why={**_REASONING_WHY, "top_k": _NO_TOP_K}, choices={"reasoning_effort": _THINKING},
           renames=_COMPLETION_TOKENS, source="sim/params.py"),
    Family("simulated chat model", _SIM, r".*", "openai", _OPENAI_CHAT, why=_CHAT_WHY,
           source="sim/params.py"),
    Family("simulated model on the Anthropic wire", _SIM, r".*", "anthropic",
           (*_ANTHROPIC, "reasoning_effort"), why={"seed": _NO_SEED}, limits=_ANTHROPIC_01,
           choices={"reasoning_effort": _THINKING}, exclusive=_ONE_SAMPLER,
           source="sim/params.py"),
    # --- OpenAI ---------------------------------------------------------------------------
    Family("OpenAI GPT-5 chat variant (not a reasoning model)", "openai",
           r"gpt-5[\w.]*-chat.*", "openai", _OPENAI_CHAT, why=_CHAT_WHY, litellm="openai",
           source="platform.openai.com/docs/models"),
    Family("OpenAI GPT-5.1+ reasoning model", "openai", r"gpt-5\.\d.*", "openai",
           ("max_tokens", "seed", "tool_choice", "parallel_tool_calls", "reasoning_effort"),
           why={**_REASONING_WHY, "top_k": _NO_TOP_K}, renames=_COMPLETION_TOKENS,
           choices={"reasoning_effort": ("none", "low", "medium", "high")}, litellm="openai",
           source="platform.openai.com/docs/guides/reasoning"),
    Family("OpenAI GPT-5 reasoning model", "openai", r"gpt-5.*", "openai",
           ("max_tokens", "seed", "tool_choice", "parallel_tool_calls", "reasoning_effort"),
           why={**_REASONING_WHY, "top_k": _NO_TOP_K}, renames=_COMPLETION_TOKENS,
           choices={"reasoning_effort": ("minimal", "low", "medium", "high")},
           litellm="openai", source="platform.openai.com/docs/guides/reasoning"),
    Family("OpenAI o-series reasoning model", "openai", r"o\d.*", "openai",
           ("max_tokens", "seed", "tool_choice", "parallel_tool_calls", "reasoning_effort"),
           why={**_REASONING_WHY, "top_k": _NO_TOP_K}, renames=_COMPLETION_TOKENS,
           choices={"reasoning_effort": ("low", "medium", "high")}, litellm="openai",
           source="platform.openai.com/docs/guides/reasoning"),
    Family("OpenAI chat model", "openai", r".*", "openai", _OPENAI_CHAT, why=_CHAT_WHY,
           litellm="openai", source="platform.openai.com/docs/api-reference/chat/create"),
    # --- Anthropic ------------------------------------------------------------------------
    Family("Claude Opus 4.1 / Sonnet 4.5 / Haiku 4.5 and later", "anthropic",
           r"claude-(opus-4-[1-9]|(sonnet|haiku)-4-[5-9]|(opus|sonnet|haiku)-[5-9])(-.*)?",
           "anthropic", (*_ANTHROPIC, "reasoning_effort"), why={"seed": _NO_SEED},
           limits=_ANTHROPIC_01, choices={"reasoning_effort": _THINKING},
           exclusive=_ONE_SAMPLER, litellm="anthropic",
           source="docs.claude.com/en/api/messages; the 400 above is the API's own message"),
    Family("Claude with extended thinking (3.7 Sonnet, Sonnet 4, Opus 4)", "anthropic",
           r"claude-(3-7-sonnet|sonnet-4|opus-4)(-.*)?", "anthropic",
           (*_ANTHROPIC, "reasoning_effort"), why={"seed": _NO_SEED}, limits=_ANTHROPIC_01,
           choices={"reasoning_effort": _THINKING}, litellm="anthropic",
           source="docs.claude.com/en/docs/build-with-claude/extended-thinking"),
    Family("older Claude model (no extended thinking)", "anthropic", r".*", "anthropic",
           _ANTHROPIC, limits=_ANTHROPIC_01, litellm="anthropic",
           why={"seed": _NO_SEED,
                "reasoning_effort": "extended thinking starts with Claude 3.7 Sonnet"},
           source="docs.claude.com/en/api/messages"),
    # --- other hosted OpenAI-compatible APIs ----------------------------------------------
    Family("Groq reasoning model (gpt-oss)", "groq", r"openai/gpt-oss.*", "openai",
           (*_OPENAI_CHAT, "reasoning_effort"), why={"top_k": _NO_TOP_K},
           choices={"reasoning_effort": ("low", "medium", "high")}, litellm="groq",
           source="console.groq.com/docs/reasoning"),
    Family("Groq chat model", "groq", r".*", "openai", _OPENAI_CHAT, why=_CHAT_WHY,
           litellm="groq", source="console.groq.com/docs/openai"),
    Family("Together AI model", "together", r".*", "openai", (*_OPENAI_CHAT, "top_k"),
           why={"reasoning_effort": _NOT_REASONING}, litellm="together_ai",
           source="docs.together.ai/reference/chat-completions-1"),
    Family("Mistral model", "mistral", r".*", "openai", _OPENAI_CHAT,
           why=_CHAT_WHY, limits={"temperature": Range(0.0, 1.0)},
           renames={"seed": "random_seed"}, litellm="mistral",
           source="Mistral's OpenAPI spec: temperature 0.0-1.0, random_seed"),
    Family("Gemini 2.5 Pro (OpenAI-compatible endpoint; thinking cannot be turned off)",
           "gemini", r"gemini-2\.5-pro.*", "openai",
           ("temperature", "top_p", "max_tokens", "seed", "tool_choice", "reasoning_effort"),
           why={"top_k": _NO_TOP_K, "parallel_tool_calls": "not documented for Gemini's "
                "OpenAI-compatible endpoint"},
           choices={"reasoning_effort": ("low", "medium", "high")},
           source="ai.google.dev/gemini-api/docs/openai"),
    Family("Gemini 2.5 Flash (OpenAI-compatible endpoint)", "gemini", r"gemini-2\.5-flash.*",
           "openai",
           ("temperature", "top_p", "max_tokens", "seed", "tool_choice", "reasoning_effort"),
           why={"top_k": _NO_TOP_K, "parallel_tool_calls": "not documented for Gemini's "
                "OpenAI-compatible endpoint"},
           choices={"reasoning_effort": ("none", "low", "medium", "high")},
           source="ai.google.dev/gemini-api/docs/openai"),
    Family("DeepSeek reasoner", "deepseek", r"deepseek-reasoner", "openai",
           ("max_tokens", "tool_choice"),
           why={"temperature": "deepseek-reasoner ignores temperature (no error, no effect)",
                "top_p": "deepseek-reasoner ignores top_p (no error, no effect)",
                "top_k": _NO_TOP_K},
           litellm="deepseek", source="api-docs.deepseek.com/guides/reasoning_model"),
    Family("local vLLM / SGLang server", "vllm|sglang", r".*", "openai",
           (*_OPENAI_CHAT, "top_k"), why={"reasoning_effort": _NOT_REASONING},
           source="docs.vllm.ai: extra sampling parameters of the OpenAI-compatible server"),
    # --- anything else: the API kind's own rules -------------------------------------------
    Family("OpenAI-compatible endpoint", r".*", r".*", "openai", _OPENAI_CHAT,
           why={"top_k": "not a standard chat-completions parameter; use passthrough= if "
                "this server takes it",
                "reasoning_effort": "not known to be a reasoning model; use passthrough= "
                "if this server takes it"},
           source="platform.openai.com/docs/api-reference/chat/create"),
    Family("Anthropic Messages API", r".*", r".*", "anthropic",
           (*_ANTHROPIC, "reasoning_effort"), why={"seed": _NO_SEED}, limits=_ANTHROPIC_01,
           choices={"reasoning_effort": _THINKING}, exclusive=_ONE_SAMPLER,
           source="docs.claude.com/en/api/messages (the strictest current rules)"),
)
# fmt: on


def family_for(provider: str, model: str, kind: str) -> Family:
    """The first row matching; every API kind has a catch-all row, so there always is one."""
    for family in FAMILIES:
        if family.matches(provider, model, kind):
            return family
    raise AssertionError(f"no catch-all row for API kind {kind!r}")  # pragma: no cover
