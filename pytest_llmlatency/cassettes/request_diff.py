"""What changed between two requests, one readable item per parameter (pure)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["request_diff"]


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _messages_diff(old: list[Any], new: list[Any]) -> list[str]:
    if len(old) != len(new):
        return [f"messages: {len(old)} -> {len(new)} message(s)"]
    out = []
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        if a == b:
            continue
        role = b.get("role") if isinstance(b, dict) else "?"
        if isinstance(a, dict) and isinstance(b, dict) and a.get("role") == b.get("role"):
            ca, cb = a.get("content"), b.get("content")
            if ca != cb:
                la = len(ca) if isinstance(ca, str) else None
                lb = len(cb) if isinstance(cb, str) else None
                size = f" ({la} -> {lb} chars)" if la is not None and lb is not None else ""
                out.append(f"message {i + 1} ({role}) content {_short(ca, 40)} -> {_short(cb, 40)}{size}")
                continue
        out.append(f"message {i + 1} changed: {_short(a, 40)} -> {_short(b, 40)}")
    return out


def request_diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """What changed between a recorded request body and a new one, one item per parameter."""
    if old is None or new is None:
        return ["request body is not JSON"] if old != new else []
    out = []
    for key in sorted(set(old) | set(new), key=lambda k: (k != "model", k != "messages", k)):
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if a == b:
            continue
        if key in ("messages", "input") and isinstance(a, list) and isinstance(b, list):
            out.extend(_messages_diff(a, b))
            continue
        if isinstance(a, dict) and isinstance(b, dict) and key not in ("response_format", "text"):
            # an uploaded file's summary, a nested option: name the field that changed
            out.extend(f"{key}.{item}" for item in request_diff(a, b))
            continue
        left = "(none)" if a is _MISSING else _short(a)
        right = "(none)" if b is _MISSING else _short(b)
        out.append(f"{key} {left} -> {right}")
    return out


class _Missing:
    def __repr__(self) -> str:
        return "(none)"


_MISSING = _Missing()
