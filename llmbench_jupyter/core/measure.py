"""Per-request metrics from raw stamps: the single implementation of docs/metrics.md.

Transports only collect arrival stamps and payload; this module turns one
``StreamResult`` into the fields of a ``RequestRecord``. Aggregates over many
requests live in the ``stats`` package.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Protocol

from llmbench_jupyter.core import errors
from llmbench_jupyter.core.pricing import Price
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.transports.base import ANSWER, REASONING, TOOL, StreamResult

#: Usage and an exact tokenizer "disagree" beyond this many tokens or this fraction.
DISAGREE_ABS, DISAGREE_REL = 2, 0.05
OUTPUT_TEXT_LIMIT = 20_000
#: Added to a token-count source when the server's usage count was NaN, negative or text.
INVALID_USAGE = "usage invalid"


class TokenCounter(Protocol):
    name: str
    exact: bool

    def count(self, text: str) -> int: ...


def _ms(ns: int) -> float:
    """Nanoseconds as milliseconds, to the microsecond: the resolution the store keeps
    (``store.codec``), so a record reloaded from the store equals the one measured. The
    client's own timing error is tens of microseconds (docs/metrics.md)."""
    return round(ns / 1e3) / 1e3


def fill_record(
    record: RequestRecord,
    result: StreamResult,
    *,
    origin_ns: int,
    tokenizer: TokenCounter | None = None,
    prompt_text: str | None = None,
    price: Price | None = None,
    known_secrets: tuple[str, ...] = (),
) -> RequestRecord:
    """Derive every per-request metric in ``record`` from ``result``.

    ``origin_ns`` is the time origin: the send stamp (closed loop) or the intended send
    time (open loop). Timings of failed requests are kept as far as they got.
    """
    record.response_id = result.response_id
    times = [_ms(t - origin_ns) for t in result.chunk_ns]
    record.chunk_times_ms = times
    record.chunk_kinds = "".join(result.chunk_kinds)
    record.n_chunks = len(times)
    record.itl_ms = [b - a for a, b in pairwise(times)]
    record.ttft_ms = times[0] if times else None
    answer_at = next(
        (t for t, k in zip(times, result.chunk_kinds, strict=True) if k in (ANSWER, TOOL)), None
    )
    record.ttfat_ms = answer_at
    record.e2e_ms = _ms(result.end_ns - origin_ns) if result.end_ns is not None else None
    record.finish_reason = result.finish_reason

    answer = "".join(result.answer_parts)
    reasoning = "".join(result.reasoning_parts)
    tool_text = "".join(c["name"] + c["arguments"] for c in result.tool_calls.values())
    if result.tool_calls:
        calls = [result.tool_calls[i] for i in sorted(result.tool_calls)]
        record.output_text = json.dumps({"content": answer, "tool_calls": calls})[
            :OUTPUT_TEXT_LIMIT
        ]
    else:
        record.output_text = answer[:OUTPUT_TEXT_LIMIT]

    _count_tokens(record, result, tokenizer, answer + tool_text, reasoning, prompt_text)
    _derive_rates(record)
    cost = None if price is None else price.cost(record.input_tokens, record.output_tokens)
    if price is not None and cost is not None:
        record.cost_usd, record.cost_source = cost, price.source

    if result.error_category is None and not times:
        result.fail(
            errors.EMPTY_RESPONSE, "the stream ended without any content, reasoning or tool call"
        )
    if result.error_category is not None:
        record.status = "error"
        record.error_category = result.error_category
        record.error_message = errors.scrub(result.error_message or "", known_secrets)
        record.http_status = result.http_status
    return record


def _count_tokens(
    record: RequestRecord,
    result: StreamResult,
    tokenizer: TokenCounter | None,
    answer: str,
    reasoning: str,
    prompt_text: str | None,
) -> None:
    record.output_tokens_usage = result.usage_output_tokens
    record.output_tokens_chunks = record.n_chunks
    if tokenizer is not None:
        record.tokenizer = tokenizer.name
    # Counting runs on the event loop (~0.3 us/token), so only when it can inform a figure:
    # there is no usage to prefer, or the tokenizer is exact enough to check usage against.
    # A response cut at its byte limit is partial and may be huge: it is not worth a count.
    cut = result.error_category == errors.RESPONSE_TOO_LARGE
    if (
        tokenizer is not None
        and not cut
        and (result.usage_output_tokens is None or tokenizer.exact)
    ):
        if answer or reasoning:
            record.output_tokens_tokenizer = tokenizer.count(reasoning) + tokenizer.count(answer)
        else:
            record.output_tokens_tokenizer = 0
    for source in ("usage", "tokenizer", "chunks"):
        value = getattr(record, f"output_tokens_{source}")
        if value is not None:
            record.output_tokens = value
            record.output_tokens_source = source
            break
    invalid = result.usage_invalid
    if "output" in invalid:  # the server's count was no count: the source says so
        record.output_tokens_source = _invalid_note(record.output_tokens_source)
    usage, counted = record.output_tokens_usage, record.output_tokens_tokenizer
    disagree = False
    if usage is not None:
        # more token-carrying chunks than tokens is impossible: the usage block is wrong
        disagree = record.n_chunks > usage
        if counted is not None and tokenizer is not None and tokenizer.exact:
            disagree = disagree or abs(usage - counted) > max(DISAGREE_ABS, DISAGREE_REL * usage)
    record.output_tokens_disagree = disagree

    if result.usage_reasoning_tokens is not None:
        record.reasoning_tokens = result.usage_reasoning_tokens
    elif reasoning:
        record.reasoning_tokens = (
            tokenizer.count(reasoning)
            if tokenizer is not None
            else result.chunk_kinds.count(REASONING)
        )
    if result.usage_input_tokens is not None:
        record.input_tokens = result.usage_input_tokens
        record.input_tokens_source = "usage"
    elif tokenizer is not None and prompt_text is not None:
        record.input_tokens = tokenizer.count(prompt_text)
        record.input_tokens_source = "tokenizer"
    if "input" in invalid:
        record.input_tokens_source = _invalid_note(record.input_tokens_source)


def _invalid_note(source: str | None) -> str:
    """``tokenizer (usage invalid)``: the fallback used, and why usage was not."""
    return f"{source} ({INVALID_USAGE})" if source else INVALID_USAGE


def _derive_rates(record: RequestRecord) -> None:
    record.tpot_ms, record.decode_tps, record.total_tps, record.prefill_tps = rates(
        record.output_tokens, record.ttft_ms, record.e2e_ms, record.input_tokens
    )


def rates(
    output_tokens: int | None, ttft_ms: float | None, e2e_ms: float | None, input_tokens: int | None
) -> tuple[float | None, float | None, float | None, float | None]:
    """``(tpot_ms, decode_tps, total_tps, prefill_tps)`` from the measured counts and
    times: the one definition of each rate (the store rebuilds them with it on read)."""
    n, ttft, e2e = output_tokens, ttft_ms, e2e_ms
    if n is None or ttft is None or e2e is None:
        return None, None, None, None
    tpot = decode = total = prefill = None
    decode_ms = e2e - ttft
    if n > 1 and decode_ms > 0:
        tpot = decode_ms / (n - 1)
        decode = (n - 1) / decode_ms * 1000.0
    if e2e > 0:
        total = n / e2e * 1000.0
    if input_tokens is not None and ttft > 0:
        prefill = input_tokens / ttft * 1000.0
    return tpot, decode, total, prefill
