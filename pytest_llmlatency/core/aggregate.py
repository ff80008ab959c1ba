"""Functions over many calls: a percentile, a metric's values, and the agent clock (each
call's span in its test's agent run, and each run's wall time)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .calls import LLMCall

__all__ = ["agent_spans", "agent_wall_ms", "percentile", "values"]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks
    (numpy's default, ``method="linear"``)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def agent_spans(calls: Sequence[LLMCall]) -> list[tuple[float, float] | None]:
    """Each call's (start, end) in milliseconds on its test's agent clock: 0 is the start of the
    first call of the same ``llm_repeat`` iteration; None for a call without client timing.

    Live, the clock is the wall clock (``perf_counter_ns``): the first attempt's send and the
    last byte read. A replayed call takes no real time but carries its recorded duration, so
    everything after it moves later by that duration: the agent clock is the wall clock plus
    the recorded durations of the replayed calls before. Concurrent replayed calls therefore
    count one after another."""
    spans: list[tuple[float, float] | None] = [None] * len(calls)
    by_iteration: dict[int, list[int]] = {}
    for i, call in enumerate(calls):
        by_iteration.setdefault(call.iteration, []).append(i)
    for indices in by_iteration.values():
        timed = [i for i in indices if calls[i].attempts and calls[i].end_ns is not None and calls[i].client_timing]
        timed.sort(key=lambda i: calls[i].attempts[0].start_ns)
        if not timed:
            continue
        origin = calls[timed[0]].attempts[0].start_ns
        shift = 0
        for i in timed:
            call = calls[i]
            start = call.attempts[0].start_ns + shift
            end = (call.end_ns or 0) + shift
            spans[i] = ((start - origin) / 1e6, (end - origin) / 1e6)
            if call.replayed:
                shift += (call.end_ns or 0) - call.attempts[-1].start_ns
    return spans


def agent_wall_ms(calls: Sequence[LLMCall]) -> dict[int, float]:
    """The agent wall time of each ``llm_repeat`` iteration (0 without repeats): the first
    call's start to the last call's end on the agent clock (:func:`agent_spans`), so it
    includes the application's own time between calls (tool execution, parsing)."""
    out: dict[int, float] = {}
    for call, span in zip(calls, agent_spans(calls), strict=True):
        if span is not None:
            out[call.iteration] = max(out.get(call.iteration, 0.0), span[1])
    return out


def values(calls: Iterable[LLMCall], metric: str) -> list[float]:
    """Each call's ``metric`` (:meth:`LLMCall.metric`), in order, leaving out the calls without one."""
    out = []
    for call in calls:
        v = call.metric(metric)
        if v is not None:
            out.append(v)
    return out
