"""What the plugin reports equals what happened on the wire.

The emulator records when it wrote each byte (same monotonic clock as ours), so
client timings are checked against the server's own timestamps: a token can only
be read after it was written (exact), and the read path adds only a little
(checked on the median of several calls, with a bound that holds on a loaded
two-core machine).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator

import groq
import pytest

from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.core.calls import LLMCall, percentile
from pytest_llmlatency.emulator import GroqEmulator

MS = 1e6


@pytest.fixture(scope="module")
def emulator() -> Iterator[GroqEmulator]:
    with GroqEmulator(jitter=0, queue_ms=15) as emu:
        yield emu


def _calls(emulator: GroqEmulator, n: int, *, stream: bool) -> list[tuple[LLMCall, object]]:
    recorder = Recorder()
    before = len(emulator.requests)
    with (
        Interceptor(recorder),
        groq.Groq(base_url=emulator.base_url, api_key="gsk_x", max_retries=0) as client,
    ):
        for i in range(n):
            out = client.chat.completions.create(
                model="openai/gpt-oss-20b",
                messages=[{"role": "user", "content": f"Question {i}: describe queues in 200 words."}],
                reasoning_effort="low",
                stream=stream,
            )
            if stream:
                for _ in out:  # type: ignore[union-attr]
                    pass
    served = emulator.requests[before:]
    assert len(recorder.calls) == len(served) == n
    return list(zip(recorder.calls, served, strict=True))


def test_streamed_timings_agree_with_the_servers_schedule(emulator: GroqEmulator) -> None:
    pairs = _calls(emulator, 7, stream=True)
    ttft_gaps, e2e_gaps = [], []
    for call, served in pairs:
        assert call.ok and call.streamed
        # causality, exact: sent before the server got it, each token read after it was written
        assert call.start_ns <= served.t_received_ns  # type: ignore[attr-defined]
        assert len(call.token_times_ns) == len(served.token_times_ns) == call.completion_tokens  # type: ignore[attr-defined]
        assert all(r >= w for r, w in zip(call.token_times_ns, served.token_times_ns, strict=True))  # type: ignore[attr-defined]
        server_ttft = (served.t_first_token_ns - served.t_received_ns) / MS  # type: ignore[attr-defined]
        server_e2e = (served.t_done_ns - served.t_received_ns) / MS  # type: ignore[attr-defined]
        assert call.ttft_ms is not None and call.e2e_ms is not None
        assert call.ttft_ms >= server_ttft
        ttft_gaps.append(call.ttft_ms - server_ttft)
        e2e_gaps.append(call.e2e_ms - server_e2e)
        # the schedule itself: TTFT covers queue + prefill + one token; e2e every token
        assert server_ttft >= call.queue_ms + call.prompt_ms  # type: ignore[operator]
        # server timings are the body's usage, unchanged
        assert call.usage == served.usage  # type: ignore[attr-defined]
        assert call.server_ms == served.usage["total_time"] * 1000  # type: ignore[attr-defined]
        assert call.queue_ms == served.usage["queue_time"] * 1000  # type: ignore[attr-defined]
        assert call.reasoning_tokens == served.usage["completion_tokens_details"]["reasoning_tokens"]  # type: ignore[attr-defined]
        assert call.request_id == served.request_id  # type: ignore[attr-defined]
        assert len(call.itl_ms) == call.completion_tokens - 1  # type: ignore[operator]
        assert call.tpot_ms == pytest.approx((call.e2e_ms - call.ttft_ms) / (call.completion_tokens - 1))  # type: ignore[operator]
    # the read path adds little: a few ms typically; bounded loosely for loaded machines
    assert statistics.median(ttft_gaps) < 20
    assert statistics.median(e2e_gaps) < 20
    assert min(ttft_gaps) < 10


def test_non_streamed_timings(emulator: GroqEmulator) -> None:
    for call, served in _calls(emulator, 5, stream=False):
        assert call.ok and not call.streamed
        server_e2e = (served.t_done_ns - served.t_received_ns) / MS  # type: ignore[attr-defined]
        assert call.e2e_ms is not None and call.ttfb_ms is not None
        assert call.ttft_ms == call.e2e_ms, "without streaming the first token comes with the body"
        assert call.ttfb_ms <= call.e2e_ms
        assert call.e2e_ms >= server_e2e
        # Groq's total_time excludes queue time; the body arrives after both
        assert call.e2e_ms >= call.queue_ms + call.server_ms  # type: ignore[operator]
        assert call.usage == served.usage  # type: ignore[attr-defined]
        assert call.output_tokens_per_s == pytest.approx(call.completion_tokens / (call.e2e_ms / 1000))  # type: ignore[operator]


def test_decode_speed_matches_the_profile(emulator: GroqEmulator) -> None:
    speeds = [call.output_tokens_per_s for call, _ in _calls(emulator, 5, stream=True)]
    # gpt-oss-20b decodes at 1000 tok/s on the emulator; reading can only slow it
    assert statistics.median([s for s in speeds if s]) == pytest.approx(1000, rel=0.15)


def test_percentile_is_numpy_linear() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == pytest.approx(9.55)
    assert percentile([5, 1, 3], 100) == 5
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_usage_from_gzip_bodies_and_missing_fields() -> None:
    """The parser reads Groq's gzip JSON and tolerates usage without queue_time (2024)."""
    call = LLMCall(
        model="m",
        params={},
        usage={
            "prompt_tokens": 17,
            "completion_tokens": 9,
            "total_tokens": 26,
            "prompt_time": 0.0039,
            "completion_time": 0.0065,
            "total_time": 0.0104,
        },
    )
    assert call.queue_ms is None and call.server_ms == pytest.approx(10.4)
    assert call.reasoning_tokens == 0 and call.cached_tokens is None
