"""Experiments: a named set of runs (and tuning searches) with a baseline, each compared
with it by the test that fits what was measured (searches: see ``experiment_studies``).

- **Latency and speed** (``ttft_ms``, ``ttfat_ms``, ``e2e_ms``, ``tpot_ms``,
  ``decode_tps``) of bench runs, per target and context tier present in both: the
  difference in medians with its bootstrap 95% interval (``stats.compare``) and the
  Mann-Whitney U test with Cliff's delta (``stats.shift_test``) over the successful
  measured requests. "better" or "worse" only when the interval excludes zero.
- **Pass rates** of eval runs of the same suite, per target: McNemar's exact test on the
  paired cases (``stats.mcnemar``; each case's first attempt).

Anything else (an eval against a bench baseline, another suite) is listed as not
comparable, with the reason, never tested.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import InputError, LLMBenchError

if TYPE_CHECKING:
    import pandas as pd

#: Bench metrics compared, and whether lower is better.
LATENCY = {"ttft_ms": True, "ttfat_ms": True, "e2e_ms": True, "tpot_ms": True,
           "decode_tps": False}  # fmt: skip
METRICS = (*LATENCY, "pass_rate")
COMPARE_COLUMNS = (
    "run_id", "kind", "target", "context_tier", "baseline_value", "value", "diff",
    "diff_ci_low", "diff_ci_high", "ratio", "p_value", "test", "effect", "verdict",
    "measurement", "note", "timing_error_p99_ms",
)  # fmt: skip


def _member(thing: Any, store: Any) -> tuple[str, str]:
    """``("study", id)`` for a tuning search (its job, its result, or its id) and
    ``("run", id)`` for anything else a run can be named by."""
    if getattr(thing, "kind", None) == "tune" and hasattr(thing, "wait"):
        thing = thing.result()  # a tuning job: its search
    study_id = getattr(thing, "study_id", None)
    if isinstance(study_id, str) and study_id:
        return "study", study_id
    if isinstance(thing, str) and len(thing) == 16 and store.study(thing) is not None:
        return "study", thing
    return "run", _run_id(thing, store)


def _run_id(run: Any, store: Any) -> str:
    """A run id from a Job, a result with ``run_id``, or an id or unique prefix."""
    if hasattr(run, "wait") and hasattr(run, "progress"):  # a Job: its run, once it has one
        run = run.progress.get("run_id") or getattr(run.result(), "run_id", None)
    run = getattr(run, "run_id", run)
    if not isinstance(run, str) or not run:
        raise InputError(f"experiment: expected a run, a job or a run id, got {run!r}")
    return str(store.get_run(run)["run_id"])


class Experiment:
    """A stored experiment (``lj.experiment(name)``), read fresh on every call."""

    def __init__(self, name: str, store: Any) -> None:
        self.name = name
        self.store = store

    def _row(self) -> dict[str, Any]:
        found = self.store.experiment(self.name)
        if found is None:
            raise LLMBenchError(f"experiment {self.name!r} no longer exists in {self.store.url}")
        return dict(found)

    # ------------------------------------------------------------- membership
    def add(self, *runs: Any, baseline: bool = False) -> Experiment:
        """Add runs (jobs, results or ids); ``baseline=True`` makes the first one the
        baseline."""
        members = [_member(r, self.store) for r in runs]
        if baseline and members and members[0][0] == "study":
            raise InputError("experiment: a tuning search cannot be the baseline; make a "
                             "bench or eval run the baseline")  # fmt: skip
        ids = [i for kind, i in members if kind == "run"]
        studies = [i for kind, i in members if kind == "study"]
        if ids or not studies:
            self.store.add_experiment_runs(
                self.name, ids, baseline=ids[0] if baseline and ids else None
            )
        if studies:
            self.store.add_experiment_studies(self.name, studies)
        return self

    def set_baseline(self, run: Any) -> Experiment:
        kind, found = _member(run, self.store)
        if kind == "study":
            raise InputError("set_baseline: a tuning search cannot be the baseline (its "
                             "trials are not one run); choose a bench or eval run")  # fmt: skip
        self.store.set_experiment_baseline(self.name, found)
        return self

    def remove(self, run: Any) -> Experiment:
        kind, found = _member(run, self.store)
        if kind == "study":
            self.store.remove_experiment_study(self.name, found)
        else:
            self.store.remove_experiment_run(self.name, found)
        return self

    @property
    def baseline(self) -> str | None:
        return next((r["run_id"] for r in self._row()["runs"] if r["baseline"]), None)

    def runs(self) -> pd.DataFrame:
        import pandas as pd

        from llmbench_jupyter.analysis.experiment_studies import member_rows

        row = self._row()
        cols = ["run_id", "kind", "name", "created_at", "status", "baseline"]
        members = [{c: r[c] for c in cols} for r in row["runs"]] + member_rows(row["studies"])
        return pd.DataFrame(members, columns=cols)

    # ------------------------------------------------------------- analysis
    def compare(self, metric: str = "ttft_ms", *, seed: int = 0) -> pd.DataFrame:
        """Every other run against the baseline on ``metric`` (see the module)."""
        import pandas as pd

        from llmbench_jupyter.analysis.experiment_studies import compare_study

        if metric not in METRICS:
            raise InputError(f"compare: metric {metric!r} unknown; expected one of {METRICS}")
        row = self._row()
        base = next((r for r in row["runs"] if r["baseline"]), None)
        if base is None:
            raise LLMBenchError(f"experiment {self.name!r} has no baseline: set_baseline(run)")
        out: list[dict[str, Any]] = []
        for run in row["runs"]:
            if run["run_id"] == base["run_id"]:
                continue
            why = _not_comparable(metric, base, run)
            if why:
                out.append({"run_id": run["run_id"], "kind": run["kind"], "note": why})
            elif metric == "pass_rate":
                out += _compare_evals(self.store, base["run_id"], run["run_id"])
            else:
                out += _compare_bench(self.store, base["run_id"], run["run_id"], metric, seed)
        for study in row["studies"]:
            why = _not_comparable(metric, base, {"kind": "eval" if metric == "pass_rate"
                                                 else "bench"})  # fmt: skip
            if why:
                out.append({"run_id": study["study_id"], "kind": "tune", "note": why})
            else:
                out += compare_study(self.store, base, study, metric, seed)
        df = pd.DataFrame(out, columns=list(COMPARE_COLUMNS))
        df.attrs.update(experiment=self.name, baseline=base["run_id"], metric=metric)
        return df

    def best(self, metric: str = "ttft_ms") -> pd.DataFrame:
        """Per target, the run with the best ``metric`` (bench medians from the run
        summaries; eval pass rates from the stored summary)."""
        import pandas as pd

        from llmbench_jupyter.stats import sketch_quantile

        if metric not in METRICS or metric == "ttfat_ms":
            raise InputError(f"best: metric {metric!r}; expected one of "
                             f"{[m for m in METRICS if m != 'ttfat_ms']}")  # fmt: skip
        from llmbench_jupyter.analysis.experiment_studies import best_values

        values: list[dict[str, Any]] = []
        row = self._row()
        for study in row["studies"]:
            values += best_values(self.store, study, metric)
        for run in row["runs"]:
            if metric == "pass_rate" and run["kind"] == "eval":
                summary = self.store.get_run(run["run_id"]).get("summary") or {}
                values += [{"target": t, "run_id": run["run_id"], "value": s.get("pass_rate")}
                           for t, s in summary.items()]  # fmt: skip
            elif metric != "pass_rate" and run["kind"] == "bench":
                for s in self.store.summary_rows([run["run_id"]]):
                    values.append(
                        {
                            "target": f"{s['provider']}/{s['model']}",
                            "run_id": run["run_id"],
                            "context_tier": s["context_tier"],
                            "value": sketch_quantile([s[f"{metric}_sketch"]], 0.5),
                        }
                    )
        df = pd.DataFrame(values, columns=["target", "context_tier", "run_id", "value"])
        df = df.dropna(subset=["value"])
        if df.empty:
            return df
        lower = LATENCY.get(metric, False)
        df = df.sort_values("value", ascending=lower, kind="stable")
        keys = ["target"] + (["context_tier"] if metric != "pass_rate" else [])
        return df.groupby(keys, dropna=False, sort=True).head(1).reset_index(drop=True)

    def plot(self, metric: str = "ttft_ms", *, seed: int = 0) -> Any:
        """A forest plot of ``compare(metric)``: each run's difference from the baseline
        with its interval, coloured by verdict (a plotly figure)."""
        from llmbench_jupyter.analysis.experiment_chart import comparison_figure

        return comparison_figure(self.compare(metric, seed=seed))

    def report(self, path: str) -> Any:
        """An offline HTML report of this experiment at ``path`` (plotly.js embedded
        once); the path written."""
        from llmbench_jupyter.analysis.report import experiment_html

        return experiment_html(self, path)

    def _repr_html_(self) -> str:
        """In a notebook: the runs, and each run against the baseline on the metric that
        fits the baseline (TTFT for bench, pass rate for eval)."""
        import html

        runs = self.runs()
        parts = [f"<b>{html.escape(repr(self))}</b>", runs.to_html(index=False, border=0)]
        kinds = dict(zip(runs["run_id"], runs["kind"], strict=True))
        base = self.baseline
        if base is not None and len(runs) > 1:
            metric = "pass_rate" if kinds.get(base) == "eval" else "ttft_ms"
            table = self.compare(metric).drop(columns=["test"])
            parts += [f"<p>against the baseline: {metric}</p>",
                      table.to_html(index=False, border=0, na_rep="")]  # fmt: skip
        return "".join(parts)

    def __repr__(self) -> str:
        row = self._row()
        kinds: dict[str, int] = {}
        for r in row["runs"]:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        if row["studies"]:
            kinds["tune"] = len(row["studies"])
        held = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no runs"
        base = next((r["run_id"] for r in row["runs"] if r["baseline"]), None)
        return f"<Experiment {self.name!r}: {held}; baseline {base or 'not set'}>"


def _not_comparable(metric: str, base: dict[str, Any], run: dict[str, Any]) -> str | None:
    want = "eval" if metric == "pass_rate" else "bench"
    if base["kind"] != want:
        return f"the baseline is a {base['kind']} run; {metric} needs a {want} baseline"
    if run["kind"] != want:
        return f"a {run['kind']} run has no {metric}"
    return None


def bench_values(store: Any, run_id: str, metric: str) -> dict[tuple[str, int], list[float]]:
    """A bench run's successful measured values of ``metric`` per (target, context tier)."""
    df = store.records_df(run_id, include_warmup=False)
    df = df[(df["status"] == "ok") & df[metric].notna()]
    return {
        (f"{p}/{m}", int(t)): part[metric].astype(float).tolist()
        for (p, m, t), part in df.groupby(["provider", "model", "context_tier"])
    }


def latency_row(a: list[float], b: list[float], metric: str, seed: int) -> dict[str, Any]:
    """Baseline values ``a`` against ``b``: the median difference with its bootstrap CI
    (``stats.compare``), Mann-Whitney U with Cliff's delta (``stats.shift_test``)."""
    from llmbench_jupyter.stats import compare, shift_test

    diff = compare(a, b, metric, seed=seed)
    shift = shift_test(a, b)
    verdict = "no significant difference"
    if diff["significant"]:
        lower_better = LATENCY[metric]
        better = diff["diff_ci_high"] < 0 if lower_better else diff["diff_ci_low"] > 0
        verdict = "better" if better else "worse"
    return {
        "baseline_value": diff["median_a"], "value": diff["median_b"], "diff": diff["diff"],
        "diff_ci_low": diff["diff_ci_low"], "diff_ci_high": diff["diff_ci_high"],
        "ratio": diff["ratio"], "p_value": shift["p_value"],
        "test": "bootstrap CI of the median difference; Mann-Whitney U",
        "effect": shift["cliffs_delta"], "verdict": verdict,
    }  # fmt: skip


def pass_row(a: dict[str, bool], b: dict[str, bool]) -> dict[str, Any]:
    """Per-case verdicts ``a`` (the baseline) against ``b``: McNemar's exact test on the
    cases both have, and each side's pass rate over those cases."""
    from llmbench_jupyter.stats import mcnemar

    test = mcnemar(a, b)
    common = sorted(set(a) & set(b))
    rate_a = sum(a[c] for c in common) / len(common) if common else None
    rate_b = sum(b[c] for c in common) / len(common) if common else None
    verdict = "no significant difference"
    if test["significant"]:
        verdict = "better" if test["b_only"] > test["a_only"] else "worse"
    return {
        "baseline_value": rate_a, "value": rate_b,
        "diff": None if rate_a is None or rate_b is None else rate_b - rate_a,
        "p_value": test["p_value"], "test": "McNemar exact, paired cases",
        "effect": test["b_only"] - test["a_only"], "verdict": verdict,
        "note": f"{test['cases']} paired cases: {test['b_only']} only this run passed, "
                f"{test['a_only']} only the baseline",
    }  # fmt: skip


def _compare_bench(store: Any, base: str, run: str, metric: str,
                   seed: int) -> list[dict[str, Any]]:  # fmt: skip
    from llmbench_jupyter.analysis.timing_selftest import comparison_bound, measurement_fields
    from llmbench_jupyter.store.timing_bounds import run_timing_selftests

    a, b = bench_values(store, base, metric), bench_values(store, run, metric)
    tests = run_timing_selftests(store, [base, run])
    bound = comparison_bound([tests.get(r, {}).get("bound_ms") for r in (base, run)])
    rows = []
    for key in sorted(set(a) | set(b)):
        row: dict[str, Any] = {"run_id": run, "kind": "bench", "target": key[0],
                               "context_tier": key[1]}  # fmt: skip
        if key not in a or key not in b:
            rows.append(row | {"note": "not in both runs"})
            continue
        found = latency_row(a[key], b[key], metric, seed)
        rows.append(row | found | measurement_fields(found["diff"], bound, metric))
    return rows


def eval_verdicts(result: Any) -> dict[str, dict[str, bool]]:
    """An eval's first-attempt verdict per target and case."""
    out: dict[str, dict[str, bool]] = {}
    for r in result.runs:
        if r.attempt == 0:
            out.setdefault(f"{r.provider}/{r.model}", {})[r.case_id] = bool(r.score.passed)
    return out


def _compare_evals(store: Any, base: str, run: str) -> list[dict[str, Any]]:
    from llmbench_jupyter.analysis.eval_history import load_eval

    a, b = load_eval(base, store=store), load_eval(run, store=store)
    if a.suite.name != b.suite.name:
        return [
            {
                "run_id": run,
                "kind": "eval",
                "note": f"another suite ({b.suite.name}, the baseline ran {a.suite.name})",
            }
        ]
    va, vb = eval_verdicts(a), eval_verdicts(b)
    rows = []
    for target in sorted(set(va) | set(vb)):
        row: dict[str, Any] = {"run_id": run, "kind": "eval", "target": target}
        if target not in va or target not in vb:
            rows.append(row | {"note": "not in both runs"})
            continue
        rows.append(row | pass_row(va[target], vb[target]))
    return rows


def experiment(name: str, *, description: str | None = None, create: bool = True,
               store: Any = None) -> Experiment:  # fmt: skip
    """Your experiment ``name``, created when it does not exist (unless ``create=False``)."""
    from llmbench_jupyter.analysis.results import _store

    db = _store(store)
    if create:
        db.create_experiment(name, description=description, exist_ok=True)
    elif db.experiment(name) is None:
        raise LLMBenchError(f"no experiment {name!r} of yours in {db.url}")
    return Experiment(name, db)


def compare_runs(runs: Any, metrics: Any = ("ttft_ms", "decode_tps", "tpot_ms"), *,
                 store: Any = None) -> pd.DataFrame:  # fmt: skip
    """N bench runs side by side: one row per target and context tier, one column per
    metric and run (its median from the run summary), plus each run's request count.
    Runs are ids, unique prefixes, jobs or results, in the order given."""
    import pandas as pd

    from llmbench_jupyter.analysis.results import _store
    from llmbench_jupyter.stats import sketch_quantile

    db = _store(store)
    given = [runs] if isinstance(runs, str) else list(runs)
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    bad = [m for m in names if m not in LATENCY or m == "ttfat_ms"]
    if bad or not names:
        raise InputError(f"compare_runs: metrics {bad or names!r}; expected some of "
                         f"{[m for m in LATENCY if m != 'ttfat_ms']}")  # fmt: skip
    ids = [_run_id(r, db) for r in given]
    if len(set(ids)) != len(ids) or not ids:
        raise InputError("compare_runs: give each run once (at least one)")
    rows: dict[tuple[str, int], dict[tuple[str, str], Any]] = {}
    for run_id in ids:
        kind = db.get_run(run_id)["kind"]
        if kind != "bench":
            raise InputError(f"compare_runs: run {run_id} is a {kind} run; give bench runs")
        for s in db.summary_rows([run_id]):
            cells = rows.setdefault((f"{s['provider']}/{s['model']}", s["context_tier"]), {})
            cells[("requests", run_id)] = s["requests"]
            for m in names:
                cells[(m, run_id)] = sketch_quantile([s[f"{m}_sketch"]], 0.5)
    columns = pd.MultiIndex.from_tuples([(m, r) for m in [*names, "requests"] for r in ids],
                                        names=["metric", "run_id"])  # fmt: skip
    index = pd.MultiIndex.from_tuples(sorted(rows), names=["target", "context_tier"])
    df = pd.DataFrame([rows[k] for k in sorted(rows)], index=index).reindex(columns=columns)
    source = "run_summaries: p50s from each run's quantile sketch (within ±0.5%)"
    df.attrs.update(kind="compare_runs", source=source)
    return df
