"""The incremental SSE parser: any split of the bytes gives the same events."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmlatency.core.sse import SSEEvent, SSEParser, encode_event

from ..helpers import REAL_CASSETTES, cassette_interactions


def _parse(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


def test_basic_and_done() -> None:
    body = encode_event({"a": 1}) + encode_event("[DONE]")
    events = _parse([body])
    assert [e.data for e in events] == ['{"a":1}', "[DONE]"]
    assert events[0].json() == {"a": 1} and events[1].is_done


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_line_endings(newline: bytes) -> None:
    body = newline.join([b"event: x", b"data: one", b"data: two", b": comment", b"", b"data:three", b"", b""])
    events = _parse([body])
    assert events == [SSEEvent("one\ntwo", "x"), SSEEvent("three")]


def test_unterminated_last_event_is_flushed() -> None:
    assert _parse([b"data: tail"]) == [SSEEvent("tail")]


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    body = b"".join(encode_event({"i": i, "s": "x" * i}) for i in range(12)) + b"data: a\r\n\r\ndata: b\r\n\r\n"
    chunks, pos = [], 0
    for cut in cuts:
        chunks.append(body[pos : pos + cut])
        pos += cut
    chunks.append(body[pos:])
    assert _parse(chunks) == _parse([body])


def test_real_groq_streams_parse_to_the_manifest_counts() -> None:
    """Every real Groq stream (plain chat, a tool call, a compound answer, a stream Groq ends
    with tool_use_failed) parses, fed in odd-sized pieces, to the events the manifest counts."""
    manifest = {m["file"]: m for m in json.loads((REAL_CASSETTES / "manifest.json").read_text())}
    checked = 0
    for name, entry in manifest.items():
        recorded = cassette_interactions(REAL_CASSETTES / name)
        for interaction, expected in zip(recorded, entry["interactions"], strict=False):
            if not expected.get("streaming"):
                continue
            body = interaction["response"]["body"]["string"].encode()
            events = _parse([body[i : i + 97] for i in range(0, len(body), 97)])
            assert len(events) == expected["n_sse_events"]
            assert events[-1].is_done == expected.get("sse_done", True)
            chunks = [e.json() for e in events if not e.is_done]
            deltas = [c["choices"][0]["delta"] for c in chunks if c.get("choices")]
            assert len("".join(d.get("content") or "" for d in deltas)) == expected["content_len"]
            if expected.get("reasoning_len") is not None:
                assert len("".join(d.get("reasoning") or "" for d in deltas)) == expected["reasoning_len"]
            errors = [c["error"] for c in chunks if "error" in c]
            assert errors == ([expected["error"]] if "error" in expected else [])
            if (expected.get("usage_source") or "").startswith("x_groq.usage"):
                assert [c["x_groq"]["usage"] for c in chunks if "usage" in c.get("x_groq", {})][-1] == expected["usage"]
            checked += 1
    assert checked == 3 + 4  # 3 plain chat streams; pydantic-ai's compound stream and its 3 tool-call streams
