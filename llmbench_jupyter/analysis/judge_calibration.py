"""How far to trust a judge: its verdicts against human labels of the same cases.

Labels are a CSV (or DataFrame, or ``{case_id: label}``) with a ``case_id`` column and
either ``verdict`` (pass/fail, true/false, yes/no, 1/0) or ``score`` (an integer on the
judge's 1-10 scale). Verdicts are compared with the judge's ``passed`` by Cohen's kappa;
scores with its ``score`` by quadratic-weighted kappa over the whole 1-10 scale
(``stats.cohen_kappa``: bootstrap 95% interval, confusion table). Only the judge's valid
verdicts count: invalid and failed judge calls are reported, never scored; cases on one
side only are counted and listed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.stats import cohen_kappa

if TYPE_CHECKING:
    import pandas as pd

SCALE = list(range(1, 11))
_TRUE = {"pass", "passed", "true", "yes", "y", "1", "correct", "good"}
_FALSE = {"fail", "failed", "false", "no", "n", "0", "incorrect", "wrong", "bad"}


@dataclass
class Calibration:
    """The judge against the labels: kappa with its interval, and what was left out."""

    kind: str  # "verdict" (Cohen's kappa) or "score" (quadratic-weighted kappa)
    judge: str | None
    target: str
    result: dict[str, Any]
    pairs: list[tuple[str, Any, Any]] = field(default_factory=list)  # case, human, judge
    unlabelled: list[str] = field(default_factory=list)  # judged, no human label
    unjudged: list[str] = field(default_factory=list)  # labelled, no valid judge verdict
    invalid: int = 0  # the judge's invalid or failed calls on labelled cases

    @property
    def kappa(self) -> float | None:
        return self.result["kappa"]

    @property
    def ci(self) -> tuple[float | None, float | None]:
        return self.result["ci_low"], self.result["ci_high"]

    def confusion(self) -> pd.DataFrame:
        """Rows: the human labels; columns: the judge's."""
        import pandas as pd

        cats = [str(c) for c in self.result["categories"]]
        return pd.DataFrame(
            self.result["confusion"],
            index=pd.Index(cats, name="human"),
            columns=pd.Index(cats, name="judge"),
        )

    def summary(self) -> dict[str, Any]:
        r = self.result
        return {
            "kind": self.kind, "judge": self.judge, "target": self.target,
            "kappa": r["kappa"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
            "weights": r["weights"], "n": r["n"], "observed_agreement": r["observed_agreement"],
            "chance_agreement": r["chance_agreement"], "unlabelled": len(self.unlabelled),
            "unjudged": len(self.unjudged), "invalid_judge_calls": self.invalid,
        }  # fmt: skip

    def __repr__(self) -> str:
        k = self.kappa
        lo, hi = self.ci
        shown = "undefined (one category only)" if k is None else f"{k:.3f}"
        interval = f" [95% CI {lo:.3f} to {hi:.3f}]" if lo is not None and hi is not None else ""
        name = "quadratic-weighted kappa" if self.kind == "score" else "Cohen's kappa"
        return (
            f"<Calibration of {self.judge or 'the judge'} on {self.target}: {name} {shown}"
            f"{interval} over {self.result['n']} cases; {len(self.unjudged)} labelled cases "
            f"without a valid verdict, {len(self.unlabelled)} judged cases without a label>"
        )


def read_labels(labels: Any) -> tuple[str, dict[str, Any]]:
    """``("verdict" | "score", {case_id: bool | int})`` from a CSV path, DataFrame or dict."""
    import pandas as pd

    if isinstance(labels, dict):
        frame = pd.DataFrame({"case_id": list(labels), "label": list(labels.values())})
        column = _dict_kind(labels)
        frame = frame.rename(columns={"label": column})
        where = "labels"
    elif isinstance(labels, pd.DataFrame):
        frame, where = labels, "labels"
    elif isinstance(labels, str | Path):
        path = Path(labels).expanduser()
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise InputError(f"labels file {path}: cannot read it as CSV ({exc})") from None
        where = f"labels file {path}"
    else:
        raise InputError(f"labels: expected a CSV path, a DataFrame or a dict, got {labels!r}")
    cols = {str(c).strip().lower(): c for c in frame.columns}
    if "case_id" not in cols:
        raise InputError(f"{where}: no 'case_id' column (columns: {list(frame.columns)})")
    kinds = [k for k in ("verdict", "score") if k in cols]
    if len(kinds) != 1:
        raise InputError(
            f"{where}: expected one of the columns 'verdict' or 'score', found "
            f"{list(frame.columns)}"
        )
    kind = kinds[0]
    out: dict[str, Any] = {}
    for i, (case, raw) in enumerate(zip(frame[cols["case_id"]], frame[cols[kind]], strict=True)):
        row = f"{where}, row {i + 2}" if where.startswith("labels file") else f"{where}[{i}]"
        case_id = str(case).strip()
        if not case_id:
            raise InputError(f"{row}: empty case_id")
        if case_id in out:
            raise InputError(f"{row}: case {case_id!r} is labelled twice")
        out[case_id] = _verdict(raw, row) if kind == "verdict" else _score(raw, row)
    if not out:
        raise InputError(f"{where}: no labels")
    return kind, out


def _dict_kind(labels: dict[Any, Any]) -> str:
    values = list(labels.values())
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return "score" if numeric and any(v not in (0, 1) for v in values) else "verdict"


def _verdict(raw: Any, row: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(f"{row}: verdict {raw!r} is neither pass nor fail (e.g. pass/fail, 1/0)")


def _score(raw: Any, row: str) -> int:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise InputError(f"{row}: score {raw!r} is not a number") from None
    if not math.isfinite(value) or value != int(value) or not 1 <= value <= 10:
        raise InputError(f"{row}: score {raw!r} is not an integer from 1 to 10 (the judge's scale)")
    return int(value)


def calibrate_judge(labels: Any, run: str, *, target: str | None = None, store: Any = None,
                    n_boot: int = 2000, seed: int = 0) -> Calibration:  # fmt: skip
    """The case judge of stored eval ``run`` against human ``labels`` (see the module).

    ``target`` (provider/model) picks the judged model when the run has several; with
    repeats (k > 1) each case's first attempt is used, as one label covers one answer.
    """
    from llmbench_jupyter.analysis.eval_history import load_eval

    kind, human = read_labels(labels)
    result = load_eval(run, store=store)
    targets = sorted({str(t) for j in result.judgements if j.get("kind") == "case"
                      and (t := (j.get("subject") or {}).get("target")) is not None})  # fmt: skip
    if not targets:
        raise LLMBenchError(f"eval run {result.run_id} has no case judgements to calibrate")
    if target is None:
        if len(targets) > 1:
            raise InputError(f"calibrate_judge: run {result.run_id} judged {targets}; name one "
                             "(target=...)")  # fmt: skip
        target = targets[0]
    if target not in targets:
        raise InputError(f"calibrate_judge: {target!r} was not judged in this run ({targets})")
    judged: dict[str, Any] = {}
    failed: set[str] = set()
    judge_name = None
    for j in result.judgements:
        subject = j.get("subject") or {}
        if j.get("kind") != "case" or subject.get("target") != target:
            continue
        if subject.get("attempt", 0) not in (0, None):
            continue
        case = str(j.get("case_id"))
        judge_name = judge_name or j.get("judge")
        parsed = j.get("parsed") or {}
        value = parsed.get("passed") if kind == "verdict" else parsed.get("score")
        ok = j.get("status") == "ok" and (
            isinstance(value, bool) if kind == "verdict" else value in SCALE
        )
        if ok:
            judged[case] = value
        else:
            failed.add(case)
    both = [c for c in human if c in judged]
    pairs = [(c, human[c], judged[c]) for c in both]
    a, b = [p[1] for p in pairs], [p[2] for p in pairs]
    if kind == "verdict":
        stat = cohen_kappa(a, b, categories=[True, False], n_boot=n_boot, seed=seed)
    else:
        stat = cohen_kappa(a, b, categories=SCALE, weights="quadratic", n_boot=n_boot, seed=seed)
    return Calibration(
        kind=kind, judge=judge_name, target=target, result=stat, pairs=pairs,
        unlabelled=sorted(c for c in judged if c not in human),
        unjudged=sorted(c for c in human if c not in judged),
        invalid=sum(1 for c in failed if c in human and c not in judged),
    )  # fmt: skip
