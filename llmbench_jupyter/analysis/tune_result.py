"""A parameter search's result: trials as a DataFrame, the best, the Pareto front, charts.

Built from the store's rows (a finished or running search, ``load_tune``) or from a
running job's book; either way the same rows. Trial 0 is the baseline. Values are the
objectives' trial values as ``jobs.tune.objectives`` defines them; nothing is
recomputed here except which trials dominate which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import LLMBenchError

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

#: Columns of ``trials_df`` before the parameters and objectives.
LEAD = ("number", "state", "baseline")
#: A prompt search's columns of ``trials_df``, after ``LEAD``.
PROMPT_COLUMNS = ("prompt_origin", "prompt_parent", "prompt")
#: Columns after them.
TAIL = ("pass_rate_ci_low", "pass_rate_ci_high", "cases", "passed", "api_errors",
        "n_requests", "cost_usd_spent", "duration_s", "error")  # fmt: skip
#: A bench workload search's metric columns in ``TAIL``'s first five places (the first
#: objective's interval comes before them).
BENCH_TAIL = ("requests", "ok", "errors")


class TuneResult:
    def __init__(self, study: dict[str, Any], trials: Sequence[dict[str, Any]],
                 store: Any = None) -> None:  # fmt: skip
        self.study = study
        self.trials = list(trials)
        self.store = store
        self.study_id: str | None = study.get("study_id")
        self.name: str | None = study.get("name")
        self.objectives: list[str] = list(study.get("objectives") or [])
        self.directions: list[str] = list(study.get("directions") or [])
        self.status: str = study.get("status") or "running"
        self.stop_reason: str | None = study.get("stop_reason")

    @classmethod
    def empty(cls, name: str | None, status: str) -> TuneResult:
        return cls({"name": name, "status": status}, [])

    # --------------------------------------------------------------- the trials
    def _params(self) -> list[str]:
        names: dict[str, None] = {}
        for row in self.trials:
            names.update(dict.fromkeys(row.get("params") or {}))
        return list(names)

    def trials_df(self) -> pd.DataFrame:
        """One row per trial: state, parameters (a column each), objective values, the
        pass rate's interval, requests and cost spent, and why a trial failed; a prompt
        search's also the prompt, what produced it and its parent."""
        import pandas as pd

        params = self._params()
        prompts = PROMPT_COLUMNS if self.study.get("kind") == "prompt" else ()
        measured = self._measured()
        rows = []
        for r in self.trials:
            m = r.get("metrics") or {}
            started, finished = r.get("started_at"), r.get("finished_at")
            row = {"number": r["number"], "state": r["state"], "baseline": r["number"] == 0}
            row.update({c: r.get(c) for c in prompts})
            row.update({p: (r.get("params") or {}).get(p) for p in params})
            row.update({o: m.get(o) for o in self.objectives})
            row.update({k: m.get(k) for k in measured})
            row["n_requests"] = r.get("n_requests")
            row["cost_usd_spent"] = r.get("cost_usd")
            row["duration_s"] = (
                (finished - started).total_seconds() if started and finished else None
            )
            row["error"] = r.get("error")
            rows.append(row)
        columns = [*LEAD, *prompts, *params, *[o for o in self.objectives if o not in params],
                   *measured, *TAIL[5:]]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def _measured(self) -> tuple[str, ...]:
        """The metric columns: a suite search's pass rate interval and case counts, a
        workload search's first objective's interval and request counts."""
        if self.study.get("kind") != "bench" or not self.objectives:
            return TAIL[:5]
        first = self.objectives[0]
        return (f"{first}_ci_low", f"{first}_ci_high", *BENCH_TAIL)

    to_pandas = trials_df

    def versions(self) -> pd.DataFrame:
        """A prompt search's prompts as versions: lineage, scores, text and the diff
        against the parent (:mod:`llmbench_jupyter.analysis.prompt_versions`)."""
        from llmbench_jupyter.analysis.prompt_versions import versions_df

        return versions_df(self.trials, self.objectives)

    def _complete(self) -> list[dict[str, Any]]:
        return [r for r in self.trials if r["state"] == "complete" and r.get("values")]

    @property
    def baseline(self) -> dict[str, Any] | None:
        return next((r for r in self.trials if r["number"] == 0), None)

    @property
    def best(self) -> dict[str, Any] | None:
        """The complete trial best on the first objective (ties: the earliest)."""
        done = self._complete()
        if not done or not self.directions:
            return None
        sign = 1.0 if self.directions[0] == "maximize" else -1.0
        return max(done, key=lambda r: (sign * r["values"][0], -r["number"]))

    @property
    def best_params(self) -> dict[str, Any]:
        best = self.best
        return dict(best["params"]) if best else {}

    def pareto(self) -> list[dict[str, Any]]:
        """Complete trials no other complete trial beats on every objective."""
        done = self._complete()
        signs = [1.0 if d == "maximize" else -1.0 for d in self.directions]

        def key(r: dict[str, Any]) -> list[float]:
            return [s * v for s, v in zip(signs, r["values"], strict=True)]

        def dominates(a: list[float], b: list[float]) -> bool:
            return all(x >= y for x, y in zip(a, b, strict=True)) and a != b

        return [r for r in done if not any(dominates(key(o), key(r)) for o in done)]

    def history(self, objective: str | None = None) -> list[dict[str, Any]]:
        """Each complete trial's value of ``objective`` (default: the first) with the best
        value so far, in trial order: what ``plot_history`` and the live widget draw."""
        name = objective or (self.objectives[0] if self.objectives else "pass_rate")
        if name not in self.objectives:
            raise LLMBenchError(f"history: {name!r} is not an objective ({self.objectives})")
        i = self.objectives.index(name)
        better = max if self.directions[i] == "maximize" else min
        out, running = [], None
        for r in self._complete():
            value = r["values"][i]
            running = value if running is None else better(running, value)
            out.append({"number": r["number"], "value": value, "best": running})
        return out

    def pareto_df(self) -> pd.DataFrame:
        df = self.trials_df()
        return df[df["number"].isin([r["number"] for r in self.pareto()])].reset_index(drop=True)

    @property
    def holdout(self) -> dict[str, Any]:
        return dict((self.study.get("result") or {}).get("holdout") or {})

    @property
    def verdict(self) -> str:
        untested = (
            "no confirmation run" if self.study.get("kind") == "bench" else "no held-out cases"
        )
        return str(self.holdout.get("verdict") or f"not tested: {untested}")

    # ------------------------------------------------------------ widget rows
    def best_summary(self) -> dict[str, Any] | None:
        best = self.best
        if best is None:
            return None
        m = best.get("metrics") or {}
        first = self.objectives[0] if self.objectives else "pass_rate"
        return {
            "number": best["number"],
            "params": best["params"],
            "values": dict(zip(self.objectives, best["values"], strict=False)),
            "pass_rate_ci": [m.get("pass_rate_ci_low"), m.get("pass_rate_ci_high")],
            # the first objective's 95% interval (Wilson for pass_rate, else the median's)
            "ci": [m.get(f"{first}_ci_low"), m.get(f"{first}_ci_high")],
        }

    def table_rows(self) -> list[dict[str, Any]]:
        """JSON-safe trial rows for the live widget."""
        df = self.trials_df().drop(columns=["error"])
        df = df.astype(object).where(df.notna(), None)
        return [dict(r) for r in df.to_dict(orient="records")]

    # -------------------------------------------------------------------- charts
    def plot_history(self, objective: str | None = None) -> go.Figure:
        """Each trial's value of ``objective`` and the best so far (pruned trials: their
        last reported case value is not a trial value, so they are marked, not plotted)."""
        import plotly.graph_objects as go

        name = objective or (self.objectives[0] if self.objectives else "pass_rate")
        if name not in self.objectives:
            raise LLMBenchError(f"plot_history: {name!r} is not an objective ({self.objectives})")
        points = self.history(name)
        xs = [p["number"] for p in points]
        ys = [p["value"] for p in points]
        best = [p["best"] for p in points]
        fig = go.Figure()
        fig.add_scatter(x=xs, y=ys, mode="markers", name=f"{name} per trial")
        fig.add_scatter(x=xs, y=best, mode="lines", name="best so far", line={"shape": "hv"})
        pruned = [r["number"] for r in self.trials if r["state"] == "pruned"]
        if pruned:
            fig.add_scatter(x=pruned, y=[min(ys or [0])] * len(pruned), mode="markers",
                            marker={"symbol": "x"}, name="pruned")  # fmt: skip
        fig.update_layout(title=f"{self.name}: {name} by trial", xaxis_title="trial",
                          yaxis_title=name)  # fmt: skip
        return fig

    def plot_pareto(self) -> go.Figure:
        """Two objectives: every complete trial, the front highlighted. One objective or
        more than two: parallel coordinates of parameters and objectives."""
        import plotly.express as px

        df = self.trials_df()
        df = df[df["state"] == "complete"]
        if len(self.objectives) == 2:
            front = {r["number"] for r in self.pareto()}
            df = df.assign(front=df["number"].isin(front))
            return px.scatter(df, x=self.objectives[0], y=self.objectives[1], color="front",
                              hover_data=["number", *self._params()],
                              title=f"{self.name}: Pareto front")  # fmt: skip
        numeric = [
            c
            for c in [*self._params(), *self.objectives]
            if c in df and df[c].map(lambda v: isinstance(v, int | float)).all()
        ]
        return px.parallel_coordinates(df, dimensions=numeric, color=self.objectives[0],
                                       title=f"{self.name}: trials")  # fmt: skip

    # -------------------------------------------------------------------- export
    def to_optuna(self, storage: str, study_name: str | None = None) -> Any:
        """Copy the search (not the baseline) into an Optuna study in ``storage`` (an RDB
        URL such as ``sqlite:///tune.db``), so optuna-dashboard and ``optuna.visualization``
        work on it. Returns the Optuna study."""
        from llmbench_jupyter.analysis.tune_export import to_optuna

        return to_optuna(self, storage, study_name)

    # --------------------------------------------------------------------- reprs
    def __repr__(self) -> str:
        best = self.best
        shown = "no complete trial"
        if best is not None:
            pairs = zip(self.objectives, best["values"], strict=False)
            values = ", ".join(f"{o}={v:.4g}" for o, v in pairs)
            shown = f"best trial {best['number']}: {values} with {best['params']}"
        return (
            f"<TuneResult {self.name!r} {self.status}: {len(self.trials)} trials, {shown}; "
            f"held-out: {self.verdict}>"
        )


def load_tune(study: str, store: Any = None) -> TuneResult:
    """A stored search by id, or your newest search of that name."""
    from llmbench_jupyter.analysis.results import _store

    db = _store(store)
    found = db.study(study) or db.find_study(study)
    if found is None:
        raise LLMBenchError(f"load_tune: no search with id or name {study!r} in {db.url}")
    return TuneResult(found, db.trials(found["study_id"]), store=db)
