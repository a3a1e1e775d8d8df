"""Tuning searches in an experiment: each one's best trial, set against the baseline run
where the same measurements exist.

A search keeps, for every trial, the per-case verdicts of a suite search and the
per-request values of a workload search's objective. So its best trial is compared with
the baseline by the same tests as a run: McNemar on the cases both have (an eval
baseline of the same suite, the search's model), or the median difference with its
bootstrap CI and Mann-Whitney U per context tier (a bench baseline, the search's model,
the metric the search optimised). Anything else is listed with the reason, never tested.
"""

from __future__ import annotations

from typing import Any

from llmbench_jupyter.analysis.experiments import (
    LATENCY,
    bench_values,
    eval_verdicts,
    latency_row,
    pass_row,
)


def member_rows(studies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The searches as rows of ``Experiment.runs()`` (kind ``tune``; never the baseline)."""
    return [{"run_id": s["study_id"], "kind": "tune", "name": s["name"],
             "created_at": s["created_at"], "status": s["status"], "baseline": False}
            for s in studies]  # fmt: skip


def _label(best: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted((best.get("params") or {}).items()))
    return f"best trial {best['number']}" + (f" ({params})" if params else " (the baseline's)")


def compare_study(store: Any, base: dict[str, Any], study: dict[str, Any], metric: str,
                  seed: int) -> list[dict[str, Any]]:  # fmt: skip
    """The search's best trial against the baseline run ``base`` on ``metric``."""
    from llmbench_jupyter.analysis.tune_result import load_tune

    result = load_tune(study["study_id"], store=store)
    study = result.study  # with its spec and suite
    row: dict[str, Any] = {"run_id": study["study_id"], "kind": "tune", "target": study["target"]}
    best = result.best
    if best is None:
        return [row | {"note": "the search has no complete trial"}]
    first = (study.get("objectives") or [None])[0]
    if first != metric:
        return [row | {"note": f"the search optimised {first}, not {metric}"}]
    label = _label(best)
    if metric == "pass_rate":
        return [_pass(store, base, study, best, row, label)]
    return _latency(store, base, study, best, row, label, metric, seed)


def _pass(store: Any, base: dict[str, Any], study: dict[str, Any], best: dict[str, Any],
          row: dict[str, Any], label: str) -> dict[str, Any]:  # fmt: skip
    from llmbench_jupyter.analysis.eval_history import load_eval

    baseline = load_eval(base["run_id"], store=store)
    if str(study.get("suite") or "").rsplit("@", 1)[0] != baseline.suite.name:  # name@version
        return row | {"note": f"{label}: another suite ({study.get('suite')}, the baseline "
                              f"ran {baseline.suite.name})"}  # fmt: skip
    mine = eval_verdicts(baseline).get(study["target"])
    if mine is None:
        return row | {"note": f"{label}: the baseline did not evaluate {study['target']}"}
    cases = {case: score >= 1.0 for case, score in (best.get("case_scores") or {}).items()}
    tested = pass_row(mine, cases)
    return row | tested | {"note": f"{label}; {tested['note']}"}


def _per_tier(study: dict[str, Any], best: dict[str, Any]) -> dict[int, list[float]] | None:
    """The best trial's per-request objective values by context tier (a request's step is
    its tier's position times the runs per tier plus its run index), or None."""
    workload = (study.get("spec") or {}).get("workload") or {}
    tiers, runs = list(workload.get("context_tiers") or []), int(workload.get("runs") or 0)
    if not tiers or runs < 1:
        return None
    per_tier: dict[int, list[float]] = {}
    for step, value in (best.get("intermediate") or {}).items():
        index = int(step) // runs
        if 0 <= index < len(tiers):
            per_tier.setdefault(int(tiers[index]), []).append(float(value))
    return per_tier


def _latency(store: Any, base: dict[str, Any], study: dict[str, Any], best: dict[str, Any],
             row: dict[str, Any], label: str, metric: str,
             seed: int) -> list[dict[str, Any]]:  # fmt: skip
    per_tier = _per_tier(study, best)
    if per_tier is None:
        return [row | {"note": f"{label}: the search kept no workload to split by tier"}]
    a = bench_values(store, base["run_id"], metric)
    out = []
    for tier in sorted(per_tier):
        here = row | {"context_tier": tier}
        if (study["target"], tier) not in a:
            out.append(here | {"note": f"{label}: not in the baseline"})
            continue
        out.append(here | latency_row(a[(study["target"], tier)], per_tier[tier], metric, seed)
                   | {"note": label})  # fmt: skip
    return out or [row | {"note": f"{label}: no successful request"}]


def best_values(store: Any, study: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    """The search's best trial as candidates of ``Experiment.best(metric)``: its value per
    context tier (workload searches) or overall (suite searches), if it measured it."""
    import statistics

    from llmbench_jupyter.analysis.tune_result import load_tune

    result = load_tune(study["study_id"], store=store)
    best = result.best
    if best is None:
        return []
    base = {"target": study["target"], "run_id": study["study_id"]}
    if metric == "pass_rate":
        value = (best.get("metrics") or {}).get("pass_rate")
        return [] if value is None else [base | {"value": value}]
    if metric not in LATENCY or (study.get("objectives") or [None])[0] != metric:
        return []
    per_tier = _per_tier(result.study, best) or {}
    return [base | {"context_tier": t, "value": statistics.median(v)}
            for t, v in sorted(per_tier.items())]  # fmt: skip
