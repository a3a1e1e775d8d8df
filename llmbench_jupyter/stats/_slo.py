"""Service-level objectives over one load step: tail latency, error rate, goodput, verdicts.

An SLO says "p99 TTFT ≤ X ms, p99 TPOT ≤ Y ms, error rate ≤ Z". Whether a step of a load
sweep meets it is decided with a stated confidence, distribution-free: "p99 ≤ X" is the
same claim as "P(latency > X) ≤ 1 %", and the number of requests over X out of n is
binomial whatever the latency distribution. A one-sided Clopper–Pearson bound on that
probability decides: *pass* when the upper bound is ≤ 1 %, *fail* when the lower bound is
above it, otherwise *undecided* (more requests would tell). The error rate is decided the
same way against Z. A failed request counts as over every latency threshold (it never
delivered within it). Definitions are in docs/metrics.md ("Load sweeps and SLOs").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from llmbench_jupyter.stats._columns import StatsInputError, _as_bool, _columns, _float_column
from llmbench_jupyter.stats._latency import aggregate_throughput

PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"
#: SLO field -> the record field it bounds (None: the error rate, not a latency).
SLO_FIELDS = {"ttft_ms": "ttft_ms", "tpot_ms": "tpot_ms", "error_rate": None}
_ALIASES = {"ttft": "ttft_ms", "tpot": "tpot_ms", "errors": "error_rate", "error": "error_rate"}


@dataclass(frozen=True)
class SLO:
    """Latency and error targets: ``quantile`` (default p99) of TTFT and TPOT in ms, the
    error rate as a fraction. Unset targets are not checked; at least one must be set."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    error_rate: float | None = None
    quantile: float = 0.99

    def __post_init__(self) -> None:
        for name in ("ttft_ms", "tpot_ms"):
            value = getattr(self, name)
            if value is not None and (not _real(value) or not 0 < value < math.inf):
                raise StatsInputError(
                    f"SLO {name}: found {value!r}, expected milliseconds > 0 (p99 {name} ≤ it)"
                )
        e = self.error_rate
        if e is not None and (not _real(e) or not 0 <= e < 1):
            raise StatsInputError(
                f"SLO error_rate: found {e!r}, expected a fraction from 0 to below 1 (0.01 = 1 %)"
            )
        if not _real(self.quantile) or not 0.5 <= self.quantile < 1:
            raise StatsInputError(
                f"SLO quantile: found {self.quantile!r}, expected 0.5 to below 1 (0.99 = p99)"
            )
        if self.ttft_ms is None and self.tpot_ms is None and self.error_rate is None:
            raise StatsInputError(
                "SLO: none given; set at least one of ttft_ms, tpot_ms, error_rate "
                "(e.g. 'ttft_ms=500,tpot_ms=50,error_rate=0.01')"
            )

    @classmethod
    def parse(cls, value: SLO | Mapping[str, Any] | str) -> SLO:
        """An SLO from itself, a mapping or text such as ``ttft_ms=500,tpot=50,errors=0.01``."""
        if isinstance(value, SLO):
            return value
        if isinstance(value, str):
            items: dict[str, Any] = {}
            for part in filter(None, (p.strip() for p in value.split(","))):
                key, sep, raw = part.partition("=")
                if not sep:
                    raise StatsInputError(f"SLO item {part!r}: expected key=value")
                try:
                    items[key.strip()] = float(raw.strip().removesuffix("ms").removesuffix("%"))
                except ValueError:
                    raise StatsInputError(
                        f"SLO item {part!r}: {raw.strip()!r} is not a number"
                    ) from None
                if raw.strip().endswith("%"):
                    items[key.strip()] /= 100
            value = items
        if not isinstance(value, Mapping):
            raise StatsInputError(
                f"SLO: expected a mapping or text like 'ttft_ms=500,tpot_ms=50,error_rate=0.01', "
                f"got {type(value).__name__}"
            )
        fields = {_ALIASES.get(k, k): v for k, v in value.items()}
        unknown = sorted(set(fields) - {*SLO_FIELDS, "quantile"})
        if unknown:
            raise StatsInputError(
                f"SLO: unknown key(s) {', '.join(unknown)}; expected ttft_ms, tpot_ms, "
                "error_rate, quantile"
            )
        return cls(**fields)

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        q = f"p{self.quantile * 100:g}"
        parts = [f"{q} TTFT ≤ {self.ttft_ms:g} ms"] if self.ttft_ms is not None else []
        if self.tpot_ms is not None:
            parts.append(f"{q} TPOT ≤ {self.tpot_ms:g} ms")
        if self.error_rate is not None:
            parts.append(f"errors ≤ {self.error_rate:.2%}")
        return ", ".join(parts)


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def exceedance_bounds(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """One-sided Clopper–Pearson bounds on a probability from ``k`` events in ``n`` trials:
    (lower, upper), each holding with ``confidence`` on its own."""
    from scipy.stats import beta

    if not 0.5 <= confidence < 1:
        raise StatsInputError(f"confidence: found {confidence!r}, expected 0.5 to below 1")
    if n < 0 or not 0 <= k <= n:
        raise StatsInputError(f"exceedance_bounds: need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    lower = 0.0 if k == 0 else float(beta.ppf(1 - confidence, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(confidence, k + 1, n - k))
    return lower, upper


def exceedance_decision(k: int, n: int, limit: float, confidence: float = 0.95) -> dict[str, Any]:
    """Is P(event) ≤ ``limit``? pass / fail / undecided from ``k`` of ``n``, with its bounds.

    ``limit`` 0 (no errors allowed) has no bound below it: any event fails, none passes.
    """
    lower, upper = exceedance_bounds(k, n, confidence)
    if limit <= 0:
        verdict = FAIL if k else (PASS if n else UNDECIDED)
    else:
        verdict = PASS if upper <= limit else FAIL if lower > limit else UNDECIDED
    return {"k": k, "n": n, "lower": lower, "upper": upper, "decision": verdict}


def min_requests_to_pass(limit: float, confidence: float = 0.95) -> int:
    """Fewest requests with no exceedance that can pass ``P ≤ limit`` (299 for 1 %, 95 %)."""
    if not 0 < limit < 1:
        raise StatsInputError(f"limit: found {limit!r}, expected a fraction in (0, 1)")
    return math.ceil(math.log(1 - confidence) / math.log(1 - limit))


def slo_check(records: Any, slo: SLO | Mapping[str, Any] | str | None,
              confidence: float = 0.95, *, by_run: bool = True) -> dict[str, Any]:  # fmt: skip
    """One load step against an SLO: percentiles, error rate, goodput and the verdicts.

    Over measured (non-warm-up) requests. Returns ``n``, ``errors``, ``error_rate``,
    ``ttft_ms_p50/p99``, ``tpot_ms_p50/p99``, ``e2e_ms_p50/p99`` (successful requests),
    per SLO field ``<field>_exceed`` with its ``_lower``/``_upper`` bound and
    ``_decision``, the overall ``decision`` (fail if any fails, pass if all pass),
    ``good`` (requests meeting every target) and ``goodput_rps`` = good / ``duration_s``
    (first intended send to last end; with ``by_run``, the sum of each run's window, so
    batches run one after another do not count the time between them),
    ``throughput_rps`` the same for every success.
    Without an SLO: the percentiles and throughput only (decision and goodput None).
    """
    import numpy as np

    slo = SLO.parse(slo) if slo is not None else None
    quantile = slo.quantile if slo is not None else 0.99
    names = ("status", "is_warmup", "ttft_ms", "tpot_ms", "e2e_ms")
    cols = _columns(records, names, "slo_check")
    measured = np.array(
        [not _as_bool(w, "is_warmup", i) for i, w in enumerate(cols["is_warmup"])], dtype=bool
    )
    ok = np.array([s == "ok" for s in cols["status"]], dtype=bool)[measured]
    values = {n: _float_column(cols[n], n)[measured] for n in ("ttft_ms", "tpot_ms", "e2e_ms")}
    n = int(measured.sum())
    out: dict[str, Any] = {"n": n, "errors": int(n - ok.sum()),
                           "error_rate": float(1 - ok.mean()) if n else None}  # fmt: skip
    for name, x in values.items():
        good_x = x[ok & ~np.isnan(x)]
        p50, p99 = np.percentile(good_x, [50, 100 * quantile]) if good_x.size else (None,) * 2
        out[f"{name}_p50"] = None if p50 is None else float(p50)
        out[f"{name}_p99"] = None if p99 is None else float(p99)
    meets = ok.copy()
    verdicts = []
    for field, source in SLO_FIELDS.items() if slo is not None else ():
        limit = getattr(slo, field)
        if limit is None:
            continue
        if source is None:
            found = exceedance_decision(out["errors"], n, limit, confidence)
        else:
            x = values[source]
            # unknown TPOT (one output token) has no decode to judge; unknown TTFT on a
            # success never delivered a token: over
            over = ~ok | (x > limit) | (np.isnan(x) & (source == "ttft_ms"))
            meets &= ~over
            found = exceedance_decision(int(over.sum()), n, 1 - quantile, confidence)
        for key, value in (("exceed", found["k"]), ("lower", found["lower"]),
                           ("upper", found["upper"]), ("decision", found["decision"])):  # fmt: skip
            out[f"{field}_{key}"] = value
        verdicts.append(found["decision"])
    out["decision"] = (
        None if slo is None else FAIL if FAIL in verdicts else UNDECIDED if UNDECIDED in verdicts
        else PASS
    )  # fmt: skip
    duration = _duration_s(records, by_run)
    out["duration_s"] = duration
    out["good"] = int(meets.sum())
    out["goodput_rps"] = out["good"] / duration if duration and slo is not None else None
    out["throughput_rps"] = int(ok.sum()) / duration if duration else None
    return out


def _duration_s(records: Any, by_run: bool) -> float | None:
    """The measured window (``aggregate_throughput``), summed over runs when ``by_run``."""
    runs = _columns(records, ("run_id",), "slo_check")["run_id"] if by_run else []
    if len(set(runs)) <= 1:
        found: float | None = aggregate_throughput(records)["duration_s"]
        return found
    import pandas as pd

    frame = records if isinstance(records, pd.DataFrame) else None
    total = 0.0
    for run in dict.fromkeys(runs):
        part = (frame[frame["run_id"] == run] if frame is not None
                else [r for r, rid in zip(records, runs, strict=True) if rid == run])  # fmt: skip
        window = aggregate_throughput(part)["duration_s"]
        total += window or 0.0
    return total or None
