"""Statistics for the regression gate (standard library only).

The live gate asks two questions, as asv and Bencher do: is the shift large enough
to matter (an effect-size threshold), and is it unlikely to be noise (a one-sided
Mann-Whitney U test)? Both must hold. See ``docs/regressions.md``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MIN_SAMPLES", "RankTest", "mann_whitney_greater", "median"]

MIN_SAMPLES = 5
"""Fewer samples on either side make a live comparison inconclusive."""


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        raise ValueError("median of no values")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True)
class RankTest:
    u: float
    """Mann-Whitney U of the new sample: how often a new value beats an old one."""
    p: float
    """One-sided p-value of "new values tend to be larger"."""
    exact: bool


def _exact_tail(n1: int, n2: int, u: float) -> float:
    """P(U >= u) under the null, by counting (no ties), for small samples."""
    # counts[k] = number of arrangements with U == k, built up one element at a time
    # (the classic recurrence on (n1, n2)); memoized over the grid

    @functools.cache
    def count(a: int, b: int, k: int) -> int:
        if k < 0:
            return 0
        if a == 0 or b == 0:
            return 1 if k == 0 else 0
        return count(a - 1, b, k - b) + count(a, b - 1, k)

    total = math.comb(n1 + n2, n1)
    threshold = math.ceil(u - 1e-9)
    hits = sum(count(n1, n2, k) for k in range(threshold, n1 * n2 + 1))
    return hits / total


def mann_whitney_greater(new: Sequence[float], old: Sequence[float]) -> RankTest:
    """One-sided Mann-Whitney U test that ``new`` tends to exceed ``old``.

    Exact for small samples without ties (n1 * n2 <= 400); otherwise the normal
    approximation with tie correction and a continuity correction."""
    n1, n2 = len(new), len(old)
    if not n1 or not n2:
        raise ValueError("both samples need values")
    combined = sorted([(v, 0) for v in new] + [(v, 1) for v in old])
    ranks = [0.0] * len(combined)
    ties = []
    i = 0
    while i < len(combined):
        j = i
        while j + 1 < len(combined) and combined[j + 1][0] == combined[i][0]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = rank
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    r1 = sum(rank for rank, (_, side) in zip(ranks, combined, strict=True) if side == 0)
    u = r1 - n1 * (n1 + 1) / 2
    if not ties and n1 * n2 <= 400:
        return RankTest(u=u, p=_exact_tail(n1, n2, u), exact=True)
    n = n1 + n2
    mean = n1 * n2 / 2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return RankTest(u=u, p=1.0 if u <= mean else 0.0, exact=False)
    z = (u - mean - 0.5) / math.sqrt(variance)
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return RankTest(u=u, p=p, exact=False)
