"""Every statistic the product shows: computed here and nowhere else.

Definitions (formulas, percentile method, bootstrap, IQR rule) are in docs/metrics.md.
numpy and pandas are imported inside functions so ``import llmbench_jupyter`` stays light.
"""

from llmbench_jupyter.stats._agreement import cohen_kappa
from llmbench_jupyter.stats._columns import GROUP_KEYS, METRICS, STATS, StatsInputError
from llmbench_jupyter.stats._describe import describe
from llmbench_jupyter.stats._judge import judge_mean
from llmbench_jupyter.stats._latency import (
    aggregate_throughput,
    compare,
    summarize,
    summary_rows,
)
from llmbench_jupyter.stats._live import LIVE_METRICS, LiveMedians, live_medians
from llmbench_jupyter.stats._overhead import (
    client_bound_reason,
    combine_overhead,
    cpu_share,
    is_client_bound,
    loop_lag_summary,
)
from llmbench_jupyter.stats._proportions import (
    PAIR_WINNERS,
    clustered_proportion,
    macro_average,
    mcnemar,
    pairwise_summary,
    proportion,
    repeat_rates,
    sign_test_worse,
    wilson_interval,
)
from llmbench_jupyter.stats._shift import shift_test
from llmbench_jupyter.stats._sketch import RELATIVE_ACCURACY, Sketch, sketch_quantile
from llmbench_jupyter.stats._slo import (
    SLO,
    exceedance_bounds,
    exceedance_decision,
    min_requests_to_pass,
    slo_check,
)
from llmbench_jupyter.stats._timing_error import (
    bound_text,
    timing_bound_ms,
    timing_errors,
    timing_verdict,
    within_error,
)

__all__ = [
    "GROUP_KEYS",
    "LIVE_METRICS",
    "METRICS",
    "PAIR_WINNERS",
    "RELATIVE_ACCURACY",
    "SLO",
    "STATS",
    "LiveMedians",
    "Sketch",
    "StatsInputError",
    "aggregate_throughput",
    "bound_text",
    "client_bound_reason",
    "clustered_proportion",
    "cohen_kappa",
    "combine_overhead",
    "compare",
    "cpu_share",
    "describe",
    "exceedance_bounds",
    "exceedance_decision",
    "is_client_bound",
    "judge_mean",
    "live_medians",
    "loop_lag_summary",
    "macro_average",
    "mcnemar",
    "min_requests_to_pass",
    "pairwise_summary",
    "proportion",
    "repeat_rates",
    "shift_test",
    "sign_test_worse",
    "sketch_quantile",
    "slo_check",
    "summarize",
    "summary_rows",
    "timing_bound_ms",
    "timing_errors",
    "timing_verdict",
    "wilson_interval",
    "within_error",
]
