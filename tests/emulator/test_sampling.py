"""The emulator samples like a model does (issue 31): at temperature > 0 (or none given, with
``sampling`` on) the answer length varies between identical requests, log-normally around the
deterministic length; the prompt cache may miss with ``cache_hit_rate``; the pytest and CLI
options that set both."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_llmlatency.cli import build_parser, main
from pytest_llmlatency.emulator import GroqEmulator, plan_request
from pytest_llmlatency.emulator.model import LENGTH_SIGMA, sampled_length

from ..helpers import post_chat, run_suite

MODEL = "llama-3.1-8b-instant"
CACHING = "openai/gpt-oss-20b"
QUESTION = [{"role": "user", "content": "Explain prompt caching."}]
SYSTEM = {"role": "system", "content": "You are the support assistant of a shop. " * 40}


def _emulator(**kw: Any) -> GroqEmulator:
    return GroqEmulator(time_scale=200, jitter=0, queue_ms=1, **kw)


@pytest.fixture
def sampling() -> Iterator[GroqEmulator]:
    with _emulator(sampling=True) as emu:
        yield emu


def _ask(emu: GroqEmulator, **params: Any) -> dict[str, Any]:
    response = post_chat(emu, {"model": MODEL, "messages": QUESTION, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _lengths(emu: GroqEmulator, n: int, **params: Any) -> list[int]:
    return [_ask(emu, **params)["usage"]["completion_tokens"] for _ in range(n)]


def _relative_sd(values: list[int]) -> float:
    return statistics.stdev(values) / statistics.mean(values)


# -- answer lengths -----------------------------------------------------------------------------


@pytest.mark.parametrize(("explicit", "emulator_sampling"), [(True, False), (True, True), (False, True)])
def test_at_temperature_1_the_length_varies_as_measured(explicit: bool, emulator_sampling: bool) -> None:
    # explicit temperature 1 always samples; without one, Groq's default 1 applies with sampling on
    params = {"temperature": 1} if explicit else {}
    with _emulator(sampling=emulator_sampling) as emu:
        lengths = _lengths(emu, 20, **params)
    assert len(set(lengths)) >= 10, lengths
    # calibration: llama.cpp at temperature 1, 10 runs, relative sd 0.25 (log sd 0.33)
    assert 0.15 <= _relative_sd(lengths) <= 0.5, lengths
    deterministic = plan_request({"model": MODEL, "messages": QUESTION}).completion_tokens
    assert min(lengths) < deterministic < max(lengths), "drawn around the deterministic length"


def test_the_emulator_seed_reproduces_the_lengths() -> None:
    with _emulator(seed=7) as first:
        a = _lengths(first, 10, temperature=1)
    with _emulator(seed=7) as again:
        b = _lengths(again, 10, temperature=1)
    with _emulator(seed=8) as other:
        c = _lengths(other, 10, temperature=1)
    assert a == b, "a restarted emulator with the same seed replays the lengths"
    assert a != c


def test_the_request_seed_fixes_the_length(sampling: GroqEmulator) -> None:
    fixed = _lengths(sampling, 5, temperature=1, seed=42)
    assert len(set(fixed)) == 1, fixed
    with _emulator(seed=99) as other:
        assert _lengths(other, 2, temperature=1, seed=42) == fixed[:2], "the emulator's seed plays no part"
    by_seed = {_ask(sampling, temperature=1, seed=s)["usage"]["completion_tokens"] for s in range(10)}
    assert len(by_seed) > 5, "another seed, another draw"


def test_temperature_0_is_exactly_deterministic(sampling: GroqEmulator) -> None:
    answers = [_ask(sampling, temperature=0) for _ in range(5)]
    assert len({a["choices"][0]["message"]["content"] for a in answers}) == 1
    plan = plan_request({"model": MODEL, "messages": QUESTION, "temperature": 0})
    assert {a["usage"]["completion_tokens"] for a in answers} == {plan.completion_tokens}


def test_without_sampling_and_temperature_nothing_changes() -> None:
    with _emulator() as emu:
        answers = [_ask(emu) for _ in range(5)]
    assert len({a["choices"][0]["message"]["content"] for a in answers}) == 1
    plan = plan_request({"model": MODEL, "messages": QUESTION})
    assert {a["usage"]["completion_tokens"] for a in answers} == {plan.completion_tokens}


def test_a_tiny_temperature_keeps_the_deterministic_length() -> None:
    # langchain-groq sends temperature=0 as 1e-08: the spread is proportional to the temperature
    body = {"model": MODEL, "messages": QUESTION}
    base = plan_request(body).completion_tokens
    assert {plan_request({**body, "temperature": 1e-8}, occurrence=i).completion_tokens for i in range(20)} == {base}
    assert sampled_length(100, 2.0, 1.0) == round(100 * 2.718281828 ** (2 * LENGTH_SIGMA))
    assert sampled_length(100, 5.0, 0.0) == 100 and sampled_length(0, 1.0, 1.0) == 0


def test_caps_still_cut_a_sampled_answer(sampling: GroqEmulator) -> None:
    cap = 60
    answers = [_ask(sampling, max_completion_tokens=cap) for _ in range(20)]
    with _emulator(sampling=True) as twin:  # the same seed: the same draws, uncapped
        natural = _lengths(twin, 20)
    assert [a["usage"]["completion_tokens"] for a in answers] == [min(n, cap) for n in natural]
    finishes = [a["choices"][0]["finish_reason"] for a in answers]
    assert finishes == ["length" if n > cap else "stop" for n in natural]
    assert "stop" in finishes and "length" in finishes, natural


def test_a_one_word_answer_stays_one_word(sampling: GroqEmulator) -> None:
    messages = [{"role": "user", "content": "Answer in one word: what colour is the sky?"}]
    bodies = [post_chat(sampling, {"model": MODEL, "messages": messages}).json() for _ in range(5)]
    assert {b["usage"]["completion_tokens"] for b in bodies} == {2}


# -- prompt-cache flips -------------------------------------------------------------------------


def _cached(emu: GroqEmulator, n: int) -> list[int]:
    out = []
    for _ in range(n):
        body = {"model": CACHING, "messages": [SYSTEM, {"role": "user", "content": "Hi"}], "max_completion_tokens": 5}
        usage = post_chat(emu, body).json()["usage"]
        out.append((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0))
    return out


def test_cache_hit_rate_flips_hits_between_identical_requests() -> None:
    with _emulator(cache_hit_rate=0.5, seed=3) as emu:
        cached = _cached(emu, 21)
    warm = cached[1:]
    assert cached[0] == 0
    assert 0 in warm and any(warm), warm
    assert 4 <= warm.count(0) <= 16, warm
    with _emulator(cache_hit_rate=0.5, seed=3) as again:
        assert _cached(again, 21) == cached, "reproducible with the emulator's seed"
    with _emulator() as always:
        assert all(_cached(always, 5)[1:]), "None: the deterministic prefix cache"
    with _emulator(cache_hit_rate=0.0) as never:
        assert not any(_cached(never, 5))


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan")])
def test_cache_hit_rate_is_checked(rate: float) -> None:
    with pytest.raises(ValueError, match="cache_hit_rate"):
        GroqEmulator(cache_hit_rate=rate)


# -- options --------------------------------------------------------------------------------------

CHECK_SETTINGS = """
def test_settings(groq_emulator):
    assert groq_emulator.sampling is {sampling}
    assert groq_emulator.queue_profile == {profile!r}
    assert groq_emulator.cache_hit_rate == {rate!r}
"""


def test_the_pytest_options_reach_the_in_run_emulator(pytester: pytest.Pytester) -> None:
    files = {"test_inner": CHECK_SETTINGS.format(sampling=True, profile="groq", rate=None)}
    run_suite(pytester, "--llm-emulator-sampling", "--llm-queue-profile=groq", files=files).assert_outcomes(passed=1)
    files = {"test_inner": CHECK_SETTINGS.format(sampling=False, profile="calm", rate=0.25)}
    run_suite(pytester, "--llm-cache-hit-rate=0.25", files=files).assert_outcomes(passed=1)


def test_the_ini_options_reach_the_in_run_emulator(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_emulator_sampling = true\nllm_queue_profile = groq\nllm_cache_hit_rate = 0.5\n")
    files = {"test_inner": CHECK_SETTINGS.format(sampling=True, profile="groq", rate=0.5)}
    run_suite(pytester, files=files).assert_outcomes(passed=1)
    # the command line wins over the ini file
    files = {"test_inner": CHECK_SETTINGS.format(sampling=True, profile="calm", rate=1.0)}
    run_suite(pytester, "--llm-queue-profile=calm", "--llm-cache-hit-rate=1", files=files).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--llm-queue-profile=stormy"], "", "*--llm-queue-profile: expected one of calm, groq, got 'stormy'*"),
        (["--llm-cache-hit-rate=1.5"], "", "*--llm-cache-hit-rate: expected a number from 0 to 1, got '1.5'*"),
        (["--llm-cache-hit-rate=often"], "", "*--llm-cache-hit-rate: expected a number from 0 to 1, got 'often'*"),
        ([], "llm_cache_hit_rate = -1", "*ini option llm_cache_hit_rate: expected a number from 0 to 1*"),
        ([], "llm_queue_profile = busy", "*ini option llm_queue_profile: expected one of calm, groq*"),
    ],
)
def test_a_bad_option_is_a_usage_error(pytester: pytest.Pytester, args: list[str], ini: str, message: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    result = run_suite(pytester, *args, files={"test_inner": "def test_nothing():\n    pass\n"})
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_the_cli_takes_sampling_and_cache_hit_rate(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["emulator", "--sampling", "--cache-hit-rate", "0.3"])
    assert args.sampling is True and args.cache_hit_rate == 0.3
    defaults = build_parser().parse_args(["emulator"])
    assert defaults.sampling is False and defaults.cache_hit_rate is None
    with pytest.raises(SystemExit) as info:
        main(["emulator", "--cache-hit-rate", "2"])
    assert info.value.code == 2
    assert "must be from 0 to 1" in capsys.readouterr().err
