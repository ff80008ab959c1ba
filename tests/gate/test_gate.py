"""The regression gate on Groq's decomposition (issue 12): every verdict path, the strict
prediction rule, queue-excluding budgets, the groq queue profile and honest fits.

Unit cases build call records with known numbers (what ``LLMCall.to_dict`` gives); the
user's view runs pytest against the emulator. No assertion depends on wall-clock timing:
the verdicts rest on token counts, Groq's reported times and margins of hundreds of ms."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_llmlatency.advisor.fit import _linear, fit_models
from pytest_llmlatency.advisor.lint import lint
from pytest_llmlatency.advisor.scan import Observation
from pytest_llmlatency.emulator import GroqEmulator
from pytest_llmlatency.emulator.model import plan_request
from pytest_llmlatency.emulator.profiles import QUEUE_PROFILES
from pytest_llmlatency.gate.compare import compare_test
from pytest_llmlatency.gate.stats import LIVE_NOISE, hodges_lehmann, repeats_to_decide
from pytest_llmlatency.gate.store import TestBaseline as Saved
from pytest_llmlatency.gate.thresholds import parse_thresholds

from .records import groq_call

E2E = parse_thresholds("e2e:10%")


def call(
    *,
    tokens: int = 150,
    ms_per_token: float = 1.8,
    queue: float = 100.0,
    path: float = 20.0,
    prompt_tokens: int = 200,
    prompt_ms: float = 10.0,
    cap: int = 1024,
    i: int = 0,
) -> dict[str, Any]:
    return groq_call(
        model="llama-3.1-8b-instant",
        params={"max_completion_tokens": cap},
        prompt_chars=800,
        i=i,
        queue=queue,
        prompt_ms=prompt_ms,
        completion_ms=tokens * ms_per_token,
        path=path,
        prompt_tokens=prompt_tokens,
        tokens=tokens,
    )


def gate(old: list[dict[str, Any]], new: list[dict[str, Any]], spec: str = "e2e:10%") -> Any:
    base = Saved("t.py::t", "live", {"e2e": [c["e2e_ms"] for c in old]}, old)
    comparison = compare_test("t.py::t", new, "live", base, parse_thresholds(spec))
    (shift,) = [s for s in comparison.shifts if s.metric == spec.split(":")[0]]
    return comparison, shift


# -- verdict paths -----------------------------------------------------------------------------


def test_token_growth_is_certain_at_one_call_with_the_decomposition() -> None:
    """The issue's scenario: a cap raised 50 -> 1024, one call per side, and a lucky queue."""
    old = [call(tokens=50, queue=400.0, cap=50)]
    new = [call(tokens=415, queue=30.0)]
    comparison, shift = gate(old, new)
    assert shift.verdict == "regressed" and shift.certain and shift.p is None
    message = comparison.message()
    assert "completion 50 -> 415 tokens (+657 ms)" in message
    assert "queue -370 ms (Groq's load: left out)" in message
    assert "certain at 1 vs 1 call(s): the token counts alone add at least" in message
    assert "Request changed: max_completion_tokens 50 -> 1024." in message


def test_queue_noise_alone_is_not_a_regression() -> None:
    """e2e doubled by Groq's queue (100 -> 900 ms) with the same tokens and speed: unchanged."""
    _, shift = gate([call(queue=100.0)], [call(queue=900.0)])
    assert shift.verdict == "unchanged"
    assert shift.percent is not None and shift.percent > 100
    assert shift.detail is not None and "within the limit once queue time is left out" in shift.detail


def test_a_speed_shift_inside_the_noise_envelope_is_inconclusive_and_says_how_many_repeats() -> None:
    """Same tokens, completion 25 % slower on one call: could be one slow request."""
    comparison, shift = gate([call()], [call(ms_per_token=1.8 * 1.25)])
    assert shift.verdict == "inconclusive" and not shift.certain
    assert shift.repeats is not None and shift.repeats >= 5
    assert f"about {shift.repeats} calls per side would decide" in comparison.message()
    assert "inside the noise envelope" in comparison.message()


def test_one_slow_call_with_the_same_request_is_the_servers_variance_until_repeats_show_it() -> None:
    """Same request, same tokens, decode 3x slower in one call: Groq has served single calls 2.8x
    slower than the rest (openai/gpt-oss-120b in the real recordings), so at one call per side it
    is inconclusive with the calls that would decide; five slow calls per side are certain."""
    _, shift = gate([call()], [call(ms_per_token=1.8 * 3)])
    assert shift.verdict == "inconclusive" and not shift.certain
    assert "the same request: one server's variance until repeats show otherwise" in (shift.detail or "")
    assert shift.repeats is not None and shift.repeats >= 5
    _, shift = gate([call(i=k) for k in range(5)], [call(ms_per_token=1.8 * 3, i=k) for k in range(5)])
    assert shift.verdict == "regressed" and shift.certain
    assert "beyond the noise envelope" in (shift.detail or "")


def test_a_large_speed_shift_with_a_changed_request_is_certain_beyond_the_envelope() -> None:
    """A changed request (another cap that does not cut the answer), decode 3x slower: certain."""
    _, shift = gate([call()], [call(ms_per_token=1.8 * 3, cap=2048)])
    assert shift.verdict == "regressed" and shift.certain
    assert "beyond the noise envelope" in (shift.detail or "")


def test_rank_test_decides_from_five_calls_on_the_latency_without_queue() -> None:
    """Six calls per side, the same tokens, speed +20 % (inside the envelope of one call),
    and queue times that would hide it: the rank test on e2e minus queue finds it."""
    queues_old = [50.0, 900.0, 120.0, 2000.0, 80.0, 300.0]
    queues_new = [40.0, 60.0, 70.0, 30.0, 90.0, 50.0]
    old = [call(ms_per_token=1.8 * (1 + k / 100), queue=q, i=k) for k, q in enumerate(queues_old)]
    new = [call(ms_per_token=1.8 * (1.2 + k / 100), queue=q, i=k) for k, q in enumerate(queues_new)]
    _, shift = gate(old, new)
    assert shift.verdict == "regressed" and not shift.certain
    assert shift.p is not None and shift.p < 0.01
    assert shift.new < shift.old, "the raw e2e median went down: only the decomposition sees it"


def test_aa_with_groq_queue_noise_passes_at_every_n() -> None:
    """A/A drawn from the emulator's groq profile (heavy-tailed queue, 7 % speed jitter)."""
    body = {
        "model": "llama-3.1-8b-instant",
        "max_completion_tokens": 150,
        "messages": [{"role": "user", "content": "Describe queues in about 2000 words."}],
    }

    def side(seed: int, n: int) -> list[dict[str, Any]]:
        out = []
        for i in range(n):
            plan = plan_request(body, seed=seed, occurrence=i, queue_profile="groq")
            out.append(
                call(
                    tokens=plan.completion_tokens,
                    ms_per_token=plan.timing.token_s * 1000,
                    queue=plan.timing.queue_s * 1000,
                    prompt_ms=plan.timing.prompt_s * 1000,
                    i=i,
                )
            )
        return out

    verdicts = [gate(side(2 * t, n), side(2 * t + 1, n))[1].verdict for n in (1, 3, 5, 10) for t in range(25)]
    assert "regressed" not in verdicts, "an A/A false alarm"


def test_hodges_lehmann_and_repeats() -> None:
    assert hodges_lehmann([3.0, 4.0], [1.0, 2.0]) == 2.0
    assert repeats_to_decide(10.0, 20.0, LIVE_NOISE.z, 1) > repeats_to_decide(40.0, 20.0, LIVE_NOISE.z, 1) >= 5


# -- the user's view: live runs against the emulator with Groq's noise ---------------------------

SUITE = """
import os, pytest

@pytest.mark.max_latency(ms=60000)
def test_intent(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant",
        max_completion_tokens=int(os.environ.get("CAP", "50")),
        messages=[{"role": "user", "content": "Describe Groq in about 300 words."}])

@pytest.mark.max_latency(ms=60000)
def test_steady(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", max_completion_tokens=60,
        messages=[{"role": "user", "content": "Describe queues in about 200 words."}])
"""


@pytest.fixture
def noisy() -> Iterator[GroqEmulator]:
    with GroqEmulator(queue_profile="groq", time_scale=2, seed=12) as emu:
        yield emu


def test_live_one_call_cap_raise_fails_and_aa_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, noisy: GroqEmulator
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("GROQ_API_KEY", "gsk_test")
    monkeypatch.setenv("CI", "1")  # live calls, not recorded into cassettes
    live = ["-p", "no:cacheprovider", f"--llm-base-url={noisy.base_url}"]
    pytester.runpytest(*live, "--llm-save=base").assert_outcomes(passed=2)
    # A/A: the same requests again, new queue times and speeds
    result = pytester.runpytest(*live, "--llm-compare", "--llm-compare-fail=e2e:10%")
    result.assert_outcomes(passed=2)
    assert "regressed against" not in result.stdout.str()
    assert "(2 call(s) replayed)" not in result.stdout.str()
    monkeypatch.setenv("CAP", "1024")
    result = pytester.runpytest(*live, "--llm-compare", "--llm-compare-fail=e2e:10%")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_intent regressed against 0001_base.json: e2e * ms -> * ms (+*%, limit 10%; without queue * "
            "completion 50 -> * tokens (+* ms)*queue * ms (Groq's load: left out); certain at 1 vs 1 call(s): "
            "the token counts alone add at least * ms*Request changed: max_completion_tokens 50 -> 1024.*"
        ]
    )


def test_groq_queue_profile_matches_its_calibration() -> None:
    body = {"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]}
    queues = sorted(
        plan_request(body, seed=1, occurrence=i, queue_profile="groq").timing.queue_s * 1000 for i in range(2000)
    )
    median, p90 = queues[1000], queues[1800]
    assert 90 < median < 115 and 520 < p90 < 700, (median, p90)
    assert queues[-1] <= QUEUE_PROFILES["groq"].cap_ms  # type: ignore[operator]
    calm = sorted(plan_request(body, seed=1, occurrence=i).timing.queue_s * 1000 for i in range(200))
    assert calm[180] < 60, "the default stays calm"
    with pytest.raises(ValueError, match="queue_profile must be one of calm, groq"):
        GroqEmulator(queue_profile="stormy")
    with pytest.raises(ValueError, match="queue_profile"):
        plan_request(body, queue_profile="stormy")


# -- budgets without queue time -------------------------------------------------------------------

EXCLUDE = """
import pytest

@pytest.mark.max_latency(ms=300, exclude="queue")
def test_without_queue(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant",
        messages=[{"role": "user", "content": "Answer in one word: ok?"}])

@pytest.mark.max_latency(ms=300)
def test_with_queue(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant",
        messages=[{"role": "user", "content": "Answer in one word: ok?"}])
"""


def test_exclude_queue_budget(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_exclude=EXCLUDE)
    monkeypatch.setenv("GROQ_API_KEY", "gsk_test")
    with GroqEmulator(queue_ms=800, jitter=0) as emu:
        result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={emu.base_url}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*max_latency(ms=300) exceeded by call 1 of 1*"])
    assert "test_exclude.py::test_without_queue PASSED" in result.stdout.str() or "1 passed" in result.stdout.str()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ms": 100, "exclude": "network"}, "exclude= can leave out 'queue'"),
        ({"ms": 100, "metric": "server", "exclude": "queue"}, "holds no queue time"),
        ({"ms": 100, "scope": "test", "exclude": "queue"}, "takes no scope='test'"),
        ({"ms": 100, "exclude": 3}, "exclude= must be 'queue'"),
    ],
)
def test_exclude_errors(kwargs: dict[str, Any], message: str) -> None:
    from pytest_llmlatency.budgets.markers import MarkerError, budgets_for

    with pytest.raises(MarkerError, match=message):
        budgets_for([pytest.mark.max_latency(**kwargs).mark])


# -- green means proven: predictions ------------------------------------------------------------

PREDICT = """
import os, pytest

@pytest.mark.max_latency(ms=400)
def test_intent(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant",
        max_completion_tokens=int(os.environ.get("CAP", "50")),
        messages=[{"role": "user", "content": "Describe Groq in about 300 words."}])
"""


def test_a_raised_cap_in_replay_is_a_risk_that_fails_by_default_and_passes_with_warn(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_predict=PREDICT)
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("GROQ_API_KEY", "gsk_x")
    monkeypatch.setenv("CAP", "1024")
    dead = "--llm-base-url=http://127.0.0.1:9"
    result = pytester.runpytest("-p", "no:cacheprovider", dead)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*max_latency(ms=400) is at risk by call 1 of 1 (llama-3.1-8b-instant), predicted, not measured: "
            "request changed since recording: *max_completion_tokens*predicted: completion tokens 50-1,024, "
            "e2e *-* ms*Not proven: the worst case * ms exceeds 400 ms, so not green under --llm-predict=fail "
            "(--llm-predict=warn passes it). Re-record to measure it: pytest --llm-record-mode=rewrite "
            "test_predict.py::test_intent*"
        ]
    )
    result = pytester.runpytest("-p", "no:cacheprovider", dead, "--llm-predict=warn")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["risk test_predict.py::test_intent", "*max_latency(ms=400) is at risk by*"])


# -- honest fits --------------------------------------------------------------------------------


def obs(prompt: int, ttft: float, i: int) -> Observation:
    return Observation.of(
        {
            "ok": True,
            "model": "m",
            "request_id": f"req_{i}",
            "prompt_tokens": prompt,
            "completion_tokens": 100,
            "streamed": True,
            "ttft_ms": ttft,
            "e2e_ms": ttft + 200,
            "output_tokens_per_s": 500.0,
            "params": {},
        }
    )


def test_ttft_fit_is_non_negative() -> None:
    fit = _linear([100.0, 200.0, 300.0], [10.0, 40.0, 70.0])  # unconstrained: -20 ms + 0.3 ms/token
    assert fit is not None and fit[0] == 0.0 and fit[1] > 0
    assert _linear([100.0, 200.0, 300.0], [70.0, 40.0, 10.0]) is None, "no negative slope"


def test_narrow_prompt_range_falls_back_to_the_median_and_says_so() -> None:
    """The HTML report once printed 'TTFT = -597.2 ms + 11,217 ms per 1k prompt tokens (R^2 0.23)'."""
    items = [obs(700 + 5 * i, 100.0 + (i * 37) % 50, i) for i in range(15)]
    f = fit_models(items)["m"]
    assert f.ttft_fit is None and f.ttft_median is not None
    text = f.describe()
    assert "TTFT median" in text and "15 calls" in text and "span less than x2" in text
    assert "p10" in text and "p90" in text
    assert f.ttft(5000) == f.ttft_median


def test_low_r2_falls_back_and_a_good_fit_is_shown_with_its_size() -> None:
    scattered = [
        obs(p, t, i)
        for i, (p, t) in enumerate(zip([100, 2000, 300, 1500, 800, 50], [90, 20, 85, 30, 60, 10], strict=True))
    ]
    f = fit_models(scattered)["m"]
    assert f.ttft_fit is None and f.ttft_note is not None
    good = [obs(p, 20 + p * 0.05, i) for i, p in enumerate([100, 400, 900, 1600, 2500, 3600])]
    g = fit_models(good)["m"]
    assert g.ttft_fit is not None and math.isclose(g.ttft_fit[1], 0.05, rel_tol=1e-6)
    assert "(R^2 1.00, 6 calls, prompts" in g.describe()


def test_each_call_is_counted_once() -> None:
    """In a recording run the live call and the cassette just written are the same call."""
    one = obs(100, 50.0, 1)
    f = fit_models([one, obs(100, 50.0, 1), obs(100, 55.0, 2)])["m"]
    assert f.n == 2 and f.ttft_n == 2
    assert "2 call(s)" in f.describe()


def test_responses_cap_is_max_output_tokens() -> None:
    fits = fit_models([obs(100, 50.0, i) for i in range(3)])
    base = {
        "ok": True,
        "model": "m",
        "endpoint": "responses",
        "completion_tokens": 100,
        "e2e_ms": 300.0,
        "streamed": False,
    }
    budget = [{"kind": "latency", "metric": "e2e", "ms": 500, "label": "max_latency(ms=500)"}]
    capped = lint({"calls": [dict(base, params={"max_output_tokens": 120})], "budgets": budget}, fits)
    assert not any("unset" in a for a in capped), capped
    unset = lint({"calls": [dict(base, params={})], "budgets": budget}, fits)
    assert any(a.startswith("max_output_tokens is unset") for a in unset), unset
