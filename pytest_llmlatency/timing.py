"""The timing stored beside a recorded response (the ``llmlatency`` key of a cassette
interaction): when the headers came, when the body ended, and the offset and size of
each body chunk as the client read it."""

from __future__ import annotations

from typing import Any

__all__ = ["TIMING_KEY", "TIMING_VERSION", "read_timing", "timing_meta"]

TIMING_KEY = "llmlatency"
TIMING_VERSION = 1


def timing_meta(ttfb_ns: int | None, end_ns: int | None, chunks: list[tuple[int, int]]) -> dict[str, Any]:
    """The ``llmlatency`` key stored beside a recorded response: milliseconds from
    the request being sent; ``chunks`` is ``[[offset_ms, size_bytes], ...]`` of the
    decoded body as the client read it."""
    return {
        "version": TIMING_VERSION,
        "ttfb_ms": None if ttfb_ns is None else round(ttfb_ns / 1e6, 3),
        "e2e_ms": None if end_ns is None else round(end_ns / 1e6, 3),
        "chunks": [[round(offset / 1e6, 3), size] for offset, size in chunks],
    }


def read_timing(response: dict[str, Any]) -> dict[str, Any] | None:
    meta = response.get(TIMING_KEY)
    if not isinstance(meta, dict) or meta.get("version") != TIMING_VERSION:
        return None
    chunks = meta.get("chunks")
    if not isinstance(chunks, list) or not all(
        isinstance(c, list) and len(c) == 2 and all(isinstance(x, (int, float)) for x in c) for c in chunks
    ):
        return None
    return meta
