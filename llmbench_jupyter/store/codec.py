"""The stored form of a record's chunks: times as delta-coded integer microseconds in
bytes, kinds run-length coded.

As JSON text, 30 chunk times cost about 600 bytes and a JSON parse per record on every
read; most of a million-record store was that. Here they are rounded to the microsecond
(the client's own timing overhead is tens of microseconds, docs/metrics.md), the first
one is kept whole and the rest as gaps, which fit two bytes each for any stream whose
chunks arrive less than 65.5 ms apart: 30 chunk times in 63 bytes. ``itl_ms`` is not
stored at all: it is defined as the gaps between consecutive chunk times (core.measure),
so it is rebuilt from them on read.

Layout: one code byte, then
- ``1``: int32 first time, uint16 gaps;
- ``2``: int32 first time, uint32 gaps;
- ``3``: int64 times (anything else: negative gaps, times beyond int32 microseconds).
An empty list is an empty byte string.

``chunk_kinds`` (one letter per chunk: ``r``, ``a``, ``t``) is stored as runs, letter then
count (``"r12a30"``), when that is shorter; text without digits is the plain form, which
is how rows written before this encoding read back unchanged.
"""

from __future__ import annotations

import re
import struct
from array import array
from collections.abc import Sequence
from itertools import chain, groupby, pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_I32 = struct.Struct("<i")
_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1
_SMALL, _MEDIUM, _WIDE = 1, 2, 3
_SMALL_BYTE = bytes((_SMALL,))


def encode_times(times_ms: Sequence[float] | None) -> bytes:
    """Chunk times in ms (floats, finite) as bytes, each rounded to the microsecond."""
    if not times_ms:
        return b""
    us = [round(t * 1000.0) for t in times_ms]
    first = us[0]
    gaps = [b - a for a, b in pairwise(us)]
    if _I32_MIN <= first <= _I32_MAX and (not gaps or min(gaps) >= 0):
        widest = max(gaps, default=0)
        if widest < 2**16:
            return bytes((_SMALL,)) + _I32.pack(first) + _little(array("H", gaps))
        if widest < 2**32:
            return bytes((_MEDIUM,)) + _I32.pack(first) + _little(array("I", gaps))
    return bytes((_WIDE,)) + _little(array("q", us))


def encode_many(rows: Sequence[Sequence[float] | None]) -> list[bytes]:
    """``encode_times`` of many records at once, the same bytes: rounding, gaps and the
    range checks run in numpy over the whole batch (the writer's hot path)."""
    import numpy as np

    lens = np.fromiter((len(r) if r else 0 for r in rows), dtype=np.int64, count=len(rows))
    total = int(lens.sum())
    out = [b""] * len(rows)
    if total == 0:
        return out
    flat = np.fromiter(chain.from_iterable(r for r in rows if r), dtype=float, count=total)
    us = np.rint(flat * 1000.0).astype(np.int64)  # round half to even, like round()
    ends = np.cumsum(lens)
    starts = ends - lens
    gaps = np.diff(us)  # gaps at a row's end cross into the next row: never read below
    small = (us >= _I32_MIN) & (us <= _I32_MAX)
    gap_ok = np.concatenate(((gaps >= 0) & (gaps < 2**16), [True]))
    # a row is "small" when its first time fits int32 and each of its gaps fits uint16
    bad = ~small
    bad[:-1] |= ~gap_ok[:-1]
    bad[ends[lens > 0] - 1] = ~small[ends[lens > 0] - 1]  # a row's last time has no gap
    bad_rows = np.add.reduceat(bad.astype(np.int64), starts[lens > 0]) > 0
    body = gaps.astype("<u2").tobytes()  # wrong values only where a row is not small
    nonempty = np.flatnonzero(lens > 0).tolist()
    first = us[starts[lens > 0]].tolist()
    for k, i in enumerate(nonempty):
        if bad_rows[k]:
            out[i] = encode_times(rows[i])
        else:
            a = int(starts[i])
            out[i] = _SMALL_BYTE + _I32.pack(first[k]) + body[2 * a : 2 * (a + int(lens[i]) - 1)]
    return out


def decode_times(blob: bytes | memoryview | None) -> np.ndarray:
    """The chunk times in ms (float64 array) of ``encode_times``' bytes."""
    import numpy as np

    if not blob:
        return np.zeros(0)
    blob = bytes(blob)
    code = blob[0]
    if code == _WIDE:
        return np.frombuffer(blob, dtype="<i8", offset=1) / 1000.0
    if code not in (_SMALL, _MEDIUM):
        raise ValueError(f"unknown chunk-times encoding {code}")
    (first,) = _I32.unpack_from(blob, 1)
    gaps = np.frombuffer(blob, dtype="<u2" if code == _SMALL else "<u4", offset=5)
    us = np.empty(gaps.size + 1, dtype=np.int64)
    us[0] = first
    np.cumsum(gaps, out=us[1:])
    us[1:] += first
    return us / 1000.0


def decode_many(
    blobs: Sequence[bytes | memoryview | None],
) -> tuple[list[list[float]], list[list[float]]]:
    """``times_and_gaps`` of many rows at once: the common two-byte-gap form is decoded in
    a few numpy calls over all rows together (a run of 10,000 records in milliseconds)."""
    import numpy as np

    times: list[list[float]] = [[] for _ in blobs]
    gaps: list[list[float]] = [[] for _ in blobs]
    small = [i for i, b in enumerate(blobs) if b and b[0] == _SMALL]
    for i, b in enumerate(blobs):
        if b and b[0] != _SMALL:
            times[i], gaps[i] = times_and_gaps(b)
    if not small:
        return times, gaps
    parts = [bytes(blobs[i]) for i in small]  # type: ignore[arg-type]
    firsts = np.array([_I32.unpack_from(p, 1)[0] for p in parts], dtype=np.int64)
    sizes = np.array([(len(p) - 5) // 2 for p in parts], dtype=np.int64)
    flat_gaps = np.frombuffer(b"".join(p[5:] for p in parts), dtype="<u2").astype(np.int64)
    # per row: first, then first + the running sum of its gaps (a segmented cumsum)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    running = np.cumsum(flat_gaps)
    before = np.concatenate(([0], running))[starts]
    offsets = running - np.repeat(before, sizes) + np.repeat(firsts, sizes)
    flat_times = np.empty(len(parts) + flat_gaps.size, dtype=np.int64)
    row_starts = starts + np.arange(len(parts))  # where each row's first time goes
    flat_times[row_starts] = firsts
    mask = np.ones(flat_times.size, dtype=bool)
    mask[row_starts] = False
    flat_times[mask] = offsets
    ms = flat_times / 1000.0
    flat_diff = np.diff(ms).tolist()  # across row boundaries too: those are skipped below
    flat_ms = ms.tolist()
    ends = (row_starts + sizes + 1).tolist()
    for i, start, end in zip(small, row_starts.tolist(), ends, strict=True):
        times[i] = flat_ms[start:end]
        gaps[i] = flat_diff[start : end - 1]
    return times, gaps


def times_and_gaps(blob: bytes | memoryview | None) -> tuple[list[float], list[float]]:
    """``chunk_times_ms`` and ``itl_ms`` (the gaps between them) as lists, from the bytes."""
    import numpy as np

    times = decode_times(blob)
    return times.tolist(), np.diff(times).tolist()


def _little(values: array[int]) -> bytes:
    import sys

    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


_RUN = re.compile(r"(\D)(\d+)")


def encode_kinds(kinds: str | None) -> str:
    """``chunk_kinds`` as letter-count runs, or as it is when that is not shorter."""
    if not kinds:
        return kinds or ""
    if kinds.count(kinds[0]) == len(kinds):  # the usual case: one kind throughout
        coded = f"{kinds[0]}{len(kinds)}"
        return coded if len(coded) < len(kinds) else kinds
    coded = "".join(f"{kind}{len(list(run))}" for kind, run in groupby(kinds))
    return coded if len(coded) < len(kinds) else kinds


def decode_kinds(stored: str | None) -> str:
    """The ``chunk_kinds`` text of ``encode_kinds``' form (plain text passes through)."""
    if not stored or stored.isalpha():
        return stored or ""
    return "".join(letter * int(count) for letter, count in _RUN.findall(stored))
