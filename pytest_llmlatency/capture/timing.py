"""The timing stored beside a recorded response (the ``llmlatency`` key of a cassette
interaction): when the headers came, when the body ended, and the offset and size of
each body chunk as the client read it.

Version 2 (written now) keeps one list of offsets and one list of sizes::

    llmlatency:
      e2e_ms: 367.11
      offsets_ms: [12.512, 152.494, 162.5, ...]
      sizes: [353, 273, 273, ...]
      ttfb_ms: 11.374
      version: 2

Version 1 kept a ``[offset_ms, size]`` pair per chunk (``chunks: [[12.512, 353], ...]``).
Both load; a cassette is written in version 2 only when it is written anyway (a
recording or a re-recording), never just to migrate it. Times are milliseconds from the
request being sent, rounded to the microsecond.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TIMING_KEY", "TIMING_VERSION", "Timing", "read_timing", "timing_meta", "upgrade_timing"]

TIMING_KEY = "llmlatency"
TIMING_VERSION = 2
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Timing:
    """A recording's timing in nanoseconds from the request being sent."""

    ttfb_ns: int
    end_ns: int
    offsets_ns: list[int]
    sizes: list[int]
    version: int


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


def timing_meta(ttfb_ns: int | None, end_ns: int | None, chunks: list[tuple[int, int]]) -> dict[str, Any]:
    """The ``llmlatency`` key stored beside a recorded response (version 2): ``chunks`` is
    ``[(offset_ns, size_bytes), ...]`` of the decoded body as the client read it."""
    return {
        "version": TIMING_VERSION,
        "ttfb_ms": _ms(ttfb_ns),
        "e2e_ms": _ms(end_ns),
        "offsets_ms": [round(offset / 1e6, 3) for offset, _ in chunks],
        "sizes": [int(size) for _, size in chunks],
    }


def _numbers(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values)


def _lists(meta: dict[str, Any]) -> tuple[list[Any], list[Any]] | None:
    """(offsets in ms, sizes) of a version 1 or 2 timing dict, or None when malformed."""
    version = meta.get("version")
    if version == 2:
        offsets, sizes = meta.get("offsets_ms"), meta.get("sizes")
        if not (isinstance(offsets, list) and isinstance(sizes, list) and len(offsets) == len(sizes)):
            return None
        return (offsets, sizes) if _numbers(offsets) and _numbers(sizes) else None
    if version == 1:
        chunks = meta.get("chunks")
        if not isinstance(chunks, list) or not all(isinstance(c, list) and len(c) == 2 and _numbers(c) for c in chunks):
            return None
        return [c[0] for c in chunks], [c[1] for c in chunks]
    return None


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def read_timing(response: dict[str, Any]) -> Timing | None:
    """The timing recorded beside ``response`` (version 1 or 2), or None when there is none
    (a cassette recorded by plain vcrpy or pytest-recording) or it is malformed."""
    meta = response.get(TIMING_KEY)
    if not isinstance(meta, dict):
        return None
    lists = _lists(meta)
    if lists is None:
        return None
    offsets, sizes = lists
    return Timing(
        ttfb_ns=round(_float(meta.get("ttfb_ms")) * 1e6),
        end_ns=round(_float(meta.get("e2e_ms")) * 1e6),
        offsets_ns=[round(float(o) * 1e6) for o in offsets],
        sizes=[int(s) for s in sizes],
        version=int(meta["version"]),
    )


def upgrade_timing(meta: Any) -> Any:
    """A version 1 timing dict in version 2 (the same numbers, other keys kept); anything
    else as it is."""
    if not isinstance(meta, dict) or meta.get("version") != 1:
        return meta
    lists = _lists(meta)
    if lists is None:
        return meta
    offsets, sizes = lists
    kept = {k: v for k, v in meta.items() if k not in ("chunks", "version")}
    return {**kept, "version": TIMING_VERSION, "offsets_ms": offsets, "sizes": sizes}
