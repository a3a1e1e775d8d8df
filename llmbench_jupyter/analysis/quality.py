"""Quality beside speed and cost: each model's pass rate on one suite, for the leaderboard.

A pass rate means something only on a given suite (suites differ in difficulty), so the
leaderboard joins one suite's results, named by the caller. Each model gets its newest
finished eval run of that suite (in the window, when there is one): its pass rate with
the Wilson 95% interval stored with the run, its run id and date. Pooling several runs
of the same cases would count each case many times and make the interval too narrow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError

QUALITY_COLUMNS = ("pass_rate", "pass_ci_low", "pass_ci_high", "eval_cases", "eval_run",
                   "eval_at")  # fmt: skip


def _suite_name(spec: dict[str, Any]) -> str | None:
    suite = spec.get("suite")
    return suite.get("name") if isinstance(suite, dict) else suite


def quality_by_target(db: Any, suite: str, since: datetime | None, all_owners: bool,
                      include_published: bool) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``{provider/model: quality columns}`` from the newest eval run of ``suite``."""
    from llmbench_jupyter.analysis.eval_history import _summary_fields

    if not isinstance(suite, str) or not suite:
        raise LLMBenchError(f"leaderboard(quality=...): expected a suite name, got {suite!r}")
    out: dict[str, dict[str, Any]] = {}
    seen_suite = False
    names: set[str] = set()
    runs = db.list_runs(limit=10_000, all_owners=all_owners, include_published=include_published)
    for run in runs:  # newest first
        if run["kind"] != "eval" or run["status"] != "done":
            continue
        name = _suite_name(run["spec"] or {})
        names.add(str(name))
        if name != suite:
            continue
        seen_suite = True
        created = run["created_at"]
        if created.tzinfo is None:  # SQLite gives naive UTC
            created = created.replace(tzinfo=UTC)
        if since is not None and created < since:
            continue
        for target, summary in (run.get("summary") or {}).items():
            if target in out:
                continue
            f = _summary_fields(summary)
            out[target] = {
                "pass_rate": f.get("pass_rate"), "pass_ci_low": f.get("pass_ci_low"),
                "pass_ci_high": f.get("pass_ci_high"), "eval_cases": f.get("cases"),
                "eval_run": run["run_id"], "eval_at": run["created_at"],
            }  # fmt: skip
    if not seen_suite:
        raise LLMBenchError(
            f"leaderboard(quality={suite!r}): no finished eval run of a suite named {suite!r}"
            f" (suites with runs: {', '.join(sorted(names)) or 'none'})"
        )
    return out
