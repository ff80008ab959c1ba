"""Server-sent events: encoding and an incremental parser.

Shared by the emulator (encoding), live capture and replay (parsing). The parser
is fed bytes as they arrive and returns complete events; it never holds more than
the current, incomplete event in memory.

Follows the WHATWG event-stream rules that matter for OpenAI-compatible APIs:
lines end in LF, CRLF or CR; ``data:`` lines of one event are joined with LF;
a blank line dispatches the event; comment lines (``:``) are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["SSEEvent", "SSEParser", "encode_event", "DONE"]

DONE = "[DONE]"


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its ``data`` field and its ``event`` name (if any)."""

    data: str
    event: str | None = None

    @property
    def is_done(self) -> bool:
        return self.data.strip() == DONE

    def json(self) -> Any:
        """The data parsed as JSON; raises ``ValueError`` if it is not JSON."""
        return json.loads(self.data)


def encode_event(data: str | dict[str, Any]) -> bytes:
    """Encode one ``data:`` event as Groq sends it (compact JSON, blank line after)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return b"data: " + text.encode("utf-8") + b"\n\n"


class SSEParser:
    """Incremental event-stream parser: ``feed`` bytes, get back finished events."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        if not chunk:
            return events
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        buf = self._buffer + chunk
        start = 0
        length = len(buf)
        while start < length:
            nl = buf.find(b"\n", start)
            cr = buf.find(b"\r", start)
            if nl == -1 and cr == -1:
                break
            if cr != -1 and (nl == -1 or cr < nl):
                end = cr
                if cr + 1 < length:
                    nxt = cr + 2 if buf[cr + 1 : cr + 2] == b"\n" else cr + 1
                else:
                    nxt = cr + 1
                    self._pending_cr = True
            else:
                end = nl
                nxt = nl + 1
            self._line(buf[start:end].decode("utf-8", errors="replace"), events)
            start = nxt
        self._buffer = buf[start:]
        return events

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream: an unterminated last event is dispatched."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(self._buffer.decode("utf-8", errors="replace"), events)
            self._buffer = b""
        self._line("", events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if line == "":
            if self._data:
                events.append(SSEEvent("\n".join(self._data), self._event))
            self._data = []
            self._event = None
            return
        if line.startswith(":"):
            return
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
