"""Budget markers -> budgets: the one registry of budget kinds, by marker name.

Each kind is one class (:mod:`.speed`, :mod:`.usage`) that reads its marker's arguments
(:meth:`~.budget.Budget.from_arguments`) and judges the calls; adding a kind is adding its
class here (and its marker's signature to ``core.names``). Markers and ``llm_calls.assert_*``
build budgets through :func:`budget_from`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .budget import Budget
from .explanations import NO_CALL_WHY
from .options import repeat_for
from .parsing import MarkerError
from .speed import CallCountBudget, LatencyBudget, RealtimeBudget, ThroughputBudget, TtftBudget
from .usage import CacheShareBudget, CostBudget, ServerTimeBudget, TokenBudget

# NO_CALL_WHY, MarkerError and repeat_for are imported from here by the plugin, the package's
# lazy names and tests outside budgets/
__all__ = ["KINDS", "NO_CALL_WHY", "MarkerError", "budget_from", "budgets_for", "repeat_for"]

KINDS: dict[str, type[Budget]] = {
    kind.marker: kind
    for kind in (
        LatencyBudget,
        TtftBudget,
        TokenBudget,
        ThroughputBudget,
        ServerTimeBudget,
        CallCountBudget,
        RealtimeBudget,
        CostBudget,
        CacheShareBudget,
    )
}
"""Marker name -> its budget kind (``core.names.BUDGET_MARKERS``, in that order)."""


def budget_from(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Budget:
    """The budget of ``@pytest.mark.<name>(*args, **kwargs)``; :class:`MarkerError` on a bad argument."""
    return KINDS[name].from_arguments(args, kwargs)


def budgets_for(marks: Iterable[Any]) -> list[Budget]:
    """Budgets from an item's markers, closest first; a farther marker with the same
    key (same kind, metric and call) is overridden by the closer one."""
    seen: dict[tuple[Any, ...], Budget] = {}
    for mark in marks:
        if mark.name not in KINDS:
            continue
        budget = budget_from(mark.name, mark.args, mark.kwargs)
        if budget.key() not in seen:
            seen[budget.key()] = budget
    # in the order a reader sees the decorators (pytest yields the bottom one first)
    return list(reversed(seen.values()))
