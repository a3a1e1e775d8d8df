"""Ground truth for timing tests: when each response arrived and when each chunk was written.

Times are ``time.perf_counter_ns()`` (CLOCK_MONOTONIC on Linux), comparable with a client's
clock in another process on the same host. Entries are compact arrays and the log is
bounded (responses and total chunks) so a long benchmark cannot exhaust memory.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from time import perf_counter_ns
from typing import Any

KINDS = ("role", "reasoning", "answer", "tool", "usage", "finish", "malformed")
KIND_CODE = {name: i for i, name in enumerate(KINDS)}


class LogEntry:
    """One response's send times; ``add`` is on the per-chunk path, so it stays minimal."""

    __slots__ = ("arrived_ns", "counted", "id", "kinds", "model", "planned", "sent", "tokens")

    def __init__(self, response_id: str, model: str, arrived_ns: int):
        self.id = response_id
        self.model = model
        self.arrived_ns = arrived_ns
        self.kinds = bytearray()
        self.tokens = array("i")
        self.sent = array("q")
        self.planned = array("q")
        self.counted = 0  # chunks charged to the log's total when the response closed

    def add(self, kind: int, tokens: int, sent_ns: int, planned_ns: int) -> None:
        self.kinds.append(kind)
        self.tokens.append(tokens)
        self.sent.append(sent_ns)
        self.planned.append(planned_ns)

    def add_group(self, kinds: bytes, tokens: array[int], planned: array[int]) -> None:
        """Chunks that go out in one write, stamped with one send time (arrays extend
        from arrays by memcpy: no Python step per chunk)."""
        self.kinds += kinds
        self.tokens += tokens
        self.planned += planned
        self.sent += array("q", [perf_counter_ns()]) * len(kinds)

    def as_dict(self) -> dict[str, Any]:
        """``planned_ns`` is the scheduled time (-1 for chunks sent at once, e.g. role)."""
        return {
            "id": self.id,
            "model": self.model,
            "arrived_ns": self.arrived_ns,
            "chunks": [
                {"kind": KINDS[k], "tokens": t, "sent_ns": s, "planned_ns": p}
                for k, t, s, p in zip(self.kinds, self.tokens, self.sent, self.planned, strict=True)
            ],
        }


class SendLog:
    """Bounded map of response id → LogEntry, oldest evicted first."""

    def __init__(self, max_responses: int = 10_000, max_chunks: int = 2_000_000):
        self.max_responses = max_responses
        self.max_chunks = max_chunks
        self._entries: OrderedDict[str, LogEntry] = OrderedDict()
        self._chunks = 0

    def open(self, response_id: str, model: str, arrived_ns: int) -> LogEntry:
        entry = LogEntry(response_id, model, arrived_ns)
        self._entries[response_id] = entry
        self._evict()
        return entry

    def close(self, entry: LogEntry) -> None:
        """Charge a finished response's chunks to the bound."""
        if entry.id in self._entries and not entry.counted:
            entry.counted = len(entry.kinds)
            self._chunks += entry.counted
            self._evict()

    def _evict(self) -> None:
        entries = self._entries
        while len(entries) > self.max_responses or (
            self._chunks > self.max_chunks and len(entries) > 1
        ):
            _, old = entries.popitem(last=False)
            self._chunks -= old.counted

    def get(self, response_id: str) -> dict[str, Any] | None:
        entry = self._entries.get(response_id)
        return entry.as_dict() if entry is not None else None

    def __len__(self) -> int:
        return len(self._entries)
