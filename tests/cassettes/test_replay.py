"""Record against the emulator, replay without it: same answer, same chunks, same timings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import ANYIO_CONFTEST, REAL_CASSETTES, cassette_interactions

DEAD = "http://127.0.0.1:9"  # nothing listens here: a replay that went live would fail

APP = """
import json, os, time, groq, pytest

MSG = [{"role": "user", "content": "Classify 'refund please'. Reply in JSON."}]
CAP = int(os.environ.get("CAP", "50"))

def out(name, text):
    with open(os.environ.get("OUT", "out") + "-" + name, "a") as f:
        f.write(json.dumps(text) + "\\n")

@pytest.mark.max_latency(ms=5000)
@pytest.mark.max_tokens(completion=1000)
def test_stream(groq_client, llm_calls):
    stream = groq_client.chat.completions.create(
        model="openai/gpt-oss-20b", messages=MSG, max_completion_tokens=CAP, reasoning_effort="low",
        stop=["}"], stream=True)
    out("stream", "|".join(c.choices[0].delta.content or c.choices[0].delta.reasoning or ""
                           for c in stream if c.choices))

def test_plain(groq_client, llm_calls):
    t0 = time.perf_counter()
    resp = groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "Describe queues in 120 words."}])
    out("plain", resp.choices[0].message.content)
    out("elapsed", time.perf_counter() - t0)
"""


def _calls(report: Path) -> dict[str, list[dict[str, Any]]]:
    doc = json.loads(report.read_text())
    return {t["nodeid"]: t["calls"] for t in doc["tests"]}


def _cassette(pytester: pytest.Pytester, test: str, module: str = "test_app") -> Path:
    return pytester.path / "cassettes" / module / f"{test}.yaml"


@pytest.fixture
def app(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(test_app=APP)
    monkeypatch.setenv("OUT", str(pytester.path / "out"))
    monkeypatch.delenv("CI", raising=False)
    return pytester


def _record(app: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = app.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once", "--llm-report-json=rec.json", *args)
    result.assert_outcomes(passed=2)
    return result


def _replay(app: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    """Replay with nothing listening; a changed request fails as a mismatch (no prediction: see
    test_advisor.py for --llm-predict)."""
    monkeypatch.setenv("GROQ_API_KEY", "gsk_replay_needs_no_real_key")
    return app.runpytest(
        "-p", "no:cacheprovider", f"--llm-base-url={DEAD}", "--llm-report-json=rep.json", "--llm-predict=off", *args
    )


def test_record_then_replay_without_a_server(app: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _record(app).stdout.fnmatch_lines(["cassettes: 0 call(s) replayed, 2 recorded, 2 cassette(s) written"])
    assert _cassette(app, "test_stream").is_file() and _cassette(app, "test_plain").is_file()
    result = _replay(app, monkeypatch)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["cassettes: 2 call(s) replayed, 0 recorded, 0 cassette(s) written"])
    recorded, replayed = _calls(app.path / "rec.json"), _calls(app.path / "rep.json")
    for nodeid in ("test_app.py::test_stream", "test_app.py::test_plain"):
        (live,), (again,) = recorded[nodeid], replayed[nodeid]
        assert not live["replayed"] and again["replayed"]
        # stored to the microsecond, at the server's pace: what the recording client added by
        # reading late (a loaded machine) is not stored (docs/recording.md)
        client_ttft, client_end = live["client_ttft_ms"] or 0.0, live["client_stall_ms"] or 0.0
        assert again["client_ttft_ms"] is None and again["client_stall_ms"] is None
        assert again["ttfb_ms"] == pytest.approx(live["ttfb_ms"], abs=0.002)
        assert again["ttft_ms"] == pytest.approx(live["ttft_ms"] - client_ttft, abs=0.002)
        assert again["e2e_ms"] == pytest.approx(live["e2e_ms"] - client_end, abs=0.002)
        if not live["client_late_events"]:
            assert again["tpot_ms"] == pytest.approx(live["tpot_ms"], abs=0.002)
            assert again["itl_ms"] == pytest.approx(live["itl_ms"], abs=0.002)
        assert len(again["itl_ms"]) == len(live["itl_ms"])
        for key in (
            "prompt_tokens",
            "completion_tokens",
            "reasoning_tokens",
            "queue_ms",
            "server_ms",
            "finish_reason",
            "request_id",
        ):
            assert again[key] == live[key], key
    # the caller got the same chunks, in the same order
    for name in ("stream", "plain"):
        first, second = (app.path / f"out-{name}").read_text().splitlines()
        assert first == second
    # and the cassette holds exactly those timings
    meta = cassette_interactions(_cassette(app, "test_stream"))[0]["response"]["llmlatency"]
    (again,) = replayed["test_app.py::test_stream"]
    assert again["e2e_ms"] == pytest.approx(meta["e2e_ms"], abs=1e-6)
    assert again["ttfb_ms"] == pytest.approx(meta["ttfb_ms"], abs=1e-6)


def test_cassette_is_readable_vcrpy_yaml(app: pytest.Pytester) -> None:
    _record(app)
    text = _cassette(app, "test_plain").read_text()
    data = yaml.safe_load(text)
    assert data["version"] == 1
    (interaction,) = data["interactions"]
    assert interaction["request"]["method"] == "POST"
    assert interaction["request"]["uri"].endswith("/openai/v1/chat/completions")
    body = interaction["response"]["body"]["string"]
    assert isinstance(body, str) and json.loads(body)["object"] == "chat.completion", "stored decoded, not gzip"
    headers = {k.lower() for k in interaction["response"]["headers"]}
    assert "content-encoding" not in headers and "x-request-id" in headers
    # vcrpy itself loads it
    from vcr.cassette import Cassette

    cassette = Cassette.load(path=str(_cassette(app, "test_plain")))
    assert len(cassette) == 1


def test_changed_parameter_fails_at_once_with_the_diff(app: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _record(app)
    monkeypatch.setenv("CAP", "1024")
    result = _replay(app, monkeypatch, "-k", "stream")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*the cassette *test_stream.yaml holds no recording of this request; request changed since recording: "
            "max_completion_tokens 50 -> 1024 (closest: interaction 1 of 1). Re-record with: pytest "
            "--llm-record-mode=rewrite test_app.py::test_stream (needs GROQ_API_KEY*",
        ]
    )
    text = result.stdout.str()
    assert "APIConnectionError" not in text and "Retrying" not in text


def test_missing_cassette_versus_missing_request(app: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _replay(app, monkeypatch, "--llm-record-mode=none")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*no cassette for this test: *test_stream.yaml does not exist, and record mode 'none' does not record. "
            "Record it with: pytest --llm-record-mode=once test_app.py::test_stream*",
        ]
    )
    _record(app)
    monkeypatch.setenv("CAP", "60")
    result = _replay(app, monkeypatch, "--llm-record-mode=none", "-k", "stream")
    result.stdout.fnmatch_lines(["*holds no recording of this request; request changed since recording*"])


def test_secrets_never_reach_a_file(app: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    env_key = "gsk_CANARY-env-KEY-0123456789-abcdefghij"
    explicit = "gsk_CANARY-explicit-KEY-0123456789-abcdef"
    monkeypatch.setenv("GROQ_API_KEY", env_key)
    app.makepyfile(
        test_explicit=f"""
import groq, pytest

@pytest.mark.max_latency(ms=5000)
def test_explicit_key(groq_base_url, llm_calls):
    with groq.Groq(base_url=groq_base_url, api_key="{explicit}") as client:
        client.chat.completions.create(model="llama-3.1-8b-instant",
                                       messages=[{{"role": "user", "content": "in one word: hi"}}])
"""
    )
    result = app.runpytest(
        "-p", "no:cacheprovider", "--llm-record-mode=once", "--llm-report-json=r.json", "--junitxml=junit.xml"
    )
    result.assert_outcomes(passed=3)
    # every file the plugin or pytest wrote (not the test sources)
    written = [p for p in app.path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".json", ".xml")]
    assert any(p.suffix == ".yaml" for p in written)
    for path in written:
        text = path.read_text(errors="replace")
        assert "CANARY" not in text, f"a key leaked into {path}"
        assert "x-stainless" not in text.lower() or path.suffix != ".yaml", f"x-stainless headers in {path}"
    assert "CANARY" not in result.stdout.str() + result.stderr.str()
    request = cassette_interactions(_cassette(app, "test_explicit_key", "test_explicit"))[0]["request"]
    headers = {k.lower() for k in request["headers"]}
    assert "authorization" not in headers and "cookie" not in headers


def test_record_modes_behave_like_pytest_recording(app: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    run = ["-p", "no:cacheprovider", "-k", "stream", "--llm-predict=off"]
    path = _cassette(app, "test_stream")

    def interactions() -> int:
        return len(cassette_interactions(path))

    # once: records a missing cassette, then only replays (a new request is an error)
    app.runpytest(*run, "--llm-record-mode=once").assert_outcomes(passed=1)
    assert interactions() == 1
    before = path.read_bytes()
    app.runpytest(*run, "--llm-record-mode=once").assert_outcomes(passed=1)
    assert path.read_bytes() == before, "replaying leaves the file byte-identical"
    monkeypatch.setenv("CAP", "70")
    app.runpytest(*run, "--llm-record-mode=once").assert_outcomes(failed=1)
    # new_episodes: replays what matches, records the rest
    app.runpytest(*run, "--llm-record-mode=new_episodes").assert_outcomes(passed=1)
    assert interactions() == 2
    # all: records every request again; a re-recorded one replaces its old recording
    app.runpytest(*run, "--llm-record-mode=all").assert_outcomes(passed=1)
    assert interactions() == 2
    # rewrite: a fresh cassette with only this run's requests
    app.runpytest(*run, "--llm-record-mode=rewrite").assert_outcomes(passed=1)
    assert interactions() == 1
    # none: replays only
    monkeypatch.setenv("CAP", "50")
    app.runpytest(*run, "--llm-record-mode=none").assert_outcomes(failed=1)


def test_rewrite_of_a_failing_test_leaves_the_cassette_alone(app: pytest.Pytester) -> None:
    _record(app)
    path = _cassette(app, "test_plain")
    before = path.read_bytes()
    app.makepyfile(test_app=APP.replace('out("elapsed"', 'raise RuntimeError("boom"); out("elapsed"'))
    result = app.runpytest("-p", "no:cacheprovider", "--llm-record-mode=rewrite", "-k", "plain")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cassettes/test_app/test_plain.yaml: not written: the test did not complete*"])
    assert path.read_bytes() == before


def test_default_mode_replays_and_never_records_implicitly_in_ci(
    app: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # against the emulator, a missing cassette means a live call and no recording
    app.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert not (app.path / "cassettes").exists()
    # against a real server outside CI, live calls are recorded; with CI set they are not
    from pytest_llmlatency.emulator import GroqEmulator

    with GroqEmulator(time_scale=10) as emu:
        monkeypatch.setenv("GROQ_API_KEY", "gsk_local_developer_key")
        monkeypatch.setenv("CI", "true")
        app.runpytest("-p", "no:cacheprovider", f"--llm-base-url={emu.base_url}").assert_outcomes(passed=2)
        assert not (app.path / "cassettes").exists()
        monkeypatch.delenv("CI")
        app.runpytest("-p", "no:cacheprovider", f"--llm-base-url={emu.base_url}").assert_outcomes(passed=2)
    assert _cassette(app, "test_plain").is_file()
    # --llm-live calls the server although the cassette exists (here: nothing listens)
    result = app.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}", "--llm-live", "-k", "plain")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*APIConnectionError*"])


def test_paced_replay_takes_the_recorded_time(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # a call recorded with a 1.5 s first byte: long enough that a loaded machine's own
    # overhead (hundreds of ms at worst) cannot blur virtual time and paced time
    pytester.makepyfile(
        test_slow="""
import json, os, time

def test_slow(groq_client, llm_calls):
    t0 = time.perf_counter()
    groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "in one word: hi"}],
        extra_headers={"x-emulator-fault": "slow_first_byte;seconds=1.5"})
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps([time.perf_counter() - t0, llm_calls.last.e2e_ms]) + "\\n")
"""
    )
    monkeypatch.setenv("OUT", str(pytester.path / "out"))
    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("GROQ_API_KEY", "gsk_replay_needs_no_real_key")
    for pace in ([], ["--llm-replay-pace=1"]):
        pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}", *pace).assert_outcomes(passed=1)
    (_, recorded_ms), (instant, instant_ms), (paced, paced_ms) = (
        json.loads(line) for line in (pytester.path / "out").read_text().splitlines()
    )
    assert recorded_ms > 1500 and instant_ms == paced_ms == pytest.approx(recorded_ms, abs=1e-3)
    assert instant < recorded_ms / 1000 / 2, "virtual time: replay does not wait"
    assert paced >= recorded_ms / 1000 * 0.98, "paced replay sleeps the recorded gaps"


def test_bad_pace_and_mode_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    for args, message in (
        (["--llm-replay-pace=0"], "*--llm-replay-pace: expected a positive number, got '0'*"),
        (
            ["--llm-record-mode=sometimes"],
            "*--llm-record-mode: expected one of none, once, new_episodes, all, rewrite, got 'sometimes'*",
        ),
    ):
        result = pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([message])


def test_repeated_identical_requests_replay_in_recorded_order(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_rep="""
import os, pytest

@pytest.mark.llm_repeat(n=4)
@pytest.mark.max_latency(ms=5000, percentile=95)
def test_repeated(groq_client, llm_calls):
    resp = groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "in one word: hi"}])
    with open(os.environ["OUT"], "a") as f:
        f.write(resp.x_groq.id + "\\n")
"""
    )
    monkeypatch.setenv("OUT", str(pytester.path / "ids-rec"))
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once").assert_outcomes(passed=1)
    assert len(cassette_interactions(pytester.path / "cassettes" / "test_rep" / "test_repeated.yaml")) == 4
    monkeypatch.setenv("OUT", str(pytester.path / "ids-rep"))
    monkeypatch.setenv("GROQ_API_KEY", "gsk_x")
    pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}").assert_outcomes(passed=1)
    recorded = (pytester.path / "ids-rec").read_text().split()
    assert len(set(recorded)) == 4
    assert (pytester.path / "ids-rep").read_text().split() == recorded
    # a fifth identical call finds no unplayed recording, and says so
    pytester.makepyfile(test_rep=(pytester.path / "test_rep.py").read_text().replace("n=4", "n=5"))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}")
    result.stdout.fnmatch_lines(["*has 4 recording(s) of it and the test made more identical calls*"])


def _real_manifest() -> list[dict[str, Any]]:
    return [m for m in json.loads((REAL_CASSETTES / "manifest.json").read_text()) if m["vcrpy_loadable"]]


def test_real_groq_cassettes_replay_with_their_usage(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cassette recorded against api.groq.com by other projects replays, and token and
    server-time budgets judge the usage their bodies hold."""
    tests = []
    for n, entry in enumerate(_real_manifest()):
        name = f"test_real_{n}"
        target = pytester.path / "cassettes" / "test_real" / f"{name}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL_CASSETTES / entry["file"], target)
        target.chmod(0o644)
        interactions = entry["interactions"]
        request = interactions[0]["request"]
        usages = [i["usage"] for i in interactions]
        tokens = max(u["completion_tokens"] for u in usages)
        total_ms = max(u["total_time"] for u in usages) * 1000 + 1
        tests.append(f"""
@pytest.mark.max_tokens(completion={tokens})
@pytest.mark.max_server_time(total_ms={total_ms})
def {name}(groq_client, llm_calls):
    for _ in range({len(interactions)}):
        out = groq_client.chat.completions.create(**{request!r})
        if {request.get("stream", False)!r}:
            for _chunk in out:
                pass
    assert [c.usage for c in llm_calls] == {usages!r}
    assert all(c.replayed and not c.client_timing for c in llm_calls)
    assert [c.finish_reason for c in llm_calls] == {[i["finish_reason"] for i in interactions]!r}
""")
    pytester.makepyfile(test_real="import pytest\n" + "\n".join(tests))
    monkeypatch.setenv("GROQ_API_KEY", "gsk_x")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}")
    result.assert_outcomes(passed=len(tests))


def test_foreign_cassette_has_no_client_timing(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = next(m for m in _real_manifest() if m["file"].endswith("test_groq_quickstart.yaml"))
    target = pytester.path / "cassettes" / "test_foreign" / "test_it.yaml"
    target.parent.mkdir(parents=True)
    shutil.copy(REAL_CASSETTES / entry["file"], target)
    pytester.makepyfile(
        test_foreign=f"""
import pytest

@pytest.mark.max_latency(ms=5000)
def test_it(groq_client):
    groq_client.chat.completions.create(**{entry["interactions"][0]["request"]!r})
"""
    )
    monkeypatch.setenv("GROQ_API_KEY", "gsk_x")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*max_latency(ms=5000): call 1 of 1 (llama3-8b-8192) has no e2e timing (replayed from a cassette recorded "
            "without pytest-llmlatency: it holds no client timing; re-record it with --llm-record-mode=rewrite, or "
            "judge Groq's own timing with metric='server')*",
        ]
    )


def test_malformed_cassette_is_a_clear_error_and_left_untouched(
    app: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _cassette(app, "test_plain")
    path.parent.mkdir(parents=True)
    path.write_text("interactions: [\n  - this is: not: valid yaml\n")
    before = path.read_bytes()
    for mode in ("none", "new_episodes", "all"):
        result = app.runpytest("-p", "no:cacheprovider", "-k", "plain", f"--llm-record-mode={mode}")
        result.assert_outcomes(errors=1, deselected=1)
        result.stdout.fnmatch_lines(
            [
                "*test_app.py::test_plain: cassette *test_plain.yaml is not a valid vcrpy "
                "cassette (*); it was left untouched*"
            ]
        )
        assert path.read_bytes() == before


def test_a_live_run_that_records_nothing_leaves_the_cassette_unread(app: pytest.Pytester) -> None:
    # --llm-live without a record mode that writes neither replays the cassette nor writes
    # it: the file is not read at all (here a broken one, which any read would report)
    path = _cassette(app, "test_plain")
    path.parent.mkdir(parents=True)
    path.write_text("interactions: [\n  - this is: not: valid yaml\n")
    before = path.read_bytes()
    app.runpytest("-p", "no:cacheprovider", "--llm-live", "-k", "plain").assert_outcomes(passed=1, deselected=1)
    assert path.read_bytes() == before
    # a live run that records into it reads it first, and refuses it
    result = app.runpytest("-p", "no:cacheprovider", "--llm-live", "--llm-record-mode=all", "-k", "plain")
    result.assert_outcomes(errors=1, deselected=1)
    result.stdout.fnmatch_lines(["*test_plain.yaml is not a valid vcrpy cassette (*); it was left untouched*"])
    assert path.read_bytes() == before


def test_a_run_that_neither_replays_nor_records_leaves_vcrpy_alone(pytester: pytest.Pytester) -> None:
    # measured live against the emulator with no cassette, and re-measured with --llm-live
    # over one: nothing to replay or record, so vcrpy is not even imported (a fresh process)
    pytester.makepyfile(
        test_live="""
import sys

def test_live(groq_client, llm_calls):
    groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "in one word: hi"}])
    assert llm_calls.last.completed
    assert "vcr" not in sys.modules
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not (pytester.path / "cassettes").exists()
    cassette = pytester.path / "cassettes" / "test_live" / "test_live.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions: []\nversion: 1\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-live").assert_outcomes(passed=1)
    # replaying it reads it (and imports vcrpy): its empty list answers nothing
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*holds no recording of this request*"])


def test_coexists_with_pytest_recording(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pytest_recording")
    from pytest_llmlatency.emulator import GroqEmulator

    pytester.makepyfile(
        test_mixed="""
import httpx, pytest

@pytest.mark.vcr
@pytest.mark.max_latency(ms=5000)
def test_both(groq_client, groq_base_url):
    with httpx.Client() as client:   # non-LLM traffic: pytest-recording's
        assert client.get(groq_base_url + "/openai/v1/models",
                          headers={"authorization": "Bearer gsk_x"}).status_code == 200
    groq_client.chat.completions.create(    # LLM traffic: ours, with timing
        model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "in one word: hi"}])

@pytest.mark.vcr
def test_vcr_only(groq_base_url):
    with httpx.Client() as client:
        assert client.get(groq_base_url + "/openai/v1/models",
                          headers={"authorization": "Bearer gsk_x"}).status_code == 200
"""
    )
    monkeypatch.setenv("GROQ_API_KEY", "gsk_x")
    with GroqEmulator(time_scale=10) as emu:
        url = emu.base_url
        pytester.runpytest(
            "-p", "no:cacheprovider", f"--llm-base-url={url}", "--record-mode=once", "--llm-record-mode=once"
        ).assert_outcomes(passed=2)
    interactions = cassette_interactions(pytester.path / "cassettes" / "test_mixed" / "test_both.yaml")
    uris = [i["request"]["uri"].rsplit("/", 1)[-1] for i in interactions]
    assert sorted(uris) == ["completions", "models"]
    llm = next(i for i in interactions if i["request"]["uri"].endswith("completions"))
    assert "llmlatency" in llm["response"]
    # both replay with the server gone: vcrpy answers the GET, we answer the LLM call
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={url}", "--record-mode=none")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["cassettes: 1 call(s) replayed*"])


def test_async_record_and_replay(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(ANYIO_CONFTEST)
    pytester.makepyfile(
        test_async="""
import json, os, pytest

MSG = [{"role": "user", "content": "Describe queues in 40 words."}]

@pytest.mark.anyio
@pytest.mark.max_latency(ms=5000)
async def test_both(async_groq_client, llm_calls):
    resp = await async_groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
    stream = await async_groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=MSG, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == resp.choices[0].message.content
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps([[c.replayed, c.e2e_ms, c.ttft_ms, c.itl_ms, c.client_stall_ms or 0, c.client_ttft_ms or 0,
                             c.client_late_events] for c in llm_calls]) + "\\n")
"""
    )
    monkeypatch.setenv("OUT", str(pytester.path / "out"))
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("GROQ_API_KEY", "gsk_x")
    pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}").assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}", "--llm-replay-pace=0.5").assert_outcomes(
        passed=1
    )
    live, replayed, paced = (json.loads(line) for line in (pytester.path / "out").read_text().splitlines())
    assert [c[0] for c in live] == [False, False]
    assert [c[0] for c in replayed] == [c[0] for c in paced] == [True, True]
    for a, b in zip(live, replayed, strict=True):
        # the recorded timings, at the server's pace (what the live client added is not stored)
        assert b[1] == pytest.approx(a[1] - a[4], abs=0.002) and b[2] == pytest.approx(a[2] - a[5], abs=0.002)
        assert b[4] == b[5] == 0
        if not a[6]:
            assert b[3] == pytest.approx(a[3], abs=0.002)
    assert paced == replayed, "pacing changes the wall time, never the recorded timings"
