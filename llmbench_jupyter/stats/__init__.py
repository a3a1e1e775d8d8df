"""Every statistic the product shows: computed here and nowhere else.

Definitions (formulas, percentile method, bootstrap, IQR rule) are in docs/metrics.md.
numpy and pandas are imported inside functions so ``import llmbench_jupyter`` stays light.
"""

from llmbench_jupyter.stats._agreement import cohen_kappa
from llmbench_jupyter.stats._columns import GROUP_KEYS, METRICS, STATS, StatsInputError
from llmbench_jupyter.stats._describe import describe
from llmbench_jupyter.stats._judge import judge_mean
from llmbench_jupyter.stats._latency import (
    LIVE_METRICS,
    aggregate_throughput,
    compare,
    live_medians,
    summarize,
    summary_rows,
)
from llmbench_jupyter.stats._overhead import (
    client_bound_reason,
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

__all__ = [
    "GROUP_KEYS",
    "LIVE_METRICS",
    "METRICS",
    "PAIR_WINNERS",
    "RELATIVE_ACCURACY",
    "STATS",
    "Sketch",
    "StatsInputError",
    "aggregate_throughput",
    "client_bound_reason",
    "clustered_proportion",
    "cohen_kappa",
    "compare",
    "cpu_share",
    "describe",
    "is_client_bound",
    "judge_mean",
    "live_medians",
    "loop_lag_summary",
    "macro_average",
    "mcnemar",
    "pairwise_summary",
    "proportion",
    "repeat_rates",
    "shift_test",
    "sign_test_worse",
    "sketch_quantile",
    "summarize",
    "summary_rows",
    "wilson_interval",
]
