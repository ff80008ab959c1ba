"""The requests a test sent through httpx to endpoints the plugin does not measure
(embeddings, the model list, an application's own API): :class:`Unmeasured` notes them, through
:class:`ObservedTransport`, so a budget that found no LLM call can name them instead of saying
only "made no LLM call" (:func:`name_unmeasured`).

No pytest import: the capture imports this module on its hot path.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ..core.records import ResultRecord

__all__ = ["MAX_KINDS", "ObservedTransport", "Unmeasured", "name_unmeasured"]

MAX_KINDS = 50
"""Distinct (method, host, path, status) kept per test; further ones are counted only."""


class Unmeasured:
    """Requests a test sent to endpoints the plugin does not measure, counted by
    (method, host, path, status); ``status`` is None when no response came (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str, str, int | None], int] = {}
        self.dropped = 0

    def note(self, request: Any, status: int | None) -> None:
        url = request.url
        key = (str(request.method), str(url.host), str(url.path), status)
        with self._lock:
            if key in self.counts or len(self.counts) < MAX_KINDS:
                self.counts[key] = self.counts.get(key, 0) + 1
            else:
                self.dropped += 1

    def __bool__(self) -> bool:
        return bool(self.counts)

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-safe: ``{"method", "host", "path", "status", "count"}`` in the order first seen."""
        with self._lock:
            items = list(self.counts.items())
        return [{"method": m, "host": h, "path": p, "status": s, "count": n} for (m, h, p, s), n in items]

    def hint(self) -> str:
        """``the test's only requests through httpx went to endpoints the plugin does not
        measure: POST /openai/v1/embeddings -> 200 (2x)``, and what it measures."""
        parts = []
        for entry in self.to_list():
            status = "no response" if entry["status"] is None else str(entry["status"])
            times = f" ({entry['count']}x)" if entry["count"] > 1 else ""
            parts.append(f"{entry['method']} {entry['path']} -> {status}{times}")
        more = f" and {self.dropped} more" if self.dropped else ""
        text = (
            f"(its only requests through httpx went to endpoints the plugin does not measure: "
            f"{', '.join(parts)}{more}. The plugin measures chat completions, the Responses API and audio "
            "(transcriptions, translations, speech); embeddings, the model list and other endpoints pass "
            "through unmeasured"
        )
        if any(e["status"] == 404 for e in self.to_list()):
            text += "; a 404 may be a mistyped path or base URL"
        return text + ")"


class ObservedTransport:
    """A pass-through around the transport a client picked for a request the plugin does not
    measure: it notes the request's method, path and status, and returns the response untouched
    (its body is neither read nor wrapped)."""

    __slots__ = ("_inner", "_notes")

    def __init__(self, inner: Any, notes: Unmeasured) -> None:
        self._inner = inner
        self._notes = notes

    def handle_request(self, request: Any) -> Any:
        try:
            response = self._inner.handle_request(request)
        except BaseException:
            self._notes.note(request, None)
            raise
        self._notes.note(request, response.status_code)
        return response

    async def handle_async_request(self, request: Any) -> Any:
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._notes.note(request, None)
            raise
        self._notes.note(request, response.status_code)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def name_unmeasured(
    result: ResultRecord, failures: Sequence[str], unmeasured: Unmeasured, no_call_why: str
) -> list[str]:
    """For a test that made no LLM call but sent requests to endpoints the plugin does not
    measure: its budgets' "made no LLM call (...)" messages name those requests instead. The
    result keeps them under ``"unmeasured"``; returns the failures, rewritten."""
    if not unmeasured or result.get("calls"):
        return list(failures)
    hint = unmeasured.hint()
    result["unmeasured"] = unmeasured.to_list()
    for verdict in result.get("verdicts") or []:
        verdict["message"] = str(verdict.get("message", "")).replace(no_call_why, hint)
    rewritten = [f.replace(no_call_why, hint) for f in failures]
    result["failures"] = rewritten
    return rewritten
