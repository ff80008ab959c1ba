"""What every budget kind shares: :class:`Verdict`, and :class:`Budget`, whose judging is
written once: select the calls -> rate each -> judge the percentile over them or each call
(or, per ``llm_repeat`` run, :meth:`Budget.judge_runs`). A kind is one subclass that carries
its marker's name, its arguments and the wording of its messages (:mod:`.speed`, :mod:`.usage`);
:class:`LimitsBudget` is the shape of the kinds with several upper limits on each call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.calls import LLMCall, percentile
from .explanations import NO_CALL_WHY, failure, limits_label, who
from .parsing import MarkerError, call_selector, check_kwargs, percentile_arg, positive

__all__ = ["Budget", "LimitsBudget", "Rated", "Run", "Verdict", "by_run"]

Rated = tuple[int, LLMCall, float]
"""A judged call: its index in the test's calls, the call, its value."""

Run = Sequence[tuple[int, LLMCall]]
"""The calls of one ``llm_repeat`` run, with their indices in the test's calls."""


@dataclass(frozen=True)
class Verdict:
    budget: str
    passed: bool
    message: str
    observed: float | None = None
    limit: float | None = None
    risk: bool = False
    """A predicted, not measured, breach that does not fail the test (reported as a risk)."""


def by_run(indexed: Iterable[tuple[int, LLMCall]]) -> dict[int, list[tuple[int, LLMCall]]]:
    """Calls grouped by their ``llm_repeat`` iteration, in the order the runs first appear."""
    runs: dict[int, list[tuple[int, LLMCall]]] = {}
    for i, c in indexed:
        runs.setdefault(c.iteration, []).append((i, c))
    return runs


class Budget:
    """A limit judged on the calls a test made.

    A kind sets its marker (``marker``), the arguments the marker takes (``allowed``,
    ``required``) and reads them (:meth:`parse`); names its limit's field (``limit_field``) and
    whether it is a floor (``min_*``) or a ceiling; rates one call (:meth:`rate`) and words its
    verdicts (:meth:`unrated`, :meth:`percentile_text`, :meth:`call_text`).
    """

    marker: str = ""
    call: int | str | None = None
    percentile: float | None = None
    kind: ClassVar[str] = ""
    """The budget's ``kind`` in the result file (the report, the gate and the advisor read it)."""
    allowed: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ()
    limit_field: ClassVar[str] = ""
    """The field holding the limit (``ms``, ``usd``, ...): :meth:`limit`."""
    rated_by: ClassVar[str] = ""
    """The :class:`~.calls.LLMCall` attribute a call is rated by (:meth:`rate`)."""
    percentile_wording: ClassVar[str] = ""
    """The percentile verdict's value, a format string of ``value`` (:meth:`percentile_text`)."""
    floor: ClassVar[bool] = False
    """A floor (``min_*``): a value at least the limit meets it, and a percentile judges the slow
    (cold) side: the p-th percentile of slowness is the (100 - p)-th percentile of the rate."""

    # -- building --------------------------------------------------------------------------
    @classmethod
    def from_arguments(cls, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Budget:
        """The budget a marker's arguments give; :class:`MarkerError` on a bad one. Markers and
        ``llm_calls.assert_*`` build budgets through this (``markers.budget_from``)."""
        return cls.parse(check_kwargs(cls.marker, args, kwargs, cls.allowed, cls.required))

    @classmethod
    def parse(cls, kw: dict[str, Any]) -> Budget:
        """The budget from checked keyword arguments, validating each value. The common grammar:
        the limit (a number > 0), ``percentile=`` and ``call=``."""
        return cls(
            **{
                cls.limit_field: positive(cls.marker, cls.limit_field, kw[cls.limit_field]),
                "percentile": percentile_arg(cls.marker, kw.get("percentile")),
                "call": call_selector(cls.marker, kw.get("call")),
            }
        )

    # -- what it is ------------------------------------------------------------------------
    def label(self) -> str:
        """``marker(limit=..., percentile=..., call=...)`` with the arguments given."""
        limit = getattr(self, self.limit_field)
        return limits_label(self.marker, [(self.limit_field, limit), ("percentile", self.percentile)], self.call)

    def key(self) -> tuple[Any, ...]:
        """Budgets with the same key replace each other (the closest marker wins)."""
        return (self.marker, self.call)

    def limit(self) -> float:
        return float(getattr(self, self.limit_field))

    def met(self, value: float) -> bool:
        return value >= self.limit() if self.floor else value <= self.limit()

    def word(self, ok: bool) -> str:
        return "met" if ok else "missed" if self.floor else "exceeded"

    def predicted_limits(self) -> list[tuple[str, float]]:
        """(prediction key, limit) pairs a changed request's prediction can judge (:mod:`.predicted`)."""
        return []

    # -- judging ---------------------------------------------------------------------------
    def select(self, calls: Sequence[LLMCall]) -> tuple[list[tuple[int, LLMCall]], str | None]:
        """The calls this budget judges, with their indices, or an explanation of why none."""
        indexed = list(enumerate(calls))
        if not indexed:
            return [], f"{self.label()}: the test made no LLM call {NO_CALL_WHY}"
        if isinstance(self.call, int):
            try:
                index = range(len(calls))[self.call]
            except IndexError:
                return [], f"{self.label()}: call={self.call} but the test made {len(calls)} LLM call(s)"
            indexed = [(index, calls[index])]
        elif isinstance(self.call, str):
            indexed = [(i, c) for i, c in indexed if c.model == self.call]
            if not indexed:
                models = sorted({c.model for c in calls})
                return [], f"{self.label()}: no LLM call to model {self.call!r}; the test called {models}"
        if any(c.prediction is not None for _, c in indexed):
            # answered from a recording with a predicted cost: judged by judge_predicted
            return [(i, c) for i, c in indexed if c.prediction is None and (c.ok or c.abandoned)], None
        failed = [(i, c) for i, c in indexed if not c.ok and not c.abandoned]
        usable = [(i, c) for i, c in indexed if c.ok or c.abandoned]
        if not usable:
            i, c = failed[-1]
            return [], f"{self.label()}: no LLM call succeeded; {who(i, len(calls), c)} failed: {failure(c)}"
        return usable, None

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        rated, problem = self.rated(calls)
        if problem:
            return [Verdict(self.label(), False, problem)]
        return self.judge_rated(rated, calls)

    def rated(self, calls: Sequence[LLMCall]) -> tuple[list[Rated], str | None]:
        """The selected calls with their values, or why they cannot be judged."""
        selected, problem = self.select(calls)
        if problem:
            return [], problem
        values = [(i, c, self.rate(c)) for i, c in selected]
        unrated = self.first_unrated(values)
        if unrated is not None:
            i, c = unrated
            return [], f"{self.label()}: {who(i, len(calls), c)}{self.unrated(c)}"
        return [(i, c, v or 0.0) for i, c, v in values], None

    def judge_rated(self, rated: list[Rated], calls: Sequence[LLMCall]) -> list[Verdict]:
        """The percentile over the calls, or each call."""
        label = self.label()
        if self.percentile is not None and not rated:
            return []  # every selected call was answered with a prediction: judge_predicted judges them
        if self.percentile is not None:
            samples = [v for _, _, v in rated]
            value = percentile(samples, 100 - self.percentile if self.floor else self.percentile)
            ok = self.met(value)
            text = f"{label} {self.word(ok)}: p{self.percentile:g} {self.percentile_text(value, rated, calls, ok)}"
            return [Verdict(label, ok, text, value, self.limit())]
        verdicts = []
        for i, c, value in rated:
            ok = self.met(value)
            text = f"{label} {self.word(ok)} by {who(i, len(calls), c)}: {self.call_text(c, value, ok)}"
            verdicts.append(Verdict(label, ok, text, value, self.limit()))
        return verdicts

    def judge_runs(self, runs: dict[int, float], members: Mapping[int, Run]) -> list[Verdict]:
        """One value per ``llm_repeat`` run: the percentile over the runs when there are
        several, else each run."""
        label = self.label()
        if self.percentile is not None and len(runs) > 1:
            value = percentile(list(runs.values()), self.percentile)
            ok = self.met(value)
            text = f"{label} {self.word(ok)}: p{self.percentile:g} {self.runs_text(value, runs, members, ok)}"
            return [Verdict(label, ok, text, value, self.limit())]
        verdicts = []
        for iteration, value in runs.items():
            ok = self.met(value)
            run = f" in run {iteration + 1}" if len(runs) > 1 else ""
            text = f"{label} {self.word(ok)}{run}: {self.run_text(value, members[iteration], ok)}"
            verdicts.append(Verdict(label, ok, text, value, self.limit()))
        return verdicts

    # -- a kind's values and wording -------------------------------------------------------
    def rate(self, call: LLMCall) -> float | None:
        """The value judged for one call; None when it has none."""
        value: float | None = getattr(call, self.rated_by)
        return value

    def first_unrated(self, values: Sequence[tuple[int, LLMCall, float | None]]) -> tuple[int, LLMCall] | None:
        """The call whose missing value is reported (the first)."""
        return next(((i, c) for i, c, v in values if v is None), None)

    def unrated(self, call: LLMCall) -> str:
        """Why the call has no value: follows ``label: call 1 of 2 (model)``."""
        raise NotImplementedError

    def percentile_text(self, value: float, rated: Sequence[Rated], calls: Sequence[LLMCall], ok: bool) -> str:
        """The percentile verdict after ``label met: p95 ``."""
        return f"{self.percentile_wording.format(value=value)} over {len(rated)} call(s)"

    def call_text(self, call: LLMCall, value: float, ok: bool) -> str:
        """One call's verdict after ``label met by call 1 of 2 (model): ``."""
        raise NotImplementedError

    def runs_text(self, value: float, runs: dict[int, float], members: Mapping[int, Run], ok: bool) -> str:
        """The percentile over runs after ``label met: p95 ``."""
        raise NotImplementedError

    def run_text(self, value: float, run: Run, ok: bool) -> str:
        """One run's verdict after ``label met in run 2: ``."""
        raise NotImplementedError


class LimitsBudget(Budget):
    """A budget of several upper limits on one call each (tokens, Groq's server times): one
    verdict per call and given limit. A kind names its limits (``limit_names``, also its
    fields); ``call=`` is allowed too, and at least one limit is required."""

    limit_names: ClassVar[tuple[str, ...]] = ()
    integer: ClassVar[bool] = False
    """The limits are whole numbers (token counts)."""

    @classmethod
    def parse(cls, kw: dict[str, Any]) -> Budget:
        given = {k: kw.get(k) for k in cls.limit_names}
        if all(v is None for v in given.values()):
            needs = ", ".join(f"{k}=" for k in cls.limit_names)
            raise MarkerError(f"@pytest.mark.{cls.marker} needs at least one of {needs}")
        fields: dict[str, Any] = {}
        for k, v in given.items():
            number = None if v is None else positive(cls.marker, k, v, integer=cls.integer)
            fields[k] = int(number) if cls.integer and number is not None else number
        fields["call"] = call_selector(cls.marker, kw.get("call"))
        return cls(**fields)

    def limits(self) -> list[tuple[str, float | None]]:
        """(argument name, limit) in marker order."""
        return [(name, getattr(self, name)) for name in self.limit_names]

    def value(self, call: LLMCall, name: str) -> float | None:
        raise NotImplementedError

    def missing(self, call: LLMCall, name: str) -> str:
        """Why the call has no value for this limit."""
        raise NotImplementedError

    def verdict_text(self, call: LLMCall, name: str, value: float, limit: float, ok: bool) -> str:
        raise NotImplementedError

    def label(self) -> str:
        return limits_label(self.marker, self.limits(), self.call)

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        selected, problem = self.select(calls)
        if problem:
            return [Verdict(self.label(), False, problem)]
        label = self.label()
        verdicts = []
        for i, c in selected:
            for name, limit in self.limits():
                if limit is None:
                    continue
                value = self.value(c, name)
                if value is None:
                    verdicts.append(Verdict(label, False, f"{label}: {who(i, len(calls), c)} {self.missing(c, name)}"))
                    continue
                ok = value <= limit
                head = f"{label} {'met' if ok else 'exceeded'} by {who(i, len(calls), c)}: "
                text = head + self.verdict_text(c, name, value, limit, ok) + f"; {c.describe_params()}"
                verdicts.append(Verdict(label, ok, text, float(value), float(limit)))
        return verdicts
