"""The terminal table, the JSON report, JUnit properties, options and xdist."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SUITE = """
import groq, pytest

MSG = [{"role": "user", "content": "Describe queues in 40 words."}]

@pytest.mark.max_latency(ms=5000)
@pytest.mark.max_tokens(completion=500)
def test_pass(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)

@pytest.mark.max_tokens(completion=5)
def test_over(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True).close()
    groq_client.chat.completions.create(model="openai/gpt-oss-20b", messages=MSG, reasoning_effort="low")

def test_unmeasured():
    pass
"""


def test_terminal_table(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= LLM latency =*",
            "test*model*src*calls*tokens in/out*TTFT p50*e2e p50*e2e p95*tok/s*budget*verdict",
            "*test_pass*llama-3.1-8b-instant*1*/*ms*ms*ms*max_latency(ms=5000), max_tokens(completion=500)*pass",
            "*test_over*llama-3.1-8b-instant, openai/gpt-oss-20b*2*FAIL",
            "FAIL test_suite.py::test_over",
            "  max_tokens(completion=5)*reported no completion_tokens (the stream was abandoned*",
            "  max_tokens(completion=5) exceeded by call 2 of 2 (openai/gpt-oss-20b)*",
            "2 test(s), 3 LLM call(s), 1 over budget or regressed; reached: the built-in Groq emulator (3 call(s))",
        ]
    )
    assert "test_unmeasured" not in result.stdout.str().split("LLM latency")[1]


def test_quiet_and_no_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    quiet = pytester.runpytest("-p", "no:cacheprovider", "-q")
    quiet.stdout.fnmatch_lines(["*= LLM latency =*"])
    for args in (["-qq"], ["--llm-no-summary"]):
        result = pytester.runpytest("-p", "no:cacheprovider", *args)
        assert "LLM latency" not in result.stdout.str()


def test_nothing_printed_when_no_test_uses_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "LLM latency" not in result.stdout.str()


def test_json_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-report-json", "out/report.json")
    result.assert_outcomes(passed=2, failed=1)
    doc = json.loads((pytester.path / "out" / "report.json").read_text())
    assert doc["schema"] == "pytest-llmlatency/report" and doc["target"] == "emulator"
    tests = {t["nodeid"]: t for t in doc["tests"]}
    assert set(tests) == {"test_suite.py::test_pass", "test_suite.py::test_over"}
    passed = tests["test_suite.py::test_pass"]
    assert passed["verdict"] == "pass" and passed["failures"] == []
    assert [b["kind"] for b in passed["budgets"]] == ["latency", "tokens"]
    call = passed["calls"][0]
    assert call["model"] == "llama-3.1-8b-instant" and call["ok"]
    assert call["e2e_ms"] > 0 and call["completion_tokens"] > 0 and call["server_ms"] > 0
    over = tests["test_suite.py::test_over"]
    assert over["verdict"] == "FAIL" and len(over["failures"]) == 2
    assert over["calls"][0]["abandoned"] and over["calls"][1]["reasoning_tokens"] > 0
    assert not list((pytester.path / "out").glob("*.tmp")), "written atomically, no temp file left"


def test_json_report_from_ini_and_bad_values(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_report_json = from-ini.json\n")
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("-p", "no:cacheprovider")
    assert (pytester.path / "from-ini.json").exists()
    (pytester.path / "adir").mkdir()
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-report-json", "adir")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-report-json: *adir is a directory; give a file path*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--llm-base-url", "api.groq.com"],
            "*--llm-base-url: expected 'emulator' or an http(s) URL*got 'api.groq.com'*",
        ),
        (["--llm-base-url", "ftp://x"], "*--llm-base-url: expected 'emulator'*"),
    ],
)
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_base_url_from_env_needs_a_key(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    pytester.makepyfile("def test_it(groq_client):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*GROQ_API_KEY is not set: it is needed for live calls to http://127.0.0.1:9*"])


def test_live_target_and_connection_refused(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live base URL is used as given; a server that is down fails the test with the cause."""
    monkeypatch.setenv("GROQ_API_KEY", "gsk_canary_live_target")
    pytester.makepyfile("""
import groq, pytest

@pytest.mark.max_latency(ms=1000)
def test_it(groq_client, groq_base_url):
    assert groq_base_url == "http://127.0.0.1:9"
    with pytest.raises(groq.APIConnectionError):
        groq_client.with_options(max_retries=0).chat.completions.create(
            model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}])
""")
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-base-url", "http://127.0.0.1:9/")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no LLM call succeeded; call 1 of 1 (llama-3.1-8b-instant) failed: ConnectError*"])


def test_junit_properties(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("-p", "no:cacheprovider", "--junitxml", "junit.xml")
    root = ET.parse(pytester.path / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["test_pass"].iter("property")}
    assert props["llm_calls"] == "1"
    assert props["llm_models"] == "llama-3.1-8b-instant"
    assert float(props["llm_e2e_p50_ms"]) > 0
    assert props["llm_budgets"] == "max_latency(ms=5000); max_tokens(completion=500)"
    assert props["llm_budget_failures"] == "0"
    over = {p.get("name"): p.get("value") for p in cases["test_over"].iter("property")}
    assert over["llm_budget_failures"] == "2"
    assert not list(cases["test_unmeasured"].iter("property"))


def test_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-n", "2", "--llm-report-json", "r.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= LLM latency =*",
            "2 test(s), 3 LLM call(s), 1 over budget*",
            "note: tests ran in parallel (pytest-xdist); concurrent calls contend for the LLM server*",
        ]
    )
    doc = json.loads(Path(pytester.path / "r.json").read_text())
    assert {t["nodeid"] for t in doc["tests"]} == {"test_suite.py::test_pass", "test_suite.py::test_over"}


@pytest.mark.subprocess  # a KeyboardInterrupt in an inner run: a real process's Ctrl-C
def test_interrupted_run_keeps_the_old_report(pytester: pytest.Pytester) -> None:
    report = pytester.path / "r.json"
    report.write_text('{"old": true}\n')
    pytester.makepyfile("""
import pytest

@pytest.mark.max_latency(ms=5000)
def test_it(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}])
    raise KeyboardInterrupt
""")
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-report-json", str(report))
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert report.read_text() == '{"old": true}\n'
