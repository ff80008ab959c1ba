"""The ``groq_emulator`` fixture, as a user's test suite sees it."""

from __future__ import annotations

import pytest


def test_groq_emulator_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import groq

        def test_call(groq_emulator):
            assert groq_emulator.base_url.startswith("http://127.0.0.1:")
            with groq.Groq(base_url=groq_emulator.base_url, api_key="gsk_test") as client:
                resp = client.chat.completions.create(
                    model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "in one word: hi"}]
                )
            assert resp.choices[0].finish_reason == "stop"

        def test_same_server(groq_emulator):
            assert len(groq_emulator.requests) == 1
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_llm_calls_asked_for_inside_the_test_body_measures_from_then_on(pytester: pytest.Pytester) -> None:
    # request.getfixturevalue("llm_calls") in the body (a test that measures only some of its
    # runs, or a helper that asks for it): the calls after it are measured and judged
    pytester.makepyfile(
        """
        import pytest

        MSG = [{"role": "user", "content": "in one word: hi"}]

        @pytest.mark.parametrize("measure", [True, False])
        def test_call(request, groq_client, measure):
            groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)  # before: not measured
            if not measure:
                return
            calls = request.getfixturevalue("llm_calls")
            for _ in groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True):
                pass
            assert [(c.completed, c.params.get("stream")) for c in calls] == [(True, True)]
            assert calls.last.ttft_ms > 0

        def test_failing(request, groq_client):
            request.getfixturevalue("llm_calls")
            groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
            raise AssertionError("boom")

        def test_after(groq_client):
            # the patch was undone: an unmeasured test after them is left alone
            import httpx
            assert not hasattr(httpx.Client._transport_for_url, "__wrapped__")
            groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-report-json=out.json")
    result.assert_outcomes(passed=3, failed=1)
    import json

    report = json.loads((pytester.path / "out.json").read_text())
    measured = {t["nodeid"].split("::")[-1]: len(t["calls"]) for t in report["tests"]}
    assert measured == {"test_call[True]": 1, "test_failing": 1}
