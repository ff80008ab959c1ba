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

__all__ = [
    "ALPHA",
    "EMULATOR_NOISE",
    "MEDIAN_EFFICIENCY",
    "LIVE_NOISE",
    "MIN_SAMPLES",
    "NoiseModel",
    "RankTest",
    "hodges_lehmann",
    "mann_whitney_greater",
    "median",
    "median_factor",
    "repeats_to_decide",
]

MIN_SAMPLES = 5
"""Fewer samples on either side make a live comparison inconclusive."""
ALPHA = 0.05
"""Significance level of the live rank test."""


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


@functools.cache
def _arrangements(a: int, b: int, k: int) -> int:
    """How many orderings of ``a`` new and ``b`` old values (no ties) give U == ``k``: the
    classic recurrence on (a, b), memoized for the process (a gate compares many tests with
    the same sample sizes)."""
    if k < 0:
        return 0
    if a == 0 or b == 0:
        return 1 if k == 0 else 0
    return _arrangements(a - 1, b, k - b) + _arrangements(a, b - 1, k)


@functools.cache
def _upper_counts(n1: int, n2: int) -> tuple[int, ...]:
    """``counts[t]``: the orderings with U >= t, for t = 0 .. n1 * n2."""
    counts = [0] * (n1 * n2 + 2)
    for k in range(n1 * n2, -1, -1):
        counts[k] = counts[k + 1] + _arrangements(n1, n2, k)
    return tuple(counts[:-1])


def _exact_tail(n1: int, n2: int, u: float) -> float:
    """P(U >= u) under the null, by counting (no ties), for small samples."""
    threshold = math.ceil(u - 1e-9)
    counts = _upper_counts(n1, n2)
    hits = counts[threshold] if 0 <= threshold < len(counts) else (counts[0] if threshold < 0 else 0)
    return hits / math.comb(n1 + n2, n1)


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


MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2)
"""The standard error of a median of n normal values is this many times that of their mean
(sqrt(pi/2), about 1.2533)."""


def median_factor(n: int) -> float:
    """The standard error of the median of ``n`` values over that of their mean:
    :data:`MEDIAN_EFFICIENCY` from 3 values on; 1 for one or two (their median is their mean)."""
    return MEDIAN_EFFICIENCY if n > 2 else 1.0


@dataclass(frozen=True)
class NoiseModel:
    """How much one call's *de-noised* latency (e2e minus Groq's queue time) varies between
    identical requests: the decode and prefill speed of the server (relative) and the network
    and client path (absolute, plus relative to its own size). Queue time is not in here:
    the gate subtracts it, as Groq reports it for every call.

    Calibration (``docs/regressions.md``, "The noise model"): in the real Groq cassettes
    Groq's completion speed of one model varies by a standard deviation of about 7 % between
    requests (openai/gpt-oss-120b: 437, 463, 503 tok/s; llama-4-scout: 424, 433 tok/s);
    llama3-8b reports a nominal 1,200 tok/s. The network term is a prior for a client near
    the API; the emulator's is its loopback path."""

    name: str
    service_rel_sd: float = 0.07
    """Standard deviation of the server's per-request speed (prefill and decode), relative."""
    path_sd_ms: float = 5.0
    """Standard deviation of the network and client time of one call (ms)."""
    path_rel_sd: float = 0.25
    """The same, relative to the median network and client time of the side."""
    z: float = 2.0
    """Half-width of the envelope in standard deviations. The threshold comes on top of it, so an
    A/A comparison must beat threshold + z sd: below 0.1 % for the defaults (bench_gate.py)."""

    def call_sd(self, service_ms: float, path_ms: float) -> float:
        """Standard deviation of one call's de-noised latency."""
        path = self.path_sd_ms + self.path_rel_sd * max(0.0, path_ms)
        return math.hypot(self.service_rel_sd * max(0.0, service_ms), path)

    def median_sd(self, service_ms: float, path_ms: float, n: int) -> float:
        """Standard deviation of the median of n calls' de-noised latency."""
        return self.call_sd(service_ms, path_ms) * median_factor(n) / math.sqrt(max(1, n))

    def describe(self) -> str:
        return (
            f"{self.name} noise: server speed sd {self.service_rel_sd:.0%} per request, network/client sd "
            f"{self.path_sd_ms:g} ms + {self.path_rel_sd:.0%}, envelope {self.z:g} sd"
        )


LIVE_NOISE = NoiseModel("live")
EMULATOR_NOISE = NoiseModel("emulator", service_rel_sd=0.07, path_sd_ms=2.0, path_rel_sd=0.25)
"""The emulator's jitter is 5 % by default (``GroqEmulator(jitter=...)``); 7 % leaves room
for ``queue_profile="groq"``'s decode jitter and a loaded runner."""


def repeats_to_decide(margin_ms: float, sd_one_ms: float, z: float, current: int) -> int:
    """Calls per side after which a shift ``margin_ms`` beyond the threshold leaves an envelope
    of ``z`` standard deviations (``sd_one_ms``: one call's, per side), and at least
    :data:`MIN_SAMPLES` (the rank test's minimum)."""
    if margin_ms <= 0 or sd_one_ms <= 0:
        return max(MIN_SAMPLES, current + 1)
    # sd of a difference of two medians of n: MEDIAN_EFFICIENCY * sqrt(2) * sd_one / sqrt(n)
    n = math.ceil((z * MEDIAN_EFFICIENCY * math.sqrt(2) * sd_one_ms / margin_ms) ** 2)
    return max(MIN_SAMPLES, current + 1, min(n, 1000))


def hodges_lehmann(new: Sequence[float], old: Sequence[float]) -> float:
    """The Hodges-Lehmann shift: the median of all differences new - old (the estimate that goes
    with the Mann-Whitney test: robust to outliers, nearly as efficient as the difference of means)."""
    if not new or not old:
        raise ValueError("both samples need values")
    return median([b - a for b in new for a in old])
