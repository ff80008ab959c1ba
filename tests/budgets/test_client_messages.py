"""Messages about the client's own time, the client-time budget grammar, and the small things
a new user trips on (null parameters, the summary's counts, requests to endpoints the plugin
does not measure). The split itself is measured in the capture's own tests; here the calls
carry known numbers (the issue's litellm trial), or come from the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmlatency.budgets.markers import MarkerError, budgets_for
from pytest_llmlatency.core.calls import Attempt, LLMCall

MS = 1_000_000
T0 = 5_000 * MS


def _trial_call(**changes: Any) -> LLMCall:
    """The issue's first streamed litellm call: headers at 16 ms, the first output read at
    23,290 ms, of which the client spent ~23,270 ms not reading (a tokenizer download between
    the headers and its first read); Groq's queue 14.8 ms and prompt time 5.6 ms."""
    call = LLMCall(
        model="llama-3.1-8b-instant",
        params={"stream": True, "reasoning_effort": None, "stop": None, "max_completion_tokens": 200},
        streamed=True,
        attempts=[Attempt(start_ns=T0, end_ns=T0 + 23_400 * MS, status=200)],
        headers_ns=T0 + 16 * MS,
        first_read_ns=T0 + 23_286 * MS,
        token_times_ns=[T0 + 23_290 * MS, T0 + 23_350 * MS],
        client_ttft_ns=23_270 * MS,
        client_stall_ns=23_250 * MS,
        first_output="content",
        end_ns=T0 + 23_400 * MS,
        completed=True,
        status=200,
        finish_reason="stop",
        usage={
            "queue_time": 0.0148,
            "prompt_time": 0.0056,
            "completion_time": 0.11,
            "total_time": 0.1156,
            "prompt_tokens": 40,
            "completion_tokens": 60,
            "total_tokens": 100,
        },
    )
    for key, value in changes.items():
        setattr(call, key, value)
    return call


def _judge(call: LLMCall, name: str = "max_latency", **kwargs: Any) -> tuple[bool, str]:
    (budget,) = budgets_for([getattr(pytest.mark, name)(**kwargs).mark])
    (verdict,) = budget.judge([call])
    return verdict.passed, verdict.message


def test_a_breach_mostly_on_the_client_says_so() -> None:
    passed, message = _judge(_trial_call(), "max_ttft", ms=1000)
    assert not passed
    assert message.startswith(
        "max_ttft(ms=1000) exceeded by call 1 of 1 (llama-3.1-8b-instant): TTFT 23,290 ms, of which ~23,270 ms "
        "was the client not reading the stream (response headers at 16.0 ms; first read of the body 23,270 ms "
        "after them; Groq queue 14.8 ms, prompt time 5.6 ms); without it, 20.0 ms would meet the budget. "
    )
    assert "judge the server's part alone with exclude='client'" in message
    # the e2e budget names the client's share of e2e, with Groq's total time
    passed, message = _judge(_trial_call(), ms=5000)
    assert not passed
    assert "e2e 23,400 ms, of which ~23,250 ms was the client not reading the stream" in message
    assert "Groq queue 14.8 ms, total time 116 ms" in message
    assert "~23,250 ms of the e2e was the client not reading the stream" in message  # explain() too


def test_a_breach_mostly_on_the_server_does_not_blame_the_client() -> None:
    # 300 ms of 1,290 ms on the client: the budget of 500 ms would not hold without it either
    call = _trial_call(
        first_read_ns=T0 + 316 * MS,
        token_times_ns=[T0 + 1_290 * MS],
        client_ttft_ns=300 * MS,
        client_stall_ns=0,
        end_ns=T0 + 1_400 * MS,
    )
    passed, message = _judge(call, "max_ttft", ms=500)
    assert not passed
    assert "of which" not in message
    assert "was the client not reading" not in message
    assert message.startswith("max_ttft(ms=500) exceeded by call 1 of 1 (llama-3.1-8b-instant): e2e 1,400 ms = TTFT")


def test_exclude_client_and_metric_client() -> None:
    call = _trial_call()
    passed, message = _judge(call, "max_ttft", ms=100, exclude="client")
    assert passed
    assert "ttft 23,290 ms less the client's own 23,270 ms = 20.0 ms" in message
    passed, message = _judge(call, ms=200, exclude=["queue", "client"])
    assert passed
    assert "e2e 23,400 ms less queue 14.8 ms and less the client's own 23,250 ms = 135 ms" in message
    passed, message = _judge(call, ms=1000, metric="client")
    assert not passed
    assert message.startswith(
        "max_latency(ms=1000, metric='client') exceeded by call 1 of 1 (llama-3.1-8b-instant): the client "
        "held the response unread for ~23,250 ms beyond the server's pace; its first read came 23,270 ms "
        "after the response headers; e2e 23,400 ms"
    )


def test_no_client_split_is_said_not_pretended_zero() -> None:
    replayed = _trial_call(replayed=True, client_ttft_ns=None, client_stall_ns=None, first_read_ns=None)
    passed, message = _judge(replayed, "max_ttft", ms=100, exclude="client")
    assert not passed  # judged whole: 23,290 ms
    assert "ttft 23,290 ms (no client split to leave out: replayed from a cassette" in message
    assert "judged whole" in message
    passed, message = _judge(replayed, ms=100, metric="client")
    assert not passed
    assert "has no client timing (no client split: replayed from a cassette" in message
    plain = _trial_call(streamed=False, client_ttft_ns=None, client_stall_ns=None)
    passed, message = _judge(plain, ms=100, metric="client")
    assert not passed
    assert "(no client split: not streamed: the body came in one piece" in message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"ms": 100, "metric": "ttfb", "exclude": "client"},
            "exclude='client' applies to e2e, ttft, wall; metric='ttfb'",
        ),
        ({"ms": 100, "metric": "server", "exclude": "client"}, "metric='server' holds no client time"),
        ({"ms": 100, "metric": "client", "exclude": "client"}, "metric='client' is the client's time alone"),
        ({"ms": 100, "metric": "client", "exclude": "queue"}, "metric='client' holds no queue time"),
        ({"ms": 100, "metric": "client", "scope": "test"}, "scope='test' judges the agent wall time"),
        ({"ms": 100, "exclude": "clients"}, "exclude= can leave out 'queue' (Groq's queue time) or 'client'"),
        ({"ms": 100, "exclude": ["client", 1]}, "exclude= must be 'queue', 'client' or a list of them"),
    ],
)
def test_client_grammar_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(MarkerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        budgets_for([pytest.mark.max_latency(**kwargs).mark])


def test_labels_name_the_client_arguments() -> None:
    (ttft,) = budgets_for([pytest.mark.max_ttft(ms=100, exclude="client").mark])
    (client,) = budgets_for([pytest.mark.max_latency(ms=50, metric="client", percentile=95).mark])
    assert ttft.label() == "max_ttft(ms=100, exclude='client')"
    assert client.label() == "max_latency(ms=50, metric='client', percentile=95)"


def test_parameters_sent_as_null_are_not_shown_as_set() -> None:
    call = _trial_call()
    assert call.params["reasoning_effort"] is None  # the record stays faithful to the wire
    assert call.describe_params() == "request had max_completion_tokens=200, stream=True"
    only_nulls = _trial_call(params={"reasoning_effort": None, "stop": None})
    assert only_nulls.describe_params() == "request set none of max_completion_tokens, reasoning_effort, stop"


SUITE = """
import time

import pytest

MSG = [{"role": "user", "content": "Describe queues in 40 words."}]


@pytest.mark.max_ttft(ms=500)
def test_slow_reader(groq_client):
    stream = groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True)
    time.sleep(0.6)  # the application's own work between the response headers and its first read
    for _ in stream:
        pass


@pytest.mark.max_ttft(ms=500, exclude="client")
def test_slow_reader_server_part(groq_client):
    stream = groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True)
    time.sleep(0.6)
    for _ in stream:
        pass


@pytest.mark.max_latency(ms=0.001)
def test_nulls(groq_client, llm_calls):
    groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=MSG, reasoning_effort=None, stop=None, max_completion_tokens=20
    )
    assert llm_calls.last.params["stop"] is None and "stop" in llm_calls.last.params


@pytest.mark.max_latency(ms=1000)
def test_model_list_only(groq_client):
    groq_client.models.list()
    groq_client.models.list()


@pytest.mark.max_latency(ms=1000)
def test_no_request(groq_client):
    pass


@pytest.mark.max_latency(ms=1000)
def test_call_failed(groq_client):
    import groq

    with pytest.raises(groq.BadRequestError):
        groq_client.chat.completions.create(
            model="llama-3.1-8b-instant", messages=MSG, extra_headers={"x-emulator-fault": "tool_use_failed"},
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        )


@pytest.mark.max_latency(ms=1000, metric="ttfb", exclude="client")
def test_bad_marker(groq_client):
    pass
"""


def test_messages_and_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=5, errors=1)
    out = result.stdout.str()
    # a budget broken by the client's own delay says so; leaving the client out, the server's part holds
    result.stdout.fnmatch_lines(
        [
            "*max_ttft(ms=500) exceeded by call 1 of 1 (llama-3.1-8b-instant): TTFT *, of which ~* ms was the "
            "client not reading the stream (response headers at * ms; first read of the body * ms after them; "
            "Groq queue * ms, prompt time * ms)*exclude='client'*",
        ]
    )
    assert "test_app.py::test_slow_reader_server_part" not in out.split("short test summary info")[1]
    # null parameters: not shown as set
    result.stdout.fnmatch_lines(["*max_latency(ms=0.001) exceeded by call 1 of 1*request had max_completion_tokens=20"])
    assert "reasoning_effort=None" not in out and "stop=None" not in out
    # only requests to an endpoint the plugin does not measure: named
    result.stdout.fnmatch_lines(
        [
            "*max_latency(ms=1000): the test made no LLM call (its only requests through httpx went to endpoints "
            "the plugin does not measure: GET /openai/v1/models -> 200 (2x). The plugin measures chat "
            "completions, the Responses API and audio*",
            "*max_latency(ms=1000): the test made no LLM call (no chat-completions, Responses API or audio "
            "request went through httpx while it ran)",
            "*max_latency(ms=1000): no LLM call succeeded; call 1 of 1 (llama-3.1-8b-instant*) failed: HTTP 400*",
        ]
    )
    # a bad client argument errors that test, naming it and the argument
    result.stdout.fnmatch_lines(
        ["*test_app.py::test_bad_marker: @pytest.mark.max_latency: exclude='client' applies to e2e, ttft, wall*"]
    )
    # the summary counts each kind of failure
    result.stdout.fnmatch_lines(
        [
            "7 test(s), 4 LLM call(s), 2 over budget or regressed, 2 made no LLM call, 1 whose LLM call failed; "
            "reached: the built-in Groq emulator (4 call(s))"
        ]
    )


def test_requests_to_unmeasured_endpoints_are_noted(groq_emulator: Any) -> None:
    """Sync and async clients, whatever the status: noted by method, path and status, with
    their bodies passed through untouched; LLM calls are not among them."""
    import asyncio

    import httpx

    from pytest_llmlatency.capture.intercept import Interceptor, Recorder

    recorder = Recorder()
    headers = {"authorization": "Bearer gsk_test"}
    base = groq_emulator.openai_base_url.rstrip("/")

    async def embed() -> httpx.Response:
        async with httpx.AsyncClient(headers=headers) as client:
            return await client.post(f"{base}/embeddings", json={"model": "m", "input": "x"})

    with Interceptor(recorder), httpx.Client(headers=headers) as client:
        listed = client.get(f"{base}/models")
        chat = client.post(
            f"{base}/chat/completions",
            json={"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]},
        )
        embedded = asyncio.run(embed())
    assert listed.status_code == 200 and listed.json()["data"]
    assert chat.status_code == 200 and len(recorder.calls) == 1
    assert embedded.status_code == 404
    paths = {
        (e["method"], e["path"].rsplit("/", 1)[-1], e["status"], e["count"]) for e in recorder.unmeasured.to_list()
    }
    assert paths == {("GET", "models", 200, 1), ("POST", "embeddings", 404, 1)}
    hint = recorder.unmeasured.hint()
    assert "/embeddings -> 404" in hint and "/models -> 200" in hint
    assert "a 404 may be a mistyped path or base URL" in hint
