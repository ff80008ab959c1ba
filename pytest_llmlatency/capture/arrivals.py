"""Where the time went: when the bytes of each event arrived, estimated from when the
client asked for each read and when it got it, and Groq's own timings (docs/metrics.md,
"Where the time went"); and the pieces a recording stores at the server's pace."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import compress
from operator import itemgetter, not_, sub
from typing import Any

from ..core.calls import LLMCall
from .bodyreader import OUTPUT

__all__ = ["SLACK_NS", "WAITED_NS", "estimate_arrivals", "event_times", "recorded_pieces"]

WAITED_NS = 2_000_000
"""A read that took at least this long (2 ms) waited for its bytes, unless the client asked
for it later than the server's pace would have brought it (docs/metrics.md, "Where the time
went")."""

_CLOSE = range(WAITED_NS)
"""Gaps between two reads' returns within which an estimate cannot differ (0 to 2 ms)."""

SLACK_NS = 10_000_000
"""What the network may add to the server's own times (10 ms)."""


Read = tuple[int, int, bytes]
"""``(asked_ns, got_ns, raw bytes)``: one read of the body."""
Mark = tuple[int, int, int]
"""``(read index, end offset in its decoded data, kind)``: one event."""


def estimate_arrivals(
    call: LLMCall,
    start: int,
    reads: Sequence[Read],
    marks: list[Mark],
    gots: list[int] | None = None,
    kinds: list[int] | None = None,
) -> list[int]:
    """Arrival time per event mark: a read that waited got its bytes as they came; bytes a
    read found waiting came at the server's pace (Groq's own prompt and completion times)
    after the previous event, and no later than the client asked for them. A wait that
    ends after the server, by its own times, had sent everything is the client's (a
    blocked event loop does not resume the read that was waiting). ``gots`` and ``kinds``:
    :func:`event_times` and each mark's kind, when the caller has them already."""
    headers, completion, first_server, bound = _server_times(call, start)
    if kinds is None:
        kinds = list(map(itemgetter(2), marks))
    outputs = kinds.count(OUTPUT)
    first_output = kinds.index(OUTPUT) if outputs else len(kinds)
    pace = round(completion * 1e9 / (outputs - 1)) if completion is not None and outputs > 1 else 0
    if gots is None:
        gots = event_times(reads, marks)
    # where a read returned 2 ms or more after the one before (or before it): only from these
    # on can an estimate differ from the time the read returned
    breaks = list(compress(range(1, len(gots)), map(not_, map(_CLOSE.__contains__, map(sub, gots[1:], gots[:-1])))))
    prev = headers
    seen_output = False
    arrivals: list[int] = []
    e, n = 0, len(marks)
    while e < n:
        got = gots[e]
        if 0 <= got - prev < WAITED_NS:
            # every estimate is at least min(prev, got), and one within 2 ms of the read's time
            # is that time: so is this event's, and each next one's until the next break
            nxt = bisect_right(breaks, e)
            k = breaks[nxt] if nxt < len(breaks) else n
            arrivals.extend(gots[e:k])
            if e <= first_output < k:
                seen_output = True
                if completion is not None:
                    bound = _last_token_bound(gots[first_output], completion)
            prev = gots[k - 1]
            e = k
            continue
        kind = kinds[e]
        asked = reads[marks[e][0]][0]
        if got - asked >= WAITED_NS and asked <= prev + pace + WAITED_NS and (bound is None or got <= bound):
            # asked no later than the server's pace would bring it, then waited: the bytes
            # came as it got them (a wait while far behind is the machine, not the server)
            arrival = got
        elif completion is None and (seen_output or kind != OUTPUT):
            # no server timings (another server, the Responses API): no pace to re-time a
            # backlog with, so only the first output's wait is split; the rest read as it came
            arrival = got
        else:
            if kind == OUTPUT and not seen_output:
                estimate = max(prev, first_server or prev)
            elif kind == OUTPUT:
                estimate = prev + pace
            else:
                estimate = prev
            if bound is not None:
                estimate = min(estimate, bound)
            arrival = min(max(estimate, prev), got)
            if got - arrival < WAITED_NS:
                arrival = got  # within the method's error: read as it came
        if kind == OUTPUT and not seen_output and completion is not None:
            # every later token came within Groq's completion time of the first
            bound = _last_token_bound(arrival, completion)
        seen_output = seen_output or kind == OUTPUT
        prev = max(prev, arrival)
        arrivals.append(prev)
        e += 1
    return arrivals


def _server_times(call: LLMCall, start: int) -> tuple[int, float | None, int | None, int | None]:
    """``(headers_ns, completion_s, first_server_ns, bound_ns)`` from Groq's own timings in the
    call's usage: when the headers came, the server's completion time, when the server had
    the first token, and the latest a wait can end and still be the server's (None: unknown)."""
    usage = call.usage if isinstance(call.usage, dict) else {}
    headers = call.headers_ns or start
    queue, prompt, completion = (_seconds(usage.get(k)) for k in ("queue_time", "prompt_time", "completion_time"))
    if prompt is None:
        return headers, completion, None, None
    first_server = start + round(((queue or 0.0) + prompt) * 1e9)
    # the first token: the server's own time plus at most the headers' network time
    return headers, completion, first_server, max(headers, first_server + (headers - start)) + SLACK_NS


def _last_token_bound(first_output: int, completion: float) -> int:
    """The latest the last token can come when the first came at ``first_output``: Groq's
    completion time after it, plus what the network may add (10% of it, at least
    :data:`SLACK_NS`)."""
    return first_output + round(completion * 1e9) + max(SLACK_NS, round(completion * 1e8))


def event_times(reads: Sequence[Read], marks: list[Mark]) -> list[int]:
    """When the read that returned each event's end returned."""
    got = list(map(itemgetter(1), reads))
    return list(map(got.__getitem__, map(itemgetter(0), marks)))


def recorded_pieces(
    start: int,
    reads: Sequence[Read],
    data: list[bytes],
    marks: list[Mark],
    arrivals: list[int] | None,
) -> list[tuple[int, bytes]]:
    """The body as recorded: ``(offset_ns, decoded bytes)`` pieces. A read is one piece at
    its read time, unless the client made it late: then it is cut at its events, each
    stored at its estimated arrival, so a recording keeps the server's pace. Bytes of an
    event that ends in a later read arrived no later than that event."""
    if not arrivals:
        return [(reads[i][1] - start if i < len(reads) else reads[-1][1] - start, d) for i, d in enumerate(data) if d]
    cuts: dict[int, list[tuple[int, int]]] = {}
    for (index, end, _), arrival in zip(marks, arrivals, strict=True):
        cuts.setdefault(index, []).append((end, arrival))
    following: list[int | None] = [None] * len(data)  # the arrival of the next event ending after read i
    upcoming: int | None = None
    for index in range(len(data) - 1, -1, -1):
        following[index] = upcoming
        if index in cuts:
            upcoming = cuts[index][0][1]
    pieces: list[tuple[int, bytes, int]] = []
    for index, chunk in enumerate(data):
        if not chunk:
            continue
        got = reads[index][1] if index < len(reads) else reads[-1][1]
        pos = 0
        for end, arrival in cuts.get(index, []):
            if end > pos:
                pieces.append((min(got, arrival) - start, chunk[pos:end], index))
                pos = end
        if pos < len(chunk):
            later = following[index]
            pieces.append(((got if later is None else min(got, later)) - start, chunk[pos:], index))
    # an estimate never puts a piece before the one read ahead of it; the pieces of one
    # read that share a time are one piece again (a read nobody delayed stays whole)
    merged: list[tuple[int, bytes, int]] = []
    latest = 0
    for offset, piece, index in pieces:
        latest = max(latest, offset)
        if merged and merged[-1][0] == latest and merged[-1][2] == index:
            merged[-1] = (latest, merged[-1][1] + piece, index)
        else:
            merged.append((latest, piece, index))
    return [(offset, piece) for offset, piece, _ in merged]


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None
