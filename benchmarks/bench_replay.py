"""Replay throughput: a suite of 200 recorded LLM calls, replayed by pytest-llmlatency
and by plain pytest-recording (vcrpy), from the same cassettes.

Records once against the emulator (x1000 speed), then times whole pytest runs:
  - baseline: the same 200 tests without any LLM call (pytest's own cost),
  - pytest-llmlatency replay (virtual time, timings kept),
  - pytest-recording replay (``-p no:llmlatency``, vcr marker, match on method+uri+body),
  - pytest-llmlatency replay with ``-p no:cacheprovider`` (the advisor then reads every
    cassette of the tree again at the end of the run; with pytest's cache it reads only
    the cassettes that changed).
"Plugin time" is a run's wall time minus the baseline's: the SDK, httpx and the
replay machinery for 200 calls. Median of N runs, interleaved, with the range.

    python benchmarks/bench_replay.py [--runs 5]

``--old TREE`` adds another tree's pytest-llmlatency (a folder holding its
``pytest_llmlatency`` package, put first on ``PYTHONPATH``) to the same interleaved runs,
so the two trees and pytest-recording are compared under the same load; the order of
the modes alternates run by run (this host slows under sustained load).

    python benchmarks/bench_replay.py --runs 6 --old /tmp/oldtree
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = """
import os, groq, pytest

LLM = os.environ.get("BENCH_LLM") == "1"
VCR = os.environ.get("BENCH_VCR") == "1"
pytestmark = [pytest.mark.vcr] if VCR else [pytest.mark.max_tokens(completion=1000)] if LLM else []

@pytest.fixture
def vcr_config():
    return {"match_on": ["method", "uri", "body"]}

CLIENT = groq.Groq(base_url=os.environ["BENCH_URL"], api_key="gsk_bench")

@pytest.mark.parametrize("i", range(200))
def test_call(i):
    if not LLM:
        return
    stream = CLIENT.chat.completions.create(
        model="llama-3.1-8b-instant", stream=True,
        messages=[{"role": "user", "content": f"Question {i}: describe queues in 60 words."}])
    for _ in stream:
        pass
"""


def run(folder: Path, env: dict[str, str], *args: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *args, str(folder)],
        env={**os.environ, **env},
        cwd=folder,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"pytest failed ({args}, {env}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old", help="another tree's pytest_llmlatency to replay with, interleaved")
    args = parser.parse_args()
    from pytest_llmlatency.emulator import GroqEmulator

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_bench.py").write_text(SUITE)
        with GroqEmulator(time_scale=1000, jitter=0, queue_ms=0) as emu:
            url = emu.base_url
            run(folder, {"BENCH_LLM": "1", "BENCH_URL": url}, "--llm-record-mode=once", "-p", "no:cacheprovider")
        # the emulator is gone now: a replay that went live would fail
        env = {"BENCH_URL": url, "GROQ_API_KEY": "gsk_bench"}
        modes = {
            "baseline (no LLM calls)": (env, ["--llm-no-summary"]),
            "pytest-llmlatency replay": ({**env, "BENCH_LLM": "1"}, ["--llm-no-summary"]),
            "pytest-recording replay": (
                {**env, "BENCH_LLM": "1", "BENCH_VCR": "1"},
                ["-p", "no:llmlatency", "--record-mode=none"],
            ),
            "pytest-llmlatency, no cacheprovider": (
                {**env, "BENCH_LLM": "1"},
                ["--llm-no-summary", "-p", "no:cacheprovider"],
            ),
        }
        if args.old:
            old = str(Path(args.old).resolve())
            modes["pytest-llmlatency replay, --old tree"] = (
                {**env, "BENCH_LLM": "1", "PYTHONPATH": old},
                ["--llm-no-summary"],
            )
        for mode_env, mode_args in modes.values():  # warm pytest's cache, as any earlier run would
            run(folder, mode_env, *mode_args)
        times: dict[str, list[float]] = {name: [] for name in modes}
        for i in range(args.runs):  # interleaved: a busy spell hits every mode alike
            for name in list(modes) if i % 2 == 0 else list(modes)[::-1]:
                mode_env, mode_args = modes[name]
                times[name].append(run(folder, mode_env, *mode_args))
        results = {name: statistics.median(values) for name, values in times.items()}
        plugin = in_process(folder)
    base = results["baseline (no LLM calls)"]
    print(f"200 streamed calls (~80 tokens each), median of {args.runs} pytest runs (min-max)")
    for name, seconds in results.items():
        extra = "" if name.startswith("baseline") else f"   over baseline {seconds - base:.2f} s"
        print(f"{name:<36} {seconds:6.2f} s ({min(times[name]):.2f}-{max(times[name]):.2f}){extra}")
    ours = results["pytest-llmlatency replay"] - base
    theirs = results["pytest-recording replay"] - base
    print(f"ratio over baseline (pytest-llmlatency / pytest-recording): {ours / theirs:.2f}")
    if args.old:
        older = results["pytest-llmlatency replay, --old tree"] - base
        print(f"ratio over baseline (--old tree / pytest-recording): {older / theirs:.2f}")
    print("in-process, 200 calls: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in plugin.items()))


def in_process(folder: Path) -> dict[str, float]:
    """Plugin time alone: loading the 200 cassettes, and replaying through the interceptor
    minus the same SDK calls answered by an httpx.MockTransport with the same bytes."""
    import groq
    import httpx

    from pytest_llmlatency.cassettes import Tape
    from pytest_llmlatency.intercept import Interceptor, Recorder

    try:  # parsed cold, as the first test to use each cassette does
        from pytest_llmlatency.cassettefile import clear_cache

        clear_cache()
    except ImportError:  # an older pytest-llmlatency
        pass
    paths = sorted((folder / "cassettes" / "test_bench").glob("*.yaml"), key=lambda p: int(p.stem[10:-1]))
    t0 = time.perf_counter()
    tapes = [Tape(p, nodeid=p.stem) for p in paths]
    load = time.perf_counter() - t0
    bodies = [t.cassette.data[0][1]["body"]["string"] for t in tapes]
    requests = [t.cassette.data[0][0] for t in tapes]

    def sdk_calls(client: groq.Groq, before: object = None) -> float:
        t = time.perf_counter()
        for i, request in enumerate(requests):
            if before is not None:
                before(i)  # type: ignore[operator]
            body = __import__("json").loads(request.body)
            for _ in client.chat.completions.create(**body):
                pass
        return time.perf_counter() - t

    recorder = Recorder()
    with (
        groq.Groq(base_url="http://127.0.0.1:9", api_key="gsk_bench", max_retries=0) as client,
        Interceptor(recorder),
    ):
        replay = sdk_calls(client, lambda i: setattr(recorder, "tape", tapes[i]))
    assert all(c.replayed for c in recorder.calls) and len(recorder.calls) == 200

    state = {"i": 0}

    def mock(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=bodies[state["i"]])

    transport = httpx.MockTransport(mock)
    with groq.Groq(
        base_url="http://127.0.0.1:9",
        api_key="gsk_bench",
        max_retries=0,
        http_client=httpx.Client(transport=transport),
    ) as client:
        floor = sdk_calls(client, lambda i: state.__setitem__("i", i))
    return {
        "cassette loading": load,
        "replay through the SDK": replay,
        "same SDK calls on a mock": floor,
        "plugin time (loading + replay - mock)": load + replay - floor,
    }


if __name__ == "__main__":
    main()
