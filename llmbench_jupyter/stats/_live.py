"""Live medians, kept up to date one record at a time while a job runs.

A progress tick (10 a second) must not cost more as the run grows: recomputing medians
over every record so far made a tick O(records) on the loop that stamps chunks, ~2 ms at
a few hundred records and far more in a long run. Here each record is added once (its
values inserted into sorted lists, a memmove), and a tick reads the middle of each list.
The final figures still come from :func:`stats.summarize`; these are the same medians
(the stdlib's definition: the mean of the two middle values of an even count) over the
same records: successful, measured (not warm-up), NaN left out as the summary does.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Sequence
from typing import Any

from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.stats._columns import GROUP_KEYS

#: Metrics shown live while a job runs (medians only).
LIVE_METRICS = ("ttft_ms", "decode_tps", "tpot_ms", "e2e_ms")


def _median(values: list[float]) -> float | None:
    n = len(values)
    if not n:
        return None
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2


class _Group:
    __slots__ = ("key", "n", "ok", "values")

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key
        self.n = 0
        self.ok = 0
        self.values: dict[str, list[float]] = {m: [] for m in LIVE_METRICS}


class LiveMedians:
    """Per-group counts and medians of :data:`LIVE_METRICS`; :meth:`add` each record once."""

    def __init__(self, by: Sequence[str] = GROUP_KEYS) -> None:
        self.by = tuple(by)
        self._groups: dict[tuple[Any, ...], _Group] = {}

    def add(self, record: RequestRecord) -> None:
        if record.is_warmup:
            return
        key = tuple(getattr(record, k) for k in self.by)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key)
        group.n += 1
        if record.status != "ok":
            return
        group.ok += 1
        for metric, values in group.values.items():
            value = getattr(record, metric)
            if value is not None and value == value:  # NaN is left out, as in the summary
                insort(values, value)

    def extend(self, records: Iterable[RequestRecord]) -> LiveMedians:
        for record in records:
            self.add(record)
        return self

    def rows(self) -> list[dict[str, Any]]:
        """One row per group, in first-seen order: the group keys, ``n``, ``ok``,
        ``errors`` and ``<metric>_p50`` (None without a value)."""
        out = []
        for group in self._groups.values():
            row: dict[str, Any] = dict(zip(self.by, group.key, strict=True))
            row.update(n=group.n, ok=group.ok, errors=group.n - group.ok)
            for metric, values in group.values.items():
                row[f"{metric}_p50"] = _median(values)
            out.append(row)
        return out


def live_medians(
    records: Sequence[RequestRecord], by: Sequence[str] = GROUP_KEYS
) -> list[dict[str, Any]]:
    """:meth:`LiveMedians.rows` over ``records`` at once."""
    return LiveMedians(by).extend(records).rows()
