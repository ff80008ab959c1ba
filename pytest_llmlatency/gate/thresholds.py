"""The gate's thresholds: ``--llm-compare-fail`` and ``tolerance=`` specs, parsed into
:class:`Threshold`, which says whether a shift of one metric exceeds it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import BaselineError
from .metrics import CACHED_SHARE, COST, COUNT_METRICS, GATE_METRICS, HIGHER_IS_BETTER, TIME_METRICS

__all__ = ["FLOOR_MS", "Threshold", "parse_thresholds"]

FLOOR_MS = 2.0
"""A time shift smaller than this never counts as a regression or an improvement."""


@dataclass(frozen=True)
class Threshold:
    metric: str
    percent: float | None = None
    absolute: float | None = None

    """Milliseconds for time metrics, tokens for token metrics, percentage points for
    ``cached_share``, US dollars for ``cost``."""

    def __str__(self) -> str:
        if self.metric == CACHED_SHARE:
            return f"{self.metric}:{self.absolute or 0:g}%"
        if self.percent is not None:
            return f"{self.metric}:{self.percent:g}%"
        unit = "ms" if self.metric in TIME_METRICS else ""
        return f"{self.metric}:{self.absolute:g}{unit}"

    def exceeded(self, old: float, new: float, floor: float = FLOOR_MS) -> bool:
        if self.metric in HIGHER_IS_BETTER:
            return self._beyond(old - new, old, floor)
        return self._beyond(new - old, old, floor)

    def improved(self, old: float, new: float, floor: float = FLOOR_MS) -> bool:
        if self.metric in HIGHER_IS_BETTER:
            return self._beyond(new - old, old, floor)
        return self._beyond(old - new, old, floor)

    def _beyond(self, delta: float, old: float, floor: float = FLOOR_MS) -> bool:
        if self.metric in TIME_METRICS and delta < floor:
            return False
        delta = round(delta, 9)  # 80 % - 60 % is 20 points, not 20.000000000000004
        if self.percent is not None:
            if old <= 0:
                return delta > 0
            return delta / old * 100 > self.percent
        return delta > (self.absolute or 0)


_THRESHOLD = re.compile(r"^(?P<metric>[a-z0-9_]+):(?P<amount>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?P<unit>%|ms|s)?$")


def parse_thresholds(spec: str | Iterable[str], *, source: str = "--llm-compare-fail") -> list[Threshold]:
    """``e2e:10%``, ``ttft:20%``, ``server:5ms``, ``e2e:0.05`` (seconds, as in
    pytest-benchmark), ``completion_tokens:0``, ``cached_share:20%`` (a drop of more than 20
    percentage points; ``cached_share:0.2`` the same as a fraction), ``cost:10%`` or ``cost:0.001``
    (US dollars per run); several separated by commas."""
    items = [spec] if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        for part in str(item).split(","):
            text = part.strip()
            if text:
                out.append(_threshold(text, source))
    return out


def _threshold(text: str, source: str) -> Threshold:
    """One ``METRIC:AMOUNT[%|ms|s]``; ``BaselineError`` names ``source`` and the text."""
    m = _THRESHOLD.match(text)
    if not m:
        raise BaselineError(
            f"{source}: cannot parse {text!r}; expected METRIC:AMOUNT[%|ms|s] such as e2e:10%, "
            f"ttft:20%, server:5ms or completion_tokens:0"
        )
    metric, amount, unit = m["metric"], float(m["amount"]), m["unit"]
    if metric not in GATE_METRICS:
        raise BaselineError(f"{source}: unknown metric {metric!r} in {text!r}; use one of {', '.join(GATE_METRICS)}")
    if metric == CACHED_SHARE:
        points = amount if unit == "%" else amount * 100 if not unit else None
        if points is None or points > 100:
            raise BaselineError(
                f"{source}: {text!r}: cached_share takes a drop in percentage points "
                "(cached_share:20%) or as a fraction (cached_share:0.2), at most 100% or 1"
            )
        return Threshold(metric, absolute=points)
    if metric == COST and unit in ("ms", "s"):
        raise BaselineError(
            f"{source}: {text!r}: cost takes a percentage (cost:10%) or US dollars per run (cost:0.001)"
        )
    if unit == "%":
        return Threshold(metric, percent=amount)
    if metric == COST:
        return Threshold(metric, absolute=amount)
    if metric in COUNT_METRICS:
        if unit:
            raise BaselineError(f"{source}: {text!r}: count metrics take a count or a percentage")
        return Threshold(metric, absolute=amount)
    ms = amount if unit == "ms" else amount * 1000  # bare numbers are seconds
    return Threshold(metric, absolute=ms)
