"""Proportions for evals: Wilson intervals (per case, clustered by case), macro averages,
pass@k, McNemar, pairwise wins.

Eval suites are small and pass rates sit near 0 or 1, so every rate carries an interval
that stays honest there (formulas in docs/scoring.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from llmbench_jupyter.stats._columns import StatsInputError

# --------------------------------------------------------------------------- proportions


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% with the default z).

    Chosen over the normal ("Wald") interval because eval suites are small and pass
    rates sit near 0 or 1, where Wald collapses to zero width or leaves [0, 1].
    ``successes`` may be fractional (see :func:`macro_average`). Formula in docs/scoring.md.
    """
    if not (isinstance(n, int | float) and not isinstance(n, bool)) or not n > 0:
        raise StatsInputError(f"wilson_interval: n must be a positive number, got {n!r}")
    if not (isinstance(successes, int | float) and not isinstance(successes, bool)) or not (
        0 <= successes <= n
    ):
        raise StatsInputError(
            f"wilson_interval: successes must be between 0 and n={n}, got {successes!r}"
        )
    if not (isinstance(z, int | float) and z > 0):
        raise StatsInputError(f"wilson_interval: z must be a positive number, got {z!r}")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # at 0 or n successes the bound is exactly 0 or 1 (float rounding leaves ~1e-17)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def macro_average(
    counts: Sequence[tuple[float, float]], z: float = 1.96
) -> tuple[float, float, float]:
    """Unweighted mean of several proportions with an approximate Wilson interval.

    ``counts`` holds ``(successes, n)`` per group (e.g. per category); with repeated
    attempts pass a group's effective count (``rate·n_eff, n_eff`` from
    :func:`clustered_proportion`), which may be fractional. The mean of k
    proportions has variance p(1-p)·Σ(1/n_i)/k² under a common p, i.e. that of one
    proportion over n_eff = k² / Σ(1/n_i) trials; the interval is Wilson's at n_eff.
    With equal group sizes n_eff is the total count, so micro and macro agree.
    Returns ``(mean, ci_low, ci_high)``.
    """
    groups = list(counts)
    if not groups:
        raise StatsInputError("macro_average: needs at least one (successes, n) group")
    for i, (s, n) in enumerate(groups):
        if not (_number(n) and _number(s) and n > 0 and 0 <= s <= n):
            raise StatsInputError(
                f"macro_average: group {i} must be (successes, n) with 0 <= successes <= n "
                f"and n > 0, got {(s, n)!r}"
            )
    k = len(groups)
    mean = sum(s / n for s, n in groups) / k
    n_eff = k * k / sum(1 / n for _, n in groups)
    low, high = wilson_interval(min(mean * n_eff, n_eff), n_eff, z)
    return mean, low, high


def proportion(successes: float, n: int) -> dict[str, Any]:
    """``successes / n`` with its Wilson 95% interval: the one rate helper every module uses.

    Returns ``rate``, ``ci_low``, ``ci_high``, ``successes`` and ``n``; with ``n == 0``
    the rate and bounds are None (nothing was measured), never 0.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise StatsInputError(f"proportion: n must be a non-negative integer, got {n!r}")
    low, high = wilson_interval(successes, n) if n else (None, None)
    return {
        "rate": successes / n if n else None,
        "ci_low": low,
        "ci_high": high,
        "successes": successes,
        "n": n,
    }


def clustered_proportion(groups: Mapping[Any, Sequence[bool]], z: float = 1.96) -> dict[str, Any]:
    """Pass rate over repeated attempts with a Wilson interval clustered by case.

    ``groups`` maps a case id to its verdicts (one per attempt). The rate is the share of
    all attempts that passed, p = S/M. Attempts at one case are not independent, so the
    interval is Wilson's at the effective number of trials n_eff = p(1-p)/V, where
    V = Σ_i (s_i - p·m_i)² / M² is the cluster-robust (per-case) variance of p (s_i, m_i:
    passes and attempts of case i). n_eff is at most M, the naive count of attempts; when
    every case's k attempts agree (or k = 1) it is the number of cases, so the interval is
    the per-case one (set exactly: k = 1 gives the plain Wilson interval over cases). If V
    is 0 otherwise (every case passed the same share), n_eff = M. Formula in
    docs/scoring.md.

    Returns ``rate``, ``ci_low``, ``ci_high``, ``successes`` (S), ``n`` (M attempts),
    ``n_cases`` and ``n_eff``; an empty mapping gives None rate and bounds.
    """
    sizes: list[tuple[int, int]] = []
    for case, verdicts in groups.items():
        values = list(verdicts)
        if not values:
            raise StatsInputError(f"clustered_proportion: case {case!r} has no attempts")
        sizes.append((sum(bool(v) for v in values), len(values)))
    cases = len(sizes)
    total = sum(m for _, m in sizes)
    passed = sum(s for s, _ in sizes)
    if total == 0:
        return {"rate": None, "ci_low": None, "ci_high": None, "successes": 0, "n": 0,
                "n_cases": 0, "n_eff": None}  # fmt: skip
    p = passed / total
    variance = sum((s - p * m) ** 2 for s, m in sizes) / (total * total)
    if len({m for _, m in sizes}) == 1 and all(s in (0, m) for s, m in sizes):
        # k = 1, or every case's k attempts agree: exactly the Wilson interval over cases
        n_eff: float = cases
        hits: float = sum(1 for s, m in sizes if s == m)
    elif variance <= 0 or p * (1 - p) / variance >= total:
        n_eff, hits = total, passed
    else:
        n_eff = p * (1 - p) / variance
        hits = min(p * n_eff, n_eff)
    low, high = wilson_interval(hits, n_eff, z)
    return {
        "rate": p,
        "ci_low": low,
        "ci_high": high,
        "successes": passed,
        "n": total,
        "n_cases": cases,
        "n_eff": float(n_eff),
    }


def repeat_rates(attempts: Mapping[str, Sequence[bool]]) -> dict[str, Any]:
    """pass@k, pass^k and flip rate over cases attempted k times each.

    ``attempts`` maps a case id to its k verdicts. pass@k: share of cases passed at least
    once; pass^k: passed every time; flip rate: passed some times and failed others (the
    model is inconsistent there). Each is a proportion of cases with its Wilson 95% CI.
    Cases with a different number of attempts than the rest are an error, since k would
    then mean different things for different cases.
    """
    ks = {len(v) for v in attempts.values()}
    if len(ks) > 1 or 0 in ks:
        raise StatsInputError(
            f"repeat_rates: every case needs the same number (>= 1) of attempts, found {sorted(ks)}"
        )
    k = ks.pop() if ks else 0
    n = len(attempts)
    any_pass = sum(any(v) for v in attempts.values())
    all_pass = sum(all(v) for v in attempts.values())
    return {
        "k": k,
        "cases": n,
        "pass_at_k": proportion(any_pass, n),
        "pass_hat_k": proportion(all_pass, n),
        "flip_rate": proportion(any_pass - all_pass, n),
    }


def mcnemar(a: Mapping[str, bool], b: Mapping[str, bool], alpha: float = 0.05) -> dict[str, Any]:
    """Paired comparison of two runs' verdicts on the same cases (exact McNemar test).

    Only cases present in both count. ``b_only``/``a_only`` are the discordant pairs; the
    two-sided p-value is the exact binomial one (no normal approximation, so small suites
    are handled correctly). ``significant`` is False when p >= alpha: the runs do not
    differ detectably, whatever their pass rates look like.
    """
    common = sorted(set(a) & set(b))
    a_only = sum(bool(a[c]) and not b[c] for c in common)
    b_only = sum(bool(b[c]) and not a[c] for c in common)
    discordant = a_only + b_only
    if discordant == 0:
        p = 1.0
    else:
        tail = sum(math.comb(discordant, i) for i in range(min(a_only, b_only) + 1))
        p = min(1.0, 2 * tail / 2**discordant)
    return {
        "cases": len(common),
        "a_only": a_only,
        "b_only": b_only,
        "p_value": p,
        "significant": p < alpha,
        "verdict": ("the runs differ" if p < alpha else "no significant difference"),
    }


def sign_test_worse(wins: int, losses: int) -> float:
    """One-sided exact p-value that a paired run is worse: P(X <= wins) for
    X ~ Binomial(wins + losses, 1/2), over the discordant pairs only (McNemar's exact test,
    one side). 1.0 when there is no discordant pair."""
    for label, value in (("wins", wins), ("losses", losses)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StatsInputError(
                f"sign_test_worse: {label} must be an integer >= 0, got {value!r}"
            )
    n = wins + losses
    if n == 0:
        return 1.0
    return min(1.0, sum(math.comb(n, i) for i in range(wins + 1)) / 2**n)


PAIR_WINNERS = ("first", "second", "tie", "invalid")


def pairwise_summary(winners: Sequence[str], consistent: Sequence[bool | None]) -> dict[str, Any]:
    """Counts, win rate and position consistency of a pairwise comparison (judged in both orders).

    ``winners[i]`` is pair i's verdict (one of :data:`PAIR_WINNERS`); ``consistent[i]``
    whether its two orders agreed once mapped back to runs (None when a side was invalid).
    ``first_win_rate`` = (first wins + ties/2) / valid pairs, so 0.5 means no preference;
    ``position_consistency`` = agreeing pairs / pairs with both verdicts valid. Invalid
    pairs count in neither. Each rate has its Wilson 95% interval (None when n is 0).
    """
    if len(winners) != len(consistent):
        raise StatsInputError(
            f"pairwise_summary: {len(winners)} winners but {len(consistent)} consistency flags"
        )
    for i, (w, c) in enumerate(zip(winners, consistent, strict=True)):
        if w not in PAIR_WINNERS:
            raise StatsInputError(
                f"pairwise_summary: winners[{i}] is {w!r}, expected one of {list(PAIR_WINNERS)}"
            )
        if c is not None and not isinstance(c, bool):
            raise StatsInputError(f"pairwise_summary: consistent[{i}] is {c!r}, expected a bool")
    counts = {w: sum(1 for x in winners if x == w) for w in PAIR_WINNERS}
    valid = len(winners) - counts["invalid"]
    flags = [c for c in consistent if c is not None]

    return {
        "n": len(winners),
        "n_valid": valid,
        "first_wins": counts["first"],
        "second_wins": counts["second"],
        "ties": counts["tie"],
        "invalid": counts["invalid"],
        "first_win_rate": proportion(counts["first"] + counts["tie"] / 2, valid),
        "position_consistency": proportion(sum(flags), len(flags)),
    }
