"""What the fixtures hand to tests: the ``llm_calls`` view, and per-test judging."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, cast, overload

import pytest

from ..capture.intercept import Recorder
from ..core.calls import LLMCall, agent_spans, agent_wall_ms, percentile, values
from ..core.names import BUDGET_MARKERS
from ..core.records import BudgetRecord, CallRecord, ResultRecord, SummaryRecord
from .budget import Budget
from .markers import budget_from, budgets_for
from .options import baseline_options_for, repeat_for
from .parsing import MarkerError
from .predicted import judge_predicted

__all__ = ["LLMCalls", "async_client", "judge", "setup_recorder"]


def setup_recorder(item: pytest.Item) -> Recorder:
    """A recorder carrying the item's budgets and repeat count; ``ValueError`` on a bad marker."""
    recorder = Recorder()
    try:
        # closest first across all budget markers, so max_ttft and max_latency(metric="ttft")
        # override each other by distance, not by name
        recorder.budgets = budgets_for(m for m in item.iter_markers() if m.name in BUDGET_MARKERS)
        recorder.repeat = repeat_for(item.get_closest_marker("llm_repeat"))
        recorder.baseline = baseline_options_for(item.get_closest_marker("llm_baseline"))
    except MarkerError as err:
        raise ValueError(str(err)) from None
    return recorder


class LLMCalls(Sequence[LLMCall]):
    """The LLM calls a test has made so far, oldest first (warmup runs excluded).

    Index it, iterate it, take ``.last``; ``summary()`` gives percentiles, and the
    ``assert_*`` helpers judge budgets with the same messages as the markers.
    """

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def _calls(self) -> list[LLMCall]:
        return self._recorder.measured()

    @overload
    def __getitem__(self, index: int) -> LLMCall: ...

    @overload
    def __getitem__(self, index: slice) -> list[LLMCall]: ...

    def __getitem__(self, index: int | slice) -> LLMCall | list[LLMCall]:
        return self._calls()[index]

    def __len__(self) -> int:
        return len(self._calls())

    def __iter__(self) -> Iterator[LLMCall]:
        return iter(self._calls())

    def __repr__(self) -> str:
        return f"<LLMCalls {self._calls()!r}>"

    @property
    def last(self) -> LLMCall:
        calls = self._calls()
        if not calls:
            raise LookupError("no LLM call has been made in this test yet")
        return calls[-1]

    def clear(self) -> None:
        """Forget the calls so far (e.g. after a warm-up call made by hand)."""
        with self._recorder._lock:
            self._recorder.cleared.extend(self._recorder.calls)
            self._recorder.calls.clear()

    def summary(self) -> SummaryRecord:
        """Counts and p50/p95/max of the main metrics over the calls so far."""
        return summarize(self._calls())

    # -- assertion helpers ----------------------------------------------------------
    def _assert(self, marker: str, **kwargs: Any) -> None:
        """Judge the budget ``@pytest.mark.<marker>(**kwargs)`` (None arguments left out) would
        be; ``AssertionError`` with its failure messages."""
        budget = budget_from(marker, (), {k: v for k, v in kwargs.items() if v is not None})
        failures = [v.message for v in budget.judge(self._calls()) if not v.passed]
        if failures:
            raise AssertionError("\n".join(failures))

    def assert_max_latency(
        self,
        ms: float,
        metric: str = "e2e",
        *,
        percentile: float | None = None,
        call: int | str | None = None,
        scope: str = "call",
    ) -> None:
        """Like ``@pytest.mark.max_latency``; ``scope="test"`` judges the agent wall time of the
        calls so far (first call's start to last call's end)."""
        metric_arg = None if scope == "test" and metric == "e2e" else metric
        self._assert("max_latency", ms=ms, metric=metric_arg, percentile=percentile, call=call, scope=scope)

    def assert_max_calls(self, n: int) -> None:
        """At most ``n`` LLM calls so far (per ``llm_repeat`` run); the message names the calls made."""
        self._assert("max_calls", n=n)

    def assert_min_realtime_factor(
        self, x: float, *, percentile: float | None = None, call: int | str | None = None
    ) -> None:
        """Audio calls handled at least ``x`` seconds of audio per second of latency."""
        self._assert("min_realtime_factor", x=x, percentile=percentile, call=call)

    @property
    def agent_ms(self) -> float | None:
        """The agent wall time of the calls so far: the first call's start to the last call's end
        (the latest ``llm_repeat`` run), the application's time between calls included."""
        walls = agent_wall_ms(self._calls())
        return walls[max(walls)] if walls else None

    def assert_max_ttft(self, ms: float, *, percentile: float | None = None, call: int | str | None = None) -> None:
        self._assert("max_ttft", ms=ms, percentile=percentile, call=call)

    def assert_max_tokens(
        self,
        *,
        prompt: int | None = None,
        completion: int | None = None,
        reasoning: int | None = None,
        total: int | None = None,
        call: int | str | None = None,
    ) -> None:
        self._assert("max_tokens", prompt=prompt, completion=completion, reasoning=reasoning, total=total, call=call)

    def assert_min_throughput(
        self, tokens_per_s: float, *, percentile: float | None = None, call: int | str | None = None
    ) -> None:
        self._assert("min_throughput", tokens_per_s=tokens_per_s, percentile=percentile, call=call)

    def assert_max_server_time(
        self,
        *,
        queue_ms: float | None = None,
        prompt_ms: float | None = None,
        completion_ms: float | None = None,
        total_ms: float | None = None,
        call: int | str | None = None,
    ) -> None:
        self._assert(
            "max_server_time",
            queue_ms=queue_ms,
            prompt_ms=prompt_ms,
            completion_ms=completion_ms,
            total_ms=total_ms,
            call=call,
        )


def summarize(calls: Sequence[LLMCall]) -> SummaryRecord:
    # a call answered with a predicted cost was not measured: it counts, its numbers do not
    ok = [c for c in calls if (c.ok or c.abandoned) and c.prediction is None]

    def pct(metric: str, q: float) -> float | None:
        vals = values(ok, metric)
        return percentile(vals, q) if vals else None

    def total(attr: str) -> int | None:
        vals = [getattr(c, attr) for c in calls if getattr(c, attr) is not None]
        return sum(vals) if vals else None

    walls = agent_wall_ms(calls)
    tools = [name for c in calls for name in c.tool_names]
    return {
        "calls": len(calls),
        "runs": len({c.iteration for c in calls}),
        "tool_calls": len(tools),
        "tool_names": sorted(set(tools)),
        "agent_ms": percentile(list(walls.values()), 50) if walls else None,
        "failed": sum(1 for c in calls if not c.ok and not c.abandoned),
        "abandoned": sum(1 for c in calls if c.abandoned),
        "predicted": sum(1 for c in calls if c.prediction is not None),
        "retries": sum(c.retries for c in calls),
        "models": sorted({c.model for c in calls}),
        "prompt_tokens": total("prompt_tokens"),
        "completion_tokens": total("completion_tokens"),
        "reasoning_tokens": total("reasoning_tokens"),
        "ttft_p50": pct("ttft", 50),
        "e2e_p50": pct("e2e", 50),
        "e2e_p95": pct("e2e", 95),
        "e2e_max": pct("e2e", 100),
        "server_p50": pct("server", 50),
        "tokens_per_s_p50": pct("tokens_per_s", 50),
    }


def judge(nodeid: str, recorder: Recorder, budgets: Sequence[Budget]) -> tuple[ResultRecord, list[str]]:
    """Judge the test's budgets on its measured calls; a JSON-safe result and the failures."""
    recorder.finish_open()
    calls = recorder.measured()
    verdicts = [v for b in budgets for v in b.judge(calls)]
    if any(c.prediction is not None for c in calls):
        verdicts += [v for b in budgets for v in judge_predicted(b, calls, nodeid)]
    failures = [v.message for v in verdicts if not v.passed]
    risks = [v.message for v in verdicts if v.risk]
    summary = summarize(calls)
    junit = {
        "llm_calls": summary["calls"],
        "llm_models": ",".join(summary["models"]),
        "llm_e2e_p50_ms": _round(summary["e2e_p50"]),
        "llm_e2e_p95_ms": _round(summary["e2e_p95"]),
        "llm_ttft_p50_ms": _round(summary["ttft_p50"]),
        "llm_completion_tokens": summary["completion_tokens"],
        "llm_tool_calls": summary["tool_calls"] or None,
        "llm_agent_ms": _round(summary["agent_ms"]) if summary["calls"] > 1 else None,
        "llm_budgets": "; ".join(dict.fromkeys(v.budget for v in verdicts)),
        "llm_budget_failures": len(failures),
    }
    result: ResultRecord = {
        "nodeid": nodeid,
        "budgets": [_budget_dict(b) for b in budgets],
        "verdicts": [
            {
                "budget": v.budget,
                "passed": v.passed,
                "message": v.message,
                "observed": v.observed,
                "limit": v.limit,
            }
            for v in verdicts
        ],
        "failures": failures,
        "risks": risks,
        "summary": summary,
        "calls": _call_dicts(calls),
        "junit": {k: v for k, v in junit.items() if v is not None},
    }
    return result, failures


def _call_dicts(calls: Sequence[LLMCall]) -> list[CallRecord]:
    """``LLMCall.to_dict`` of each call, with its place on the test's agent clock
    (``agent_start_ms``/``agent_end_ms``, from the first call of its run): the gate computes
    the agent wall time of saved runs from these."""
    out = []
    for call, span in zip(calls, agent_spans(calls), strict=True):
        record = call.to_dict()
        record["agent_start_ms"] = None if span is None else round(span[0], 3)
        record["agent_end_ms"] = None if span is None else round(span[1], 3)
        out.append(record)
    return out


def _budget_dict(budget: Budget) -> BudgetRecord:
    fields = {k: v for k, v in vars(budget).items() if v is not None}
    # each kind's own arguments: the record declares the common ones
    return cast(BudgetRecord, {"kind": budget.kind, "label": budget.label(), **fields})


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def async_client(base_url: str, api_key: str) -> Any:
    """An ``AsyncGroq`` that closes itself on the event loop it was used on.

    A sync fixture cannot await ``close()``, and after the test its loop is gone, so
    its pooled connections would leak. On its first request in a loop, the client
    starts a suspended async generator there; event loops finalize such generators
    when they shut down (``asyncio.run``, ``asyncio.Runner``, anyio and pytest-asyncio
    all do), and its ``finally`` closes the client inside the right loop."""
    import groq

    state: dict[str, Any] = {}

    async def closer() -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state["client"].close()

    async def on_request(request: Any) -> None:
        if "closer" not in state:
            gen = closer()
            await gen.__anext__()
            state["closer"] = gen  # a strong reference: the loop only keeps a weak one

    http_client = groq.DefaultAsyncHttpxClient(event_hooks={"request": [on_request]})
    client = groq.AsyncGroq(base_url=base_url, api_key=api_key, http_client=http_client)
    state["client"] = client
    return client
