"""Budgets judged on the advisor's prediction, for calls answered from the closest recording of
a request whose generation parameters changed (``LLMCall.prediction``). A kind says what a
prediction can judge with :meth:`~.budget.Budget.predicted_limits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.calls import LLMCall
from .budget import Budget, Verdict
from .explanations import fmt_ms, who

__all__ = ["judge_predicted"]


def judge_predicted(budget: Budget, calls: Sequence[LLMCall], nodeid: str) -> list[Verdict]:
    """Judge a budget on the predictions of calls answered from a changed request's closest
    recording. Under ``--llm-predict=fail`` (the default, for CI) green means proven: the budget
    passes only when it holds in the worst case of the predicted range; a possible breach
    ("risk") and a budget the prediction cannot judge fail, with the range and the command that
    re-records. ``--llm-predict=warn`` reports them as risks and passes."""
    selected = _predicted_calls(budget, calls)
    checks = budget.predicted_limits()
    rerecord = f"Re-record to measure it: pytest --llm-record-mode=rewrite {nodeid}"
    verdicts = []
    for i, c in selected:
        which = who(i, len(calls), c)
        broken = (c.prediction or {}).get("breaks_answer")
        if broken:
            # whatever the limits: an empty or cut answer breaks the application itself
            text = (
                f"{budget.label()} is broken by {which}, predicted, not measured: request changed since "
                f"recording: {(c.prediction or {}).get('diff')}; {broken}. {rerecord}"
            )
            verdicts.append(Verdict(budget.label(), False, text))
            continue
        for kind, limit in checks:
            verdicts.append(_verdict(budget, which, c.prediction or {}, kind, limit, rerecord))
    return verdicts


def _verdict(budget: Budget, which: str, p: dict[str, Any], kind: str, limit: float, rerecord: str) -> Verdict:
    """One predicted call against one limit: holds, risks (the range reaches past the limit)
    or breaks (the whole range is past it); or cannot be judged (no range for it)."""
    label = budget.label()
    pair = p.get({"e2e": "e2e_ms", "ttft": "ttft_ms"}.get(kind, kind))
    strict = p.get("mode") == "fail"
    if not pair:
        text = (
            f"{label} cannot be judged for {which}: the change ({p.get('diff')}) leaves its {kind} unpredicted "
            f"({p.get('text')})."
        )
        if strict:
            text += f" Not proven, so not green (--llm-predict=fail; warn passes it). {rerecord}"
        else:
            text += f" {rerecord}"
        return Verdict(label, not strict, text, risk=not strict)
    lo, hi = pair[0], float("inf") if pair[1] is None else pair[1]
    verdict = "breaks" if lo > limit else "risks" if hi > limit else "holds"
    head = (
        f"{label} {verdict.replace('breaks', 'is broken').replace('risks', 'is at risk')} "
        f"by {which}, predicted, not measured: request changed since recording: "
        f"{p.get('diff')}; {p.get('text')}."
    )
    unit = " ms" if kind in ("e2e", "ttft") else " tokens"
    if verdict == "holds":
        return Verdict(label, True, f"{head} {rerecord}")
    if strict and verdict == "risks":
        worst = "is unbounded" if hi == float("inf") else f"{fmt_ms(hi)}{unit} exceeds {limit:g}{unit}"
        text = (
            f"{head} Not proven: the worst case {worst}, so not green under --llm-predict=fail "
            f"(--llm-predict=warn passes it). {rerecord}"
        )
        return Verdict(label, False, text, hi, limit)
    if strict:
        return Verdict(label, False, f"{head} {rerecord}", lo, limit)
    return Verdict(label, True, f"{head} {rerecord}", lo, limit, risk=True)


def _predicted_calls(budget: Budget, calls: Sequence[LLMCall]) -> list[tuple[int, LLMCall]]:
    """The predicted calls among those the budget selects (none when ``call=`` is out of range)."""
    indexed = [(i, c) for i, c in enumerate(calls) if c.prediction is not None]
    if isinstance(budget.call, int):
        try:
            index = range(len(calls))[budget.call]
        except IndexError:
            return []
        return [(i, c) for i, c in indexed if i == index]
    if isinstance(budget.call, str):
        return [(i, c) for i, c in indexed if c.model == budget.call]
    return indexed
