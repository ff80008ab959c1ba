"""The options markers that are not budgets: ``llm_repeat`` (how often the body runs) and
``llm_baseline`` (this test's regression tolerance against the baseline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .parsing import MarkerError, check_kwargs, positive

__all__ = ["BaselineOptions", "Repeat", "baseline_options_for", "repeat_for"]


@dataclass(frozen=True)
class Repeat:
    n: int
    warmup: int = 0


@dataclass(frozen=True)
class BaselineOptions:
    tolerance: tuple[str, ...] | None = None
    compare: bool = True


def repeat_for(mark: Any) -> Repeat | None:
    """``llm_repeat(n=..., warmup=0)``."""
    if mark is None:
        return None
    kw = check_kwargs("llm_repeat", mark.args, mark.kwargs, ["n", "warmup"], ["n"])
    n = int(positive("llm_repeat", "n", kw["n"], integer=True))
    warmup = kw.get("warmup", 0)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise MarkerError(f"@pytest.mark.llm_repeat: warmup= must be an integer >= 0, got {warmup!r}")
    return Repeat(n=n, warmup=warmup)


def baseline_options_for(mark: Any) -> BaselineOptions | None:
    """``llm_baseline(tolerance=..., compare=...)``; the thresholds are parsed by the gate."""
    if mark is None:
        return None
    kw = check_kwargs("llm_baseline", mark.args, mark.kwargs, ["tolerance", "compare"])
    parts = _tolerance(kw.get("tolerance"))
    compare = kw.get("compare", True)
    if not isinstance(compare, bool):
        raise MarkerError(f"@pytest.mark.llm_baseline: compare= must be True or False, got {compare!r}")
    return BaselineOptions(tolerance=parts, compare=compare)


def _tolerance(tolerance: Any) -> tuple[str, ...] | None:
    """``tolerance=`` as the gate's threshold strings, checked by the gate's parser."""
    parts: tuple[str, ...] | None
    if tolerance is None:
        parts = None
    elif isinstance(tolerance, str):
        parts = (tolerance,)
    elif isinstance(tolerance, (list, tuple)) and all(isinstance(t, str) for t in tolerance):
        parts = tuple(tolerance)
    elif isinstance(tolerance, dict) and all(isinstance(k, str) for k in tolerance):
        parts = tuple(f"{k}:{v}" for k, v in tolerance.items())
    else:
        raise MarkerError(
            "@pytest.mark.llm_baseline: tolerance= must be a string like 'e2e:25%', a list of them, or a "
            f"dict like {{'e2e': '25%'}}, got {tolerance!r}"
        )
    if parts is not None:
        from ..gate.errors import BaselineError
        from ..gate.thresholds import parse_thresholds

        try:
            parse_thresholds(parts, source="@pytest.mark.llm_baseline: tolerance=")
        except BaselineError as err:
            raise MarkerError(str(err)) from None
    return parts
