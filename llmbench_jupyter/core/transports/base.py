"""What a transport hands to the measurement core: raw arrival stamps and what they carried.

Transports only stamp and collect; every metric is derived later in ``core.measure``, so the
lean SSE clients and the litellm path can never disagree about a definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
