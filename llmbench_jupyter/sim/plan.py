"""What one response will contain (pieces of reasoning, answer, tool calls) and when to send each.

Both wire formats (OpenAI, Anthropic) consume the same plan and schedule, so they differ
only in bytes, never in timing or token counts.
"""

from __future__ import annotations

import json
import math
import random
import secrets
from collections.abc import Iterator

from llmbench_jupyter.sim.rules import Rule
from llmbench_jupyter.sim.scenarios import Scenario
from llmbench_jupyter.sim.text import (
    filler_word_lists,
    filler_words,
    filler_words_bulk,
    split_tokens,
)

# (kind, tokens, text, tool index); kind: reasoning | answer | tool_start | tool_args.
# For tool_start the text is the function name. Plain tuples keep the per-chunk path cheap.
Piece = tuple[str, int, str, int]


class ToolCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self, call_id: str, name: str, arguments: str):
        self.id = call_id
        self.name = name
        self.arguments = arguments  # JSON text


def _fragments(text: str, size: int) -> list[str]:
    """Split tool-call arguments into several fragments, as real servers stream them."""
    if not text:
        return [""]
    size = max(1, min(size, math.ceil(len(text) / 2)))
    return [text[i : i + size] for i in range(0, len(text), size)]


class Plan:
    """The response content, token counts and finish reason, decided before the first byte."""

    def __init__(
        self,
        scenario: Scenario,
        rule: Rule | None,
        words_rng: random.Random,
        max_tokens: int | None,
        tool_id_prefix: str = "call_",
        reasoning_scale: float = 1.0,
    ):
        self.tpc = scenario.tokens_per_chunk
        self.bulk = scenario.write_batch > 1  # filler drawn in bulk (sim.text)
        self._rng = words_rng
        budget = max_tokens if max_tokens is not None else math.inf
        reasoning = split_tokens(rule.reasoning) if rule and rule.reasoning is not None else None
        answer = split_tokens(rule.content) if rule and rule.content is not None else None
        if rule is not None and answer is None:
            answer = []  # a rule with only tool calls/reasoning says nothing else
        want_r = (
            len(reasoning)
            if reasoning is not None
            else round(scenario.reasoning_tokens * reasoning_scale)
        )
        want_a = len(answer) if answer is not None else scenario.output_tokens
        self.reasoning_n = int(min(want_r, budget))
        self.answer_n = int(min(want_a, budget - self.reasoning_n))
        self._reasoning = reasoning[: self.reasoning_n] if reasoning is not None else None
        self._answer = answer[: self.answer_n] if answer is not None else None
        capped = self.reasoning_n + self.answer_n < want_r + want_a
        self.tool_calls: list[ToolCall] = []
        self._tool_frags: list[list[str]] = []
        tool_tokens = 0
        if rule is not None and not capped:
            for spec in rule.tool_calls:
                args = json.dumps(spec.arguments)
                call = ToolCall(tool_id_prefix + secrets.token_hex(12), spec.name, args)
                frags = _fragments(args, 4 * self.tpc)
                self.tool_calls.append(call)
                self._tool_frags.append(frags)
                tool_tokens += 1 + sum(math.ceil(len(f) / 4) for f in frags)
        self.completion_tokens = self.reasoning_n + self.answer_n + tool_tokens
        self.finish_reason = "length" if capped else ("tool_calls" if self.tool_calls else "stop")

    def _tokens(self, kind: str) -> Iterator[str]:
        script = self._reasoning if kind == "reasoning" else self._answer
        if script is not None:
            return iter(script)
        n = self.reasoning_n if kind == "reasoning" else self.answer_n
        if self.bulk:
            return filler_words_bulk(self._rng, n)
        return filler_words(self._rng, n)

    @property
    def filler_only(self) -> bool:
        """Nothing but filler answer words, one per chunk, drawn in bulk: what
        :func:`sim.batched.burst` can send without handling each chunk in Python."""
        return (
            self.bulk
            and self.tpc == 1
            and self._answer is None
            and self.reasoning_n == 0
            and not self.tool_calls
        )

    def filler_lists(self) -> Iterator[list[str]]:
        """The answer's filler words (only when :attr:`filler_only`), a list per draw: the
        same words, in the same order, as :meth:`pieces` would yield one by one."""
        return filler_word_lists(self._rng, self.answer_n)

    def pieces(self) -> Iterator[Piece]:
        """Yield the chunks in order; filler words are drawn lazily to keep TTFT unaffected."""
        tpc = self.tpc
        for kind in ("reasoning", "answer"):
            if tpc == 1:  # one token per chunk: no buffering
                for tok in self._tokens(kind):
                    yield (kind, 1, tok, 0)
                continue
            buf: list[str] = []
            for tok in self._tokens(kind):
                buf.append(tok)
                if len(buf) == tpc:
                    yield (kind, tpc, "".join(buf), 0)
                    buf = []
            if buf:
                yield (kind, len(buf), "".join(buf), 0)
        for index, (call, frags) in enumerate(zip(self.tool_calls, self._tool_frags, strict=True)):
            yield ("tool_start", 1, call.name, index)
            for frag in frags:
                yield ("tool_args", math.ceil(len(frag) / 4), frag, index)


class Schedule:
    """Absolute send targets: arrival + TTFT (+prefill) + i·ITL, each with its own jitter.

    Targets are absolute so lateness never accumulates; they never go backwards.
    """

    __slots__ = ("_jitter_ns", "_last", "_rng", "arrived_ns", "first_ns", "itl_ns")

    def __init__(self, scenario: Scenario, arrived_ns: int, prompt_tokens: int, rng: random.Random):
        j = scenario.jitter
        ttft = scenario.ttft_ms * (1 + j * rng.uniform(-1, 1)) if j else scenario.ttft_ms
        ttft += scenario.prefill_ms_per_1k_tokens * prompt_tokens / 1000
        self.arrived_ns = arrived_ns
        self.first_ns = arrived_ns + int(ttft * 1e6)
        self.itl_ns = int(scenario.itl_ms * 1e6)
        self._jitter_ns = self.itl_ns * j
        self._rng = rng
        self._last = self.first_ns

    def target(self, i: int) -> int:
        """Target send time (perf_counter_ns) of content chunk ``i`` (0-based)."""
        if i == 0:
            return self.first_ns
        t = self.first_ns + i * self.itl_ns
        if self._jitter_ns:
            t += int(self._jitter_ns * self._rng.uniform(-1, 1))
        if t < self._last:
            t = self._last
        self._last = t
        return t
