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
