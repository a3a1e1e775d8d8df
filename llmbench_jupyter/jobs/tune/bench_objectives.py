"""What a search over a bench workload can optimise, each with one definition.

A bench trial is one benchmark run of the workload with the trial's parameters. Its
records are summarised by ``stats.summarize`` (successful, non-warm-up requests), and
each objective's trial value is that summary's median, with its bootstrap 95% interval:

- ``ttft_ms`` (minimise): time to the first token of any kind (reasoning included);
- ``ttfat_ms`` (minimise): time to the first answer token;
- ``e2e_ms`` (minimise): the whole request;
- ``tpot_ms`` (minimise): time per output token after the first;
- ``decode_tps`` (maximise): output tokens per second after the first token;
- ``cost_usd`` (minimise): the cost of a request at the target's price (unknown without
  one).

The per-request value (what the pruner compares, request by request) is the record's
field of the same name. Medians of failed requests do not exist, so a trial in which
more than ``MAX_ERROR_SHARE`` of the measured requests failed is a failed trial, never a
fast one: parameters that make slow requests time out must not win.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmbench_jupyter.core.pricing import Price
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.jobs.tune.objectives import Objective
from llmbench_jupyter.stats import summarize

#: A trial fails when more than this share of its measured requests failed.
MAX_ERROR_SHARE = 0.1


def _field(name: str) -> Any:
    def value(record: RequestRecord, price: Price | None) -> float | None:
        if record.status != "ok" or record.is_warmup:
            return None
        got = getattr(record, name)
        return None if got is None else float(got)

    return value


BENCH_OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("ttft_ms", "minimize", "median time to first token (ms)", _field("ttft_ms")),
        Objective("ttfat_ms", "minimize", "median time to first answer token (ms)",
                  _field("ttfat_ms")),
        Objective("e2e_ms", "minimize", "median end-to-end latency (ms)", _field("e2e_ms")),
        Objective("tpot_ms", "minimize", "median time per output token (ms)", _field("tpot_ms")),
        Objective("decode_tps", "maximize", "median decode speed (tokens/s)",
                  _field("decode_tps")),
        Objective("cost_usd", "minimize", "median cost of a request (USD)", _field("cost_usd")),
    )
}  # fmt: skip


def workload_metrics(records: Sequence[RequestRecord], planned: int) -> dict[str, Any]:
    """Every bench objective's trial value over ``records`` (one bench trial), with its
    interval, and the counts behind them; ``error`` says why the trial failed, if it did."""
    names = tuple(BENCH_OBJECTIVES)
    out: dict[str, Any] = {"planned": planned, "error": None}
    measured = [r for r in records if not r.is_warmup]
    if not measured:
        return out | {"requests": 0, "ok": 0, "errors": 0, "error": "no request finished"}
    extra = ("output_tokens", "reasoning_tokens")
    row = summarize(measured, by=(), metrics=names + extra, n_boot=500).iloc[0]
    out.update(requests=int(row["requests"]), ok=int(row["ok"]), errors=int(row["errors"]),
               error_categories=dict(row["error_categories"]))  # fmt: skip
    for name in names:
        out[name] = _number(row[f"{name}_p50"])
        out[f"{name}_ci_low"] = _number(row[f"{name}_median_ci_low"])
        out[f"{name}_ci_high"] = _number(row[f"{name}_median_ci_high"])
    out.update({name: _number(row[f"{name}_p50"]) for name in extra})
    if out["errors"] > MAX_ERROR_SHARE * out["requests"]:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(out["error_categories"].items()))
        out["error"] = (
            f"{out['errors']} of {out['requests']} requests failed ({kinds}); a trial may "
            f"lose at most {MAX_ERROR_SHARE:.0%}"
        )
    return out


def _number(value: Any) -> float | None:
    try:
        got = float(value)
    except (TypeError, ValueError):
        return None
    return None if got != got else got  # NaN: no value
