"""The text report of ``timing_accuracy.py``: the figures table, ratios and PASS/FAIL.

Turns the measured figures into lines and target checks; measures nothing itself.
"""

from __future__ import annotations

import math
from typing import Any

from _timing_clients import CLI_ROW, CLIENTS


def _fmt(value: Any, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, spec)


def _get(figures: dict[str, Any], section: str, client: str, streams: int, key: str) -> Any:
    return figures[section].get(client, {}).get(str(streams), {}).get(key)


def report(figures: dict[str, Any], plan: dict[str, Any]) -> list[str]:
    acc_streams = [s for s, _ in plan["accuracy"]]
    all_streams = sorted({*acc_streams, *plan["cpu_streams"]})
    header = (
        f"{'client':<14}{'streams':>8}{'reqs':>6}{'TTFT err p50':>14}{'p99':>9}"
        f"{'|ITL err| p99':>15}{'role=TTFT':>11}{'CPU µs/chunk':>14}{'chunks/s':>11}"
    )
    lines = [
        "",
        "Timing error = client arrival stamp − server send stamp (ms); "
        "CPU = client process time / content chunks",
        "",
        header,
        "-" * len(header),
    ]
    for client in (*CLIENTS, CLI_ROW):
        for s in all_streams:
            acc = figures["accuracy"].get(client, {}).get(str(s))
            cpu = figures["cpu"].get(client, {}).get(str(s))
            if acc is None and cpu is None:
                continue
            acc = acc or {}
            cpu = cpu or {}
            role = acc.get("role_as_ttft")
            lines.append(
                f"{client:<14}{s:>8}{_fmt(acc.get('requests'), 'd'):>6}"
                f"{_fmt(acc.get('ttft_err_p50_ms')):>14}{_fmt(acc.get('ttft_err_p99_ms')):>9}"
                f"{_fmt(acc.get('itl_abs_err_p99_ms')):>15}{_fmt(role, 'd'):>11}"
                f"{_fmt(cpu.get('us_per_chunk'), '.1f'):>14}"
                f"{_fmt(cpu.get('chunks_per_s'), ',.0f'):>11}"
            )
    notes = []
    for client, by_s in figures["accuracy"].items():
        for s, acc in by_s.items():
            if acc["role_chunk_sent"] != acc["requests"] - acc["failed"]:
                notes.append(
                    f"{client} @ {s}: the sim sent a role chunk first in only "
                    f"{acc['role_chunk_sent']} requests"
                )
            if acc["failed"] or acc["chunk_count_mismatch"]:
                notes.append(
                    f"{client} @ {s}: {acc['failed']} failed, "
                    f"{acc['chunk_count_mismatch']} with a chunk count unlike the "
                    "server's"
                )
    for client, by_s in figures["cpu"].items():
        out = next(iter(by_s.values()))["out"]
        notes.append(f"{client} CPU runs: {out} content chunks per request")
    lines += ["", *[f"  note: {n}" for n in notes]]
    for what, err in figures["errors"].items():
        lines.append(f"  ERROR {what}: {err}")
    return lines


def verdicts(
    figures: dict[str, Any], plan: dict[str, Any]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Ratios against the bare client of this run, and PASS/FAIL for each target."""
    bare, core, lite = CLIENTS
    lines = ["", "Ratios (same run)"]
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float | None, limit: float | None, ok: bool | None) -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        checks.append({"target": name, "value": value, "limit": limit, "verdict": verdict})

    for s in plan["cpu_streams"]:
        b, c = (_get(figures, "cpu", x, s, "us_per_chunk") for x in (bare, core))
        li = _get(figures, "cpu", lite, s, "us_per_chunk")
        r1 = c / b if b and c else None
        r2 = li / c if li and c else None
        lines.append(
            f"  {s} stream(s): llmbench CPU / bare = {_fmt(r1)}×, "
            f"litellm CPU / llmbench = {_fmt(r2, '.1f')}×"
        )
        check(
            f"llmbench CPU/chunk ≤ 2× bare ({s} stream(s))",
            r1,
            2.0,
            None if r1 is None else r1 <= 2.0,
        )
        check(
            f"litellm CPU/chunk ≥ 10× llmbench ({s} stream(s))",
            r2,
            10.0,
            None if r2 is None else r2 >= 10.0,
        )
    p99 = _get(figures, "accuracy", core, 1, "ttft_err_p99_ms")
    check(
        "llmbench TTFT error p99 ≤ 3 ms at 1 stream", p99, 3.0, None if p99 is None else p99 <= 3.0
    )
    for s in (s for s, _ in plan["accuracy"] if 32 <= s <= 64):
        b99 = _get(figures, "accuracy", bare, s, "ttft_err_p99_ms")
        c99 = _get(figures, "accuracy", core, s, "ttft_err_p99_ms")
        limit = 1.5 * b99 + 2.0 if b99 is not None else None
        lines.append(
            f"  {s} streams: llmbench TTFT p99 {_fmt(c99)} ms vs 1.5×bare+2 = "
            f"{_fmt(limit)} ms (bare p99 {_fmt(b99)} ms)"
        )
        check(
            f"llmbench TTFT p99 ≤ 1.5×bare p99 + 2 ms at {s} streams",
            c99,
            limit,
            None if c99 is None or limit is None else c99 <= limit,
        )
    role = {
        c: sum(a["role_as_ttft"] for a in by_s.values()) for c, by_s in figures["accuracy"].items()
    }
    check(
        "no client takes TTFT at the role chunk (llmbench core and CLI)",
        role.get(core, 0) + role.get(CLI_ROW, 0) if core in role else None,
        0,
        None if core not in role else role.get(core, 0) + role.get(CLI_ROW, 0) == 0,
    )
    lines.append(
        "  requests timed at the role chunk: " + ", ".join(f"{c} {n}" for c, n in role.items())
    )
    lines += ["", "Targets"]
    for c in checks:
        value = _fmt(c["value"]) if isinstance(c["value"], float) else _fmt(c["value"], "")
        lines.append(
            f"  {c['verdict']:<5} {c['target']}  (measured {value}"
            + (f", limit {_fmt(float(c['limit']))})" if c["limit"] is not None else ")")
        )
    return lines, checks


def _no_nan(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is saved as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value
