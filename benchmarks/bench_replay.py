"""Replay throughput: a suite of 200 recorded LLM calls, replayed by pytest-llmlatency
and by plain pytest-recording (vcrpy), from the same cassettes.

Records once against the emulator (x1000 speed), then times whole pytest runs:
  - baseline: the same 200 tests without any LLM call (pytest's own cost), with
    pytest-llmlatency loaded;
  - baseline, ``-p no:llmlatency``: the same, with the plugin set pytest-recording's runs
    use (each tool's replay is compared with the run that differs from it only by the
    calls: without it, pytest-recording would be credited with our plugin's import and
    hooks, which its runs skip and the shared baseline pays);
  - pytest-llmlatency replay (virtual time, timings kept),
  - pytest-recording replay (``-p no:llmlatency``, vcr marker, match on method+uri+body),
  - pytest-llmlatency replay with ``-p no:cacheprovider`` (the advisor then reads every
    cassette of the tree again at the end of the run; with pytest's cache it reads only
    the cassettes that changed).
"Plugin time" is a run's wall time minus its baseline's: the SDK, httpx and the replay
machinery for 200 calls. The runs are interleaved, the order of the modes alternating
run by run (this host slows under sustained load); the ratio is given between the
medians, and as the median of each run's own ratio with a 95 % interval.

Python writes bytecode in these runs, as it does in a user's CI. This sandbox sets
``PYTHONDONTWRITEBYTECODE=1``: where no bytecode was written before, every pytest run
compiles and assertion-rewrites every plugin's modules again (pytest rewrites the modules
of entry-point plugins), and the runs without pytest-llmlatency skip that for its modules,
which the shared baseline paid (the earlier method's bias against it).

    python benchmarks/bench_replay.py [--runs 5]

``--old TREE`` adds another tree's pytest-llmlatency (a folder holding its
``pytest_llmlatency`` package, put first on ``PYTHONPATH``) to the same interleaved runs,
so the two trees and pytest-recording are compared under the same load.

    python benchmarks/bench_replay.py --runs 6 --old /tmp/oldtree

``--valgrind`` counts the CPU instructions of one run of each mode instead
(``valgrind --tool=cachegrind``; about 3 minutes for ``--tests 100``): a figure the host's
load does not move, for comparing trees and finding causes.

    python benchmarks/bench_replay.py --valgrind --tests 100
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
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

@pytest.mark.parametrize("i", range(int(os.environ.get("BENCH_TESTS", "200"))))
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
    environ = {**os.environ, **env}
    environ.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode written, as in a user's CI
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args, str(folder)],
        env=environ,
        cwd=folder,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"pytest failed ({args}, {env}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def instructions(folder: Path, env: dict[str, str], *args: str) -> int:
    """CPU instructions of one pytest run, counted by valgrind."""
    from bench_overhead import instructions as counted

    environ = {**os.environ, **env}
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    return counted([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args, str(folder)], environ, folder)


BASE, BASE_OFF = "baseline (no LLM calls)", "baseline, -p no:llmlatency"
OURS, THEIRS, NO_CACHE, OLD = (
    "pytest-llmlatency replay",
    "pytest-recording replay",
    "pytest-llmlatency, no cacheprovider",
    "pytest-llmlatency replay, --old tree",
)
BASELINE_OF = {OURS: BASE, NO_CACHE: BASE, OLD: BASE, THEIRS: BASE_OFF}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tests", type=int, default=200, help="recorded calls in the suite")
    parser.add_argument("--old", help="another tree's pytest_llmlatency to replay with, interleaved")
    parser.add_argument("--valgrind", action="store_true", help="count CPU instructions, one run per mode")
    args = parser.parse_args()
    from pytest_llmlatency.emulator import GroqEmulator

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_bench.py").write_text(SUITE)
        tests = {"BENCH_TESTS": str(args.tests)}
        with GroqEmulator(time_scale=1000, jitter=0, queue_ms=0) as emu:
            url = emu.base_url
            record = {**tests, "BENCH_LLM": "1", "BENCH_URL": url}
            run(folder, record, "--llm-record-mode=once", "-p", "no:cacheprovider")
        # the emulator is gone now: a replay that went live would fail
        env = {**tests, "BENCH_URL": url, "GROQ_API_KEY": "gsk_bench"}
        modes = {
            BASE: (env, ["--llm-no-summary"]),
            BASE_OFF: (env, ["-p", "no:llmlatency"]),
            OURS: ({**env, "BENCH_LLM": "1"}, ["--llm-no-summary"]),
            THEIRS: ({**env, "BENCH_LLM": "1", "BENCH_VCR": "1"}, ["-p", "no:llmlatency", "--record-mode=none"]),
            NO_CACHE: ({**env, "BENCH_LLM": "1"}, ["--llm-no-summary", "-p", "no:cacheprovider"]),
        }
        if args.old:
            old = str(Path(args.old).resolve())
            modes[OLD] = ({**env, "BENCH_LLM": "1", "PYTHONPATH": old}, ["--llm-no-summary"])
        for mode_env, mode_args in modes.values():  # warm pytest's cache and the bytecode
            run(folder, mode_env, *mode_args)
        if args.valgrind:
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # single-threaded runs
                count = functools.partial(instructions, folder)
                futures = {name: pool.submit(count, e, *a) for name, (e, a) in modes.items()}
                counts = {name: future.result() for name, future in futures.items()}
            report_instructions(counts, args.tests)
            return
        times: dict[str, list[float]] = {name: [] for name in modes}
        for i in range(args.runs):  # interleaved: a busy spell hits every mode alike
            for name in list(modes) if i % 2 == 0 else list(modes)[::-1]:
                mode_env, mode_args = modes[name]
                times[name].append(run(folder, mode_env, *mode_args))
        plugin = in_process(folder)
    report(times, args.runs, args.tests)
    print(f"in-process, {args.tests} calls: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in plugin.items()))


def over(times: dict[str, list[float]], name: str, baseline: str | None = None) -> list[float]:
    """Each run's time over its baseline's run of the same round."""
    return [t - b for t, b in zip(times[name], times[baseline or BASELINE_OF[name]], strict=True)]


def report(times: dict[str, list[float]], runs: int, tests: int) -> None:
    from bench_overhead import median_ci

    results = {name: statistics.median(values) for name, values in times.items()}
    print(f"{tests} streamed calls (~80 tokens each), median of {runs} pytest runs (min-max)")
    for name, seconds in results.items():
        extra = ""
        if name in BASELINE_OF:
            base = BASELINE_OF[name]
            extra = f"   over {'its' if base == BASE_OFF else 'the'} baseline {seconds - results[base]:.2f} s"
        print(f"{name:<36} {seconds:6.2f} s ({min(times[name]):.2f}-{max(times[name]):.2f}){extra}")
    theirs = over(times, THEIRS)
    for name in (OURS, OLD):
        if name not in times:
            continue
        ours = over(times, name)
        ratio = statistics.median(ours) / statistics.median(theirs)
        med, low, high = median_ci([a / b for a, b in zip(ours, theirs, strict=True)])
        label = "pytest-llmlatency" if name == OURS else "--old tree"
        print(
            f"ratio over each baseline ({label} / pytest-recording): {ratio:.3f} between the medians;"
            f" each run's own: median {med:.3f} (95 % interval {low:.3f}-{high:.3f})"
        )
    shared = statistics.median(over(times, OURS)) / statistics.median(over(times, THEIRS, BASE))
    print(f"(the earlier method, both over the baseline with pytest-llmlatency loaded: {shared:.3f})")


def report_instructions(counts: dict[str, int], tests: int) -> None:
    print(f"{tests} streamed calls, CPU instructions of one pytest run per mode (valgrind)")
    for name, count in counts.items():
        extra = ""
        if name in BASELINE_OF:
            extra = f"   over its baseline {(count - counts[BASELINE_OF[name]]) / 1e6:,.0f} M"
        print(f"{name:<36} {count / 1e6:10,.0f} M{extra}")
    theirs = counts[THEIRS] - counts[BASE_OFF]
    for name in (OURS, OLD):
        if name in counts:
            print(f"ratio ({name} / pytest-recording): {(counts[name] - counts[BASE]) / theirs:.3f}")
    shared = (counts[OURS] - counts[BASE]) / (counts[THEIRS] - counts[BASE])
    print(f"(the earlier method, both over the baseline with pytest-llmlatency loaded: {shared:.3f})")


def in_process(folder: Path) -> dict[str, float]:
    """Plugin time alone: loading the suite's cassettes, and replaying through the interceptor
    minus the same SDK calls answered by an httpx.MockTransport with the same bytes."""
    import groq
    import httpx

    from pytest_llmlatency.capture.intercept import Interceptor, Recorder
    from pytest_llmlatency.cassettes.tape import Tape

    try:  # parsed cold, as the first test to use each cassette does
        from pytest_llmlatency.cassettes.fileformat import clear_cache

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
    assert all(c.replayed for c in recorder.calls) and len(recorder.calls) == len(paths)

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
