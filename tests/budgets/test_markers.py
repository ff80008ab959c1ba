"""Each marker passing and failing, and every bad marker argument, through pytest itself."""

from __future__ import annotations

import pytest

from ..helpers import run_suite

CALL = """
import groq, pytest

def call(client, content="Describe queues in 100 words.", model="llama-3.1-8b-instant", **params):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **params)

def stream(client, content="Describe queues in 100 words.", model="llama-3.1-8b-instant", **params):
    out = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], stream=True, **params)
    return "".join(c.choices[0].delta.content or "" for c in out if c.choices)
"""


@pytest.mark.parametrize(
    ("marker", "passes"),
    [
        ("max_latency(ms=5000)", True),
        ("max_latency(ms=1)", False),
        ("max_latency(ms=5000, metric='ttfb')", True),
        ("max_latency(ms=0.01, metric='ttfb')", False),
        ("max_latency(ms=5000, metric='server')", True),
        ("max_latency(ms=1, metric='server')", False),
        ("max_latency(ms=5000, metric='queue')", True),
        ("max_latency(ms=0.001, metric='queue')", False),
        ("max_latency(ms=5000, metric='wall')", True),
        ("max_ttft(ms=5000)", True),
        ("max_ttft(ms=0.01)", False),
        ("max_tokens(completion=1000, prompt=100, total=1100, reasoning=0.5)", None),
        ("max_tokens(completion=1000, prompt=100, total=1100)", True),
        ("max_tokens(completion=10)", False),
        ("max_tokens(prompt=5)", False),
        ("min_throughput(tokens_per_s=50)", True),
        ("min_throughput(tokens_per_s=100000)", False),
        ("max_server_time(queue_ms=5000, prompt_ms=5000, completion_ms=5000, total_ms=5000)", True),
        ("max_server_time(completion_ms=1)", False),
    ],
)
def test_each_marker(pytester: pytest.Pytester, marker: str, passes: bool | None) -> None:
    body = f"""
@pytest.mark.{marker}
def test_it(groq_client):
    stream(groq_client)
"""
    result = run_suite(pytester, files={"test_budgets": CALL + body})
    if passes is None:
        result.assert_outcomes(errors=1)
    elif passes:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f"*{marker.split('(')[0]}(*"])


def test_failure_message_explains_the_miss(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.max_latency(ms=100)
def test_intent(groq_client):
    stream(groq_client, "Describe queues in about 300 words.", model="openai/gpt-oss-20b",
           max_completion_tokens=1024, reasoning_effort="medium")
"""
    result = run_suite(pytester, files={"test_budgets": CALL + body})
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [
            r".*max_latency\(ms=100\) exceeded by call 1 of 1 \(openai/gpt-oss-20b\): e2e [\d,]+ ms = TTFT [\d.]+ ms "
            r"\(first output: reasoning; server queue [\d.]+, prompt [\d.]+\) \+ [\d,]+ tokens in [\d,]+ ms at [\d,]+ tok/s; \d+ of the [\d,]+ "
            r"output tokens were reasoning; request had max_completion_tokens=1024, reasoning_effort='medium', "
            r"stream=True",
        ]
    )


def test_token_failure_says_the_cap_truncated(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.max_tokens(completion=40)
def test_it(groq_client):
    call(groq_client, max_completion_tokens=60)
"""
    result = run_suite(pytester, files={"test_budgets": CALL + body})
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*completion_tokens 60 > 40; finish_reason=length; request had max_completion_tokens=60*"]
    )


def test_no_call_fails_and_says_so(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.max_latency(ms=300)
def test_it():
    pass
"""
    result = run_suite(pytester, files={"test_budgets": CALL + body})
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*max_latency(ms=300): the test made no LLM call*"])


def test_budget_applies_to_every_call_unless_call_selects(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.max_tokens(completion=30)
def test_every_call(groq_client):
    call(groq_client, "in one word: hi")
    call(groq_client, "Describe queues in 100 words.")

@pytest.mark.max_tokens(completion=30, call=0)
def test_first_call(groq_client):
    call(groq_client, "in one word: hi")
    call(groq_client, "Describe queues in 100 words.")

@pytest.mark.max_tokens(completion=30, call=-1)
def test_last_call(groq_client):
    call(groq_client, "in one word: hi")
    call(groq_client, "Describe queues in 100 words.")

@pytest.mark.max_tokens(completion=30, call="llama-3.1-8b-instant")
def test_by_model(groq_client):
    call(groq_client, "in one word: hi")
    call(groq_client, "Describe queues in 100 words.", model="llama-3.3-70b-versatile")

@pytest.mark.max_tokens(completion=30, call=5)
def test_index_out_of_range(groq_client):
    call(groq_client, "in one word: hi")

@pytest.mark.max_tokens(completion=30, call="qwen/qwen3-32b")
def test_model_not_called(groq_client):
    call(groq_client, "in one word: hi")
"""
    result = run_suite(pytester, files={"test_budgets": CALL + body})
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines_random(
        [
            "max_tokens(completion=30) exceeded by call 2 of 2 (llama-3.1-8b-instant): completion_tokens * > 30*",
            "max_tokens(completion=30, call=-1) exceeded by call 2 of 2*",
            "*call=5 but the test made 1 LLM call(s)*",
            "*no LLM call to model 'qwen/qwen3-32b'; the test called ?'llama-3.1-8b-instant'?*",
        ]
    )


def test_closest_marker_wins(pytester: pytest.Pytester) -> None:
    body = """
pytestmark = pytest.mark.max_latency(ms=1)

@pytest.mark.max_latency(ms=5000)
def test_override(groq_client):
    call(groq_client, "in one word: hi")

def test_module_budget(groq_client):
    call(groq_client, "in one word: hi")

@pytest.mark.max_latency(ms=5000, metric="ttfb")
def test_other_metric_adds(groq_client):
    call(groq_client, "in one word: hi")
"""
    result = run_suite(pytester, files={"test_budgets": CALL + body})
    result.assert_outcomes(passed=1, failed=2)


def test_repeat_and_percentile(pytester: pytest.Pytester) -> None:
    body = """
RUNS = []

@pytest.mark.llm_repeat(n=6, warmup=2)
@pytest.mark.max_latency(ms=5000, percentile=90)
def test_repeated(groq_client, llm_calls):
    RUNS.append(len(llm_calls))
    call(groq_client, "in one word: hi")

def test_count():
    assert len(RUNS) == 8
    # warmup calls are not counted: the first two runs see none before them
    assert RUNS == [0, 0, 0, 1, 2, 3, 4, 5]

@pytest.mark.llm_repeat(n=5)
@pytest.mark.max_latency(ms=0.5, percentile=50)
def test_percentile_fails(groq_client):
    call(groq_client, "in one word: hi")
"""
    result = run_suite(pytester, files={"test_budgets": CALL + body})
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*max_latency(ms=0.5, percentile=50) exceeded: p50 e2e * ms over 5 call(s)*"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("max_latency(300)", "takes keyword arguments only, got positional [300]"),
        ("max_latency()", "needs the argument ms="),
        ("max_latency(ms=-1)", "ms= must be > 0, got -1"),
        ("max_latency(ms=0)", "ms= must be > 0, got 0"),
        ("max_latency(ms='300')", "ms= must be a positive number, got '300'"),
        ("max_latency(ms=True)", "ms= must be a positive number, got True"),
        ("max_latency(ms=float('nan'))", "ms= must be > 0, got nan"),
        ("max_latency(ms=300, metric='p99')", "metric= must be one of e2e, ttfb, ttft, server, queue, wall"),
        ("max_latency(ms=300, percentile=0)", "percentile= must be a number in (0, 100]"),
        ("max_latency(ms=300, percentile=101)", "percentile= must be a number in (0, 100]"),
        ("max_latency(ms=300, call=1.5)", "call= must be an index"),
        ("max_latency(ms=300, budget=1)", "unknown argument 'budget'; allowed: ms, metric, percentile, call"),
        ("max_ttft(ms=300, metric='e2e')", "unknown argument 'metric'"),
        ("max_tokens()", "needs at least one of prompt=, completion=, reasoning=, total="),
        ("max_tokens(completion=0)", "completion= must be > 0"),
        ("max_tokens(completion=2.5)", "completion= must be a positive integer, got 2.5"),
        ("max_tokens(output=5)", "unknown argument 'output'"),
        ("min_throughput()", "needs the argument tokens_per_s="),
        ("min_throughput(tokens_per_s=-5)", "tokens_per_s= must be > 0"),
        ("max_server_time()", "needs at least one of queue_ms="),
        ("max_server_time(total=5)", "unknown argument 'total'"),
        ("llm_repeat()", "needs the argument n="),
        ("llm_repeat(n=0)", "n= must be > 0"),
        ("llm_repeat(n=3, warmup=-1)", "warmup= must be an integer >= 0, got -1"),
        ("llm_repeat(5)", "takes keyword arguments only"),
    ],
)
def test_bad_marker_errors_that_test_alone(pytester: pytest.Pytester, marker: str, message: str) -> None:
    body = f"""
@pytest.mark.{marker}
def test_bad(groq_client):
    call(groq_client, "in one word: hi")

def test_good():
    pass
"""
    result = run_suite(pytester, files={"test_budgets": CALL + body})
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*test_budgets.py::test_bad: @pytest.mark.{marker.split('(')[0]}*"])
    assert message in result.stdout.str()


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.max_latency(*, ms, metric='e2e', percentile=None, call=None, scope='call', exclude=None)*",
            "@pytest.mark.max_ttft(*, ms, percentile=None, call=None, exclude=None)*",
            "@pytest.mark.max_tokens(*, prompt=None, completion=None, reasoning=None, total=None, call=None)*",
            "@pytest.mark.min_throughput(*, tokens_per_s, percentile=None, call=None)*",
            "@pytest.mark.max_calls(*, n)*",
            "@pytest.mark.min_realtime_factor(*, x, percentile=None, call=None)*",
            "@pytest.mark.max_server_time(*, queue_ms=None, prompt_ms=None, completion_ms=None, total_ms=None*",
            "@pytest.mark.llm_repeat(*, n, warmup=0)*",
        ]
    )


def test_strict_markers_clean(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.max_latency(ms=5000)
def test_it(groq_client):
    call(groq_client, "in one word: hi")
"""
    result = run_suite(pytester, "--strict-markers", files={"test_budgets": CALL + body})
    result.assert_outcomes(passed=1)


def test_failing_test_body_is_not_masked(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.max_latency(ms=1)
def test_it(groq_client):
    call(groq_client, "in one word: hi")
    assert False, "the test's own failure"
"""
    result = run_suite(pytester, files={"test_budgets": CALL + body})
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the test's own failure*"])


def test_every_budget_marker_has_one_kind_with_its_signature() -> None:
    """The registry holds one class per budget marker; each reads the arguments its
    ``pytest --markers`` signature names, and ``llm_calls.assert_*`` builds through it."""
    from pytest_llmlatency.budgets.markers import KINDS, MarkerError, budget_from
    from pytest_llmlatency.budgets.view import LLMCalls
    from pytest_llmlatency.capture.intercept import Recorder
    from pytest_llmlatency.core.names import BUDGET_MARKERS, MARKERS

    assert list(KINDS) == list(BUDGET_MARKERS)
    for name, kind in KINDS.items():
        assert kind.marker == name
        signature = MARKERS[name].split(":")[0]
        assert set(kind.required) <= set(kind.allowed)
        for arg in kind.allowed:
            assert arg in signature, (name, arg)
    with pytest.raises(MarkerError, match="needs at least one of prompt=, completion=, reasoning=, total="):
        budget_from("max_tokens", (), {})
    with pytest.raises(MarkerError, match="needs at least one of prompt=, completion=, reasoning=, total="):
        LLMCalls(Recorder()).assert_max_tokens()
