"""The regression gate: one test's calls compared with its saved baseline (:func:`compare_test`),
and the gate on one test's JSON result (:func:`gate_result`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.records import CallRecord, ResultRecord
from .decompose import DECOMPOSED, judge_decomposed
from .metrics import AGENT, CALLS, COUNT_METRICS, LEVER_METRICS, TIME_METRICS
from .notes import attribution
from .samples import current_samples, multi_call
from .stats import ALPHA, EMULATOR_NOISE, LIVE_NOISE, MIN_SAMPLES, NoiseModel, mann_whitney_greater, median
from .store import Baseline, TestBaseline
from .thresholds import FLOOR_MS, Threshold, parse_thresholds
from .tiers import TierKey, call_tier, tier_key
from .verdicts import Comparison, Shift

__all__ = ["EMULATOR_FLOOR_MS", "choose_method", "compare_test", "gate_result"]

EMULATOR_FLOOR_MS = 15.0
"""The same floor as ``FLOOR_MS`` for emulator runs: their schedule is seeded, but a cold
connection or a loaded CI runner moves a single call by several milliseconds."""


def choose_method(method: str, base_source: str, source: str) -> str:
    if method != "auto":
        return method
    deterministic = {"replay", "emulator"}
    return "deterministic" if base_source in deterministic and source in deterministic else "rank"


@dataclass(frozen=True)
class _Sides:
    """The baseline and this run, and the same restricted to the tiers both were served by (what
    the time metrics are compared on when the served tiers changed)."""

    base: TestBaseline
    calls: Sequence[CallRecord]
    current: dict[str, list[float]]
    source: str
    method: str
    tiers: TierKey | None
    time_base: TestBaseline
    time_calls: Sequence[CallRecord]
    time_current: dict[str, list[float]]

    def of(self, metric: str) -> tuple[TestBaseline, Sequence[CallRecord], dict[str, list[float]]]:
        """The baseline, calls and samples a metric is compared on."""
        if metric in TIME_METRICS:
            return self.time_base, self.time_calls, self.time_current
        return self.base, self.calls, self.current

    def untiered(self, metric: str) -> TierKey | None:
        """The tiers, when a time metric cannot be compared: the two sides share no tier."""
        if metric in TIME_METRICS and self.tiers is not None and not self.tiers.common:
            return self.tiers
        return None

    @property
    def floor(self) -> float:
        sources = (self.base.source, self.source)
        if self.base.source == self.source == "replay":
            return 0.0  # replays carry the recorded timings exactly
        return EMULATOR_FLOOR_MS if "emulator" in sources and self.method == "deterministic" else FLOOR_MS

    @property
    def noise(self) -> NoiseModel:
        return EMULATOR_NOISE if "live" not in (self.base.source, self.source) else LIVE_NOISE


def _sides(base: TestBaseline, calls: Sequence[CallRecord], source: str, method: str) -> _Sides:
    measured = [c for c in calls if not c.get("warmup")]
    current = current_samples(measured)
    tiers = tier_key(base.calls, measured)
    time_base, time_calls, time_current = base, list(calls), current
    if tiers is not None and tiers.common:
        kept_old = [c for c in base.calls if call_tier(c) in tiers.common]
        time_calls = [c for c in measured if call_tier(c) in tiers.common]
        time_base = TestBaseline(base.nodeid, base.source, current_samples(kept_old), kept_old)
        time_current = current_samples(time_calls)
    return _Sides(base, calls, current, source, method, tiers, time_base, time_calls, time_current)


def compare_test(
    nodeid: str,
    calls: Sequence[CallRecord],
    source: str,
    base: TestBaseline,
    thresholds: Sequence[Threshold],
    *,
    method: str = "auto",
    baseline_label: str = "the baseline",
    agent: bool = False,
) -> Comparison:
    """Compare one test's calls with its baseline.

    Deterministic (replayed or emulator runs on both sides): medians compared with
    the thresholds. Rank (live): the shift must exceed the threshold *and* a
    one-sided Mann-Whitney U test must find it significant at 5 %; with fewer than
    5 samples on a side the result is inconclusive, never a failure. Token counts,
    the cached share and the cost are always compared on their medians.

    ``agent``: the test's latency budget covers the whole agent run (``scope="test"``), so an
    ``e2e`` threshold judges the agent wall time per run (metric ``agent``) instead.

    Keyed on the service tier: when the tiers that served the calls differ between the baseline
    and this run, time metrics are compared on the calls of the tiers both sides share, and not
    at all (verdict ``inconclusive``, cause ``tier``) when they share none: a flex run is not
    judged against an on_demand baseline as if the two were the same service."""
    sides = _sides(base, calls, source, choose_method(method, base.source, source))
    if agent:
        thresholds = [
            Threshold(AGENT, t.percent, t.absolute)
            if t.metric == "e2e" and not any(u.metric == AGENT for u in thresholds)
            else t
            for t in thresholds
        ]
    shifts = [shift for shift in (_judge(sides, t) for t in thresholds) if shift is not None]
    shifts += _unjudged(sides, {t.metric for t in thresholds})
    moved = {s.metric for s in shifts if s.verdict != "unchanged" or (s.metric == CALLS and s.old != s.new)}
    notes = attribution(base, calls, moved, sides.tiers) if moved else []
    tiers = sides.tiers
    return Comparison(
        nodeid=nodeid,
        method=sides.method,
        shifts=shifts,
        notes=notes,
        baseline=baseline_label,
        tiers=None if tiers is None else {"baseline": tiers.old, "new": tiers.new, "compared": tiers.common},
    )


def _judge(sides: _Sides, threshold: Threshold) -> Shift | None:
    """One threshold's verdict; None when a side has no samples of its metric."""
    metric = threshold.metric
    side_base, side_calls, side_current = sides.of(metric)
    old, new = side_base.samples.get(metric) or [], side_current.get(metric) or []
    if not old or not new:
        return None
    untiered = sides.untiered(metric)
    if untiered is not None:
        return _tier_shift(metric, old, new, threshold, untiered)
    floor = sides.floor
    if metric in DECOMPOSED:
        decomposed = judge_decomposed(metric, side_base.calls, side_calls, threshold, sides.method, floor, sides.noise)
        if decomposed is not None:
            return decomposed
    return _judge_shift(metric, old, new, threshold, sides.method, floor)


def _unjudged(sides: _Sides, checked: set[str]) -> list[Shift]:
    """The metrics no threshold judges that are shown anyway, as ``unchanged``."""
    shifts = []
    # the headline metrics are always shown, judged or not (an agent's wall time and call count too)
    headline = ["e2e", "completion_tokens"]
    if multi_call(sides.base.calls) or multi_call(sides.calls):
        headline += [AGENT, CALLS]
    for metric in headline:
        if metric in checked:
            continue
        side_base, _, side_current = sides.of(metric)
        old, new = side_base.samples.get(metric) or [], side_current.get(metric) or []
        if old and new:
            untiered = sides.untiered(metric)
            if untiered is not None:
                shifts.append(_tier_shift(metric, old, new, None, untiered))
            else:
                shifts.append(Shift(metric, median(old), median(new), None, "unchanged"))
    for metric in LEVER_METRICS:  # shown when they moved
        old, new = sides.base.samples.get(metric) or [], sides.current.get(metric) or []
        if metric not in checked and old and new and median(old) != median(new):
            shifts.append(Shift(metric, median(old), median(new), None, "unchanged"))
    return shifts


def _tier_shift(metric: str, old: list[float], new: list[float], threshold: Threshold | None, tiers: TierKey) -> Shift:
    return Shift(
        metric,
        median(old),
        median(new),
        threshold,
        "inconclusive",
        detail=f"not compared: served by {', '.join(tiers.new)}, the baseline by {', '.join(tiers.old)}",
        cause="tier",
    )


def gate_result(
    result: ResultRecord, baseline: Baseline, thresholds: Sequence[Threshold], *, method: str = "auto"
) -> tuple[dict[str, Any] | None, str | None]:
    """The gate on one test's JSON result (what ``--llm-report-json`` holds): its comparison as a
    dict (None when not compared) and the regression message when it fails. The in-run gate
    and ``llmlatency compare`` both call this, so a merged file gets the same verdicts."""
    options = result.get("baseline_options") or {}
    if not result.get("calls") or options.get("compare") is False:
        return None, None
    nodeid = str(result["nodeid"])
    base = baseline.tests.get(nodeid)
    if base is None:
        new = {"baseline": baseline.label, "new": True, "shifts": [], "regressed": False}
        return {**new, "message": "no baseline for this test yet"}, None
    if options.get("tolerance") is not None:
        thresholds = parse_thresholds(options["tolerance"], source="@pytest.mark.llm_baseline: tolerance=")
    comparison = compare_test(
        nodeid,
        result["calls"],
        str(result.get("source") or "live"),
        base,
        thresholds,
        method=method,
        baseline_label=baseline.label,
        agent=any(isinstance(b, dict) and b.get("scope") == "test" for b in result.get("budgets") or []),
    )
    return comparison.to_dict(), comparison.message() if comparison.regressions else None


def _judge_shift(
    metric: str, old: list[float], new: list[float], threshold: Threshold, method: str, floor: float = FLOOR_MS
) -> Shift:
    """A verdict on the medians (deterministic runs, counts, levers) or, live, by the rank test."""
    a, b = median(old), median(new)
    if method == "deterministic" or metric in COUNT_METRICS or metric in LEVER_METRICS:
        verdict = (
            "regressed"
            if threshold.exceeded(a, b, floor)
            else "improved"
            if threshold.improved(a, b, floor)
            else "unchanged"
        )
        return Shift(metric, a, b, threshold, verdict)
    if not (threshold.exceeded(a, b) or threshold.improved(a, b)):
        return Shift(metric, a, b, threshold, "unchanged")
    if len(old) < MIN_SAMPLES or len(new) < MIN_SAMPLES:
        return Shift(metric, a, b, threshold, "inconclusive")
    if threshold.exceeded(a, b):
        test = mann_whitney_greater(new, old)
        return Shift(metric, a, b, threshold, "regressed" if test.p < ALPHA else "unchanged", test.p)
    test = mann_whitney_greater(old, new)
    return Shift(metric, a, b, threshold, "improved" if test.p < ALPHA else "unchanged", test.p)
