"""The judge's mean score for one target: one definition for the job snapshot and results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def judge_mean(judgements: Iterable[Mapping[str, Any]], target: str) -> float | None:
    """Mean score (1–10) of ``target``'s valid case judgements; None when there are none.

    A judgement counts when its ``kind`` is ``"case"``, its ``status`` is ``"ok"``, its
    ``subject["target"]`` is ``target`` and ``parsed["score"]`` is a number. Invalid and
    failed judge calls are left out, never scored 0.
    """
    values = []
    for j in judgements:
        if j.get("kind") != "case" or j.get("status") != "ok":
            continue
        if (j.get("subject") or {}).get("target") != target:
            continue
        score = (j.get("parsed") or {}).get("score")
        if isinstance(score, int | float) and not isinstance(score, bool):
            values.append(float(score))
    return sum(values) / len(values) if values else None
