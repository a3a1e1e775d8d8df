"""LLM-as-judge for the tool-calling eval: per-case grades, pairwise comparisons, suite reports.

A judge is a second opinion beside the rule-based score, never a replacement for it, so:

* every judge call keeps the exact messages sent and the raw reply (``Judgement``), for
  the caller to store and for anyone to audit;
* a reply that is not exactly one JSON object of the expected shape is ``invalid``,
  never a pass or a win; a failed request is ``api_error`` (scrubbed), and the run goes on;
* pairwise comparisons are judged in both orders, because judges prefer a position;
  verdicts that disagree across orders count as a tie, and position consistency is
  reported with its interval (counting in ``stats.pairwise_summary``).

Prompts, verdict formats and a worked example are in docs/scoring.md ("LLM-as-judge").
Layout: ``_results`` (what a judge call produces), ``_verdicts`` (reply validation),
``_prompts`` (messages sent), ``_calls`` (one judge request) and ``_runs`` (many runs:
inline, post-run, run against run).
"""

from llmbench_jupyter.evals.judge._calls import judge_case, judge_pair, judge_report
from llmbench_jupyter.evals.judge._prompts import (
    answer_text,
    case_messages,
    pair_messages,
    report_messages,
)
from llmbench_jupyter.evals.judge._results import (
    JUDGE_KINDS,
    JUDGE_STATUSES,
    JudgeError,
    Judgement,
    PairVerdict,
    PairwiseReport,
)
from llmbench_jupyter.evals.judge._runs import InlineJudge, compare_runs, judge_runs
from llmbench_jupyter.evals.judge._verdicts import parse_verdict

__all__ = [
    "JUDGE_KINDS",
    "JUDGE_STATUSES",
    "InlineJudge",
    "JudgeError",
    "Judgement",
    "PairVerdict",
    "PairwiseReport",
    "answer_text",
    "case_messages",
    "compare_runs",
    "judge_case",
    "judge_pair",
    "judge_report",
    "judge_runs",
    "pair_messages",
    "parse_verdict",
    "report_messages",
]
