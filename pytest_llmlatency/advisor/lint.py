"""Lint: advice for one test's parameters and budgets, each item grounded in its measured calls
and the fitted model, and saying which."""

from __future__ import annotations

import json

from ..core.records import BudgetRecord, CallRecord, ResultRecord
from .fit import ModelFit
from .params import EFFORT_RANK, cap_name, default_effort, output_cap

__all__ = ["lint"]

CAP_SLACK = 4
"""A cap more than this many times the tokens a test used, and slower than its budget, is advised on."""
REASONING_HEAVY = 0.8
"""Reasoning that takes more than this share of the e2e budget is advised on..."""
REASONING_FITS = 0.5
"""...naming the lower efforts whose reasoning takes less than this share."""


def _applies(budget: BudgetRecord, index: int, call: CallRecord, total: int) -> bool:
    selector = budget.get("call")
    if selector is None:
        return True
    if isinstance(selector, int):
        return index == range(total)[selector] if -total <= selector < total else False
    return bool(call.get("model") == selector)


def lint(result: ResultRecord, fits: dict[str, ModelFit]) -> list[str]:
    """Advice for one test, each item grounded in measurements and saying which. Each budget
    is checked against the calls it judges (``call=``), once per distinct request."""
    all_calls = [c for c in result.get("calls") or [] if not c.get("warmup")]
    # a scope="test" budget covers the whole agent run, not one call: judged by _agent_advice
    latency = [
        b for b in result.get("budgets") or [] if b.get("kind") == "latency" and b.get("scope", "call") == "call"
    ]
    advice: list[str] = _agent_advice(result, all_calls)
    seen: set[str] = set()
    for index, call in enumerate(all_calls):
        if not call.get("ok") or call.get("prediction"):
            continue
        budgets = [b for b in latency if _applies(b, index, call, len(all_calls))]
        key = json.dumps(
            [call.get("model"), call.get("params"), [b.get("label") for b in budgets]], sort_keys=True, default=str
        )
        if not budgets or key in seen:
            continue
        seen.add(key)
        same = [
            c
            for c in all_calls
            if c.get("ok") and c.get("model") == call.get("model") and c.get("params") == call.get("params")
        ]
        for item in _lint_call(call, same, budgets, fits):
            if item not in advice:
                advice.append(item)
    return advice


def _agent_advice(result: ResultRecord, calls: list[CallRecord]) -> list[str]:
    """Where an agent's time goes (a ``scope="test"`` budget), and what a change in its number
    of LLM calls since the baseline cost."""
    advice: list[str] = []
    measured = [c for c in calls if not c.get("prediction")]
    runs: dict[int, list[CallRecord]] = {}
    for c in measured:
        runs.setdefault(int(c.get("iteration") or 0), []).append(c)
    e2es = [float(e) for c in measured if isinstance(e := c.get("e2e_ms"), (int, float))]
    step_ms = sorted(e2es)[len(e2es) // 2] if e2es else None
    budgets = [b for b in result.get("budgets") or [] if b.get("kind") == "latency" and b.get("scope") == "test"]
    first = runs[min(runs)] if runs else []
    ends = [float(e) for c in first if isinstance(e := c.get("agent_end_ms"), (int, float))]
    if budgets and first and len(ends) == len(first):
        run = first
        wall = max(ends)
        llm = sum(float(c.get("wall_ms") or c.get("e2e_ms") or 0) for c in run)
        own = max(0.0, wall - llm)
        limit = float(budgets[0]["ms"])
        text = (
            f"{budgets[0]['label']}: the agent's {len(run)} LLM call(s) took {llm:,.0f} ms of its {wall:,.0f} ms "
            f"wall time; {own:,.0f} ms ({own / wall * 100 if wall else 0:.0f}%) was the application's own time "
            "between calls (tool execution, parsing)"
        )
        if step_ms:
            text += (
                f"; at the median {step_ms:,.0f} ms per call, {max(0, int((limit - own) // step_ms))} call(s) fit "
                f"the {limit:g} ms budget"
            )
        advice.append(text)
    comparison = result.get("comparison") or {}
    shift = next((s for s in comparison.get("shifts") or [] if s.get("metric") == "calls"), None)
    if shift and shift.get("old") != shift.get("new") and measured:
        steps = float(shift["new"]) - float(shift["old"])
        text = (
            f"{shift['old']:g} -> {shift['new']:g} LLM calls per run since the baseline: the agent took "
            f"{abs(steps):g} {'more' if steps > 0 else 'fewer'} step(s)"
        )
        if step_ms:
            text += f", about {abs(steps) * step_ms:,.0f} ms at this run's median {step_ms:,.0f} ms per call"
        tools = sorted({str(n) for c in measured for n in c.get("tool_names") or []})
        if tools:
            text += f" (tools called now: {', '.join(tools)})"
        advice.append(text)
    return advice


def _lint_call(
    first: CallRecord, calls: list[CallRecord], latency: list[BudgetRecord], fits: dict[str, ModelFit]
) -> list[str]:
    advice: list[str] = []
    model = str(first.get("model"))
    f = fits.get(model)
    params = first.get("params") or {}
    e2e_limits = [b["ms"] for b in latency if b.get("metric", "e2e") == "e2e"]
    ttft_budget = [b for b in latency if b.get("metric") == "ttft"]
    if ttft_budget and not first.get("streamed"):
        guess = f.ttft(first.get("prompt_tokens")) if f else None
        advice.append(
            f"{ttft_budget[0]['label']} on a call without stream=True: without streaming the first token comes "
            f"with the whole answer (measured TTFT = e2e = {first.get('e2e_ms') or 0:,.0f} ms)"
            + (
                f"; streamed, TTFT would be about {guess:,.0f} ms (fitted from {f.ttft_n} streamed call(s) of {model})"
                if guess is not None and f
                else ""
            )
        )
    observed = max(int(c.get("completion_tokens") or 0) for c in calls)
    cap = output_cap(params)
    if e2e_limits and f and f.decode_tps and observed:
        budget_ms = min(e2e_limits)
        ms_per_token = 1000.0 / f.decode_tps
        if cap is None:
            advice.append(
                f"{cap_name(params, first.get('endpoint'))} is unset on a test with a {budget_ms:g} ms budget: "
                "a runaway answer is "
                f"bounded only by the model's limit; this test used at most {observed:,} tokens, and "
                f"{budget_ms / ms_per_token:,.0f} tokens fit the budget at {f.decode_tps:,.0f} tok/s (fitted from "
                f"{f.decode_n} call(s) of {model})"
            )
        elif cap > CAP_SLACK * observed and cap * ms_per_token > budget_ms:
            advice.append(
                f"{cap_name(params, first.get('endpoint'))}={cap} is {cap / observed:.0f}x the {observed:,} "
                "tokens this test used, and "
                f"{cap:,} tokens take about {cap * ms_per_token:,.0f} ms at {f.decode_tps:,.0f} tok/s (fitted from "
                f"{f.decode_n} calls), beyond the {budget_ms:g} ms budget"
            )
    effort = params.get("reasoning_effort") or default_effort(model)
    if e2e_limits and f and f.decode_tps and effort in f.reasoning:
        reasoning_ms = f.reasoning[effort][0] * 1000.0 / f.decode_tps
        budget_ms = min(e2e_limits)
        if reasoning_ms > REASONING_HEAVY * budget_ms:
            cheaper = [
                e
                for e, (m, _) in f.reasoning.items()
                if EFFORT_RANK.get(e, 9) < EFFORT_RANK.get(str(effort), 0)
                and m * 1000 / f.decode_tps < REASONING_FITS * budget_ms
            ]
            advice.append(
                f"reasoning_effort={effort!r} spends about {f.reasoning[effort][0]:,.0f} reasoning tokens "
                f"({reasoning_ms:,.0f} ms at {f.decode_tps:,.0f} tok/s) of a {budget_ms:g} ms budget (fitted from "
                f"{f.reasoning[effort][1]} call(s) of {model})"
                + (f"; {', '.join(cheaper)} would fit" if cheaper else "")
            )
    return advice
