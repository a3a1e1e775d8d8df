"""Pairing expected calls with the calls made: optimal assignment, never greedy.

The Hungarian algorithm (``assign``) serves the default mode's call pairing, the
``unordered`` matcher and BFCL mode's check of whether a valid pairing exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from llmbench_jupyter.evals.scoring._results import CaseScore, _Eval


def assign(
    weights: Sequence[Sequence[float]], *, require_positive: bool = False
) -> list[tuple[int, int]]:
    """Maximum-weight assignment of rows to columns (Hungarian algorithm, O(n³)).

    Returns sorted ``(row, column)`` pairs; a rectangular matrix pairs min(rows, cols).
    With ``require_positive`` pairs of weight <= 0 are dropped (bipartite matching use).
    """
    rows = len(weights)
    cols = len(weights[0]) if rows else 0
    if rows == 0 or cols == 0:
        return []
    n = max(rows, cols)
    top = max(max(row) for row in weights)

    def cost(i: int, j: int) -> float:
        return top - (weights[i][j] if i < rows and j < cols else 0)

    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    owner = [0] * (n + 1)  # owner[j]: row (1-based) assigned to column j
    way = [0] * (n + 1)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = [math.inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = owner[j0], math.inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost(i0 - 1, j - 1) - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    pairs = [(owner[j] - 1, j - 1) for j in range(1, n + 1) if 0 < owner[j] <= rows and j <= cols]
    if require_positive:
        pairs = [(i, j) for i, j in pairs if weights[i][j] > 0]
    return sorted(pairs)


def _pair_weights(evals: list[list[_Eval]]) -> list[list[int]]:
    """Integer weights ranking pairs by: same name, then fully right, then params right.

    Each tier outweighs everything below it summed over all pairs; a tie-break below all
    of them keeps in-order pairs when nothing else distinguishes them (stable reports).
    """
    n = max(len(evals), len(evals[0]))
    max_params = max((e.params_ok for row in evals for e in row), default=0)
    tier_valid = n * (max_params + 1) + 1
    tier_name = n * (tier_valid + max_params + 1) + 1
    return [
        [
            (e.name_ok * tier_name + e.valid * tier_valid + e.params_ok) * (n + 1) + (i == j)
            for j, e in enumerate(row)
        ]
        for i, row in enumerate(evals)
    ]


def _fill_pairs(
    score: CaseScore,
    n_params: list[int],
    evals: list[list[_Eval]],
    pairs: list[tuple[int, int]],
) -> None:
    """Record pairs, leftovers and argument metrics (``n_params``: params per expected call)."""
    score.pairs = [(i, j, evals[i][j].verdicts) for i, j in pairs]
    score.unmatched_expected = sorted(set(range(len(n_params))) - {i for i, _ in pairs})
    score.unmatched_actual = sorted(set(range(score.n_actual)) - {j for _, j in pairs})
    total = sum(n_params)
    ok = sum(evals[i][j].params_ok for i, j in pairs if evals[i][j].name_ok)
    score.argument_accuracy = ok / total if total else None
    score.n_arguments = sum(evals[i][j].n_arguments for i, j in pairs if evals[i][j].name_ok)
    score.hallucinated_arguments = sum(evals[i][j].hallucinated for i, j in pairs)
