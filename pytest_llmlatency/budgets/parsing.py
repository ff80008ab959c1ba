"""The grammar shared by the markers' arguments, and :class:`MarkerError`.

Every marker takes keyword arguments only (``min_cache_share`` also its share as the one
positional); a wrong one raises :class:`MarkerError` naming the marker and the argument, and
the plugin errors that test alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.names import LATENCY_SCOPES

__all__ = ["MarkerError", "call_selector", "check_kwargs", "percentile_arg", "positive", "scope_arg"]


class MarkerError(ValueError):
    """A marker with a bad argument; the message names the marker and the argument."""


def check_kwargs(
    name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    allowed: Sequence[str],
    required: Sequence[str] = (),
) -> dict[str, Any]:
    """The keyword arguments of ``@pytest.mark.<name>``, after refusing positional, unknown and
    missing ones."""
    if args:
        raise MarkerError(
            f"@pytest.mark.{name} takes keyword arguments only, got positional {list(args)!r}; "
            f"write e.g. @pytest.mark.{name}({allowed[0]}=...)"
        )
    kw = dict(kwargs)
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise MarkerError(f"@pytest.mark.{name} got unknown argument {unknown[0]!r}; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in kw:
            raise MarkerError(f"@pytest.mark.{name} needs the argument {key}=")
    return kw


def positive(name: str, key: str, value: Any, *, integer: bool = False) -> float:
    """``key=`` as a finite number > 0 (an int with ``integer``); booleans are refused."""
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        kind = "a positive integer" if integer else "a positive number"
        raise MarkerError(f"@pytest.mark.{name}: {key}= must be {kind}, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise MarkerError(f"@pytest.mark.{name}: {key}= is too large, got {value!r}") from None
    if not number > 0 or number != number or number == float("inf"):
        raise MarkerError(f"@pytest.mark.{name}: {key}= must be > 0, got {value!r}")
    return number


def percentile_arg(name: str, value: Any) -> float | None:
    """``percentile=``: None, or a number in (0, 100]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
        raise MarkerError(f"@pytest.mark.{name}: percentile= must be a number in (0, 100], got {value!r}")
    return float(value)


def call_selector(name: str, value: Any) -> int | str | None:
    """``call=``: an index into the test's calls or a model name."""
    # plain int / str (an IntEnum or StrEnum member becomes its value): JSON-safe for xdist
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value:
        return str.__str__(value)
    raise MarkerError(
        f"@pytest.mark.{name}: call= must be an index into the test's calls (0 is the first, -1 "
        f"the last) or a model name, got {value!r}"
    )


def scope_arg(name: str, value: Any) -> str:
    """``scope=``: one of :data:`~.names.LATENCY_SCOPES`, as a plain str."""
    if not isinstance(value, str) or value not in LATENCY_SCOPES:
        raise MarkerError(
            f"@pytest.mark.{name}: scope= must be one of {', '.join(map(repr, LATENCY_SCOPES))}, got {value!r}"
        )
    return str.__str__(value)
