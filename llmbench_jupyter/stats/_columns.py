"""Record columns and input checks shared by every statistic.

The statistics accept RequestRecords, plain dicts or a DataFrame; this module turns any of
them into named columns (missing fields take the RequestRecord default), cleans number
samples, and raises :class:`StatsInputError` saying what, where and what was expected.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import LIST_FIELDS, RECORD_FIELDS, RequestRecord

if TYPE_CHECKING:
    import numpy as np

METRICS = (
    "ttft_ms",
    "ttfat_ms",
    "e2e_ms",
    "tpot_ms",
    "decode_tps",
    "total_tps",
    "prefill_tps",
    "output_tokens",
    "input_tokens",
    "cost_usd",
)
GROUP_KEYS = ("provider", "model", "context_tier")
#: The statistics of :func:`describe`, in column order (``<metric>_<stat>`` in summaries).
STATS = (
    "mean",
    "sd",
    "min",
    "max",
    "p50",
    "p90",
    "p95",
    "p99",
    "cv",
    "iqr_outliers",
    "median_ci_low",
    "median_ci_high",
    "n",
)
#: Defaults used when a dict or DataFrame lacks a field (or holds None/NaN there).
_DEFAULTS: dict[str, Any] = {
    f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
    for f in dataclasses.fields(RequestRecord)
}
_INT_FIELD = {k: type(v) is int for k, v in _DEFAULTS.items()}


class StatsInputError(LLMBenchError, ValueError):
    """Input the statistics cannot use: says what, where and what was expected."""


def _check_n_boot(n_boot: int) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise StatsInputError(f"n_boot must be a positive integer, got {n_boot!r}")


def _clean(values: Any, where: str) -> np.ndarray:
    """1-d float array of ``values`` with None and NaN removed."""
    import numpy as np

    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        arr = values.ravel() if values.ndim == 1 else None
    else:
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise StatsInputError(f"{where}: expected a sequence of numbers, got {_kind(values)}")
        try:
            arr = np.asarray([v for v in values if v is not None], dtype=float)
        except (TypeError, ValueError) as exc:
            raise StatsInputError(f"{where}: expected numbers or None ({exc})") from None
    if arr is None or arr.ndim != 1:
        raise StatsInputError(f"{where}: expected a flat sequence of numbers")
    return arr[~np.isnan(arr)]


def _kind(value: Any) -> str:
    return type(value).__name__


# --------------------------------------------------------------------------- records


def _columns(records: Any, names: Sequence[str], where: str) -> dict[str, list[Any]]:
    """Pull the named fields out of records (RequestRecords, dicts or a DataFrame).

    Missing fields, None and NaN take the RequestRecord default, so a dict without
    ``status`` counts as ok and one without ``is_warmup`` as a measured request.
    """
    pd = sys.modules.get("pandas")  # no DataFrame exists unless pandas was imported
    is_frame = pd is not None and isinstance(records, pd.DataFrame)
    if is_frame:
        out_frame: dict[str, list[Any]] = {}
        for name in names:
            if name not in records.columns:
                out_frame[name] = [_DEFAULTS[name]] * len(records)
                continue
            col = records[name]
            values = col.tolist()
            if col.dtype == object or col.isna().any():
                values = [_or_default(v, name) for v in values]
            if _INT_FIELD.get(name) and col.dtype.kind == "f":
                # an int field read back as float because some rows lacked it
                values = [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]
            out_frame[name] = values
        return out_frame
    if isinstance(records, (RequestRecord, Mapping, str, bytes)) or not isinstance(
        records, Iterable
    ):
        raise StatsInputError(
            f"{where}: expected a list of RequestRecord or dict, or a DataFrame; "
            f"got {_kind(records)}"
        )
    out: dict[str, list[Any]] = {name: [] for name in names}
    for i, rec in enumerate(records):
        if isinstance(rec, RequestRecord):
            for name in names:
                out[name].append(getattr(rec, name))
        elif isinstance(rec, Mapping):
            for name in names:
                out[name].append(_or_default(rec.get(name), name))
        else:
            raise StatsInputError(
                f"{where}: records[{i}] is {_kind(rec)}; expected RequestRecord or dict"
            )
    return out


def _or_default(value: Any, name: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _DEFAULTS[name]
    if _is_missing_scalar(value):
        return _DEFAULTS[name]
    return value


def _is_missing_scalar(value: Any) -> bool:
    """pandas.NA / NaT / numpy NaN, without importing pandas for plain values."""
    if isinstance(value, (list, tuple, dict, str, int)):
        return False
    try:
        return bool(value != value)  # NaN-like
    except (TypeError, ValueError):
        return type(value).__name__ in ("NAType", "NaTType")


def _as_bool(value: Any, name: str, i: int) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no", ""):
            return False
        raise StatsInputError(f"{name} of record {i}: expected a boolean, got {value!r}")
    return bool(value)


def _group_key(value: Any) -> Any:
    """Hashable, plain-Python form of a group key value (numpy scalars unwrapped)."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (list, dict)):
        value = item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _float_column(values: list[Any], name: str) -> np.ndarray:
    import numpy as np

    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        for i, v in enumerate(values):
            try:
                float(v if v is not None else "nan")
            except (TypeError, ValueError):
                raise StatsInputError(
                    f"{name} of record {i}: expected a number or None, got {v!r}"
                ) from None
        raise


def _pool_lists(cells: Iterable[Any], name: str) -> np.ndarray:
    """Concatenate list cells (lists, arrays or JSON text) into one float array."""
    import numpy as np

    parts: list[Any] = []
    for cell in cells:
        if cell is None:
            continue
        if isinstance(cell, str):
            try:
                cell = json.loads(cell) if cell.strip() else []
            except json.JSONDecodeError:
                raise StatsInputError(f"{name}: expected a JSON list, got {cell[:40]!r}") from None
        if isinstance(cell, (int, float)) and not isinstance(cell, bool):
            if isinstance(cell, float) and math.isnan(cell):
                continue
            raise StatsInputError(f"{name}: expected a list of numbers, got {cell!r}")
        parts.append(cell)
    total = sum(len(p) for p in parts)
    try:
        arr = np.fromiter(
            (math.nan if v is None else v for v in itertools.chain.from_iterable(parts)),
            dtype=float,
            count=total,
        )
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"{name}: expected lists of numbers ({exc})") from None
    return arr[~np.isnan(arr)]


def _check_fields(names: Sequence[str], what: str, *, allow_lists: bool) -> tuple[str, ...]:
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    for name in names:
        if name not in RECORD_FIELDS:
            raise StatsInputError(
                f"{what}: unknown field {name!r}; expected RequestRecord fields "
                f"such as {', '.join(GROUP_KEYS + METRICS[:3])}"
            )
        if not allow_lists and name in LIST_FIELDS:
            raise StatsInputError(
                f"{what}: {name!r} holds lists; its pooled statistics are built in"
            )
    return names
