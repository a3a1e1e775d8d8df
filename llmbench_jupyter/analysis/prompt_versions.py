"""A prompt search's prompts as versions: each with its lineage, its diff and its scores.

Version *n* is trial *n*'s prompt. Its parent is the prompt it was written from (the
first parent of a crossover; ``parents`` lists both), its diff is a unified diff against
that parent's text (line by line, the way a reviewer reads a prompt change), and
``origin`` says what produced it: the baseline, a quick variant, a crossover, a mutation
or a reflection on failures.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: Columns of :func:`versions_df` before the objectives.
VERSION_COLUMNS = ("version", "parent", "parents", "origin", "generation", "state")


def prompt_diff(parent: str | None, child: str | None) -> str:
    """Unified diff of two prompts (empty when they are equal)."""
    a, b = (parent or "").splitlines(), (child or "").splitlines()
    return "\n".join(difflib.unified_diff(a, b, "parent", "version", lineterm=""))


def versions_df(trials: Sequence[dict[str, Any]], objectives: Sequence[str]) -> pd.DataFrame:
    """One row per prompt version: lineage, scores (the search's objectives), the text
    and its diff against its parent."""
    import pandas as pd

    texts = {r["number"]: r.get("prompt") for r in trials}
    rows = []
    for r in trials:
        attrs = r.get("system_attrs") or {}
        parent = r.get("prompt_parent")
        row = {
            "version": r["number"],
            "parent": parent,
            "parents": list(attrs.get("parents") or ([] if parent is None else [parent])),
            "origin": r.get("prompt_origin"),
            "generation": attrs.get("generation"),
            "state": r["state"],
        }
        values = r.get("values") or []
        row.update({o: (values[i] if i < len(values) else None) for i, o in enumerate(objectives)})
        row["prompt"] = r.get("prompt")
        row["diff"] = prompt_diff(texts.get(parent), r.get("prompt")) if parent is not None else ""
        rows.append(row)
    columns = [*VERSION_COLUMNS, *objectives, "prompt", "diff"]
    return pd.DataFrame(rows, columns=columns)
