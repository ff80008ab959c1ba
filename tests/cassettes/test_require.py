"""A test with no cassette in CI (issue 27, item 8): it still runs against the emulator, the
summary says so with the command that records it, and ``--llm-require-cassettes`` (or its ini
twin) fails it."""

from __future__ import annotations

import pytest

from ..helpers import run_suite

NEW_TEST = """
import pytest

@pytest.mark.max_latency(ms=100000)
def test_new(groq_client):
    groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "Say hi."}])
"""


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")


@pytest.mark.usefixtures("ci")
def test_a_test_without_a_cassette_is_named_in_the_summary(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, files={"test_new": NEW_TEST})
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "1 test(s) had no cassette and ran against the emulator: record them with: pytest "
            "--llm-record-mode=once test_new.py::test_new (--llm-require-cassettes fails such tests)"
        ]
    )


@pytest.mark.usefixtures("ci")
@pytest.mark.parametrize("how", ["cli", "ini"])
def test_require_cassettes_fails_it_and_passes_once_recorded(pytester: pytest.Pytester, how: str) -> None:
    args: tuple[str, ...] = ("--llm-require-cassettes",)
    if how == "ini":
        pytester.makeini("[pytest]\nllm_require_cassettes = true\n")
        args = ()
    result = run_suite(pytester, *args, files={"test_new": NEW_TEST})
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no cassette at cassettes/test_new/test_new.yaml: the test ran against the emulator instead of "
            "replaying (--llm-require-cassettes). Record it with: pytest --llm-record-mode=once test_new.py::test_new*"
        ]
    )
    run_suite(pytester, "--llm-record-mode=once").assert_outcomes(passed=1)
    result = run_suite(pytester, *args)
    result.assert_outcomes(passed=1)
    assert "had no cassette" not in result.stdout.str()


@pytest.mark.usefixtures("ci")
def test_live_runs_are_not_told_about_cassettes(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "--llm-live", "--llm-require-cassettes", files={"test_new": NEW_TEST})
    result.assert_outcomes(passed=1)
    assert "had no cassette" not in result.stdout.str()


def test_outside_ci_the_emulator_run_is_not_told(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first local run against the emulator (the README's main job) has nothing to record."""
    monkeypatch.delenv("CI", raising=False)
    result = run_suite(pytester, files={"test_new": NEW_TEST})
    result.assert_outcomes(passed=1)
    assert "had no cassette" not in result.stdout.str()
