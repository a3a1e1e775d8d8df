"""A stored search as an Optuna study in an RDB storage (optuna-dashboard, Optuna's plots).

The baseline is left out: it has no point in the search space when its parameters are
the target's defaults. Each trial keeps its parameters with their distributions, its
values, its per-case intermediate values and its state, and gets our trial number and
metrics as user attributes.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import LLMBenchError

if TYPE_CHECKING:
    import optuna

    from llmbench_jupyter.analysis.tune_result import TuneResult

_STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "fail": "FAIL", "running": "FAIL"}


def to_optuna(result: TuneResult, storage: str, study_name: str | None = None) -> optuna.Study:
    import optuna
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState

    if not result.directions:
        raise LLMBenchError("to_optuna: this search has no objectives yet")
    name = study_name or f"{result.name} ({result.study_id})"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(storage=storage, study_name=name,
                                    directions=_directions(result.directions))  # fmt: skip
    except optuna.exceptions.DuplicatedStudyError:
        raise LLMBenchError(
            f"to_optuna: {storage} already has a study named {name!r}; pass study_name="
        ) from None
    except (ValueError, ImportError) as exc:
        raise LLMBenchError(f"to_optuna: cannot open storage {storage!r}: {exc}") from None
    with warnings.catch_warnings():  # "experimental" since Optuna 3.2; we require >= 4
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(result.objectives)
    for row in result.trials:
        if row["number"] == 0:
            continue
        state = getattr(TrialState, _STATES.get(row["state"], "FAIL"))
        metrics = {k: v for k, v in (row.get("metrics") or {}).items() if _plain(v)}
        dists = {k: json_to_distribution(v) for k, v in (row.get("distributions") or {}).items()}
        study.add_trial(
            optuna.trial.create_trial(
                params={k: v for k, v in row["params"].items() if k in dists},
                distributions=dists,
                values=row.get("values") if state == TrialState.COMPLETE else None,
                state=state,
                intermediate_values={int(k): v for k, v in (row.get("intermediate") or {}).items()},
                user_attrs={"llmbench_trial": row["number"], **metrics},
            )
        )
    return study


def _directions(given: list[str]) -> list[Any]:
    from optuna.study import StudyDirection

    return [StudyDirection.MAXIMIZE if d == "maximize" else StudyDirection.MINIMIZE for d in given]


def _plain(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    return isinstance(value, int | float) and math.isfinite(value)
