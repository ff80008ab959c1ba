"""The capture's own cost per chunk, in process: the same recorded chunks (a ~400-token
gpt-oss-20b stream from the emulator, and a non-streamed answer as sent, gzip) fed to a
``Capture`` as the tee does (two clock readings and one append per chunk, the times of a
live stream read as it came), then settled: parsed and split (docs/metrics.md, "Where the
time went"). No HTTP and no SDK: this is the plugin's share of reading a body, the figure
issue 13 targets (<= 2 us per chunk).

``--old PATH`` compares with another tree's plugin (for example a checkout of an earlier
commit: ``git archive c313772 pytest_llmlatency | tar -x -C /tmp/old``), alternating
rounds, after checking that both read the same token times, content, usage and end.

    python benchmarks/bench_capture.py [--rounds 7] [--old /tmp/old]
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from pytest_llmlatency.emulator import GroqEmulator

BODY = {
    "model": "openai/gpt-oss-20b",
    "messages": [{"role": "user", "content": "Describe queues in about 200 words."}],
    "stream": True,
}


HEADERS_NS, WAIT_NS, GAP_NS = 20_000_000, 800_000, 200_000
"""The stream the capture is fed: headers at 20 ms, then each read waits 0.8 ms for its chunk
and the client takes 0.2 ms before asking for the next (about 1,000 chunks/s, Groq's pace)."""


def _bodies() -> tuple[tuple[Any, list[bytes]], tuple[Any, list[bytes]]]:
    with GroqEmulator(time_scale=1000, jitter=0, queue_ms=0) as emu, httpx.Client() as client:
        url, auth = emu.base_url + "/openai/v1/chat/completions", {"authorization": "Bearer gsk_bench"}
        with client.stream("POST", url, json=BODY, headers=auth) as response:
            # one event per read, as the server writes them and a client reading as they come
            # gets them (the reads of a loaded loopback sometimes cut one in two)
            body = b"".join(response.iter_raw())
            stream = (response.headers, [event + b"\n\n" for event in body.split(b"\n\n")[:-1]])
        with client.stream("POST", url, json={**BODY, "stream": False}, headers=auth) as response:
            plain = (response.headers, list(response.iter_raw()))  # as sent: gzip, as Groq does
        return stream, plain


def _tree(path: str | None) -> tuple[ModuleType, ModuleType, ModuleType] | None:
    if path is None:
        return None
    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(Path(path) / "pytest_llmlatency", tmp / "pytest_llmlatency_old")
    sys.path.insert(0, str(tmp))
    names = ("calls", "capture", "endpoints")
    mods = [importlib.import_module(f"pytest_llmlatency_old.{n}") for n in names]
    return mods[0], mods[1], mods[2]


def _once(mods: tuple[ModuleType, ModuleType, ModuleType], headers: Any, chunks: list[bytes], streamed: bool) -> Any:
    calls, capture, endpoints = mods
    call = calls.LLMCall(model="m", params={}, messages=[], url="u", streamed=streamed)
    attempt = calls.Attempt(start_ns=0)
    call.attempts.append(attempt)
    cap = capture.Capture(call, attempt, httpx, endpoints.CHAT)
    cap.response(200, headers, at=HEADERS_NS)
    clock = time.perf_counter_ns
    if hasattr(cap, "log"):
        # what the tee does per chunk (intercept.py): two clock readings and three appends;
        # the times stored are a live stream's, a read waiting ~0.8 ms for each chunk
        log = cap.log.append
        asked = HEADERS_NS
        for chunk in chunks:
            clock()
            log(asked)
            log(asked + WAIT_NS)
            log(chunk)
            clock()
            asked += WAIT_NS + GAP_NS
        cap.eof(asked + WAIT_NS, asked)
        cap.settle()  # what reading the calls does: parse, split
    elif hasattr(cap, "stamps"):  # the two lists of 42f5b14
        stamp, keep = cap.stamps.append, cap.chunks.append
        asked = HEADERS_NS
        for chunk in chunks:
            clock()
            stamp(asked)
            stamp(asked + WAIT_NS)
            keep(chunk)
            clock()
            asked += WAIT_NS + GAP_NS
        cap.eof(asked + WAIT_NS, asked)
        cap.settle()
    elif hasattr(cap, "reads"):  # a tree whose tee kept a tuple per read (874ed1a)
        append = cap.reads.append
        asked = HEADERS_NS
        for chunk in chunks:
            clock()
            append((asked, asked + WAIT_NS, chunk))
            clock()
            asked += WAIT_NS + GAP_NS
        cap.eof(asked + WAIT_NS, asked)
        cap.settle()  # what reading the calls does: parse, split
    else:  # a tree from before the tee kept reads (c313772): it parsed each chunk as fed
        t = HEADERS_NS + WAIT_NS
        for chunk in chunks:
            cap.feed(chunk, at=t)
            t += WAIT_NS + GAP_NS
        cap.eof(at=t)
    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--old", help="another tree whose pytest_llmlatency to compare with")
    args = parser.parse_args()
    import pytest_llmlatency.capture.attempt
    import pytest_llmlatency.core.calls
    import pytest_llmlatency.core.endpoints

    new = (pytest_llmlatency.core.calls, pytest_llmlatency.capture.attempt, pytest_llmlatency.core.endpoints)
    old = _tree(args.old)
    trees = {"this tree": new, **({"old tree": old} if old else {})}
    stream, plain = _bodies()
    if old is not None:
        a, b = _once(old, *stream, True), _once(new, *stream, True)
        same = (a.token_times_ns, a.content, a.usage, a.end_ns) == (b.token_times_ns, b.content, b.usage, b.end_ns)
        print(f"old and new read the same token times, content, usage and end: {same}")
    print(f"{len(stream[1])} chunks per stream; min over {args.rounds} rounds of {args.calls} calls")
    body = b"".join(stream[1])
    cut = (stream[0], [body[i : i + 1000] for i in range(0, len(body), 1000)])
    runs = (("stream", stream, True), ("stream, 1 KB reads", cut, True), ("non-stream", plain, False))
    for label, (headers, chunks), streamed in runs:
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, mods in trees.items():
                t0 = time.perf_counter()
                for _ in range(args.calls):
                    _once(mods, headers, chunks, streamed)
                us = (time.perf_counter() - t0) / args.calls * 1e6
                best[name] = min(best.get(name, us), us)
        for name, us in best.items():
            per = len(stream[1]) if streamed else 1
            print(f"{label:<19} {name:<10} {us:8.0f} us per call  {us / per:6.2f} us per event")


if __name__ == "__main__":
    main()
