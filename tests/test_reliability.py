"""The reliability catalogue (docs/reliability.md): faults, bad input, data safety, secrets, load."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import groq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmlatency.budgets.markers import MarkerError, budgets_for, repeat_for
from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.cassettes.tape import CassetteError, Tape
from pytest_llmlatency.emulator import GroqEmulator

FAULT_SUITE = """
import groq, httpx, pytest

MSG = [{"role": "user", "content": "Describe queues in 40 words."}]

def call(client, fault, stream=False, **options):
    out = client.with_options(**options).chat.completions.create(
        model="llama-3.1-8b-instant", messages=MSG, stream=stream, extra_headers={"x-emulator-fault": fault})
    if stream:
        for _ in out:
            pass

@pytest.mark.max_latency(ms=5000)
def test_429_then_success(groq_client, llm_calls):
    call(groq_client, "429;retry_after=0.1;times=1")
    c = llm_calls.last
    assert [a.status for a in c.attempts] == [429, 200] and c.backoff_ms >= 100 and c.e2e_ms < c.wall_ms

@pytest.mark.max_latency(ms=5000)
def test_500_twice_then_success(groq_client, llm_calls):
    call(groq_client, "500;times=2;retry_after=0.05")
    assert llm_calls.last.retries == 2

@pytest.mark.max_latency(ms=5000)
def test_498_capacity(groq_client):
    call(groq_client, "498")

@pytest.mark.max_latency(ms=5000)
def test_503_forever(groq_client):
    call(groq_client, "503;retry_after=0.05")  # Retry-After: the SDK waits 0.05 s, not its 0.5 s + 1 s backoff

@pytest.mark.max_latency(ms=5000)
def test_stream_cut(groq_client):
    call(groq_client, "cut;after=5", stream=True, max_retries=0)

@pytest.mark.max_latency(ms=5000)
def test_slow_first_byte(groq_client):
    call(groq_client, "slow_first_byte;seconds=30", timeout=0.5, max_retries=0)

@pytest.mark.max_latency(ms=5000)
def test_stall(groq_client):
    call(groq_client, "stall;after=3;seconds=30", stream=True, timeout=0.5, max_retries=0)

@pytest.mark.max_latency(ms=5000)
def test_refused(groq_base_url):
    with groq.Groq(base_url="http://127.0.0.1:9", api_key="gsk_x", max_retries=1) as client:
        client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
"""


def test_fault_catalogue(pytester: pytest.Pytester) -> None:
    """Each fault: the outcome a user expects, a message naming it, bounded time, counted."""
    pytester.makepyfile(test_faults=FAULT_SUITE)
    t0 = time.perf_counter()
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-report-json=r.json")
    elapsed = time.perf_counter() - t0
    result.assert_outcomes(passed=2, failed=6)
    result.stdout.fnmatch_lines_random(
        [
            "*test_498_capacity - groq.APIStatusError*",
            "*test_503_forever - groq.InternalServerError*",
            "*test_stream_cut - httpx.RemoteProtocolError*",
            "*test_slow_first_byte - groq.APITimeoutError*",
            "*test_stall - httpx.ReadTimeout*",
            "*test_refused - groq.APIConnectionError*",
            "faults: 6 call(s) failed, 2 succeeded after retries; 6 retries in all, * ms of backoff (not counted in e2e)",
            "*no LLM call succeeded; call 1 of 1 (llama-3.1-8b-instant) failed: HTTP 503 after 3 attempt(s): Service Unavailable",
            "*failed: HTTP 498: Flex tier capacity exceeded*",
        ]
    )
    assert elapsed < 60, "every fault is bounded by the client's timeout, nothing hangs for the 30 s delays"
    tests = {t["nodeid"].split("::")[-1]: t for t in json.loads((pytester.path / "r.json").read_text())["tests"]}
    attempts = {name: [a["status"] for a in t["calls"][0]["attempts"]] for name, t in tests.items()}
    assert attempts["test_503_forever"] == [503, 503, 503]
    assert attempts["test_498_capacity"] == [498]
    assert attempts["test_refused"] == [None, None]
    assert "ConnectError" in tests["test_refused"]["calls"][0]["error"]
    assert "ReadTimeout" in tests["test_stall"]["calls"][0]["error"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["max_latency", "max_ttft", "max_tokens", "min_throughput", "max_server_time", "llm_repeat"]),
    args=st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=2),
    kwargs=st.dictionaries(
        st.sampled_from(
            [
                "ms",
                "metric",
                "percentile",
                "call",
                "prompt",
                "completion",
                "reasoning",
                "total",
                "tokens_per_s",
                "queue_ms",
                "prompt_ms",
                "completion_ms",
                "total_ms",
                "n",
                "warmup",
                "x",
            ]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(10**30), 10**30),
            st.floats(allow_nan=True),
            st.text(max_size=5),
            st.lists(st.integers(), max_size=2),
        ),
        max_size=4,
    ),
)
def test_marker_arguments_fuzz(name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Any marker argument gives a budget or a MarkerError naming the marker: nothing else."""

    class Mark:
        def __init__(self) -> None:
            self.name, self.args, self.kwargs = name, tuple(args), kwargs

    try:
        if name == "llm_repeat":
            repeat_for(Mark())
        else:
            budgets_for([Mark()])
    except MarkerError as err:
        assert f"@pytest.mark.{name}" in str(err)  # noqa: PT017 - the exception is optional here


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200),
        st.builds(
            lambda i: "interactions:\n" + "\n".join(f"- {x}" for x in i),
            st.lists(st.text(alphabet="abc:{}[] \n-", max_size=20), max_size=4),
        ),
        st.just("version: 1\ninteractions:\n- request: {}\n  response: {}\n"),
        st.just("version: 1\ninteractions: 7\n"),
    )
)
def test_cassette_contents_fuzz(tmp_path: Path, content: Any) -> None:
    """Any file where a cassette should be loads or raises CassetteError naming it, and stays as it was."""
    path = tmp_path / "cassettes" / "m" / "t.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    before = path.read_bytes()
    for mode in (None, "none", "new_episodes", "all", "rewrite"):
        try:
            tape = Tape(path, nodeid="t.py::t", mode=mode)
        except CassetteError as err:
            assert str(path) in str(err)  # noqa: PT017 - the exception is optional here
        else:
            assert tape.cassette is not None
        assert path.read_bytes() == before


def test_two_hundred_concurrent_streams_are_all_measured() -> None:
    async def one(client: groq.AsyncGroq, i: int) -> int:
        stream = await client.chat.completions.create(
            model="llama-3.1-8b-instant",
            stream=True,
            messages=[{"role": "user", "content": f"Question {i}: describe queues in 15 words."}],
        )
        return len([c async for c in stream if c.choices and c.choices[0].delta.content])

    async def main(emu: GroqEmulator) -> list[int]:
        async with groq.AsyncGroq(base_url=emu.base_url, api_key="gsk_x", max_retries=0) as client:
            return list(await asyncio.gather(*(one(client, i) for i in range(200))))

    recorder = Recorder()
    with GroqEmulator() as emu, Interceptor(recorder):
        tokens = asyncio.run(main(emu))
        served = emu.requests
    assert len(served) == 200 and len(recorder.calls) == 200, "no call lost"
    by_id = {c.request_id: c for c in recorder.calls}
    for record in served:
        call = by_id[record.request_id]
        assert call.ok and call.usage == record.usage
        assert len(call.token_times_ns) == len(record.token_times_ns)
        # sane timings: in order, and never before the server wrote the bytes
        assert call.ttfb_ms is not None and call.ttft_ms is not None and call.e2e_ms is not None
        assert 0 < call.ttfb_ms <= call.ttft_ms <= call.e2e_ms
        assert call.token_times_ns[0] >= record.t_first_token_ns  # type: ignore[operator]
    assert sorted(tokens) == sorted(len(r.token_times_ns) for r in served)


def test_canary_key_reaches_no_file_the_plugin_writes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "gsk_CANARY-everywhere-0123456789-abcdef"
    monkeypatch.setenv("GROQ_API_KEY", canary)
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(
        test_canary=f"""
import groq, pytest

@pytest.mark.max_latency(ms=1)
def test_failing_budget(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant",
                                        messages=[{{"role": "user", "content": "in one word: hi"}}])

@pytest.mark.max_tokens(completion=1000)
def test_explicit(groq_base_url):
    with groq.Groq(base_url=groq_base_url, api_key="{canary}x") as client:
        client.chat.completions.create(model="llama-3.1-8b-instant",
                                       messages=[{{"role": "user", "content": "in one word: hi"}}])
"""
    )
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--llm-record-mode=once",
        "--llm-save=base",
        "--llm-report-json=r.json",
        "--llm-report-md=r.md",
        "--llm-report-html=r.html",
        "--junitxml=j.xml",
        "-rA",
    )
    result.assert_outcomes(passed=1, failed=1)
    suffixes = (".yaml", ".json", ".md", ".xml", ".html")
    written = [p for p in pytester.path.rglob("*") if p.is_file() and p.suffix in suffixes]
    assert {p.suffix for p in written} == set(suffixes)
    for path in written:
        assert "CANARY" not in path.read_text(), path
    assert "CANARY" not in result.stdout.str() + result.stderr.str()
