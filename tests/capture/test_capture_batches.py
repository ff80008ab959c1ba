"""The capture's batch paths read a stream as reading every event on its own does: runs of
token chunks applied in one go when each read holds one event (a prompt client), and the
arrival estimate skipping ahead where no read can have been late."""

from __future__ import annotations

import random
from typing import Any

import groq
import httpx
import pytest

from pytest_llmlatency.capture import recorder as recorder_module
from pytest_llmlatency.capture.arrivals import SLACK_NS, WAITED_NS, estimate_arrivals
from pytest_llmlatency.capture.bodyreader import OUTPUT
from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.core.calls import Attempt, LLMCall
from pytest_llmlatency.emulator import GroqEmulator

from .test_capture_fastpath import _captured, _chunk, _reference

# texts a run of token chunks must read one by one: escapes, quotes, a backslash at the end
# of a text (an escape running into the template's quote), multi-byte characters, a split
# \u escape (each chunk must be a JSON string on its own)
TRICKY = [" plain", ' "quoted"', "ends with \\", "\\", "tab\tin", "漢字 é", "\n", " x", "\\\\"]


def _raw_chunk(text: bytes) -> bytes:
    """A token chunk with ``text`` as its JSON string's body, as is (possibly invalid)."""
    good = _chunk({"content": "@@"})
    return good.replace(b"@@", text)


def _events(rng: random.Random) -> list[bytes]:
    events = [_chunk({"role": "assistant", "content": ""}, x_groq={"id": "req_1"})]
    events += [_chunk({"reasoning": t, "channel": "analysis"}) for t in ("a", " b", ' "c"', "d\\")]
    for _ in range(60):
        roll = rng.random()
        if roll < 0.6:
            events.append(_chunk({"content": rng.choice([" w", " word", "x"])}))
        elif roll < 0.8:
            events.append(_chunk({"content": rng.choice(TRICKY)}))
        elif roll < 0.85:
            events.append(_chunk({"content": ""}))  # an empty text: no token
        elif roll < 0.9:
            # not a JSON string's body on its own: an unescaped quote, half a \u escape, a
            # stray backslash before the closing quote, a raw control character
            events.append(_raw_chunk(rng.choice([b'a"b', b"\\u00", b"x\\", b"tab\x01"])))
        elif roll < 0.95:
            events.append(_chunk({"reasoning": " r", "channel": "analysis"}))
        else:
            events.append(_chunk({"content": " t", "tool_calls": []}))  # not the template
    events.append(_chunk({}, x_groq={"usage": {"prompt_tokens": 3, "completion_tokens": 60}}))
    events.append(b"data: [DONE]\n\n")
    return events


def _mixed_reads(events: list[bytes], rng: random.Random) -> list[bytes]:
    """Mostly one event per read, some cut in two, some two to a read."""
    reads: list[bytes] = []
    i = 0
    while i < len(events):
        roll = rng.random()
        if roll < 0.15 and len(events[i]) > 2:
            cut = rng.randrange(1, len(events[i]))
            reads += [events[i][:cut], events[i][cut:]]
        elif roll < 0.25 and i + 1 < len(events):
            reads.append(events[i] + events[i + 1])
            i += 1
        else:
            reads.append(events[i])
        i += 1
    return reads


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("per_read", [1, 3, "mixed"])
def test_runs_of_tokens_read_as_each_event_on_its_own(seed: int, per_read: int | str) -> None:
    rng = random.Random(seed)
    events = _events(rng)
    if per_read == "mixed":
        reads = _mixed_reads(events, rng)
    else:
        step = int(per_read)
        reads = [b"".join(events[i : i + step]) for i in range(0, len(events), step)]
    times = [(10 + 1000 * i, read) for i, read in enumerate(reads)]
    body = b"".join(events)
    want = _reference(body, times)
    got = _captured(times, settle_every=seed % 3)
    assert got.token_times_ns == want.token_times_ns
    assert got.content == want.content
    assert (got.first_output, got.reasoning_streamed) == (want.first_output, want.reasoning_streamed)
    assert got.usage == want.usage and got.request_id == "req_1"
    assert got.end_ns == want.end_ns and got.completed
    assert len(got.token_times_ns) > 30


def _reference_arrivals(call: LLMCall, start: int, reads: list[Any], marks: list[Any]) -> list[int]:
    """The estimate event by event, as docs/metrics.md states it (the implementation before
    it skipped ahead)."""
    usage = call.usage if isinstance(call.usage, dict) else {}
    headers = call.headers_ns or start

    def seconds(value: Any) -> float | None:
        return float(value) if isinstance(value, (int, float)) and value >= 0 else None

    queue, prompt, completion = (seconds(usage.get(k)) for k in ("queue_time", "prompt_time", "completion_time"))
    first_server: int | None = None
    bound: int | None = None
    if prompt is not None:
        first_server = start + round(((queue or 0.0) + prompt) * 1e9)
        bound = max(headers, first_server + (headers - start)) + SLACK_NS
    outputs = sum(1 for _, _, kind in marks if kind == OUTPUT)
    pace = round(completion * 1e9 / (outputs - 1)) if completion is not None and outputs > 1 else 0
    prev = headers
    seen_output = False
    arrivals: list[int] = []
    for index, _, kind in marks:
        asked, got = reads[index][0], reads[index][1]
        if got - asked >= WAITED_NS and asked <= prev + pace + WAITED_NS and (bound is None or got <= bound):
            # asked no later than the server's pace would bring it, then waited
            arrival = got
        elif completion is None and (seen_output or kind != OUTPUT):
            # no server timings: only the first output's wait is split
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
                arrival = got
        if kind == OUTPUT and not seen_output and completion is not None:
            bound = arrival + round(completion * 1e9) + max(SLACK_NS, round(completion * 1e8))
        seen_output = seen_output or kind == OUTPUT
        prev = max(prev, arrival)
        arrivals.append(prev)
    return arrivals


@pytest.mark.parametrize("seed", range(40))
def test_the_arrival_estimate_equals_estimating_every_event(seed: int) -> None:
    rng = random.Random(seed)
    ms = 1_000_000
    call = LLMCall(model="m", params={}, messages=[], url="u", streamed=True)
    call.headers_ns = start_headers = 20 * ms
    n = rng.randint(1, 120)
    if seed % 4:
        call.usage = {"queue_time": 0.01, "prompt_time": rng.choice([0.002, 0.03]), "completion_time": n * 0.001}
    reads: list[tuple[int, int, bytes]] = []
    marks: list[tuple[int, int, int]] = []
    asked = start_headers + rng.choice([0, 5 * ms, 300 * ms])
    for i in range(n):
        # a prompt reader, a slow one, a blocked loop, a backlog read at once: all mixed
        wait = rng.choice([0, 100_000, 900_000, 1_900_000, 2_000_000, 3 * ms, 40 * ms])
        got = asked + wait
        reads.append((asked, got, b"x"))
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            kind = OUTPUT if rng.random() < 0.85 else rng.choice([0, 2])
            marks.append((i, 1, kind))
        asked = got + rng.choice([10_000, 200_000, 1_500_000, 2_500_000, 50 * ms])
    assert estimate_arrivals(call, 0, reads, marks) == _reference_arrivals(call, 0, reads, marks)


@pytest.mark.parametrize("limit", [20_000, recorder_module.PENDING_BYTES])
def test_a_loop_that_never_reads_its_calls_keeps_a_bounded_amount_of_bytes(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's read only takes the time; the bodies wait to be parsed until the calls are
    read, unless they pile up: then they are parsed while the loop goes on."""
    monkeypatch.setattr(recorder_module, "PENDING_BYTES", limit)
    recorder = Recorder()
    open_most = 0
    with (
        GroqEmulator(jitter=0, queue_ms=0, time_scale=1000) as emulator,
        groq.Groq(base_url=emulator.base_url, api_key="gsk_canary_pending_0123456789", max_retries=0) as client,
        Interceptor(recorder),
    ):
        for i in range(150):
            stream = i % 10 == 0  # mostly non-streamed: quick; the streams a few short answers
            out = client.chat.completions.create(
                model="llama-3.1-8b-instant",
                messages=[{"role": "user", "content": f"say {i}"}],
                stream=stream,
                max_completion_tokens=8,
            )
            if stream:
                for _ in out:
                    pass
            open_most = max(open_most, len(recorder._captures))
        # checked at 64 and 128 open calls: over the limit, settled there; else all left to read
        assert open_most == (63 if limit == 20_000 else 150)
        calls = recorder.calls
    assert len(calls) == 150 and all(c.ok and c.completed and c.usage for c in calls)
    # what each request asked for is read with the call, its key scrubbed
    assert {c.model for c in calls} == {"llama-3.1-8b-instant"}
    assert [c.streamed for c in calls] == [i % 10 == 0 for i in range(150)]
    assert calls[7].messages == [{"role": "user", "content": "say 7"}]
    assert not recorder._captures


def test_a_retry_after_a_read_error_body_keeps_each_attempt_its_own(fast_emulator: GroqEmulator) -> None:
    """A client that reads a 429's body and then retries: the first attempt's body is applied
    before the retry resets the call, so the call ends with the second attempt."""
    recorder = Recorder()
    url = fast_emulator.base_url + "/openai/v1/chat/completions"
    body = {"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client() as client, Interceptor(recorder):
        headers = {"authorization": "Bearer gsk_canary_retry_0123456789", "x-emulator-fault": "429;times=1"}
        first = client.post(url, json=body, headers=headers)
        assert first.status_code == 429 and first.json()["error"]
        second = client.post(url, json=body, headers={**headers, "x-stainless-retry-count": "1"})
        assert second.status_code == 200
    (call,) = recorder.calls
    assert [a.status for a in call.attempts] == [429, 200]
    first_end = call.attempts[0].end_ns
    assert call.end_ns == call.attempts[1].end_ns and first_end is not None and first_end < call.attempts[1].start_ns
    assert call.ok and call.e2e_ms is not None and call.e2e_ms > 0 and call.usage


def test_a_finished_recorder_is_freed_without_the_garbage_collector(fast_emulator: GroqEmulator) -> None:
    """Nothing a call keeps points back at its recorder: when a test's recorder goes, its calls
    and captures go with it at once, not at the collector's next full pass (a 3,000-call loop
    spent a third of the plugin's time on such a cycle)."""
    import gc
    import weakref

    recorder = Recorder()
    with (
        groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_canary_cycle_0123456789", max_retries=0) as client,
        Interceptor(recorder),
    ):
        client.chat.completions.create(model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}])
    pending = weakref.ref(recorder._captures[0])  # ended, not yet read
    alive = weakref.ref(recorder)
    gc.collect()  # what else is gone (the interceptor's patches); the recorder is still ours
    enabled = gc.isenabled()
    gc.disable()
    try:
        del recorder
        assert alive() is None and pending() is None
    finally:
        if enabled:
            gc.enable()


class _Reads(httpx.SyncByteStream):
    """A body read in the pieces given (as a socket would return them)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Any:
        yield from self._pieces


_URL = "http://127.0.0.1:9/openai/v1/chat/completions"
_TOKEN = b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'


def _kept_per_call(stream: bool, calls: int = 60) -> float:
    """Objects the garbage collector tracks that a test's pending calls keep, per call."""
    import gc
    import json

    pieces = [_TOKEN] * 300 + [b"data: [DONE]\n\n"]
    answer = {"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}]}

    def handler(request: httpx.Request) -> httpx.Response:
        if stream:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Reads(pieces))
        return httpx.Response(200, headers={"content-type": "application/json"}, content=json.dumps(answer).encode())

    recorder = Recorder()
    body = {"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    headers = {"authorization": "Bearer gsk_canary_tracked_0123456789"}
    with httpx.Client(transport=httpx.MockTransport(handler)) as client, Interceptor(recorder):
        client.post(_URL, json=body, headers=headers).read()
        gc.collect()
        before = {id(o) for o in gc.get_objects()}
        for _ in range(calls):
            client.post(_URL, json=body, headers=headers).read()
        gc.collect()
        kept = sum(1 for o in gc.get_objects() if id(o) not in before)
        assert len(recorder._captures) == calls + 1  # all ended, none read yet
    assert all(c.ok for c in recorder.calls)
    return kept / calls


@pytest.mark.parametrize("stream", [False, True], ids=["json", "300 reads"])
def test_a_pending_call_keeps_few_objects_the_collector_tracks(stream: bool) -> None:
    """Each object the collector tracks costs every collection and brings the next one
    sooner; a test that makes thousands of calls before reading them keeps its calls, their
    captures and their bytes, but no object per read and a handful per call: the capture, its
    attempt and its read log, the request's headers and URL and the response's headers (each
    two objects), all read when the calls are; the call itself is made then too (9 in all)."""
    assert _kept_per_call(stream) <= 10


def test_the_calls_are_made_when_read_in_the_order_sent() -> None:
    """On the call path the capture only takes the time: the request's headers (its key, its
    retry count) and the call itself wait until the test reads its calls; then the calls come
    in the order the requests were sent, each with what it asked for, the key scrubbed."""
    key = "gsk_canary_lazy_0123456789"
    answer = {"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}]}
    recorder = Recorder()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    with httpx.Client(transport=transport) as client, Interceptor(recorder):
        for i in range(5):
            body = {"model": f"model-{i}", "messages": [{"role": "user", "content": f"say {i} {key}"}]}
            client.post(_URL, json=body, headers={"authorization": f"Bearer {key}"}).read()
        assert not recorder._calls and not recorder.secrets.values
        assert len(recorder._captures) == 5 and all(c._call is None for c in recorder._captures)
    calls = recorder.calls
    assert [c.model for c in calls] == [f"model-{i}" for i in range(5)]
    assert [c.messages for c in calls] == [[{"role": "user", "content": f"say {i} <REDACTED>"}] for i in range(5)]
    assert all(c.ok and c.status == 200 and len(c.attempts) == 1 and c.attempts[0].status == 200 for c in calls)
    assert all(c.attempts[0].start_ns < c.headers_ns <= c.end_ns for c in calls)  # type: ignore[operator]
    assert key in recorder.secrets.values


def test_a_stream_closed_after_its_recorder_is_gone_is_no_error() -> None:
    """A capture holds its recorder weakly (no cycle): a stream the application closes after
    the test's recorder went gets a call of its own, abandoned, and the close goes through."""
    import gc

    pieces = [_TOKEN] * 5 + [b"data: [DONE]\n\n"]
    recorder = Recorder()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Reads(pieces))

    body = {"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        with Interceptor(recorder):
            response = client.send(client.build_request("POST", _URL, json=body), stream=True)
        capture = recorder._captures[0]
        del recorder
        gc.collect()
        first = next(response.iter_raw())
        response.close()
    assert first == _TOKEN
    assert capture.call.abandoned and capture.call.status == 200 and capture.call.attempts == [capture.attempt]


def test_the_tee_allocates_no_object_the_collector_tracks_per_read() -> None:
    """The collector runs after every ~700 tracked allocations that are not freed: the tee
    keeps ints and bytes in two lists (a tuple per read made a 400-chunk stream trigger it)."""
    import gc

    from pytest_llmlatency.capture.attempt import Capture
    from pytest_llmlatency.capture.bodystreams import stream_classes
    from pytest_llmlatency.core.endpoints import CHAT

    call = LLMCall(model="m", params={})
    attempt = Attempt(start_ns=0)
    capture = Capture(call, attempt, httpx, CHAT)
    capture.response(200, httpx.Headers({"content-type": "text/event-stream"}))
    tee = stream_classes(httpx)[0](_Reads([_TOKEN] * 2000), capture)
    enabled = gc.isenabled()
    gc.disable()
    try:
        before = gc.get_count()[0]
        for _ in tee:
            pass
        grown = gc.get_count()[0] - before
    finally:
        if enabled:
            gc.enable()
    assert len(capture.log) == 3 * 2000
    assert grown < 50, f"{grown} tracked objects kept for 2000 reads"


def test_every_key_of_a_session_is_learnt_once_and_scrubbed(fast_emulator: GroqEmulator) -> None:
    """Keys are learnt from httpx's header list, each distinct value once: a second client
    with another key in the same test is learnt too, and both are scrubbed from what the
    calls keep (a key pasted into a prompt by mistake)."""
    first, second = "gsk_canary_first_0123456789", "gsk_canary_second_0123456789"
    recorder = Recorder()
    with Interceptor(recorder):
        for key in (first, second, first):
            with groq.Groq(base_url=fast_emulator.base_url, api_key=key, max_retries=0) as client:
                client.chat.completions.create(
                    model="llama-3.1-8b-instant", messages=[{"role": "user", "content": f"my keys: {first} {second}"}]
                )
    calls = recorder.calls  # the keys are learnt as the calls are made from the requests
    assert {first, second} <= recorder.secrets.values
    assert len(calls) == 3 and all(c.ok for c in calls)
    for call in calls:
        text = repr(call.messages)
        assert first not in text and second not in text and "<REDACTED>" in text


def test_a_key_in_the_query_is_learnt_and_the_url_kept_without_the_query() -> None:
    """The URL becomes a string when the call is read, not on the call path: the call keeps
    it without its query, and a key sent as a query parameter (as some gateways take it) is
    learnt then, before the call's messages are kept, and scrubbed from them."""
    key = "gsk_canary_query_0123456789"
    answer = {"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    recorder = Recorder()
    body = {"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": f"the key was {key}"}]}
    with httpx.Client(transport=httpx.MockTransport(handler)) as client, Interceptor(recorder):
        client.post(_URL, json=body).read()
        client.post(f"{_URL}?api_key={key}", json=body).read()
        assert not recorder.secrets.values  # nothing read on the call path
    calls = recorder.calls
    assert key in recorder.secrets.values
    assert [c.url for c in calls] == [_URL, _URL]
    assert key not in repr([c.to_dict() for c in calls]) and "<REDACTED>" in repr(calls[1].messages)


def test_calls_read_while_other_threads_make_them_are_all_complete() -> None:
    """A test that reads its calls while other threads are still making them: each read makes
    the calls begun so far (some still waiting for their answer, or half read), and every call
    ends complete, with its own status, times and messages, whatever read it first."""
    import threading
    import time

    pieces = [_TOKEN] * 20 + [b"data: [DONE]\n\n"]

    class _Slow(httpx.SyncByteStream):
        def __iter__(self) -> Any:
            for piece in pieces:
                time.sleep(0.0002)
                yield piece

    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(0.001)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Slow())

    recorder = Recorder()
    done = threading.Event()
    seen: list[int] = []

    def worker(n: int) -> None:
        with httpx.Client(transport=httpx.MockTransport(handler)) as client:
            for i in range(15):
                body = {"model": "m", "messages": [{"role": "user", "content": f"{n}-{i}"}], "stream": True}
                with client.stream("POST", _URL, json=body) as response:
                    for _ in response.iter_raw():
                        pass

    def reader() -> None:
        while not done.is_set():
            seen.append(len(recorder.calls))
            time.sleep(0.001)

    with Interceptor(recorder):
        workers = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        watcher = threading.Thread(target=reader)
        watcher.start()
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(timeout=60)
        done.set()
        watcher.join(timeout=10)
    assert not any(t.is_alive() for t in [*workers, watcher])
    calls = recorder.calls
    assert any(0 < n < 60 for n in seen) and seen == sorted(seen)  # read as they came, never fewer
    assert sorted(c.messages[0]["content"] for c in calls) == sorted(f"{n}-{i}" for n in range(4) for i in range(15))
    for call in calls:
        assert call.ok and call.completed and call.status == 200 and len(call.attempts) == 1
        assert call.attempts[0].start_ns < call.headers_ns < call.end_ns  # type: ignore[operator]
        assert len(call.token_times_ns) == 20
