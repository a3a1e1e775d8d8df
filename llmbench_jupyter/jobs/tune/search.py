"""The Optuna side of a search: samplers, the pruner, and a study rebuilt from the store.

Optuna runs in memory, driven by ask/tell; the store is the record. A resumed search
replays its stored trials into a fresh in-memory study (parameters, values, per-case
intermediate values and the sampler's own attributes, so the grid sampler skips points
already run), then asks for more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs.tune.space import SearchSpace

if TYPE_CHECKING:
    import optuna

SAMPLERS = ("tpe", "random", "grid", "nsga2")
#: Stored trial state -> Optuna's.
_STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "fail": "FAIL"}


def check_sampler(name: str, n_objectives: int, space: SearchSpace) -> None:
    if name not in SAMPLERS:
        raise InputError(f"sampler: unknown {name!r}; expected one of {', '.join(SAMPLERS)}")
    if name == "grid":
        space.grid()  # raises for a continuous dimension
    if name == "nsga2" and n_objectives < 2:
        raise InputError("sampler: nsga2 searches several objectives; with one, use tpe")


def make_study(
    sampler: str,
    seed: int,
    directions: Sequence[str],
    space: SearchSpace,
    *,
    prune: bool,
    n_startup: int,
    objective: str = "pass_rate",
) -> optuna.Study:
    """An in-memory study; ``seed`` makes a fresh search repeatable."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chosen: optuna.samplers.BaseSampler
    if sampler == "grid":
        chosen = _grid_sampler(space.grid(), seed)
    elif sampler == "random":
        chosen = optuna.samplers.RandomSampler(seed=seed)
    elif sampler == "nsga2":
        chosen = optuna.samplers.NSGAIISampler(seed=seed)
    else:
        chosen = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=n_startup, multivariate=True, constant_liar=False
        )
    pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    if prune and len(directions) == 1:
        from llmbench_jupyter.jobs.tune.pruner import make_pruner

        pruner = make_pruner(objective)
    wanted = [optuna.study.StudyDirection[d.upper()] for d in directions]
    return optuna.create_study(directions=wanted, sampler=chosen, pruner=pruner)


def _grid_sampler(grid: dict[str, list[Any]], seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    class AskTellGrid(optuna.samplers.GridSampler):
        """Optuna's grid, without its ``study.stop()`` once every point was run: that
        only works inside ``optimize()``; the search checks the grid's end itself."""

        def after_trial(self, *args: Any, **kwargs: Any) -> None:
            return None

    return AskTellGrid(grid, seed=seed)


def replay(study: optuna.Study, stored: Sequence[Mapping[str, Any]]) -> None:
    """Add stored search trials (not the baseline) to ``study``, in order."""
    import optuna
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState

    for row in stored:
        state = _STATES.get(row["state"], "FAIL")  # an interrupted ("running") one failed
        dists = {k: json_to_distribution(v) for k, v in row["distributions"].items()}
        values = row.get("values") if state == "COMPLETE" else None
        study.add_trial(
            optuna.trial.create_trial(
                params={k: v for k, v in row["params"].items() if k in dists},
                distributions=dists,
                values=values,
                state=getattr(TrialState, state),
                intermediate_values={int(k): v for k, v in (row.get("intermediate") or {}).items()},
                system_attrs=dict(row.get("system_attrs") or {}),
            )
        )


def distributions_json(trial: optuna.Trial) -> dict[str, str]:
    from optuna.distributions import distribution_to_json

    return {k: distribution_to_json(v) for k, v in trial.distributions.items()}


def system_attrs(study: optuna.Study, number: int) -> dict[str, Any]:
    """The sampler's attributes of a trial that survive JSON (the grid's point id...)."""
    out = {}
    for key, value in study.get_trials(deepcopy=False)[number].system_attrs.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out
