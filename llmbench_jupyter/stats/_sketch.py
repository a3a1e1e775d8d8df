"""Mergeable quantile sketches: percentiles across runs without keeping every value.

A median over many runs cannot be made from per-run medians, and re-reading millions of
records for every leaderboard is too slow. So each stored summary keeps, per metric, a
histogram over the buckets of DDSketch's logarithmic mapping (the ``ddsketch`` package):
bucket ``k`` holds the values in ``(γ^(k-1), γ^k]`` and stands for one value within a
relative error ``α`` = ``RELATIVE_ACCURACY`` of every value in it. Merging sketches adds
bucket counts, which is exact; only the values are approximate.

A percentile is read like ``np.percentile`` (linear interpolation): the two order
statistics at ranks ⌊q(n-1)⌋ and ⌊q(n-1)⌋+1 are each taken as their bucket's value, then
interpolated with the same weight. Both are within ``α`` (relative) of the true order
statistics, so the result is within ``α`` of the exact percentile of the pooled sample
(docs/metrics.md, "Percentiles across runs"). Values ≤ 0 (never expected for timings and
rates) are counted in a zero bucket that stands for 0 exactly.

The stored form is a 10-byte header and the counts in whichever layout is smallest: one
count per bucket from the lowest used key to the highest (dense: many values), or
(uint16 offset, count) pairs of the used buckets only (sparse: a few values spread over
decades); counts take the narrowest of uint8, uint16 and uint32 that holds them (a run's
summary of a few hundred requests needs one byte per bucket). Either is decoded with a
couple of numpy calls, so a merge of thousands of sketches stays cheap.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: α: every bucket value is within this relative error of the values it counts.
RELATIVE_ACCURACY = 0.005
_HEADER = struct.Struct("<BBiI")  # format version, layout, lowest key, zero count
_VERSION = 2
#: layout code: (sparse, count dtype); codes 0-2 are the first ones written, still read
_LAYOUTS = {0: (False, "<u2"), 1: (False, "<u4"), 2: (True, "<u4"), 3: (False, "u1"),
            4: (True, "u1"), 5: (True, "<u2")}  # fmt: skip
_CODES = {kind: code for code, kind in _LAYOUTS.items()}


@lru_cache(maxsize=1)
def _mapping() -> Any:
    from ddsketch.mapping import LogarithmicMapping

    return LogarithmicMapping(RELATIVE_ACCURACY)


def _keys(x: np.ndarray) -> np.ndarray:
    """``LogarithmicMapping.key`` of every (positive) value at once: ⌈log_γ(v)⌉.

    The library maps one value per Python call; this is its formula (offset 0) in numpy.
    Where float rounding puts a value that sits exactly on a bucket edge into the
    neighbouring bucket, that bucket's value is still within α of it.
    """
    import numpy as np

    return np.ceil(np.log(x) / np.log(_mapping().gamma)).astype(np.int64)


@dataclass(frozen=True)
class Sketch:
    """Counts per bucket from ``min_key`` on, plus the values ≤ 0; immutable."""

    min_key: int
    counts: np.ndarray  # int64 counts of buckets min_key, min_key + 1, ...
    zeros: int = 0

    @property
    def n(self) -> int:
        return int(self.counts.sum()) + self.zeros

    # ------------------------------------------------------------- building
    @classmethod
    def of(cls, values: Iterable[float | None]) -> Sketch | None:
        """The sketch of the finite values (None and NaN are skipped); None if none is left."""
        import numpy as np

        x = np.asarray(values if isinstance(values, list) else list(values), dtype=float)
        x = x[np.isfinite(x)]
        positive = x > _mapping().min_possible
        zeros = int(x.size - np.count_nonzero(positive))
        if not positive.any():
            return cls(0, np.zeros(0, dtype=np.int64), zeros) if zeros else None
        keys = _keys(x[positive])
        lo = int(keys.min())
        return cls(lo, np.bincount(keys - lo).astype(np.int64), zeros)

    # ----------------------------------------------------------- bytes form
    def to_bytes(self) -> bytes:
        import numpy as np

        counts = self.counts
        top = int(counts.max()) if counts.size else 0
        if top > np.iinfo(np.uint32).max:
            raise OverflowError("a sketch bucket holds more than 2^32 values")
        dtype, width = ("u1", 1) if top < 2**8 else ("<u2", 2) if top < 2**16 else ("<u4", 4)
        used = np.flatnonzero(counts)
        sparse = used.size * (2 + width) < counts.size * width and counts.size <= 2**16
        header = _HEADER.pack(_VERSION, _CODES[(sparse, dtype)], self.min_key, self.zeros)
        if sparse:
            return header + used.astype("<u2").tobytes() + counts[used].astype(dtype).tobytes()
        return header + counts.astype(dtype).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Sketch:
        import numpy as np

        version, layout, min_key, zeros = _HEADER.unpack_from(blob)
        if version != _VERSION or layout not in _LAYOUTS:
            raise ValueError(f"unknown sketch format {version}.{layout}")
        sparse, dtype = _LAYOUTS[layout]
        if sparse:
            n = (len(blob) - _HEADER.size) // (2 + np.dtype(dtype).itemsize)
            used = np.frombuffer(blob, dtype="<u2", count=n, offset=_HEADER.size)
            found = np.frombuffer(blob, dtype=dtype, count=n, offset=_HEADER.size + 2 * n)
            counts = np.zeros(int(used[-1]) + 1 if n else 0, dtype=np.int64)
            counts[used] = found
        else:
            counts = np.frombuffer(blob, dtype=dtype, offset=_HEADER.size).astype(np.int64)
        return cls(min_key, counts, zeros)

    # -------------------------------------------------------------- merging
    @classmethod
    def merge(cls, sketches: Sequence[Sketch | bytes | None]) -> Sketch | None:
        """One sketch of everything the given sketches (or their bytes) counted."""
        import numpy as np

        given = [s for s in sketches if s is not None]
        if len(given) > 8 and all(isinstance(s, bytes) for s in given):
            return cls._merge_bytes(given)  # type: ignore[arg-type]
        parts = [cls.from_bytes(s) if isinstance(s, bytes | bytearray | memoryview) else s
                 for s in sketches if s is not None]  # fmt: skip
        parts = [s for s in parts if s is not None and s.n]
        if not parts:
            return None
        zeros = sum(s.zeros for s in parts)
        filled = [s for s in parts if s.counts.size]
        if not filled:
            return cls(0, np.zeros(0, dtype=np.int64), zeros)
        lo = min(s.min_key for s in filled)
        hi = max(s.min_key + s.counts.size for s in filled)
        total = np.zeros(hi - lo, dtype=np.int64)
        for s in filled:
            start = s.min_key - lo
            total[start : start + s.counts.size] += s.counts
        return cls(lo, total, zeros)

    @classmethod
    def _merge_bytes(cls, blobs: Sequence[bytes]) -> Sketch | None:
        """``merge`` of stored sketches without decoding them one by one: every header and
        count is gathered from one joined buffer with numpy, then the counts are added per
        bucket in one ``bincount`` (a leaderboard merges tens of thousands of run sketches)."""
        import numpy as np

        lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
        if (lengths < _HEADER.size).any():
            raise ValueError("a stored sketch is shorter than its header")
        buf = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))

        def ints(pos: np.ndarray, width: int, signed: bool = False) -> np.ndarray:
            out = np.zeros(pos.size, dtype=np.int64)
            for b in range(width):  # little endian
                out |= buf[pos + b].astype(np.int64) << (8 * b)
            if signed:
                out = np.where(out >= 1 << (8 * width - 1), out - (1 << (8 * width)), out)
            return out

        version, layout = buf[starts], buf[starts + 1]
        min_key, zeros = ints(starts + 2, 4, signed=True), ints(starts + 6, 4)
        if (version != _VERSION).any() or not np.isin(layout, list(_LAYOUTS)).all():
            raise ValueError("unknown sketch format among the stored sketches")
        keys_parts, count_parts = [], []
        for code, (sparse, dtype) in _LAYOUTS.items():
            sel = np.flatnonzero(layout == code)
            if not sel.size:
                continue
            width = np.dtype(dtype).itemsize
            body, size = starts[sel] + _HEADER.size, lengths[sel] - _HEADER.size
            n = size // (2 + width) if sparse else size // width
            owner = np.repeat(np.arange(sel.size), n)
            within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            if sparse:
                offsets = ints(body[owner] + 2 * within, 2)
                counts = ints(body[owner] + 2 * n[owner] + width * within, width)
            else:
                offsets, counts = within, ints(body[owner] + width * within, width)
            keys_parts.append(min_key[sel][owner] + offsets)
            count_parts.append(counts)
        keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, dtype=np.int64)
        counts = np.concatenate(count_parts) if count_parts else np.zeros(0, dtype=np.int64)
        keys, counts = keys[counts > 0], counts[counts > 0]
        total_zeros = int(zeros.sum())
        if not keys.size:
            return cls(0, np.zeros(0, dtype=np.int64), total_zeros) if total_zeros else None
        lo = int(keys.min())
        summed = np.bincount(keys - lo, weights=counts).round().astype(np.int64)
        return cls(lo, summed, total_zeros)

    # ------------------------------------------------------------ quantiles
    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 ≤ q ≤ 1), interpolated like ``np.percentile``; None if empty."""
        import numpy as np

        if not 0 <= q <= 1:
            raise ValueError(f"quantile: q must be within [0, 1], got {q!r}")
        n = self.n
        if n == 0:
            return None
        pos = q * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        cum = np.cumsum(self.counts)
        a, b, t = self._at_rank(lo, cum), self._at_rank(hi, cum), pos - lo
        # the same two-sided form as stats._describe._lerp_at (numpy's)
        return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t

    def _at_rank(self, rank: int, cum: np.ndarray) -> float:
        import numpy as np

        if rank < self.zeros:
            return 0.0
        index = int(np.searchsorted(cum, rank - self.zeros, side="right"))
        return float(_mapping().value(self.min_key + index))


def sketch_quantile(blobs: Sequence[bytes | None], q: float) -> float | None:
    """The q-quantile of everything the stored sketches ``blobs`` counted (None if nothing)."""
    merged = Sketch.merge(blobs)
    return None if merged is None else merged.quantile(q)
