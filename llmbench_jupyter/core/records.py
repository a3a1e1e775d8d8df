"""The per-request record: the one shape every surface stores, shows and exports.

Field names here are the column names in the store, in DataFrames and in CSV/JSON
exports. Nothing renames them on the way (the predecessor lost fields that way).
Definitions of every timing field live in docs/metrics.md.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any

#: Where an ``output_tokens`` figure came from, best first.
TOKEN_SOURCES = ("usage", "tokenizer", "chunks")


@dataclass(slots=True)
class RequestRecord:
    """One request's raw measurements and the metrics derived from them."""

    # identity and provenance
    request_id: str
    run_id: str = ""
    owner: str = ""
    provider: str = ""
    model: str = ""
    api_model: str = ""
    transport: str = ""  # aiohttp-openai | aiohttp-anthropic | litellm
    response_id: str | None = None
    # workload position
    context_tier: int = 0  # requested padding in tokens (0 = bare prompt)
    run_index: int = 0
    is_warmup: bool = False
    concurrency: int = 1
    rate_rps: float | None = None  # open-loop arrival rate, None for closed loop
    scheduled_ms: float | None = None  # intended send time relative to phase start
    send_lag_ms: float = 0.0  # actual send - intended send (open loop), else 0
    time_origin: str = "sent"  # "sent" or "intended": what the timings below count from
    started_at: str = ""  # wall clock, ISO 8601 UTC, for humans and cross-host joins
    send_mono_ns: int = 0  # time.perf_counter_ns() at send (CLOCK_MONOTONIC on Linux)
    # timings (ms, relative to time_origin)
    ttft_ms: float | None = None
    ttfat_ms: float | None = None
    e2e_ms: float | None = None
    tpot_ms: float | None = None
    chunk_times_ms: list[float] = field(default_factory=list)
    chunk_kinds: str = ""  # one letter per chunk: r = reasoning, a = answer, t = tool call
    itl_ms: list[float] = field(default_factory=list)  # gaps between consecutive chunks
    n_chunks: int = 0
    # tokens
    output_tokens: int | None = None
    output_tokens_source: str | None = None  # usage | tokenizer | chunks
    output_tokens_usage: int | None = None
    output_tokens_tokenizer: int | None = None
    output_tokens_chunks: int | None = None
    output_tokens_disagree: bool = False
    reasoning_tokens: int | None = None
    input_tokens: int | None = None  # prompt_tokens as counted by the server
    input_tokens_source: str | None = None  # usage | tokenizer
    padding_tokens: int | None = None  # padding tokens as counted by our tokenizer
    tokenizer: str | None = None
    # rates
    decode_tps: float | None = None
    total_tps: float | None = None
    prefill_tps: float | None = None
    # cost
    cost_usd: float | None = None
    cost_source: str | None = None  # override | litellm | None (unknown)
    # outcome
    status: str = "ok"  # ok | error
    error_category: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    finish_reason: str | None = None
    output_text: str | None = None  # kept short; tool evals and judges read it later

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def new_id() -> str:
    """A fresh run or request id: 16 hex digits, 64 random bits.

    Every stored request row repeats its run's id and its own, so their length is paid a
    million times over: half a uuid's 32 digits saves 32 bytes a record. 64 bits keep a
    collision unlikely (odds ~1e-8 at 600 million ids), and a store refuses a duplicate
    run id rather than mixing two runs.
    """
    return secrets.token_hex(8)


#: Column order for DataFrames and exports: exactly the dataclass fields.
RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RequestRecord))
#: Fields that hold lists (JSON in the store and in CSV cells).
LIST_FIELDS: frozenset[str] = frozenset({"chunk_times_ms", "itl_ms"})
