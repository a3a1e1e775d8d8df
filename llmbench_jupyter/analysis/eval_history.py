"""Eval runs back from the store: one run as an :class:`EvalResult`, or the list of them.

Stored ``eval_results`` rows (the columns :func:`.eval_result.case_row` writes) and judge
calls become case runs and judgements again; :func:`eval_history` reads only the score
summary each run stored when it finished.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmbench_jupyter.analysis.eval_result import EvalResult, _with_target
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import CaseScore

if TYPE_CHECKING:
    import pandas as pd


def score_from_dict(data: dict[str, Any]) -> CaseScore:
    """A stored ``CaseScore.to_dict()`` back as a CaseScore."""
    fields = {k: v for k, v in data.items() if k in CaseScore.__dataclass_fields__}
    fields["pairs"] = [(int(e), int(a), dict(v)) for e, a, v in data.get("pairs") or []]
    return CaseScore(**fields)


def run_from_row(row: dict[str, Any]) -> CaseRun:
    """A stored ``eval_results`` row back as a CaseRun."""
    return CaseRun(
        provider=row["provider"],
        model=row["model"],
        case_id=row["case_id"],
        category=row["category"],
        attempt=int(row["attempt"]),
        score=score_from_dict(row["score"]),
        calls=list(row["calls"] or []),
        transcript=list(row["transcript"] or []),
        latency_ms=row.get("latency_ms"),
        error=row.get("error"),
        final_state=row.get("final_state"),
        error_category=row.get("error_category"),
    )


def load_eval(run_id: str, store: Any = None, owner: str | None = None) -> EvalResult:
    """An eval run back from the store (suite, case attempts and judge calls).

    ``run_id`` may be a unique prefix of one of ``owner``'s runs (default: you).
    """
    from llmbench_jupyter.store import open_store

    db = store or open_store()
    run = db.get_run(run_id, owner=owner)
    if run["kind"] != "eval":
        raise LLMBenchError(f"run {run['run_id']} is a {run['kind']} run, not an eval")
    spec = run["spec"]
    suite = db.get_suite(spec["suite_id"])
    runs = [run_from_row(r) for r in db.eval_results(run["run_id"])]
    judgements = [_with_target(j) for j in db.judgements(run["run_id"], kind="case")]
    return EvalResult(
        run_id=run["run_id"],
        suite=suite,
        targets=list(spec["targets"]),
        runs=runs,
        mode=spec.get("mode", "default"),
        k=int(spec.get("k", 1)),
        status=run["status"],
        judgements=judgements + [_with_target(j) for j in db.judgements(run["run_id"], "report")],
        store=db,
    )


EVAL_HISTORY_COLUMNS = (
    "run_id", "created_at", "name", "status", "owner", "suite", "suite_version", "mode", "k",
    "target", "attempts", "cases", "passed", "pass_rate", "pass_ci_low", "pass_ci_high",
    "macro_rate",
)  # fmt: skip


def _summary_fields(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored per-target summary under the names of ``SUMMARY_FIELDS``. Runs stored
    before those names kept ``SuiteScore.to_dict()``, where ``n_cases`` counted attempts
    and the pass rate was ``micro``: read them under today's names."""
    if "pass_rate" in stored:
        return stored
    micro, macro = stored.get("micro") or {}, stored.get("macro") or {}
    return {
        "attempts": stored.get("n_attempts", stored.get("n_cases")),
        "cases": micro.get("n_cases"),
        "passed": stored.get("n_passed"),
        "pass_rate": micro.get("rate"),
        "pass_ci_low": micro.get("ci_low"),
        "pass_ci_high": micro.get("ci_high"),
        "macro_rate": macro.get("rate"),
    }


def eval_history(
    limit: int = 50, all_owners: bool = False, store: Any = None, full: bool = False
) -> pd.DataFrame:
    """Stored eval runs, newest first: one row per run and target with its pass rate and CI.

    The numbers are the run's stored summary (``SUMMARY_FIELDS``, computed when it
    finished). Default: rates rounded to 0.001; ``full=True``: full precision.
    """
    import pandas as pd

    from llmbench_jupyter.store import open_store

    db = store or open_store()
    rows = []
    for run in db.list_runs(limit=limit * 4, all_owners=all_owners):
        if run["kind"] != "eval":
            continue
        spec = run["spec"] or {}
        for target, s in (run.get("summary") or {}).items():
            f = _summary_fields(s)
            rows.append(
                {
                    "run_id": run["run_id"],
                    "created_at": run["created_at"],
                    "name": run["name"],
                    "status": run["status"],
                    "owner": run["owner"],
                    "suite": spec.get("suite"),
                    "suite_version": spec.get("suite_version"),
                    "mode": spec.get("mode"),
                    "k": spec.get("k"),
                    "target": target,
                    **{k: f.get(k) for k in EVAL_HISTORY_COLUMNS[10:]},
                }
            )
        if len({r["run_id"] for r in rows}) >= limit:
            break
    df = pd.DataFrame(rows, columns=list(EVAL_HISTORY_COLUMNS))
    if full:
        return df
    from llmbench_jupyter.analysis.display import round_frame

    df["name"] = df["name"].fillna("")
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True).dt.floor("s")
    return round_frame(df)
