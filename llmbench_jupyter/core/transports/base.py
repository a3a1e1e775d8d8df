"""What a transport hands to the measurement core: raw arrival stamps and what they carried.

Transports only stamp and collect; every metric is derived later in ``core.measure``, so the
lean SSE clients and the litellm path can never disagree about a definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import scrub, scrub_json_text
from llmbench_jupyter.core.limits import DEFAULT_LIMITS, Limits

#: Longest error message kept, cut only after scrubbing (see :meth:`StreamResult.scrub`).
ERROR_MESSAGE_LIMIT = 500
#: Letters for what a token-carrying chunk held (see ``RequestRecord.chunk_kinds``).
REASONING, ANSWER, TOOL = "r", "a", "t"


@dataclass(slots=True)
class RequestSpec:
    """One request to send, already fully resolved (no config lookups on the hot path)."""

    url: str  # full endpoint URL, e.g. http://host/v1/chat/completions
    api_model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None = 256
    temperature: float | None = 0.0
    extra_params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    api_key: str | None = None
    timeout_s: float = 120.0
    # litellm only: the litellm model string and the api_base to pass through
    litellm_model: str | None = None
    api_base: str | None = None
    limits: Limits = DEFAULT_LIMITS
    #: Exact values to mask in whatever comes back (key, URL credentials, header values).
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never show the key
        return f"RequestSpec(url={self.url!r}, api_model={self.api_model!r})"


@dataclass(slots=True)
class StreamResult:
    """Raw observations of one streamed response. Times are perf_counter_ns values."""

    response_id: str | None = None
    chunk_ns: list[int] = field(default_factory=list)  # arrival of each token-carrying chunk
    chunk_kinds: list[str] = field(default_factory=list)
    answer_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    usage_output_tokens: int | None = None
    usage_input_tokens: int | None = None
    usage_reasoning_tokens: int | None = None
    finish_reason: str | None = None
    end_ns: int | None = None  # end of stream
    completed: bool = False  # saw the protocol's end marker
    error_category: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    #: Usage fields the server sent but that were not counts (NaN, negative, text...).
    usage_invalid: list[str] = field(default_factory=list)

    def set_usage(self, name: str, value: Any) -> None:
        """Keep a usage count (``output``, ``input``, ``reasoning``) only if it is one.

        JSON allows NaN and Infinity, and servers send negatives and strings; such a value
        is treated as missing (another source counts instead) and noted, never stored.
        """
        if value is None:
            return
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and (not math.isfinite(value) or value < 0 or value != int(value)):
            ok = False
        if ok:
            setattr(self, f"usage_{name}_tokens", int(value))
        elif name not in self.usage_invalid:
            self.usage_invalid.append(name)

    def scrub(self, secrets: tuple[str, ...]) -> None:
        """Mask keys in everything the server sent, before any of it leaves the transport.

        Runs once, after the last stamp: a key split across chunks is masked in the joined
        text, and the timing path never pays for it.
        """
        if self.answer_parts:
            self.answer_parts = [scrub("".join(self.answer_parts), secrets, generic=False)]
        if self.reasoning_parts:
            self.reasoning_parts = [scrub("".join(self.reasoning_parts), secrets, generic=False)]
        for call in self.tool_calls.values():
            call["arguments"] = scrub_json_text(call["arguments"], secrets)
            call["name"] = scrub(call["name"], secrets, generic=False)
            if call["id"]:
                call["id"] = scrub(str(call["id"]), secrets, generic=False)
        if self.response_id:
            self.response_id = scrub(str(self.response_id), secrets, generic=False)[:200]
        if self.finish_reason:
            self.finish_reason = scrub(str(self.finish_reason), secrets, generic=False)[:64]
        if self.error_message:  # scrubbed whole, then cut: a cut key would survive
            self.error_message = scrub(self.error_message, secrets)[:ERROR_MESSAGE_LIMIT]

    def fail(self, category: str, message: str, http_status: int | None = None) -> None:
        """Record the first failure only; later ones are consequences of it."""
        if self.error_category is None:
            self.error_category = category
            self.error_message = message
            self.http_status = http_status

    def add_tool_fragment(
        self, index: int, call_id: str | None, name: str | None, args: str
    ) -> None:
        call = self.tool_calls.setdefault(index, {"id": None, "name": "", "arguments": ""})
        if call_id:
            call["id"] = call_id
        if name:
            call["name"] += name
        call["arguments"] += args
