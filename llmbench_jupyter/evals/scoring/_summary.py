"""One target's stored eval summary: the fields every surface shows under one name each.

It lives here, beside ``score_suite``, so the eval job, the predecessor importer (store)
and the analysis layer all derive it from one mapping.
"""

from __future__ import annotations

from typing import Any

from llmbench_jupyter.evals.scoring._aggregate import SuiteScore

#: The fields of one target's eval summary, with one name and one meaning each, in the
#: store (``runs.summary``), ``EvalResult.summary``, ``eval_history``, the widget's
#: snapshot and the CLI table. ``attempts`` counts case attempts (cases × k), ``cases``
#: distinct cases, ``passed`` the attempts that passed; ``pass_rate`` = passed / attempts
#: (the micro average) with its case-clustered 95% interval; ``macro_rate`` is the mean of
#: the category rates that ran.
SUMMARY_FIELDS = (
    "attempts", "cases", "passed", "pass_rate", "pass_ci_low", "pass_ci_high",
    "macro_rate", "macro_ci_low", "macro_ci_high", "tool_f1", "argument_accuracy",
    "hallucination_rate", "schema_validity", "abstention",
)  # fmt: skip


def summary_fields(s: SuiteScore) -> dict[str, Any]:
    """One target's :data:`SUMMARY_FIELDS` from its ``score_suite`` aggregate."""
    micro, macro = s.micro, s.macro
    return {
        "attempts": s.n_attempts,
        "cases": micro.n_cases if micro else 0,
        "passed": s.n_passed,
        "pass_rate": micro.rate if micro else None,
        "pass_ci_low": micro.ci_low if micro else None,
        "pass_ci_high": micro.ci_high if micro else None,
        "macro_rate": macro.rate if macro else None,
        "macro_ci_low": macro.ci_low if macro else None,
        "macro_ci_high": macro.ci_high if macro else None,
        "tool_f1": s.mean_tool_f1,
        "argument_accuracy": s.mean_argument_accuracy,
        "hallucination_rate": s.hallucination_rate,
        "schema_validity": s.schema_validity.rate if s.schema_validity else None,
        "abstention": s.abstention.rate if s.abstention else None,
    }


def stored_summary(s: SuiteScore) -> dict[str, Any]:
    """What an eval run stores per target: :data:`SUMMARY_FIELDS` plus the per-category
    rates (``stats`` Rate dicts: ``n`` attempts, ``n_cases`` cases), outcome and error-type
    counts. No field is stored twice under two names."""
    full = s.to_dict()
    return {
        **summary_fields(s),
        **{k: full[k] for k in ("categories", "outcomes", "error_types", "bfcl_differs")},
    }
