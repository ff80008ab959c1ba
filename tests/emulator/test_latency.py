"""The emulator's latency: usage timings equal what the server did, parameters matter as on Groq.

Timing assertions compare with the server's own timestamps (same monotonic clock)
or rely on causality (a chunk is read after it was written); absolute bounds are
only lower bounds or generous, so they hold on a loaded two-core machine.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import groq
import pytest

from pytest_llmlatency.emulator import PROFILES, GroqEmulator

MS = 1_000_000  # ns


def _create(emu: GroqEmulator, **params: Any) -> Any:
    with groq.Groq(base_url=emu.base_url, api_key="gsk_test", max_retries=0) as client:
        return client.chat.completions.create(**params)


def test_usage_timings_equal_the_servers_own_waits(exact_emulator: GroqEmulator) -> None:
    t_sent = time.perf_counter_ns()
    resp = _create(
        exact_emulator,
        model="llama-3.1-8b-instant",
        messages=[{"role": "user", "content": "Describe queues in 60 words."}],
    )
    t_back = time.perf_counter_ns()
    served = exact_emulator.requests[-1]
    usage = resp.usage
    server_wait_s = (served.t_last_token_ns - served.t_received_ns) / 1e9
    # usage is the server's own measurement of its waits (rounded to the nanosecond in JSON)
    assert usage.queue_time + usage.total_time == pytest.approx(server_wait_s, abs=1e-6)
    assert served.t_last_token_ns <= served.t_headers_ns, "the body is sent after generation ends"
    assert usage.total_time == pytest.approx(usage.prompt_time + usage.completion_time, abs=1e-8)
    # the client saw at least that much, and everything it saw happened after it sent
    assert t_sent <= served.t_received_ns and served.t_done_ns <= t_back
    client_s = (t_back - t_sent) / 1e9
    assert client_s >= usage.queue_time + usage.total_time
    assert client_s - (usage.queue_time + usage.total_time) < 0.5  # SDK + loopback overhead only
    # and what the server waited is at least what the plan asked for
    profile = PROFILES["llama-3.1-8b-instant"]
    assert usage.queue_time >= 0.005
    assert usage.completion_time >= usage.completion_tokens / profile.decode_tps - 1e-4


def test_streamed_tokens_arrive_on_the_servers_schedule(exact_emulator: GroqEmulator) -> None:
    received: list[int] = []
    with groq.Groq(base_url=exact_emulator.base_url, api_key="gsk_test", max_retries=0) as client:
        stream = client.chat.completions.create(
            model="llama-3.1-8b-instant",
            stream=True,
            messages=[{"role": "user", "content": "Describe queues in 60 words."}],
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(time.perf_counter_ns())
            if chunk.x_groq is not None and chunk.x_groq.usage is not None:
                usage = chunk.x_groq.usage
    served = exact_emulator.requests[-1]
    written = served.token_times_ns
    assert len(received) == len(written) == usage.completion_tokens
    # causality: every token is read after the server wrote it
    assert all(r >= w for r, w in zip(received, written, strict=False))
    # the server kept its schedule: token i at prefill end + i / decode rate (never early)
    # (each token against its earliest allowed time: a loaded machine can only delay a write)
    gap_ns = 1e9 / PROFILES["llama-3.1-8b-instant"].decode_tps
    prefilled = served.t_received_ns + (usage.queue_time + usage.prompt_time) * 1e9
    assert all(w >= prefilled + (i + 1) * gap_ns - 1 * MS for i, w in enumerate(written))
    # client TTFT vs the server's first token: only the read path in between
    assert received[0] - written[0] < 500 * MS
    assert served.t_first_token_ns is not None
    ttft_server_s = (served.t_first_token_ns - served.t_received_ns) / 1e9
    assert ttft_server_s >= usage.queue_time + usage.prompt_time


def test_completion_time_grows_linearly_with_tokens() -> None:
    profile = PROFILES["llama-3.1-8b-instant"]
    points = []
    with GroqEmulator(jitter=0, queue_ms=1, time_scale=2) as emu:
        for words in (25, 50, 100, 200):
            resp = _create(
                emu,
                model=profile.id,
                messages=[{"role": "user", "content": f"Describe queues in {words} words."}],
            )
            points.append((resp.usage.completion_tokens, resp.usage.completion_time))
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    slope = sxy / sxx
    expected = 1 / (profile.decode_tps * 2)
    # the server waits until each deadline, never less: every point is at or above the line
    for tokens, seconds in points:
        assert seconds >= tokens * expected - 1e-4
    assert slope == pytest.approx(expected, rel=0.25)  # lateness on a loaded machine bends it little
    assert points[0][0] < points[-1][0] and points[0][1] < points[-1][1]


def test_cap_that_truncates_is_faster_and_one_above_is_not(exact_emulator: GroqEmulator) -> None:
    messages = [{"role": "user", "content": "Describe Groq in about 300 words."}]
    natural = _create(exact_emulator, model="llama-3.1-8b-instant", messages=messages)
    capped = _create(exact_emulator, model="llama-3.1-8b-instant", messages=messages, max_completion_tokens=50)
    above = _create(exact_emulator, model="llama-3.1-8b-instant", messages=messages, max_completion_tokens=2000)
    assert capped.choices[0].finish_reason == "length" and capped.usage.completion_tokens == 50
    assert natural.choices[0].finish_reason == above.choices[0].finish_reason == "stop"
    assert above.usage.completion_tokens == natural.usage.completion_tokens > 300
    assert above.choices[0].message.content == natural.choices[0].message.content
    planned_s = natural.usage.completion_tokens / PROFILES["llama-3.1-8b-instant"].decode_tps
    assert capped.usage.completion_time < planned_s / 3 < above.usage.completion_time


def test_higher_reasoning_effort_means_more_reasoning_and_a_longer_call(exact_emulator: GroqEmulator) -> None:
    usage = {}
    for effort in ("low", "medium", "high"):
        resp = _create(
            exact_emulator,
            model="openai/gpt-oss-20b",
            reasoning_effort=effort,
            messages=[{"role": "user", "content": "Which plan fits a team of five?"}],
        )
        usage[effort] = resp.usage
    reasoning = [usage[e].completion_tokens_details.reasoning_tokens for e in ("low", "medium", "high")]
    assert reasoning[0] < reasoning[1] < reasoning[2]
    # each level's planned decode time is a lower bound of what was measured
    rate = PROFILES["openai/gpt-oss-20b"].decode_tps
    for effort in ("medium", "high"):
        assert usage[effort].completion_time >= usage[effort].completion_tokens / rate - 1e-4
    assert usage["low"].completion_time < usage["high"].completion_tokens / rate


@pytest.mark.anyio
async def test_serves_many_concurrent_streams() -> None:
    async def one(client: groq.AsyncGroq, i: int) -> int:
        stream = await client.chat.completions.create(
            model="openai/gpt-oss-20b",
            stream=True,
            reasoning_effort="low",
            messages=[{"role": "user", "content": f"Question {i}: describe queues in 80 words."}],
        )
        tokens = 0
        async for chunk in stream:
            if chunk.x_groq is not None and chunk.x_groq.usage is not None:
                tokens = chunk.x_groq.usage.completion_tokens
        return tokens

    with GroqEmulator(jitter=0.05) as emu:
        async with groq.AsyncGroq(base_url=emu.base_url, api_key="gsk_test", max_retries=0) as client:
            results = await asyncio.gather(*(one(client, i) for i in range(50)))
        served = emu.requests
    assert len(served) == 50 and all(r.status == 200 for r in served)
    assert all(t > 0 for t in results)
    # they were served side by side, not one after another
    events = sorted([(r.t_received_ns, 1) for r in served] + [(r.t_done_ns or 0, -1) for r in served])
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak >= 10


def test_time_scale_runs_faster_and_usage_says_so() -> None:
    messages = [{"role": "user", "content": "Describe Groq in about 300 words."}]
    with GroqEmulator(jitter=0, queue_ms=0, time_scale=10) as emu:
        resp = _create(emu, model="llama-3.1-8b-instant", messages=messages)
    planned_s = resp.usage.completion_tokens / PROFILES["llama-3.1-8b-instant"].decode_tps
    assert planned_s / 10 <= resp.usage.completion_time < planned_s / 2


def test_stop_ends_a_stalled_stream_promptly() -> None:
    emu = GroqEmulator(time_scale=20, faults=["stall;seconds=60"]).start()
    client = groq.Groq(base_url=emu.base_url, api_key="gsk_test", max_retries=0)
    stream = client.chat.completions.create(
        model="llama-3.1-8b-instant",
        stream=True,
        messages=[{"role": "user", "content": "hi"}],
    )
    next(iter(stream))
    t0 = time.perf_counter()
    emu.stop()
    with pytest.raises(Exception):  # noqa: B017, PT011 - httpx's error for a dropped stream
        list(stream)
    client.close()
    assert time.perf_counter() - t0 < 10  # far less than the 60 s stall
