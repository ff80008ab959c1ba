"""Reading a response body after the fact: the decoded bytes of each read, split into
events (SSE) or kept whole (JSON), applied to the ``LLMCall`` with each event stamped by
the time its read returned. Used by :class:`~.capture.Capture` when a call settles.

Most of a Groq stream is one kind of chunk, a token: ``{"id":...,"choices":[{"index":0,
"delta":{"content":" word"},...}]}`` differing only in the text. The first such chunk is
read with a pattern that matches the whole chunk (:func:`~.endpoints.fast_chat_delta`); the
bytes around its text become a template. A run of later chunks that fit it is applied in
one go: C-level passes over the run (starts, ends, the texts sliced out) and one JSON
array of the texts, without a JSON object or a Python call per chunk. Any other event is
read in full (:func:`~.endpoints.read_event`). When each read holds one whole event (as a
server writes them and a prompt client reads them), the reads are the events; reads that
cut events are split at the blank lines.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import add, and_, getitem, sub
from typing import cast

from ..core.calls import Attempt, LLMCall
from ..core.endpoints import CHAT, Endpoint, fast_chat_delta, read_body, read_event
from ..core.sse import SSEParser

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

    def add_batch(self, first: int, times: list[int], datas: list[bytes]) -> None:
        """Reads ``first``, ``first + 1``, ... returned ``datas`` (decoded) at ``times``: the
        same as :meth:`add` for each, with the fast event splitter run over runs of them."""
        joined = b"".join(datas)
        if not self.stream or self.sse is not None or b"\r" in joined:
            for offset, (now, data) in enumerate(zip(times, datas, strict=True)):
                self.add(first + offset, now, data)
            return
        self.data.extend(datas)
        # a read that holds one whole event, as a server writes them and a prompt client reads
        # them: it ends the event's blank line and has no other line break
        if not self.tail and joined.count(b"\n") == 2 * len(datas) and all(map(bytes.endswith, datas, repeat(b"\n\n"))):
            self._events(first, datas, range(len(datas)), list(map(len, datas)), times, b"\n\n")
            return
        whole = list(
            map(
                and_,
                map(bytes.endswith, datas, repeat(b"\n\n")),
                map((2).__eq__, map(bytes.count, datas, repeat(b"\n"))),
            )
        )
        i, n = 0, len(datas)
        while i < n:
            if not self.tail and whole[i]:
                try:
                    j = whole.index(False, i)
                except ValueError:
                    j = n
                run = datas[i:j]
                self._events(first + i, run, range(j - i), list(map(len, run)), times[i:j], b"\n\n")
            else:  # reads that cut events: split at the blank lines, up to the next whole read
                j = i + 1
                while j < n and not (whole[j] and datas[j - 1].endswith(b"\n\n")):
                    j += 1
                self._split(first + i, datas[i:j], times[i:j])
            i = j

    def _split(self, first: int, datas: list[bytes], times: list[int]) -> None:
        """Reads ``first``, ... returned ``datas`` at ``times``: their events, wherever the
        reads cut them (an event belongs to the read its blank line ends in)."""
        tail = self.tail
        joined = b"".join(datas)
        buf = tail + joined if tail else joined
        if b"\n\n" not in buf:
            self.tail = buf
            return
        parts = buf.split(b"\n\n")
        self.tail = parts.pop()
        ends = list(accumulate(map(len, datas), initial=len(tail)))
        starts = ends[:-1]
        del ends[0]
        pos = list(accumulate(map(add, map(len, parts), repeat(2))))
        reads = list(map(bisect_left, repeat(ends), pos))
        self._events(first, parts, reads, list(map(sub, pos, map(starts.__getitem__, reads))), times, b"")

    def _events(
        self, first: int, events: list[bytes], reads: Sequence[int], ends: list[int], times: list[int], term: bytes
    ) -> None:
        """Apply events in order: event ``k`` is ``events[k]`` (followed by ``term``), ending at
        ``ends[k]`` in the data of read ``reads[k]`` (relative to ``first``), which returned at
        ``times[reads[k]]``. Runs of token chunks that fit the template learnt from the first
        one are applied in one go, without building a JSON object per chunk; any other event
        is read in full."""
        i, n = 0, len(events)
        starting = self._starting(events, 0)
        while i < n:
            kind = next((key for key, flags in starting.items() if flags[i]), None)
            if kind is not None:
                try:
                    j = starting[kind].index(False, i)
                except ValueError:
                    j = n
                if self._tokens(kind, events[i:j], term):
                    rs = reads[i:j]
                    self.call.token_times_ns.extend(map(times.__getitem__, rs))
                    self.marks.extend(zip(map(first.__add__, rs), ends[i:j], repeat(OUTPUT)))
                else:  # not all of the template after all: each on its own
                    for k in range(i, j):
                        r = reads[k]
                        self._other(first + r, times[r], ends[k], events[k][: len(events[k]) - len(term)])
                i = j
                continue
            template = self.head, len(self.suffixes)
            r = reads[i]
            self._other(first + r, times[r], ends[i], events[i][: len(events[i]) - len(term)])
            i += 1
            if (self.head, len(self.suffixes)) != template:
                starting = self._starting(events, i)

    def _starting(self, events: list[bytes], i: int) -> dict[str, list[bool]]:
        """Per kind of token, whether each event from ``i`` on starts like the template's."""
        head = self.head
        if head is None:
            return {}
        flags: dict[str, list[bool]] = {}
        for kind in self.suffixes:
            flags[kind] = [False] * i
            flags[kind].extend(map(bytes.startswith, events[i:], repeat(head + kind.encode() + b'":"')))
        return flags

    def _tokens(self, kind: str, run: list[bytes], term: bytes) -> bool:
        """Apply the texts of a run of events that start like the template's token chunks of
        ``kind``, if each of them is one: the template's bytes around a text of at least one
        character that is a JSON string's body on its own (False, applying nothing, if not)."""
        assert self.head is not None
        before, after = self.head + kind.encode() + b'":"', self.suffixes[kind] + term
        if not all(map(bytes.endswith, run, repeat(after))):
            return False
        texts = cast("list[bytes]", list(map(getitem, run, repeat(slice(len(before), -len(after))))))
        if any(map(bytes.endswith, texts, repeat(b"\\"))):
            return False  # an escape running into the template's quote: read each in full
        # one JSON array of the texts reads each as a string on its own; a text with a quote
        # no backslash escapes would end its string early and add an item (or fail)
        try:
            decoded = json.loads(b'["' + b'","'.join(texts) + b'"]')
        except ValueError:
            return False
        if len(decoded) != len(run) or not all(decoded):
            return False
        call = self.call
        if not call.token_times_ns:
            call.tool_calls = []
            call.first_output = kind
        if kind == "reasoning":
            call.reasoning_streamed = True
        else:
            call.content += "".join(decoded)
        return True

    def _other(self, index: int, now: int, end: int, part: bytes) -> None:
        """Any event but a token chunk of the template (read ``index`` returned it at ``now``,
        ending at ``end`` in its data)."""
        if not part or part == b"\n":
            return
        if part.startswith(b"data: ") and b"\n" not in part:
            self.event(index, now, end, part[6:], None)
            return
        named = _EVENT_NAME.match(part)
        if named is not None:
            self.event(index, now, end, named.group(2), named.group(1).decode("utf-8", "replace"))
            return
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
        self.add_batch(index, [now], [data])

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
