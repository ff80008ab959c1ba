"""The compact timing format (version 2), old cassettes (version 1), the parse cache and the
match keys: recorded against the emulator, replayed with it gone, timings to the microsecond."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import groq
import httpx
import pytest
import yaml

from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.capture.replay import call_from_recording
from pytest_llmlatency.cassettes import fileformat as cassettefile
from pytest_llmlatency.cassettes.fileformat import match_key, normalized_body, read_cassette
from pytest_llmlatency.cassettes.tape import Tape, llm_request
from pytest_llmlatency.core.calls import LLMCall
from pytest_llmlatency.emulator import GroqEmulator

from ..helpers import REAL_CASSETTES, cassette_interactions

DEAD = "http://127.0.0.1:9"  # nothing listens here: a replay that went live would fail
MESSAGES: Any = [{"role": "user", "content": "Describe queues in 30 words."}]


def _calls(tape: Tape, base_url: str, *, stream: bool = True, times: int = 1) -> list[LLMCall]:
    recorder = Recorder(tape=tape)
    with groq.Groq(base_url=base_url, api_key="gsk_test_key_123", max_retries=0) as client, Interceptor(recorder):
        for _ in range(times):
            if stream:
                for _ in client.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES, stream=True):
                    pass
            else:
                client.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES)
    return recorder.calls


def _metrics(call: LLMCall) -> dict[str, Any]:
    return {
        "ttfb": call.ttfb_ms,
        "ttft": call.ttft_ms,
        "e2e": call.e2e_ms,
        "itl": call.itl_ms,
        "tokens": call.completion_tokens,
    }


def _same_to_the_microsecond(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], list):
            assert b[key] == pytest.approx(a[key], abs=1e-3), key
        else:
            assert b[key] == pytest.approx(a[key], abs=1e-3), key


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[LLMCall]]:
    """A cassette with a streamed and a plain call, recorded live from the emulator."""
    path = tmp_path_factory.mktemp("rec") / "cassettes" / "test_m" / "test_x.yaml"
    with GroqEmulator(jitter=0, queue_ms=2, time_scale=50) as emu:
        tape = Tape(path, nodeid="test_m.py::test_x", mode="once")
        live = _calls(tape, emu.base_url) + _calls(tape, emu.base_url, stream=False)
        assert tape.commit()
    return path, live


def test_written_in_version_2_with_one_line_per_list(recorded: tuple[Path, list[LLMCall]]) -> None:
    path, live = recorded
    text = path.read_text()
    data = yaml.safe_load(text)
    streamed = data["interactions"][0]["response"]["llmlatency"]
    assert streamed["version"] == 2 and "chunks" not in streamed
    assert len(streamed["offsets_ms"]) == len(streamed["sizes"]) > 10
    assert streamed["offsets_ms"] == sorted(streamed["offsets_ms"])
    body = data["interactions"][0]["response"]["body"]["string"]
    assert sum(streamed["sizes"]) == len(body.encode())
    assert "offsets_ms: [" in text and "sizes: [" in text  # flow style: not a line per number
    assert "\n      - - " not in text  # no [offset, size] pair per chunk any more
    assert live[0].completed and live[1].completed


def _replays(path: Path) -> list[LLMCall]:
    return _calls(Tape(path, nodeid="t", mode="none"), DEAD) + _calls(
        Tape(path, nodeid="t", mode="none"), DEAD, stream=False
    )


def test_replay_equals_the_recording_to_the_microsecond(recorded: tuple[Path, list[LLMCall]]) -> None:
    path, _ = recorded
    replayed = _replays(path)
    assert all(c.replayed and c.client_timing for c in replayed)
    metas = [i["response"]["llmlatency"] for i in cassette_interactions(path)]
    for meta, call in zip(metas, replayed, strict=True):
        assert call.e2e_ms == pytest.approx(meta["e2e_ms"], abs=1e-6)
        assert call.ttfb_ms == pytest.approx(meta["ttfb_ms"], abs=1e-6)
    # TTFT and ITL: at the recorded offsets of the chunks that carried the tokens
    assert replayed[0].ttft_ms is not None and round(replayed[0].ttft_ms, 3) in metas[0]["offsets_ms"]
    assert {round(replayed[0].ttft_ms + sum(replayed[0].itl_ms[:k]), 3) for k in range(3)} <= set(
        metas[0]["offsets_ms"]
    )
    # the advisor's offline reading of the same recordings agrees
    loaded = read_cassette(path)
    assert loaded is not None
    for (request, response), call in zip(loaded.interactions, replayed, strict=True):
        _same_to_the_microsecond(_metrics(call), _metrics(call_from_recording(request, response)))


def _as_version_1(path: Path, target: Path) -> None:
    data = yaml.safe_load(path.read_text())
    for interaction in data["interactions"]:
        meta = interaction["response"]["llmlatency"]
        meta["chunks"] = [[o, s] for o, s in zip(meta.pop("offsets_ms"), meta.pop("sizes"), strict=True)]
        meta["version"] = 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data))


def test_version_1_cassettes_replay_the_same_and_migrate_only_when_written(
    recorded: tuple[Path, list[LLMCall]], tmp_path: Path
) -> None:
    path, _ = recorded
    current = _replays(path)
    old = tmp_path / "cassettes" / "test_m" / "test_old.yaml"
    _as_version_1(path, old)
    before = old.read_bytes()
    replayed = _replays(old)
    for a, b in zip(current, replayed, strict=True):
        _same_to_the_microsecond(_metrics(a), _metrics(b))
    assert old.read_bytes() == before, "a replay never rewrites a cassette"
    # written anyway (a new recording added): every interaction in it is version 2 now
    with GroqEmulator(jitter=0, queue_ms=2, time_scale=50) as emu:
        tape = Tape(old, nodeid="t", mode="new_episodes")
        calls = _calls(tape, emu.base_url, times=2)
        assert [c.replayed for c in calls] == [True, False]
        assert tape.commit()
    metas = [i["response"]["llmlatency"] for i in cassette_interactions(old)]
    assert [m["version"] for m in metas] == [2, 2, 2]
    assert metas[0]["offsets_ms"] == [
        c[0] for c in yaml.safe_load(before)["interactions"][0]["response"]["llmlatency"]["chunks"]
    ]
    again = _calls(Tape(old, nodeid="t", mode="none"), DEAD)
    _same_to_the_microsecond(_metrics(current[0]), _metrics(again[0]))


def test_plain_vcrpy_replays_a_cassette_we_wrote(recorded: tuple[Path, list[LLMCall]], tmp_path: Path) -> None:
    import vcr

    path, _ = recorded
    interaction = cassette_interactions(path)[0]
    request = interaction["request"]
    expected = interaction["response"]["body"]["string"].encode()
    with (
        vcr.VCR(record_mode="none", match_on=["method", "uri", "body"]).use_cassette(str(path)),
        httpx.Client() as client,
    ):
        response = client.post(request["uri"], content=request["body"].encode())
    assert response.status_code == 200
    assert response.content == expected


def test_the_parse_cache_serves_an_unchanged_file_and_rereads_a_changed_one(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "m" / "t.yaml"
    path.parent.mkdir(parents=True)
    shutil.copy(REAL_CASSETTES / "wandb__weave" / "test_groq_quickstart.yaml", path)
    cassettefile.clear_cache()
    first = read_cassette(path)
    assert first is not None and read_cassette(path) is first
    # rewritten as our files are (a new file renamed over the old one): parsed again
    text = path.read_text()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    second = read_cassette(path)
    assert second is not None and second is not first
    assert [k for k in second.keys] == [k for k in first.keys]
    assert read_cassette(tmp_path / "missing.yaml") is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"model": "m", "temperature": 1}, {"temperature": 1.0, "model": "m"}),
        ({"model": "m", "stream": True}, {"model": "m", "stream": 1}),
        ({"model": "m", "n": 1}, {"model": "m", "n": 2}),
        ({"model": "m", "x": [1, {"a": 2.5}]}, {"model": "m", "x": [1, {"a": 2.5}]}),
        ({"model": "m", "x": [1, {"a": 2.5}]}, {"model": "m", "x": [{"a": 2.5}, 1]}),
        ({"model": "m", "s": "1"}, {"model": "m", "s": 1}),
        ({"model": "m"}, {"model": "m", "extra": None}),
    ],
)
def test_match_keys_agree_with_the_matcher(a: dict[str, Any], b: dict[str, Any]) -> None:
    import json

    from vcr.request import Request

    uri = "https://api.groq.com/openai/v1/chat/completions"
    r1 = Request("POST", uri, json.dumps(a).encode(), {})
    r2 = Request("POST", "http://127.0.0.1:1/openai/v1/chat/completions", json.dumps(b, indent=1).encode(), {})
    try:
        llm_request(r1, r2)
        matches = True
    except AssertionError:
        matches = False
    k1 = match_key("POST", uri, normalized_body(r1.body))
    k2 = match_key("POST", str(r2.uri), normalized_body(r2.body))
    assert (k1 == k2) == matches
    assert match_key("GET", uri, a) != k1
    assert match_key("POST", "https://api.groq.com/openai/v1/models", a) is None


def test_timing_versions_read_alike_and_malformed_timing_is_ignored() -> None:
    from pytest_llmlatency.capture.timing import read_timing, timing_meta, upgrade_timing

    v2 = timing_meta(1_500_000, 9_000_001, [(1_500_000, 10), (4_250_400, 5)])
    v1 = {"version": 1, "ttfb_ms": 1.5, "e2e_ms": 9.0, "chunks": [[1.5, 10], [4.25, 5]], "client_stall_ms": 2.0}
    a, b = read_timing({"llmlatency": v2}), read_timing({"llmlatency": v1})
    assert a is not None and b is not None
    assert (a.ttfb_ns, a.end_ns, a.offsets_ns, a.sizes) == (1_500_000, 9_000_000, [1_500_000, 4_250_000], [10, 5])
    assert (b.ttfb_ns, b.end_ns, b.offsets_ns, b.sizes) == (a.ttfb_ns, a.end_ns, [1_500_000, 4_250_000], a.sizes)
    upgraded = upgrade_timing(v1)
    assert upgraded["version"] == 2 and upgraded["client_stall_ms"] == 2.0 and "chunks" not in upgraded
    for bad in (
        {**v2, "sizes": [10]},
        {**v2, "offsets_ms": "1 2"},
        {**v2, "version": 3},
        {**v1, "chunks": [[1.5, "10"]]},
        {**v2, "sizes": [True, 5]},
    ):
        assert read_timing({"llmlatency": bad}) is None, bad
