"""Pruning from per-case results: stop a trial once it is clearly worse than the best.

Each finished case reports its value at its own step (its index among the search cases),
so a trial is compared with the best trial case by case, paired. For pass/fail cases that
comparison is McNemar's exact test on the cases where the two disagree (one-sided: is
this trial worse?); Optuna's Wilcoxon pruner does the same for continuous values but its
exact path is exponential in the number of tied pairs, which 0/1 values are made of.
Latency and cost use Optuna's ``WilcoxonPruner``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import optuna

from llmbench_jupyter.stats import sign_test_worse

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

#: A trial is pruned when the one-sided p-value falls below this (Optuna's Wilcoxon default).
P_THRESHOLD = 0.1
#: Cases a trial runs before it may be pruned.
STARTUP_STEPS = 5


class PairedPassPruner(optuna.pruners.BasePruner):
    """Prune when this trial's passes lose to the best trial's on the same cases."""

    def __init__(self, p_threshold: float = P_THRESHOLD, n_startup_steps: int = STARTUP_STEPS):
        self.p_threshold = p_threshold
        self.n_startup_steps = n_startup_steps

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        try:
            best = study.best_trial
        except ValueError:  # no complete trial yet
            return False
        mine, theirs = trial.intermediate_values, best.intermediate_values
        common = [s for s in mine if s in theirs]
        if len(common) < self.n_startup_steps:
            return False
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
        wins = sum(1 for s in common if sign * (mine[s] - theirs[s]) > 0)
        losses = sum(1 for s in common if sign * (mine[s] - theirs[s]) < 0)
        return sign_test_worse(wins, losses) < self.p_threshold


def make_pruner(objective: str) -> optuna.pruners.BasePruner:
    if objective == "pass_rate":
        return PairedPassPruner()
    with warnings.catch_warnings():  # "experimental" since Optuna 3.6; we require >= 4
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.pruners.WilcoxonPruner(p_threshold=P_THRESHOLD, n_startup_steps=STARTUP_STEPS)
