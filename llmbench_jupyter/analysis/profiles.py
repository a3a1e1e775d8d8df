"""Model profiles: the parameters and system prompt that work best for a model, by name.

A profile is saved from a search's best trial (``save_profile("name", result)``: its full
request parameters, its prompt, and where it came from, the held-out verdict included)
or written by hand, and applied by name in ``bench``, ``evaluate``, ``tune`` and
``tune_prompts`` (``profile="name"``, CLI ``--profile``): its model gets those
parameters on every request and that system prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import LLMBenchError

if TYPE_CHECKING:
    import pandas as pd

    from llmbench_jupyter.analysis.tune_result import TuneResult

#: Columns of :func:`profiles`.
PROFILE_COLUMNS = ("name", "target", "params", "system_prompt", "source", "notes",
                   "created_at", "updated_at")  # fmt: skip


def _db(store: Any) -> Any:
    from llmbench_jupyter.analysis.results import _store

    return _store(store)


def from_result(result: TuneResult, trial: int | None = None) -> dict[str, Any]:
    """The profile fields of a search's trial (default: its best): the parameters the
    trial sent (the model's own profile parameters, then the trial's), its prompt, and
    where it came from."""
    rows = {r["number"]: r for r in result.trials}
    chosen = result.best if trial is None else rows.get(trial)
    if chosen is None:
        what = "no complete trial" if trial is None else f"no trial {trial}"
        raise LLMBenchError(f"save_profile: search {result.name!r} has {what}")
    spec = result.study.get("spec") or {}
    params = {**(spec.get("target_params") or {}), **(chosen.get("params") or {})}
    values = dict(zip(result.objectives, chosen.get("values") or [], strict=False))
    return {
        "target": result.study.get("target"),
        "params": params,
        "system_prompt": chosen.get("prompt"),
        "source": {
            "study_id": result.study_id,
            "search": result.name,
            "trial": chosen["number"],
            "values": values,
            "verdict": result.verdict,
        },
    }


def save_profile(
    name: str,
    result: TuneResult | None = None,
    *,
    trial: int | None = None,
    target: str | None = None,
    params: Mapping[str, Any] | None = None,
    system_prompt: str | None = None,
    notes: str | None = None,
    replace: bool = False,
    store: Any = None,
) -> dict[str, Any]:
    """Save a model profile: from a search ``result`` (its best trial, or ``trial``), or
    from ``target`` ("provider/model"), ``params`` and ``system_prompt`` given by hand.
    An existing name is refused unless ``replace=True``."""
    if result is not None:
        if target is not None or params is not None or system_prompt is not None:
            raise LLMBenchError(
                "save_profile: give a search result or target/params/system_prompt, not both"
            )
        fields = from_result(result, trial)
    else:
        if not target:
            raise LLMBenchError("save_profile: give a search result, or target='provider/model'")
        fields = {"target": target, "params": dict(params or {}), "system_prompt": system_prompt,
                  "source": {"by": "hand"}}  # fmt: skip
    saved: dict[str, Any] = _db(store).save_profile(name, notes=notes, replace=replace, **fields)
    return saved


def load_profile(name: str, store: Any = None) -> dict[str, Any]:
    """One of your profiles by name."""
    db = _db(store)
    found: dict[str, Any] | None = db.profile(name)
    if found is None:
        raise LLMBenchError(f"no model profile named {name!r} in {db.url}")
    return found


def profiles(store: Any = None, all_owners: bool = False) -> pd.DataFrame:
    """Your model profiles (hub admins: everyone's with ``all_owners``), by name."""
    import pandas as pd

    rows = _db(store).list_profiles(all_owners=all_owners)
    columns = list(PROFILE_COLUMNS) + (["owner"] if all_owners else [])
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)


def delete_profile(name: str, store: Any = None) -> None:
    _db(store).delete_profile(name)
