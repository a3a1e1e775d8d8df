"""Byte limits on what an endpoint may send back, so a hostile server cannot exhaust memory.

Every read from a provider is bounded: an error body, one SSE event (a line without a
newline grows the buffer until it ends), and a whole response, streamed or not. Wall
time per request is the request timeout. Past a limit the connection is closed and the
request becomes a ``response_too_large`` error record; the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmbench_jupyter.core.errors import InputError

KIB, MIB = 1024, 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request read limits in bytes (config: a provider's ``limits:`` mapping)."""

    #: Body of a non-200 answer: enough for any real error message.
    error_body_bytes: int = 64 * KIB
    #: One SSE event (its data lines together): real chunks are well under 1 KiB.
    event_bytes: int = 4 * MIB
    #: A whole response as received, streamed or not: about 150k tokens of OpenAI-style SSE
    #: (some 200 bytes a token). Kept text is at most this much per request in flight.
    response_bytes: int = 32 * MIB

    def __post_init__(self) -> None:
        for name in ("error_body_bytes", "event_bytes", "response_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
                raise InputError(f"limits.{name}: found {value!r}, expected an integer >= 1024")

    def describe(self) -> dict[str, int]:
        return {
            "error_body_bytes": self.error_body_bytes,
            "event_bytes": self.event_bytes,
            "response_bytes": self.response_bytes,
        }


DEFAULT_LIMITS = Limits()


def too_large(what: str, limit: int) -> str:
    """The error message for a read past ``limit`` bytes."""
    if limit % MIB == 0:
        return f"{what} exceeded {limit // MIB} MiB; the connection was closed"
    if limit % KIB == 0:
        return f"{what} exceeded {limit // KIB} KiB; the connection was closed"
    return f"{what} exceeded {limit} bytes; the connection was closed"
