"""Cassettes never lose data or leak keys, in the corners a review found."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pytest_llmlatency.emulator import GroqEmulator

from ..helpers import cassette_interactions

DEAD = "http://127.0.0.1:9"


def test_openai_sdk_gzip_bodies_record_and_replay(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openai")
    pytester.makepyfile(
        test_oa="""
import os, openai, pytest

@pytest.mark.max_tokens(completion=500)
def test_openai(groq_base_url, llm_calls):
    client = openai.OpenAI(base_url=groq_base_url + "/openai/v1", api_key="sk-test-openai-key-1234")
    resp = client.chat.completions.create(model="llama-3.1-8b-instant",
                                          messages=[{"role": "user", "content": "Describe queues in 40 words."}])
    client.close()
    assert resp.usage.completion_tokens > 0
    assert llm_calls.last.usage["completion_tokens"] == resp.usage.completion_tokens
    assert llm_calls.last.capture_error is None
"""
    )
    monkeypatch.setenv("GROQ_API_KEY", "gsk_x")
    with GroqEmulator(time_scale=10) as emu:
        url = emu.base_url
        result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={url}", "--llm-record-mode=once")
        result.assert_outcomes(passed=1)
    (interaction,) = cassette_interactions(pytester.path / "cassettes" / "test_oa" / "test_openai.yaml")
    assert '"object":"chat.completion"' in interaction["response"]["body"]["string"].replace(" ", "")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={url}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["cassettes: 1 call(s) replayed*"])


SHARED = """
import httpx, pytest

@pytest.mark.vcr
@pytest.mark.max_latency(ms=10000)
def test_shared(groq_client, groq_base_url):
    groq_client.models.list()   # non-LLM traffic, recorded by vcrpy (with the key header!)
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", max_completion_tokens=CAP,
                                        messages=[{"role": "user", "content": "in one word: hi"}])
    FAIL
"""


def _shared(pytester: pytest.Pytester, cap: int, fail: str = "pass") -> None:
    pytester.makepyfile(test_shared=SHARED.replace("CAP", str(cap)).replace("FAIL", fail))


@pytest.fixture
def shared_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    pytest.importorskip("pytest_recording")
    monkeypatch.setenv("GROQ_API_KEY", "gsk_CANARY-shared-KEY-0123456789-abcd")
    emu = GroqEmulator(time_scale=10).start()
    yield emu.base_url, pytester.path / "cassettes" / "test_shared" / "test_shared.yaml"  # type: ignore[misc]
    emu.stop()


def test_shared_cassette_keeps_failed_runs_out_and_no_key(
    pytester: pytest.Pytester, shared_env: tuple[str, Path]
) -> None:
    url, path = shared_env
    run = ["-p", "no:cacheprovider", f"--llm-base-url={url}"]
    _shared(pytester, 20)
    pytester.runpytest(*run, "--record-mode=once", "--llm-record-mode=once").assert_outcomes(passed=1)
    text = path.read_text()
    assert "CANARY" not in text, "vcrpy's own recordings get our key filter too"
    assert "authorization" not in text.lower()
    before = path.read_bytes()
    # a failing run with a new request: nothing of ours is added
    _shared(pytester, 30, fail="assert False")
    pytester.runpytest(*run, "--record-mode=new_episodes", "--llm-record-mode=new_episodes").assert_outcomes(failed=1)
    llm = [i for i in cassette_interactions(path) if i["request"]["uri"].endswith("/completions")]
    assert len(llm) == 1, "the failed run's recording was not merged"
    # interrupted: nothing of ours either (in a process of its own: a real process's Ctrl-C)
    _shared(pytester, 30, fail="raise KeyboardInterrupt")
    pytester.runpytest_subprocess(*run, "--record-mode=new_episodes", "--llm-record-mode=new_episodes")
    assert len([i for i in cassette_interactions(path) if i["request"]["uri"].endswith("/completions")]) == 1
    del before


def test_shared_cassette_modes_do_not_pile_up(pytester: pytest.Pytester, shared_env: tuple[str, Path]) -> None:
    url, path = shared_env
    run = ["-p", "no:cacheprovider", f"--llm-base-url={url}"]
    _shared(pytester, 20)
    pytester.runpytest(*run, "--record-mode=once", "--llm-record-mode=once").assert_outcomes(passed=1)
    for mode in ("all", "all", "rewrite"):
        pytester.runpytest(*run, "--record-mode=none", f"--llm-record-mode={mode}").assert_outcomes(passed=1)
        llm = [i for i in cassette_interactions(path) if i["request"]["uri"].endswith("/completions")]
        assert len(llm) == 1, mode
    # drop_unused_requests on vcrpy's side keeps what we replayed
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef vcr_config():\n    return {'drop_unused_requests': True}\n"
    )
    pytester.runpytest(*run, "--record-mode=none").assert_outcomes(passed=1)
    pytester.runpytest(*run, "--record-mode=none").assert_outcomes(passed=1)
    uris = sorted(i["request"]["uri"].rsplit("/", 1)[-1] for i in cassette_interactions(path))
    assert uris == ["completions", "models"]


def test_live_rerecording_replaces_instead_of_piling_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_live="""
import pytest

@pytest.mark.max_latency(ms=10000)
def test_it(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant",
                                        messages=[{"role": "user", "content": "in one word: hi"}])
"""
    )
    path = pytester.path / "cassettes" / "test_live" / "test_it.yaml"
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once").assert_outcomes(passed=1)
    first = cassette_interactions(path)[0]["response"]["llmlatency"]["e2e_ms"]
    for _ in range(2):
        pytester.runpytest("-p", "no:cacheprovider", "--llm-live", "--llm-record-mode=new_episodes").assert_outcomes(
            passed=1
        )
    (only,) = cassette_interactions(path)
    assert only["response"]["llmlatency"]["e2e_ms"] != first, "the re-measurement replaced the old one"


def test_keys_in_bodies_headers_and_urls_never_reach_output(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-CANARYbodyKEY0123456789abcdef"
    header_key = "CANARYheaderKEY0123456789abcdef"
    pytester.makepyfile(
        test_keys=f"""
import os, httpx, pytest

@pytest.mark.max_latency(ms=10000)
def test_it(groq_base_url, llm_calls):
    with httpx.Client() as client:
        resp = client.post(groq_base_url + "/openai/v1/chat/completions?key={header_key}",
                           headers={{"x-api-key": "{header_key}", "authorization": "Bearer gsk_x_long_enough"}},
                           json={{"model": "llama-3.1-8b-instant", "user": "{key}" if os.environ.get("ONE") else "{key}x",
                                 "messages": [{{"role": "user", "content": "in one word: hi"}}]}})
        assert resp.status_code == 200
"""
    )
    monkeypatch.setenv("ONE", "1")
    monkeypatch.setenv("OPENAI_API_KEY", key)
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once", "--llm-report-json=r.json").assert_outcomes(
        passed=1
    )
    monkeypatch.delenv("ONE")
    # the request changed: the mismatch message shows the diff, without the key
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llm-report-json=r2.json", "--junitxml=j.xml", "--llm-predict=off"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*request changed since recording: user '<REDACTED>' -> '<REDACTED>x'*"])
    out = result.stdout.str()
    assert "CANARY" not in out
    for path in pytester.path.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".json", ".xml"):
            assert "CANARY" not in path.read_text(), path


def test_long_test_ids_get_short_cassette_names(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_long="""
import pytest

@pytest.mark.parametrize("text", ["x" * 300], ids=["y" * 300])
@pytest.mark.max_latency(ms=10000)
def test_it(groq_client, text):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant",
                                        messages=[{"role": "user", "content": "in one word: " + text}])
"""
    )
    for _ in range(2):
        pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once").assert_outcomes(passed=1)
    (path,) = (pytester.path / "cassettes" / "test_long").iterdir()
    assert len(path.name) <= 255 and "..." in path.name


def test_abandoned_stream_while_recording_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_ab="""
import pytest

@pytest.mark.max_ttft(ms=10000)
def test_it(groq_client):
    stream = groq_client.chat.completions.create(model="llama-3.1-8b-instant", stream=True,
                                                 messages=[{"role": "user", "content": "Describe queues."}])
    next(iter(stream)); next(iter(stream))
    stream.close()
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*a call to llama-3.1-8b-instant was not recorded: the client abandoned the stream*"])


def test_rewrite_refuses_a_broken_cassette_and_writes_keep_permissions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_rw="""
import pytest

@pytest.mark.max_latency(ms=10000)
def test_it(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant",
                                        messages=[{"role": "user", "content": "in one word: hi"}])
"""
    )
    path = pytester.path / "cassettes" / "test_rw" / "test_it.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("interactions: [\n  - broken: yes: no\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=rewrite")
    result.assert_outcomes(errors=1)
    assert path.read_text() == "interactions: [\n  - broken: yes: no\n"
    path.unlink()
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once").assert_outcomes(passed=1)
    path.chmod(0o640)
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=rewrite").assert_outcomes(passed=1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
