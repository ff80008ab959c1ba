"""Reading a response body after the fact: the decoded bytes of each read, split into
events (SSE) or kept whole (JSON), applied to the ``LLMCall`` with each event stamped by
the time its read returned. Used by :class:`~.capture.Capture` when a call settles.

Most of a Groq stream is one kind of chunk, a token: ``{"id":...,"choices":[{"index":0,
"delta":{"content":" word"},...}]}`` differing only in the text. The first such chunk is
read with a pattern that matches the whole chunk (:func:`~.endpoints.fast_chat_delta`); the
bytes around its text become a template, and the next chunks that fit it are read with two
comparisons and a slice, without building a JSON object. Any other event is read in full
(:func:`~.endpoints.read_event`).
"""

from __future__ import annotations

import json
import re

from .calls import Attempt, LLMCall
from .endpoints import CHAT, Endpoint, fast_chat_delta, read_body, read_event
from .sse import SSEParser

__all__ = ["END", "OTHER", "OUTPUT", "BodyReader"]

OTHER, OUTPUT, END = 0, 1, 2
"""Event kinds: anything else, one carrying output (a token), the end of the stream."""

_DONE = b"[DONE]"
_EVENT_NAME = re.compile(rb"\Aevent: ?([^\r\n]*)\ndata: ?([^\r\n]*)\Z")


class BodyReader:
    """The body of one attempt, read incrementally: :meth:`add` each read's decoded bytes in
    order, then :meth:`close` at the end of the body."""

    def __init__(self, call: LLMCall, attempt: Attempt, endpoint: Endpoint, stream: bool, content_type: str) -> None:
        self.call = call
        self.attempt = attempt
        self.endpoint = endpoint
        self.stream = stream
        self.content_type = content_type
        self.data: list[bytes] = []
        """Decoded bytes per read."""
        self.marks: list[tuple[int, int, int]] = []
        """``(read, end offset in its data, kind)`` per event (per read for a JSON body)."""
        self.sse: SSEParser | None = None  # the general parser, once the fast one cannot go on
        self.tail = b""  # the fast parser's incomplete event
        self.head: bytes | None = None  # a token chunk's bytes before its text's key
        self.suffixes: dict[str, bytes] = {}  # and after its text, by kind
        self.body: list[bytes] = []

    def add(self, index: int, now: int, data: bytes) -> None:
        """Read ``index`` returned ``data`` (decoded) at ``now``."""
        self.data.append(data)
        if not data:
            return
        if self.stream:
            self._sse(index, now, data)
        else:
            self.body.append(data)
            self.marks.append((index, len(data), OTHER))

    def close(self, now: int) -> None:
        """The body ended: dispatch an unterminated last event, or read the JSON body."""
        if self.stream:
            index = max(0, len(self.data) - 1)
            end = len(self.data[index]) if self.data else 0
            if self.sse is not None:
                events = self.sse.close()
            else:
                # the fast splitter's unterminated last event: dispatched, as the general parser does
                tail, self.tail = self.tail, b""
                parser = SSEParser()
                events = parser.feed(tail) + parser.close() if tail else []
            for event in events:
                self.event(index, now, end, event.data.encode(), event.event)
        elif self.body:
            message = read_body(self.endpoint, self.call, b"".join(self.body), self.content_type)
            if message:
                self.attempt.error = message
            self.body = []

    def finish(self, now: int) -> None:
        """The stream's logical end came at ``now``."""
        if not self.call.completed:
            self.call.end_ns = self.attempt.end_ns = now
            self.call.completed = True

    def add_batch(self, first: int, items: list[tuple[int, bytes]]) -> None:
        """Reads ``first``, ``first + 1``, ... returned these ``(time, decoded bytes)``: the same
        as :meth:`add` for each, with the fast event splitter run once over all of them."""
        if not self.stream or self.sse is not None or any(b"\r" in data for _, data in items):
            for offset, (now, data) in enumerate(items):
                self.add(first + offset, now, data)
            return
        datas = [data for _, data in items]
        self.data.extend(datas)
        tail = self.tail
        buf = tail + b"".join(datas) if tail else b"".join(datas)
        if b"\n\n" not in buf:
            self.tail = buf
            return
        parts = buf.split(b"\n\n")
        self.tail = parts.pop()
        # where each read ends in buf: an event belongs to the read its blank line ends in
        ends: list[int] = []
        pos = len(tail)
        for data in datas:
            pos += len(data)
            ends.append(pos)
        pos, start, r = 0, len(tail), 0  # start: where read r begins in buf
        call = self.call
        times = call.token_times_ns
        marks = self.marks
        head = self.head
        suffixes = self.suffixes
        for part in parts:
            pos += len(part) + 2
            while pos > ends[r]:
                start = ends[r]
                r += 1
            index, now, end = first + r, items[r][0], pos - start
            if head is not None and part.startswith(head):
                # a token chunk shaped like the one the template was learnt from, differing only
                # in the text: no JSON object, no regex (docs/performance.md, "Capture")
                at = len(head)
                if part.startswith(b'content":"', at):
                    kind, at, suffix = "content", at + 10, suffixes.get("content")
                elif part.startswith(b'reasoning":"', at):
                    kind, at, suffix = "reasoning", at + 12, suffixes.get("reasoning")
                else:
                    suffix = None
                if suffix is not None and part.endswith(suffix) and len(part) - len(suffix) >= at:
                    raw = part[at : len(part) - len(suffix)]
                    if b'"' not in raw and not raw.endswith(b"\\"):
                        try:
                            text = json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode("utf-8")
                        except ValueError:
                            text = None
                        if text is not None:
                            if text:
                                if not times:
                                    call.tool_calls = []
                                    call.first_output = kind
                                    if kind == "reasoning":
                                        call.reasoning_streamed = True
                                elif kind == "reasoning" and not call.reasoning_streamed:
                                    call.reasoning_streamed = True
                                times.append(now)
                                marks.append((index, end, OUTPUT))
                            else:
                                marks.append((index, end, OTHER))
                            if kind == "content":
                                call.content += text
                            continue
            if not part or part == b"\n":
                continue
            if part.startswith(b"data: ") and b"\n" not in part:
                self.event(index, now, end, part[6:], None)
                head = self.head
                continue
            named = _EVENT_NAME.match(part)
            if named is not None:
                self.event(index, now, end, named.group(2), named.group(1).decode("utf-8", "replace"))
                continue
            # comments, multi-line data, unusual fields: the general parser, on this event alone
            parser = SSEParser()
            for event in parser.feed(part + b"\n\n"):
                self.event(index, now, end, event.data.encode(), event.event)

    def _sse(self, index: int, now: int, data: bytes) -> None:
        """One read of a stream: the fast event splitter for ``data:`` lines ending in LF (what
        Groq and OpenAI send); anything else (CR line ends) goes to the general parser from
        then on."""
        if self.sse is None and b"\r" in data:
            self.sse = SSEParser()
            if self.tail:
                self.sse.feed(self.tail)
                self.tail = b""
        if self.sse is not None:
            for event in self.sse.feed(data):
                self.event(index, now, len(data), event.data.encode(), event.event)
            return
        self.data.pop()  # add_batch keeps it again
        self.add_batch(index, [(now, data)])

    def event(self, index: int, now: int, end: int, data: bytes, name: str | None) -> None:
        call = self.call
        end = max(0, min(end, len(self.data[index])))
        if data.strip() == _DONE:
            # the stream's logical end: SDKs may close the response without reading further
            self.marks.append((index, end, END))
            self.finish(now)
            return
        tokens = len(call.token_times_ns)
        if name is None and self.endpoint is CHAT:
            delta = fast_chat_delta(data)
            if delta is not None:
                kind, text, head, suffix = delta
                if self.head is None or self.head == b"data: " + head:
                    self.head = b"data: " + head
                    self.suffixes.setdefault(kind, suffix)
                if text:
                    if not call.token_times_ns:
                        call.tool_calls = []
                        call.first_output = kind
                    call.token_times_ns.append(now)
                    if kind == "reasoning":
                        call.reasoning_streamed = True
                if kind == "content":
                    call.content += text
                self.marks.append((index, end, OUTPUT if text else OTHER))
                return
        try:
            chunk = json.loads(data)
        except ValueError:
            return
        ended = isinstance(chunk, dict) and read_event(self.endpoint, call, chunk, name, now)
        self.marks.append((index, end, END if ended else OUTPUT if len(call.token_times_ns) > tokens else OTHER))
        if ended:
            self.finish(now)
