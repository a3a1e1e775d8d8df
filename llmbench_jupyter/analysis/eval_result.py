"""The outcome of an eval run: case runs, judge calls and every aggregate, for any surface.

Rows here are the ``eval_results`` columns (one mapping function, :func:`case_row`, feeds
the store, DataFrames and exports alike). Every number comes from ``scoring.score_suite``
or ``stats``; this module only arranges them. Loading runs back from the store is in
:mod:`.eval_history`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.analysis.display import fmt_pct, fmt_rate_ci
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.redact import redact_url
from llmbench_jupyter.evals.model import ExpectedCall, Suite
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.evals.scoring import (
    SuiteScore,
    describe,
    score_suite,
    summary_fields,
)

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from llmbench_jupyter.core.targets import Target
    from llmbench_jupyter.evals.judge import PairwiseReport

#: Columns of :meth:`EvalResult.to_pandas`: the store's ``eval_results`` columns minus
#: the store's own bookkeeping (ids, owner, completion order).
ROW_COLUMNS = (
    "run_id",
    "provider",
    "model",
    "case_id",
    "category",
    "attempt",
    "passed",
    "outcome",
    "error_type",
    "tool_f1",
    "argument_accuracy",
    "latency_ms",
    "error",
    "error_category",
    "score",
    "calls",
    "transcript",
    "final_state",
)


def case_row(run: CaseRun, run_id: str | None = None) -> dict[str, Any]:
    """One case attempt as an ``eval_results`` row (without store bookkeeping)."""
    s = run.score
    return {
        "run_id": run_id,
        "provider": run.provider,
        "model": run.model,
        "case_id": run.case_id,
        "category": run.category,
        "attempt": run.attempt,
        "passed": s.passed,
        "outcome": s.outcome,
        "error_type": s.error_type,
        "tool_f1": s.tool_f1,
        "argument_accuracy": s.argument_accuracy,
        "latency_ms": run.latency_ms,
        "error": run.error,
        "error_category": run.error_category,
        "score": s.to_dict(),
        "calls": list(run.calls),
        "transcript": list(run.transcript),
        "final_state": run.final_state,
    }


# --------------------------------------------------------------------- case table text
def expected_lines(expected: list[ExpectedCall]) -> list[str]:
    """One line per expected call, e.g. ``get_weather(city: text 'paris', unit?)``."""
    out = []
    for call in expected:
        args = []
        for name, m in call.params.items():
            if m.kind in ("optional", "any") or (m.optional and m.kind == "any"):
                args.append(f"{name}?" if m.kind == "optional" or m.optional else f"{name}: any")
            else:
                args.append(f"{name}{'?' if m.optional else ''}: {describe(m)}")
        names = " | ".join([call.name, *call.alternatives])
        out.append(f"{names}({', '.join(args)})")
    return out


def call_lines(calls: list[dict[str, Any]]) -> list[str]:
    """One line per call the model made; unparseable arguments shown raw."""
    out = []
    for c in calls:
        args = c.get("arguments")
        if args is None:
            raw = str(c.get("raw_arguments", ""))[:200]
            out.append(f"{c.get('name') or '(no name)'}(<unparseable: {raw}>)")
        else:
            inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
            out.append(f"{c.get('name')}({inner})")
    return out


def table_row(suite: Suite, run: CaseRun, judge: dict[str, Any] | None = None) -> dict[str, Any]:
    """A case-table row for the widget (the contract in kernel/eval_widget.py)."""
    case = next((c for c in suite.cases if c.id == run.case_id), None)
    return {
        "target": f"{run.provider}/{run.model}",
        "case_id": run.case_id,
        "category": run.category,
        "attempt": run.attempt,
        "passed": run.score.passed,
        "outcome": run.score.outcome,
        "error_type": run.score.error_type,
        "expected": expected_lines(case.expected) if case else [],
        "actual": call_lines(run.calls),
        "explanation": " ".join(run.score.explanation)[:400],
        "judge": judge,
    }


def judge_cell(judgement: dict[str, Any]) -> dict[str, Any]:
    parsed = judgement.get("parsed") or {}
    return {
        "status": judgement.get("status"),
        "score": parsed.get("score"),
        "passed": parsed.get("passed"),
    }


# --------------------------------------------------------------------------- result
@dataclass
class EvalResult:
    """Everything an eval produced. ``runs`` are case attempts in completion order."""

    run_id: str | None
    suite: Suite
    targets: list[str]
    runs: list[CaseRun]
    mode: str = "default"
    k: int = 1
    status: str = "done"
    judgements: list[dict[str, Any]] = field(default_factory=list)
    #: The store the run is in (None: not stored). Judge calls made later are saved
    #: there, never in whatever the default store happens to be.
    store: Any = field(default=None, repr=False, compare=False)

    @staticmethod
    def _require_reached(judge: Target, rows: list[dict[str, Any]]) -> None:
        """Every call failed to reach the judge: say so, rather than keep silent failures."""
        if rows and all(r.get("status") == "api_error" for r in rows):
            from llmbench_jupyter.evals.judge import JudgeError

            raise JudgeError(
                f"judge {judge.key} could not be used: all {len(rows)} calls failed, the "
                f"first with {rows[0].get('error')}; is its endpoint "
                f"({redact_url(judge.api_base)}) running?"
            )

    def _save_judgements(self, rows: list[dict[str, Any]], other_run_id: str | None = None) -> None:
        if not self.run_id:
            return
        store = self.store
        if store is None:
            from llmbench_jupyter.store import open_store

            store = open_store()
        store.add_judgements(self.run_id, rows, other_run_id=other_run_id)

    # ------------------------------------------------------------- aggregates
    @property
    def categories(self) -> list[str]:
        return sorted({c.category for c in self.suite.cases})

    def _mine(self, target: str) -> list[CaseRun]:
        return [r for r in self.runs if f"{r.provider}/{r.model}" == target]

    def scores(self) -> dict[str, SuiteScore]:
        """``score_suite`` per target (all attempts count: micro over case attempts)."""
        return {
            t: score_suite([r.score for r in self._mine(t)], self.categories) for t in self.targets
        }

    def judge_mean(self, target: str) -> float | None:
        """Mean judge score (1–10) over this target's valid case judgements, None if none."""
        from llmbench_jupyter.stats import judge_mean

        return judge_mean(self.judgements, target)

    def repeats(self, target: str) -> dict[str, Any] | None:
        """pass@k, pass^k and flip rate for ``target`` (None when k == 1)."""
        if self.k < 2:
            return None
        from llmbench_jupyter.stats import repeat_rates

        verdicts: dict[str, list[bool]] = {}
        for r in self._mine(target):
            verdicts.setdefault(r.case_id, []).append(r.score.passed)
        complete = {c: v for c, v in verdicts.items() if len(v) == self.k}
        return repeat_rates(complete) if complete else None

    def summary(self, full: bool = False) -> pd.DataFrame:
        """One row per target: :data:`SUMMARY_FIELDS`, judge mean and repeats (k > 1).

        Default: the compact view (columns that hold a value in some row, rates to 3
        decimals); ``full=True``: every column at full precision.
        """
        import pandas as pd

        rows = []
        for target, s in self.scores().items():
            row: dict[str, Any] = {"target": target, **summary_fields(s)}
            row["judge_mean"] = self.judge_mean(target)
            rep = self.repeats(target)
            if rep is not None:
                for key in ("pass_at_k", "pass_hat_k", "flip_rate"):
                    row[key] = rep[key]["rate"]
            rows.append(row)
        df = pd.DataFrame(rows)
        if full or df.empty:
            return df
        from llmbench_jupyter.analysis.display import compact_frame

        return compact_frame(df, keep=("target", "attempts", "cases", "passed", "pass_rate"))

    def by_category(self) -> pd.DataFrame:
        """Pass rate per target (rows) and category (columns); NaN where a category did not run."""
        import pandas as pd

        data = {
            t: {c: (r.rate if r is not None else None) for c, r in s.categories.items()}
            for t, s in self.scores().items()
        }
        return pd.DataFrame.from_dict(data, orient="index", columns=self.categories, dtype=float)

    def to_pandas(self) -> pd.DataFrame:
        """One row per case attempt; columns are :data:`ROW_COLUMNS` (the store's names)."""
        import pandas as pd

        return pd.DataFrame(
            [case_row(r, self.run_id) for r in self.runs], columns=list(ROW_COLUMNS)
        )

    def failures(self) -> pd.DataFrame:
        """The failed attempts with their error type and explanation."""
        df = self.to_pandas()
        df = df[~df["passed"].astype(bool)]
        df = df.assign(explanation=[" ".join(s.get("explanation") or []) for s in df["score"]])
        return df[["provider", "model", "case_id", "category", "attempt", "outcome",
                   "error_type", "explanation"]].reset_index(drop=True)  # fmt: skip

    # --------------------------------------------------------------- comparing
    def compare(self, other: EvalResult, target: str | None = None,
                other_target: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Paired (McNemar) test of this run against ``other`` on the cases both ran.

        Cases pair by id on attempt 0. With one target per run they pair automatically;
        otherwise name them. ``verdict`` says plainly when the difference is not significant.
        """
        from llmbench_jupyter.stats import mcnemar

        mine = _one_target(self, target, "target")
        theirs = _one_target(other, other_target, "other_target")
        a = {r.case_id: r.score.passed for r in self._mine(mine) if r.attempt == 0}
        b = {r.case_id: r.score.passed for r in other._mine(theirs) if r.attempt == 0}
        paired = set(a) & set(b)
        if not paired:
            raise LLMBenchError(
                f"compare: the two runs have no case ids in common ({mine} vs {theirs})"
            )
        out = mcnemar(a, b)
        out.update(
            a=mine,
            b=theirs,
            a_run_id=self.run_id,
            b_run_id=other.run_id,
            # on the paired cases only, like the test (unpaired cases count in neither)
            a_pass_rate=sum(a[c] for c in paired) / len(paired),
            b_pass_rate=sum(b[c] for c in paired) / len(paired),
        )
        return out

    def compare_models(self, a: str, b: str) -> dict[str, Any]:
        """McNemar test between two models of this run (see :meth:`compare`)."""
        return self.compare(self, target=a, other_target=b)

    async def judge_pairwise(
        self,
        other: EvalResult,
        judge: Target,
        *,
        target: str | None = None,
        other_target: str | None = None,
        concurrency: int = 4,
        save: bool = True,
    ) -> PairwiseReport:
        """Judge this run's answers against ``other``'s (which may be this run with another
        target), case by case, in both orders; verdicts that flip with the order are ties."""
        from llmbench_jupyter.evals.judge import compare_runs

        mine = _one_target(self, target, "target")
        theirs = _one_target(other, other_target, "other_target")
        report = await compare_runs(
            judge, self.suite, self._mine(mine), other._mine(theirs), concurrency=concurrency
        )
        rows = [j.to_dict() for v in report.verdicts for j in (v.forward, v.backward)]
        self._require_reached(judge, rows)
        if save:
            self._save_judgements(rows, other_run_id=other.run_id)
        return report

    async def judge_cases(
        self,
        judge: Target,
        *,
        threshold: float | None = None,
        concurrency: int = 4,
        save: bool = True,
    ) -> list[dict[str, Any]]:
        """Judge case answers after the run (all, or those below ``threshold``); stored."""
        from llmbench_jupyter.evals.judge import judge_runs

        done = await judge_runs(
            judge, self.suite, self.runs, threshold=threshold, concurrency=concurrency
        )
        rows = [_with_target(j.to_dict()) for j in done]
        self._require_reached(judge, rows)
        self.judgements.extend(rows)
        if save:
            self._save_judgements(rows)
        return rows

    async def judge_report(self, judge: Target, target: str | None = None,
                           *, save: bool = True) -> dict[str, Any]:  # fmt: skip
        """A cross-case report (grade, strengths, weaknesses, recommendations) as JSON."""
        import aiohttp

        from llmbench_jupyter.evals.judge import judge_report

        mine = _one_target(self, target, "target")
        async with aiohttp.ClientSession() as session:
            out = await judge_report(session, judge, self.suite, self._mine(mine))
        row = _with_target(out.to_dict(), mine)
        self._require_reached(judge, [row])
        self.judgements.append(row)
        if save:
            self._save_judgements([row])
        return row

    # ----------------------------------------------------------------- display
    def plot(self) -> go.Figure:
        from llmbench_jupyter.analysis.charts import eval_pass_rates

        return eval_pass_rates(self)

    def __repr__(self) -> str:
        rid = f" {self.run_id[:8]}" if self.run_id else ""
        parts = []
        for t, s in self.scores().items():
            parts.append(f"{t} {fmt_pct(s.micro.rate if s.micro else None)}")
        return (
            f"<EvalResult{rid} {self.suite.name!r} {self.status}: "
            f"{len(self.runs)} attempts ({len(self.suite.cases)} cases × k={self.k}); "
            f"{', '.join(parts)}>"
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>{html.escape(self.suite.name)}</b> v{self.suite.version} · "
            f"{len(self.runs)} attempts ({len(self.suite.cases)} cases × k={self.k}) · "
            f"{html.escape(self.mode)} rules · "
            f"{html.escape(self.status)}"
            + (f" · run <code>{html.escape(self.run_id)}</code>" if self.run_id else "")
            + "</p>"
        )
        cats = self.categories
        cols = ["target", "pass rate [95% CI]", "macro rate", *cats, "tool F1", "arg acc",
                "judge"]  # fmt: skip
        rows = []
        for t, s in self.scores().items():
            cells = [
                html.escape(t),
                fmt_rate_ci(*(_triple(s.micro))),
                fmt_pct(s.macro.rate if s.macro else None),
                *(fmt_pct(r.rate if (r := s.categories.get(c)) is not None else None)
                  for c in cats),
                "N/A" if s.mean_tool_f1 is None else f"{s.mean_tool_f1:.2f}",
                "N/A" if s.mean_argument_accuracy is None
                else f"{s.mean_argument_accuracy:.2f}",
                "—" if (jm := self.judge_mean(t)) is None else f"{jm:.1f}/10",
            ]  # fmt: skip
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        table = (
            "<table><thead><tr>"
            + "".join(f"<th>{html.escape(c)}</th>" for c in cols)
            + "</tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )
        return head + table


def _triple(rate: Any) -> tuple[Any, Any, Any]:
    return (None, None, None) if rate is None else (rate.rate, rate.ci_low, rate.ci_high)


def _one_target(result: EvalResult, target: str | None, label: str) -> str:
    if target is not None:
        if target not in result.targets:
            raise LLMBenchError(
                f"{label} {target!r} is not in this run; its targets: {result.targets}"
            )
        return target
    if len(result.targets) != 1:
        raise LLMBenchError(
            f"this run has {len(result.targets)} targets {result.targets}; name the one to use "
            f"with {label}="
        )
    return result.targets[0]


def _with_target(row: dict[str, Any], target: str | None = None) -> dict[str, Any]:
    """Judge rows carry the judged target in ``subject`` (for per-target means)."""
    subject = dict(row.get("subject") or {})
    if target is None and subject.get("provider") and subject.get("model"):
        target = f"{subject['provider']}/{subject['model']}"
    if target is not None:
        subject["target"] = target
    return {**row, "subject": subject}
