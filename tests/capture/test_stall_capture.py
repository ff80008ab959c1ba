"""Where the time went: the client's own delays (not reading a stream it asked for) are told
apart from the server's, measured against delays the test injects and the emulator's own
timestamps (the same system-wide clock), and a recording keeps the server's pace."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import groq
import pytest

from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.core.calls import LLMCall
from pytest_llmlatency.emulator import GroqEmulator

from ..helpers import cassette_interactions

MS = 1e6
MSG = [{"role": "user", "content": "Describe queues in about 200 words."}]
MODEL = "openai/gpt-oss-20b"


def _tolerance(truth_ms: float) -> float:
    """What the estimate may miss by on a loaded 2-core machine: the server's first token is
    estimated from Groq's own queue and prompt times, each later one from its average pace."""
    return max(40.0, 0.15 * truth_ms)


@pytest.fixture
def emu() -> Iterator[GroqEmulator]:
    with GroqEmulator(jitter=0, queue_ms=5) as emulator:
        yield emulator


def _truth(call: LLMCall, emu: GroqEmulator) -> tuple[float, float]:
    """(client part of TTFT, client part of e2e) as they happened: read times minus the times
    the server wrote the first token and the end."""
    served = emu.requests[-1]
    assert served.t_first_token_ns is not None and served.t_done_ns is not None
    assert call.end_ns is not None
    return (call.token_times_ns[0] - served.t_first_token_ns) / MS, (call.end_ns - served.t_done_ns) / MS


def _stream(emu: GroqEmulator, before_s: float = 0.0, every: int = 0, pause_s: float = 0.0) -> LLMCall:
    recorder = Recorder()
    with (
        groq.Groq(base_url=emu.base_url, api_key="gsk_stall", max_retries=0) as client,
        Interceptor(recorder),
    ):
        stream = client.chat.completions.create(model=MODEL, messages=MSG, stream=True)  # type: ignore[arg-type]
        time.sleep(before_s)
        for i, _ in enumerate(stream):
            if every and i % every == 0:
                time.sleep(pause_s)
    (call,) = recorder.calls
    assert call.ok and call.streamed and not call.replayed
    return call


def test_a_client_that_reads_at_once_adds_little(emu: GroqEmulator) -> None:
    call = _stream(emu)
    truth_ttft, truth_end = _truth(call, emu)
    assert call.client_ttft_ms is not None and call.client_stall_ms is not None
    assert call.headers_to_first_read_ms is not None and call.headers_to_first_read_ms < 100
    assert abs(call.client_ttft_ms - truth_ttft) < _tolerance(truth_ttft)
    assert abs(call.client_stall_ms - truth_end) < _tolerance(truth_end)


def test_sleeping_before_reading_the_stream_is_the_clients_ttft(emu: GroqEmulator) -> None:
    call = _stream(emu, before_s=0.4)
    truth_ttft, truth_end = _truth(call, emu)
    assert truth_ttft >= 300  # the injected 400 ms, less the server's own TTFT
    assert call.headers_to_first_read_ms is not None and call.headers_to_first_read_ms >= 400
    assert call.client_ttft_ms is not None and abs(call.client_ttft_ms - truth_ttft) < _tolerance(truth_ttft)
    assert call.client_stall_ms is not None and abs(call.client_stall_ms - truth_end) < _tolerance(truth_end)
    # what the server did is what is left
    assert call.ttft_ms is not None and call.ttft_ms - call.client_ttft_ms < 150


def test_work_between_chunks_is_the_clients_share_of_e2e(emu: GroqEmulator) -> None:
    # ~10 pauses of 100 ms: more than the whole stream lasts (~420 ms), so the client is still
    # behind when the server ends, however fast it catches up between pauses
    call = _stream(emu, every=40, pause_s=0.1)
    truth_ttft, truth_end = _truth(call, emu)
    assert truth_end >= 200
    assert call.client_stall_ms is not None and abs(call.client_stall_ms - truth_end) < _tolerance(truth_end)
    assert call.client_ttft_ms is not None and abs(call.client_ttft_ms - truth_ttft) < _tolerance(truth_ttft)


async def _astream(emu: GroqEmulator, pause_s: float, block_s: float) -> LLMCall:
    recorder = Recorder()

    async def blocker() -> None:
        await asyncio.sleep(0.05)
        time.sleep(block_s)  # a blocking call in a coroutine: the event loop stops for block_s

    with Interceptor(recorder):
        async with groq.AsyncGroq(base_url=emu.base_url, api_key="gsk_stall", max_retries=0) as client:
            stream = await client.chat.completions.create(model=MODEL, messages=MSG, stream=True)  # type: ignore[arg-type]
            task = asyncio.create_task(blocker())
            i = 0
            async for _ in stream:
                i += 1
                if pause_s and i % 40 == 0:
                    await asyncio.sleep(pause_s)
            await task
    (call,) = recorder.calls
    assert call.ok and call.streamed
    return call


def test_async_pauses_between_chunks(emu: GroqEmulator) -> None:
    call = asyncio.run(_astream(emu, pause_s=0.1, block_s=0))  # pauses outlast the stream, as above
    _, truth_end = _truth(call, emu)
    assert truth_end >= 200
    assert call.client_stall_ms is not None and abs(call.client_stall_ms - truth_end) < _tolerance(truth_end)


def test_a_blocked_event_loop_is_client_time(emu: GroqEmulator) -> None:
    call = asyncio.run(_astream(emu, pause_s=0, block_s=0.6))
    _, truth_end = _truth(call, emu)
    assert truth_end >= 150  # the loop stood still for 600 ms of a ~420 ms stream
    assert call.client_stall_ms is not None and abs(call.client_stall_ms - truth_end) < _tolerance(truth_end)


def test_replayed_calls_have_no_client_split(pytester: pytest.Pytester) -> None:
    """Recorded while the app dawdled: the cassette keeps the server's pace, notes what the
    client added, and the replay (no client split) shows the server's timings."""
    pytester.makepyfile(
        test_slow_app="""
        import time

        def test_slow_reader(groq_client, llm_calls):
            stream = groq_client.chat.completions.create(
                model="openai/gpt-oss-20b", messages=[{"role": "user", "content": "Describe queues."}],
                stream=True)
            time.sleep(0.4)
            for i, _ in enumerate(stream):
                if i % 40 == 0:
                    time.sleep(0.04)
        """
    )
    rec = pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once", "--llm-report-json=rec.json")
    rec.assert_outcomes(passed=1)
    (live,) = json.loads(Path(pytester.path, "rec.json").read_text())["tests"][0]["calls"]
    assert live["client_ttft_ms"] >= 300 and live["client_stall_ms"] >= 300
    cassette = pytester.path / "cassettes" / "test_slow_app" / "test_slow_reader.yaml"
    (interaction,) = cassette_interactions(cassette)
    timing = interaction["response"]["llmlatency"]
    assert timing["client_stall_ms"] == pytest.approx(live["client_stall_ms"], abs=0.001)
    # the stored end is the server's, not the client's: the stall is not in it
    assert timing["e2e_ms"] <= live["e2e_ms"] - live["client_stall_ms"] + 1
    rep = pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=none", "--llm-report-json=rep.json")
    rep.assert_outcomes(passed=1)
    (again,) = json.loads(Path(pytester.path, "rep.json").read_text())["tests"][0]["calls"]
    assert again["replayed"] and again["client_ttft_ms"] is None and again["client_stall_ms"] is None
    # replay gives the server's TTFT: the live one less what the client added, not the live one
    assert again["ttft_ms"] < live["ttft_ms"] - 250
    assert again["ttft_ms"] == pytest.approx(live["ttft_ms"] - live["client_ttft_ms"], abs=50)
    assert again["e2e_ms"] == pytest.approx(timing["e2e_ms"], abs=0.01)
