"""Budgets for agents: the agent wall time (``max_latency(scope="test")``), ``max_calls``,
``min_realtime_factor``; the gate and the advisor on a change in the number of calls. Numbers
are compared with the emulator's own timestamps, never with the wall clock."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmlatency.budgets.markers import MarkerError, budgets_for
from pytest_llmlatency.budgets.speed import CallCountBudget, LatencyBudget, RealtimeBudget
from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.core.calls import agent_spans, agent_wall_ms
from pytest_llmlatency.emulator import GroqEmulator

from ..helpers import run_suite

AGENT = """
import io, json, os, time, wave
import pytest

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]

def agent(client, steps=1, pause=0.0):
    \"\"\"A tool loop: the model calls get_weather `steps` times (forced), then answers in text.\"\"\"
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    for step in range(steps):
        out = client.chat.completions.create(model="llama-3.3-70b-versatile", messages=messages, tools=TOOLS,
                                             tool_choice="required", max_completion_tokens=64)
        message = out.choices[0].message
        messages.append({"role": "assistant", "tool_calls": [t.model_dump() for t in message.tool_calls]})
        time.sleep(pause)  # the tool runs: the application's own time between calls
        for t in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": t.id, "content": json.dumps({"temp_c": 21})})
    out = client.chat.completions.create(model="llama-3.3-70b-versatile", messages=messages, tools=TOOLS,
                                         max_completion_tokens=32)
    assert out.choices[0].message.content
    return out

def wav(seconds):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(b"\\0\\0" * int(16000 * seconds))
    return buf.getvalue()
"""


def test_agent_budgets_against_the_emulator(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.max_latency(ms=600000, scope="test")
@pytest.mark.max_calls(n=2)
def test_within(groq_client, llm_calls, groq_emulator):
    agent(groq_client, steps=1, pause=0.05)
    served = groq_emulator.requests
    assert [c.answer_kind for c in llm_calls] == ["tool call get_weather", "text answer"]
    assert [c.first_output for c in llm_calls] == ["tool_call", "content"]
    # the agent wall time brackets what the server did, and includes the tool's 50 ms
    assert llm_calls.agent_ms >= (served[-1].t_done_ns - served[0].t_received_ns) / 1e6
    assert llm_calls.agent_ms - sum(c.wall_ms for c in llm_calls) >= 50
    assert llm_calls.agent_ms == (llm_calls[-1].end_ns - llm_calls[0].attempts[0].start_ns) / 1e6
    llm_calls.assert_max_calls(2)
    llm_calls.assert_max_latency(600000, scope="test")
    with pytest.raises(AssertionError, match=r"max_calls\\(n=1\\) exceeded: the test made 2 LLM call"):
        llm_calls.assert_max_calls(1)

@pytest.mark.max_latency(ms=1, scope="test")
def test_agent_too_slow(groq_client):
    agent(groq_client, steps=2)

@pytest.mark.max_calls(n=2)
def test_too_many_calls(groq_client):
    agent(groq_client, steps=2)

@pytest.mark.max_latency(ms=600000)
@pytest.mark.min_realtime_factor(x=0.001)
def test_audio_fast_enough(groq_client, llm_calls):
    groq_client.audio.transcriptions.create(file=("a.wav", wav(2.0)), model="whisper-large-v3-turbo")
    (call,) = llm_calls
    assert call.audio_seconds == 2.0
    assert call.realtime_factor == 2.0 / (call.e2e_ms / 1000)

@pytest.mark.min_realtime_factor(x=1e9)
def test_audio_too_slow(groq_client):
    groq_client.audio.transcriptions.create(file=("a.wav", wav(1.0)), model="whisper-large-v3-turbo")

@pytest.mark.min_realtime_factor(x=10)
def test_realtime_without_audio(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}],
                                        max_completion_tokens=8)
"""
    result = run_suite(pytester, "--llm-report-json=r.json", files={"test_agent": AGENT + body})
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines_random(
        [
            "*max_latency(ms=1, scope='test') exceeded: agent wall time * ms (first call's start to last call's end) "
            "= 3 LLM call(s) * ms + * ms of the application's own time between them; "
            "1. llama-3.3-70b-versatile (tool call get_weather) * ms; 2. llama-3.3-70b-versatile (tool call "
            "get_weather) * ms; 3. llama-3.3-70b-versatile (text answer) * ms",
            "*max_calls(n=2) exceeded: the test made 3 LLM call(s) (the agent took 1 more step(s) than allowed), "
            "2 tool call(s): get_weather, get_weather; 1. llama-3.3-70b-versatile (tool call get_weather)*",
            "*min_realtime_factor(x=1e+09) missed by call 1 of 1 (whisper-large-v3-turbo, transcription): *x real "
            "time = 1.00 s of audio / e2e * ms*",
            "*min_realtime_factor(x=10): the test made no audio call (transcription, translation or speech) that "
            "succeeded; its calls went to: chat",
        ]
    )
    doc = json.loads((pytester.path / "r.json").read_text())
    tests = {t["nodeid"].rsplit("::", 1)[-1]: t for t in doc["tests"]}
    within = tests["test_within"]
    assert within["summary"]["calls"] == 2 and within["summary"]["tool_calls"] == 1
    assert within["summary"]["tool_names"] == ["get_weather"]
    calls = within["calls"]
    assert calls[0]["agent_start_ms"] == 0
    assert within["summary"]["agent_ms"] == pytest.approx(calls[-1]["agent_end_ms"], abs=0.01)
    assert calls[0]["agent_end_ms"] <= calls[1]["agent_start_ms"]
    budgets = {b["kind"]: b for b in within["budgets"]}
    assert budgets["latency"]["scope"] == "test" and budgets["calls"]["n"] == 2
    verdict = next(v for v in within["verdicts"] if v["budget"] == "max_latency(ms=600000, scope='test')")
    assert verdict["observed"] == pytest.approx(within["summary"]["agent_ms"], abs=0.01)
    assert next(v for v in within["verdicts"] if v["budget"] == "max_calls(n=2)")["observed"] == 2
    # the terminal table's calls column counts the tool calls
    result.stdout.fnmatch_lines(["*test_within*2 (1 tool call)*"])


def test_bad_agent_budget_arguments_error_that_test_alone(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.max_calls(3)
def test_positional(groq_client):
    pass

@pytest.mark.max_calls(n=0)
def test_zero(groq_client):
    pass

@pytest.mark.max_calls(n=2.5)
def test_fraction(groq_client):
    pass

@pytest.mark.max_latency(ms=100, scope="agent")
def test_scope(groq_client):
    pass

@pytest.mark.max_latency(ms=100, scope="test", metric="ttft")
def test_scope_metric(groq_client):
    pass

@pytest.mark.max_latency(ms=100, scope="test", call=0)
def test_scope_call(groq_client):
    pass

@pytest.mark.min_realtime_factor(x=-1)
def test_negative_factor(groq_client):
    pass

@pytest.mark.min_realtime_factor(factor=3)
def test_unknown(groq_client):
    pass

def test_fine():
    pass
"""
    result = run_suite(pytester, files={"test_agent": AGENT + body})
    result.assert_outcomes(passed=1, errors=8)
    result.stdout.fnmatch_lines_random(
        [
            "*@pytest.mark.max_calls takes keyword arguments only, got positional *3*; write e.g. "
            "@pytest.mark.max_calls(n=...)*",
            "*@pytest.mark.max_calls: n= must be > 0, got 0*",
            "*@pytest.mark.max_calls: n= must be a positive integer, got 2.5*",
            "*@pytest.mark.max_latency: scope= must be one of 'call', 'test', got 'agent'*",
            "*@pytest.mark.max_latency: scope='test' judges the agent wall time*it takes no metric=, got "
            "metric='ttft'*",
            "*@pytest.mark.max_latency: scope='test' judges all the test's calls together; it takes no call=*",
            "*@pytest.mark.min_realtime_factor: x= must be > 0, got -1*",
            "*@pytest.mark.min_realtime_factor got unknown argument 'factor'; allowed: x, percentile, call*",
        ]
    )


def test_markers_are_registered_with_their_signatures(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "--markers")
    result.stdout.fnmatch_lines_random(
        [
            "@pytest.mark.max_latency(*, ms, metric='e2e', percentile=None, call=None, scope='call', exclude=None): *",
            "@pytest.mark.max_calls(*, n): *",
            "@pytest.mark.min_realtime_factor(*, x, percentile=None, call=None): *",
        ]
    )


def test_gate_and_advisor_attribute_more_agent_steps(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = """
@pytest.mark.max_latency(ms=600000, scope="test")
def test_loop(groq_client):
    agent(groq_client, steps=int(os.environ["STEPS"]))
"""
    monkeypatch.setenv("STEPS", "1")
    run_suite(pytester, "--llm-save=base", files={"test_agent": AGENT + body}).assert_outcomes(passed=1)
    monkeypatch.setenv("STEPS", "3")
    result = run_suite(pytester, "--llm-compare", "--llm-compare-fail=calls:0,e2e:1000%", "--llm-report-json=r.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_loop regressed against *: calls 2 -> 4 (+100%, limit 0 calls)*2 -> 4 LLM calls per run: the "
            "agent took 2 more steps (tool calls get_weather -> get_weather x3); time in LLM calls * -> * ms.*",
        ]
    )
    doc = json.loads((pytester.path / "r.json").read_text())
    (test,) = doc["tests"]
    shifts = {s["metric"]: s for s in test["comparison"]["shifts"]}
    # the test-scope budget makes the e2e threshold judge the agent wall time
    assert "agent" in shifts and shifts["agent"]["threshold"] == "agent:1000%"
    assert "e2e" not in shifts or shifts["e2e"]["threshold"] is None
    agent_new = max(c["agent_end_ms"] for c in test["calls"])
    assert shifts["agent"]["new"] == pytest.approx(agent_new, abs=0.01)
    assert any(
        a.startswith("2 -> 4 LLM calls per run since the baseline: the agent took 2 more step(s), about ")
        for a in test["advice"]
    )
    assert any("max_latency(ms=600000, scope='test'): the agent's 4 LLM call(s) took" in a for a in test["advice"])


# -- the agent clock, on the emulator and on replays --------------------------------------------------


def test_agent_clock_on_replayed_calls_adds_their_recorded_durations(fast_emulator: GroqEmulator) -> None:
    """A replayed call takes no real time: the agent clock moves everything after it by the
    call's recorded duration, so the agent time of a replay is the recorded calls plus the
    application's real time between them."""
    groq = pytest.importorskip("groq")
    recorder = Recorder()
    with groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_x", max_retries=0) as client, Interceptor(recorder):
        for _ in range(3):
            client.chat.completions.create(
                model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=8
            )
    calls = recorder.calls
    live = agent_wall_ms(calls)[0]
    assert live == (calls[-1].end_ns - calls[0].attempts[0].start_ns) / 1e6  # type: ignore[operator]
    served = fast_emulator.requests
    assert live >= (served[-1].t_done_ns - served[0].t_received_ns) / 1e6  # type: ignore[operator]
    # the same calls as if replayed: each one ended the moment it started (no real time passed)
    for call in calls:
        call.replayed = True
    recorded = [c.e2e_ms or 0.0 for c in calls]
    real_gaps = [(b.attempts[0].start_ns - a.attempts[0].start_ns) / 1e6 for a, b in itertools.pairwise(calls)]
    spans = agent_spans(calls)
    assert spans[0] is not None and spans[0][0] == 0.0 and spans[0][1] == pytest.approx(recorded[0])
    assert spans[1] is not None and spans[1][0] == pytest.approx(real_gaps[0] + recorded[0])
    assert agent_wall_ms(calls)[0] == pytest.approx(sum(real_gaps) + sum(recorded[:-1]) + recorded[-1])


# -- marker argument fuzz (the style of tests/test_reliability.py) ------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["max_calls", "min_realtime_factor", "max_latency"]),
    args=st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=2),
    kwargs=st.dictionaries(
        st.sampled_from(["n", "x", "ms", "scope", "metric", "call", "percentile", "factor"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(10**30), 10**30),
            st.floats(allow_nan=True),
            st.sampled_from(["call", "test", "e2e", "ttft"]),
            st.text(max_size=5),
            st.lists(st.integers(), max_size=2),
        ),
        max_size=4,
    ),
)
def test_agent_marker_arguments_fuzz(name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Any argument gives a budget or a MarkerError naming the marker: nothing else."""

    class Mark:
        def __init__(self) -> None:
            self.name, self.args, self.kwargs = name, tuple(args), kwargs

    try:
        (budget,) = budgets_for([Mark()])
    except MarkerError as err:
        assert f"@pytest.mark.{name}" in str(err)  # noqa: PT017 - the exception is optional here
        return
    assert isinstance(budget, (CallCountBudget, RealtimeBudget, LatencyBudget))
    json.dumps({k: v for k, v in vars(budget).items()})  # JSON-safe: it travels to the xdist controller
    budget.label()
