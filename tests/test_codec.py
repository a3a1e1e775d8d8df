"""The stored form of chunk times and kinds: lossless to the microsecond, and small."""

from __future__ import annotations

import itertools
import random

import pytest

from llmbench_jupyter.store.codec import (
    decode_kinds,
    decode_many,
    decode_times,
    encode_kinds,
    encode_many,
    encode_times,
    times_and_gaps,
)


def _rows(seed: int, n: int = 2000) -> list[list[float] | None]:
    rng = random.Random(seed)
    rows: list[list[float] | None] = []
    for _ in range(n):
        k = rng.choice([0, 1, 2, 5, 30, 200])
        t = [rng.uniform(0, 900)]
        for _ in range(k - 1):
            t.append(t[-1] + rng.choice([rng.uniform(0, 60), rng.uniform(60, 5000), 0.0]))
        if rng.random() < 0.02:
            t = [x - 2 * t[-1] for x in t]  # negative times (open-loop origin ahead)
        if rng.random() < 0.02:
            t = list(reversed(t))  # out of order: never measured, still kept
        if rng.random() < 0.01:
            t = [x + 3e6 for x in t]  # beyond int32 microseconds
        rows.append(t if k else rng.choice([[], None]))
    return rows


@pytest.mark.parametrize("seed", range(3))
def test_round_trip_to_the_microsecond_in_every_form(seed: int) -> None:
    rows = _rows(seed)
    blobs = encode_many(rows)
    assert blobs == [encode_times(r) for r in rows]  # batch and single agree byte for byte
    assert {b[0] for b in blobs if b} == {1, 2, 3}  # every layout was exercised
    times, gaps = decode_many(blobs)
    for row, blob, t, g in zip(rows, blobs, times, gaps, strict=True):
        assert (t, g) == times_and_gaps(blob)
        assert len(t) == len(row or [])
        assert all(abs(a - b) <= 0.0005 + 1e-9 for a, b in zip(t, row or [], strict=True))
        assert g == [b - a for a, b in itertools.pairwise(t)]  # itl: their gaps


def test_values_already_at_microsecond_resolution_come_back_identical() -> None:
    times = [round(12.345678 + i * 3.2109, 3) for i in range(30)]
    assert decode_times(encode_times(times)).tolist() == times


def test_thirty_chunk_times_fit_in_63_bytes() -> None:
    times = [30.0 + i * 4.0 for i in range(30)]
    assert len(encode_times(times)) == 63  # 1 code + 4 first + 29 two-byte gaps
    assert encode_times([]) == b"" and decode_times(b"").tolist() == []
    with pytest.raises(ValueError, match="unknown chunk-times encoding"):
        decode_times(b"\x07abc")


@pytest.mark.parametrize(
    "kinds", ["", "a", "aa", "aaaa", "r" * 12 + "a" * 30, "rat" * 5, "t" * 300, "rrraaat"]
)
def test_chunk_kinds_round_trip_and_never_grow(kinds: str) -> None:
    stored = encode_kinds(kinds)
    assert decode_kinds(stored) == kinds and len(stored) <= len(kinds)


def test_plain_kinds_written_before_the_encoding_read_back_unchanged() -> None:
    assert decode_kinds("aaaaaaaa") == "aaaaaaaa" and decode_kinds(None) == ""
