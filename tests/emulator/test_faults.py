"""Every fault switch gives the SDK what Groq would: status, error body, retries, timeouts."""

from __future__ import annotations

import time
from typing import Any

import groq
import httpx
import pytest

from pytest_llmlatency.emulator import FAULTS, FaultError, GroqEmulator, parse_fault

MESSAGES = [{"role": "user", "content": "Describe queues in 60 words."}]


def _client(emu: GroqEmulator, **kwargs: Any) -> groq.Groq:
    return groq.Groq(base_url=emu.base_url, api_key="gsk_test", **kwargs)


def _create(client: groq.Groq, fault: str | None = None, **params: Any) -> Any:
    headers = {"x-emulator-fault": fault} if fault else {}
    return client.chat.completions.with_raw_response.create(
        model="llama-3.1-8b-instant",
        messages=MESSAGES,
        extra_headers=headers,
        **params,  # type: ignore[arg-type]
    )


def test_429_with_retry_after_then_success(fast_emulator: GroqEmulator) -> None:
    with _client(fast_emulator) as client:
        raw = _create(client, "429;retry_after=0.05;times=1")
    assert raw.retries_taken == 1
    assert raw.parse().choices[0].finish_reason == "stop"
    first, second = fast_emulator.requests
    assert (first.status, second.status) == (429, 200)
    assert second.headers["x-stainless-retry-count"] == "1"


def test_429_forever_raises_rate_limit_error_after_the_sdk_retries(fast_emulator: GroqEmulator) -> None:
    with _client(fast_emulator) as client, pytest.raises(groq.RateLimitError) as info:
        _create(client, "429;retry_after=0.05")
    err = info.value
    assert err.status_code == 429
    assert err.response.headers["retry-after"] == "0.05"
    assert err.body["error"]["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert len(fast_emulator.requests) == 3, "one attempt and the SDK's two retries"


def test_498_capacity_exceeded_is_not_retried(fast_emulator: GroqEmulator) -> None:
    with _client(fast_emulator) as client, pytest.raises(groq.APIStatusError) as info:
        _create(client, "498")
    assert info.value.status_code == 498
    assert info.value.body["error"]["code"] == "capacity_exceeded"  # type: ignore[index]
    assert len(fast_emulator.requests) == 1


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_5xx_then_success(fast_emulator: GroqEmulator, status: str) -> None:
    with _client(fast_emulator) as client:
        raw = _create(client, f"{status};times=2;retry_after=0.01")  # not the SDK's 0.5 s + 1 s backoff
    assert raw.retries_taken == 2
    assert [r.status for r in fast_emulator.requests] == [int(status), int(status), 200]


def test_503_forever(fast_emulator: GroqEmulator) -> None:
    with _client(fast_emulator, max_retries=1) as client, pytest.raises(groq.InternalServerError) as info:
        _create(client, "503")
    assert info.value.status_code == 503
    assert info.value.body["error"]["type"] == "internal_server_error"  # type: ignore[index]
    assert len(fast_emulator.requests) == 2


def test_stream_cut_midway(fast_emulator: GroqEmulator) -> None:
    got: list[str] = []
    with _client(fast_emulator, max_retries=0) as client:
        stream = client.chat.completions.create(
            model="llama-3.1-8b-instant",
            messages=MESSAGES,
            stream=True,  # type: ignore[arg-type]
            extra_headers={"x-emulator-fault": "cut;after=10"},
        )
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    got.append(chunk.choices[0].delta.content)
    assert len(got) == 10
    assert fast_emulator.requests[0].usage is None, "no final chunk was sent"


def test_non_streaming_body_cut(fast_emulator: GroqEmulator) -> None:
    with _client(fast_emulator, max_retries=0) as client, pytest.raises(groq.APIConnectionError):
        _create(client, "cut")


def test_slow_first_byte_beyond_the_client_timeout(fast_emulator: GroqEmulator) -> None:
    t0 = time.perf_counter()
    with _client(fast_emulator, max_retries=0, timeout=0.3) as client, pytest.raises(groq.APITimeoutError):
        _create(client, "slow_first_byte;seconds=5")
    assert time.perf_counter() - t0 < 4, "bounded by the client's timeout, not the 5 s delay"


def test_slow_first_byte_within_the_timeout_succeeds() -> None:
    with GroqEmulator(jitter=0, queue_ms=0, time_scale=20) as emu, _client(emu, max_retries=0) as client:
        raw = _create(client, "slow_first_byte;seconds=0.2")
        served = emu.requests[0]
    assert raw.parse().usage.queue_time >= 0.2, "the delay is queue time on the server"
    assert served.t_headers_ns - served.t_received_ns >= 200_000_000


def test_stalled_stream_hits_the_read_timeout(fast_emulator: GroqEmulator) -> None:
    got = 0
    t0 = time.perf_counter()
    with _client(fast_emulator, max_retries=0, timeout=0.5) as client:
        stream = client.chat.completions.create(
            model="llama-3.1-8b-instant",
            messages=MESSAGES,
            stream=True,  # type: ignore[arg-type]
            extra_headers={"x-emulator-fault": "stall;after=5;seconds=30"},
        )
        with pytest.raises(httpx.ReadTimeout):
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    got += 1
    assert got == 5
    assert time.perf_counter() - t0 < 10


def test_short_stall_then_the_stream_completes() -> None:
    with GroqEmulator(jitter=0, queue_ms=0, time_scale=20) as emu, _client(emu, max_retries=0) as client:
        stream = client.chat.completions.create(
            model="llama-3.1-8b-instant",
            messages=MESSAGES,
            stream=True,  # type: ignore[arg-type]
            extra_headers={"x-emulator-fault": "stall;after=3;seconds=0.3"},
        )
        chunks = list(stream)
        gaps = emu.requests[0].token_times_ns
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert gaps[3] - gaps[2] >= 300_000_000


def test_connection_refused() -> None:
    emu = GroqEmulator().start()
    url = emu.base_url
    emu.stop()
    with (
        groq.Groq(base_url=url, api_key="gsk_test", max_retries=0) as client,
        pytest.raises(groq.APIConnectionError),
    ):
        client.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES)  # type: ignore[arg-type]


def test_server_wide_faults_apply_to_the_next_requests() -> None:
    with GroqEmulator(time_scale=20, faults=["500;times=1"]) as emu, _client(emu) as client:
        raw = _create(client)
        assert raw.retries_taken == 1
        emu.inject("429;retry_after=0.01", times=2)
        raw = _create(client)
        assert raw.retries_taken == 2
        raw = _create(client)
        assert raw.retries_taken == 0
        assert [r.fault for r in emu.requests] == [
            "500;times=1",
            None,
            "429;retry_after=0.01",
            "429;retry_after=0.01",
            None,
            None,
        ]


def test_bad_fault_header_is_a_clear_400(fast_emulator: GroqEmulator) -> None:
    with _client(fast_emulator) as client, pytest.raises(groq.BadRequestError) as info:
        _create(client, "teapot")
    assert "x-emulator-fault" in str(info.value) and "teapot" in str(info.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("teapot", "unknown fault 'teapot'"),
        ("429;after=3", "bad parameter 'after=3'"),
        ("cut;after=x", "after must be a number"),
        ("500;times=0", "times"),
        ("500;times=1.5", "times"),
        ("stall;seconds=-1", "non-negative"),
    ],
)
def test_parse_fault_errors(spec: str, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        parse_fault(spec)


def test_every_fault_parses_with_defaults() -> None:
    for name in FAULTS:
        assert parse_fault(name).name == name
    assert parse_fault("429").get("retry_after") == 1.0
    assert parse_fault("stall;after=4;seconds=2").params == {"after": 4, "seconds": 2.0}
