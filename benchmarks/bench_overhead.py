"""Plugin overhead: the same LLM calls to the emulator with and without measurement.

The emulator runs 1000x faster than Groq so that the client-side cost dominates:
what remains is HTTP on loopback, the groq SDK, and (with measurement) our tee and
SSE parser. Reports the median time per call and the ratio.

    python benchmarks/bench_overhead.py [--calls 200] [--rounds 5]

``--canned`` finds causes instead: the SDK's calls go to a transport that answers at once
with the emulator's recorded bytes (gzip for JSON, as Groq sends them), so the only
difference between the two modes is the plugin's own work per call, without the
network's noise; it also times the work the plugin leaves for when the calls are read.
Besides the medians it gives the median of each round's difference, wall and CPU time.

    python benchmarks/bench_overhead.py --canned [--calls 2000] [--rounds 9] [--no-streams]

``--canned --valgrind`` counts instead of timing: the CPU instructions of two processes that
make the same ``--calls`` non-streamed calls on that transport, one with the plugin and one
without (``valgrind --tool=cachegrind``, ``PYTHONHASHSEED=0``; about a minute for 300 calls),
divided by the calls. A figure the host's load does not move: for comparing trees and
finding causes (``--old TREE`` counts another tree's plugin as well).

    python benchmarks/bench_overhead.py --canned --valgrind [--calls 300] [--old TREE]

``--pytest`` measures as a user would instead: whole pytest runs of a test that times
its own calls (40 streamed, ``--user-calls`` non-streamed), with the plugin
(``--llm-live --llm-record-mode=none``, so every call is measured live and none recorded)
and without it (``-p no:llmlatency``), alternating, against the same emulator; the figure
is each run's own median time per call, and the median of each round's difference (plugin
on minus its off run; the order alternates).

    python benchmarks/bench_overhead.py --pytest [--rounds 5] [--user-calls 40]

``--within`` times streams as a user would with less of the host's noise: one pytest run
of ``--pairs`` pairs of tests, one measured (``llm_calls``) and one not, the order
alternating pair by pair, each test timing 8 streams; ``--rounds`` such runs. Both tests
of a pair run a second apart on the same process and connection, so the host's speed,
which changes between whole runs, cancels; the plugin is loaded in both (its idle cost is
``bench_startup.py``'s).

    python benchmarks/bench_overhead.py --within [--rounds 3] [--pairs 30]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import groq

from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.cassettes.tape import Tape
from pytest_llmlatency.emulator import GroqEmulator

MSG = [{"role": "user", "content": "Describe queues in about 200 words."}]


def run(client: groq.Groq, calls: int, stream: bool) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        out = client.chat.completions.create(model="openai/gpt-oss-20b", messages=MSG, stream=stream)  # type: ignore[call-overload,arg-type,unused-ignore]
        if stream:
            for _chunk in out:
                pass
    return (time.perf_counter() - t0) / max(calls, 1) * 1000


USER_TEST = """
import json, os, statistics, time, groq

MSG = [{"role": "user", "content": "Describe queues in about 200 words."}]

def test_calls(request):
    # with the plugin, the test uses llm_calls (conftest.py asks for it at setup: what switches
    # measurement on, as in a measured test); without it there is no such fixture
    on = request.config.pluginmanager.has_plugin("llmlatency")
    calls = request.getfixturevalue("llm_calls") if on else None
    client = groq.Groq(base_url=os.environ["GROQ_BASE_URL"], api_key="gsk_bench", max_retries=0)
    out = {}
    for stream in (True, False):
        times, cpu = [], []
        for _ in range(5 + int(os.environ["BENCH_CALLS" if not stream else "BENCH_STREAMS"])):
            t0, c0 = time.perf_counter(), time.process_time()
            resp = client.chat.completions.create(model="openai/gpt-oss-20b", messages=MSG, stream=stream)
            if stream:
                for _chunk in resp:
                    pass
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        name = "stream" if stream else "non-stream"
        out[name] = statistics.median(times[5:]) * 1000
        # the test process's own CPU per call: the emulator runs in another process, so its
        # latency (and the host's scheduling of it) is not in this figure; the plugin's is
        out[name + " CPU"] = statistics.median(cpu[5:]) * 1000
    # proof that the plugin-on run measured every call live (none replayed, none missed)
    out["measured"] = sum(1 for c in calls if not c.replayed and c.ok and c.e2e_ms) if calls is not None else 0
    with open(os.environ["BENCH_OUT"], "w") as f:
        json.dump(out, f)
"""


USER_CONFTEST = """
import pytest

@pytest.fixture(autouse=True)
def _measured(request):
    if request.config.pluginmanager.has_plugin("llmlatency"):
        request.getfixturevalue("llm_calls")
"""


def median_ci(values: list[float]) -> tuple[float, float, float]:
    """The median and a distribution-free 95% confidence interval for it (order statistics:
    the binomial tails below 2.5% each); the whole range when there are too few values."""
    xs = sorted(values)
    n = len(xs)
    k, tail = 0, 0.0
    while True:
        tail += math.comb(n, k) / 2**n
        if tail > 0.025:
            break
        k += 1
    low, high = (xs[k - 1], xs[n - k]) if k > 0 else (xs[0], xs[-1])
    return statistics.median(xs), low, high


def as_user(rounds: int, calls: int) -> None:
    """Whole pytest runs, plugin on (--llm-live) and off, alternating, same emulator."""
    with GroqEmulator(time_scale=1000, jitter=0, queue_ms=0) as emu, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "test_bench.py").write_text(USER_TEST)
        Path(tmp, "conftest.py").write_text(USER_CONFTEST)
        out = str(Path(tmp, "out.json"))
        env = {**os.environ, "GROQ_BASE_URL": emu.base_url, "PYTEST_ADDOPTS": "", "BENCH_OUT": out}
        env.update(BENCH_CALLS=str(calls), BENCH_STREAMS="40")
        expected = calls + 40 + 10
        runs: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
        # no recording: the emulator's URL is not the plugin's own, so outside CI the first
        # run would record a cassette (a run that records is not a plain live run)
        modes = [("off", ["-p", "no:llmlatency"]), ("on", ["--llm-live", "--llm-record-mode=none"])]
        for round_ in range(rounds):
            # off-on, then on-off: a run's place in the pair (the machine warming up or not)
            # would otherwise count as the plugin's cost
            for mode, flags in modes if round_ % 2 == 0 else modes[::-1]:
                cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *flags]
                subprocess.run([*cmd, "test_bench.py"], cwd=tmp, env=env, check=True, capture_output=True)
                result = json.loads(Path(tmp, "out.json").read_text())
                assert result["measured"] == (expected if mode == "on" else 0), result  # no hidden effect
                assert not Path(tmp, "cassettes").exists(), "a plugin-on run recorded a cassette"
                runs[mode].append(result)
        print(f"{rounds} rounds, whole pytest runs timing {calls} non-streamed and 40 streamed calls each,")
        print(f"emulator x1000 in this process; plugin on: all {expected} calls per run measured live (checked)")
        for name in ("stream", "non-stream", "non-stream CPU"):
            print(f"{name} ms/call per run, off: " + " ".join(f"{r[name]:.2f}" for r in runs["off"]))
            print(f"{name} ms/call per run, on:  " + " ".join(f"{r[name]:.2f}" for r in runs["on"]))
        header = f"{'off ms/call':>12} {'on ms/call':>12} {'ratio':>7} {'added us/call':>14}"
        print(f"{'mode':<15} {header}  {'paired us (95% CI)':>26}  {'paired ratio (95% CI)':>24}")
        for name in ("stream", "non-stream", "stream CPU", "non-stream CPU"):
            off = statistics.median(r[name] for r in runs["off"])
            on = statistics.median(r[name] for r in runs["on"])
            # each round's on run against its off run (the one before or after it)
            added = median_ci([(b[name] - a[name]) * 1000 for a, b in zip(runs["off"], runs["on"], strict=True)])
            ratio = median_ci([b[name] / a[name] for a, b in zip(runs["off"], runs["on"], strict=True)])
            print(
                f"{name:<15} {off:>12.3f} {on:>12.3f} {on / off:>7.3f} {(on - off) * 1000:>14.1f}"
                f"  {added[0]:>8.1f} ({added[1]:.1f}..{added[2]:.1f})"
                f"  {ratio[0]:>7.4f} ({ratio[1]:.4f}..{ratio[2]:.4f})"
            )


WITHIN_TEST = """
import json, os, statistics, time, groq, pytest

MSG = [{"role": "user", "content": "Describe queues in about 200 words."}]
CLIENT = groq.Groq(base_url=os.environ["GROQ_BASE_URL"], api_key="gsk_bench", max_retries=0)
PAIRS, STREAMS = int(os.environ["BENCH_PAIRS"]), int(os.environ["BENCH_STREAMS"])
# pairs of tests, one measured and one not, the order alternating pair by pair
ORDER = [(i, mode) for i in range(PAIRS) for mode in (("on", "off") if i % 2 == 0 else ("off", "on"))]

@pytest.mark.parametrize(("pair", "mode"), ORDER)
def test_streams(request, pair, mode):
    calls = request.getfixturevalue("llm_calls") if mode == "on" else None
    times, cpu = [], []
    for _ in range(STREAMS):
        t0, c0 = time.perf_counter(), time.process_time()
        for _chunk in CLIENT.chat.completions.create(model="openai/gpt-oss-20b", messages=MSG, stream=True):
            pass
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if calls is not None:  # proof that the measured test measured every stream live
        assert [c.completed and not c.replayed for c in calls] == [True] * STREAMS
    with open(os.environ["BENCH_OUT"], "a") as f:
        row = {"pair": pair, "mode": mode, "ms": statistics.median(times) * 1000, "cpu": statistics.median(cpu) * 1000}
        f.write(json.dumps(row) + "\\n")
"""


def within(runs: int, pairs: int, streams: int) -> None:
    """Measured and unmeasured tests alternating in one pytest run (the plugin loaded in
    both): neighbouring tests share the host's speed, which whole runs seconds apart do not."""
    with GroqEmulator(time_scale=1000, jitter=0, queue_ms=0) as emu, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "test_within.py").write_text(WITHIN_TEST)
        out = Path(tmp, "out.jsonl")
        env = {**os.environ, "GROQ_BASE_URL": emu.base_url, "PYTEST_ADDOPTS": "", "BENCH_OUT": str(out)}
        env.update(BENCH_PAIRS=str(pairs), BENCH_STREAMS=str(streams))
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        rows: list[dict[str, Any]] = []
        for _ in range(runs):
            out.unlink(missing_ok=True)
            flags = ["--llm-live", "--llm-record-mode=none", "--llm-no-summary"]
            subprocess.run([*cmd, *flags, "test_within.py"], cwd=tmp, env=env, check=True, capture_output=True)
            assert not Path(tmp, "cassettes").exists(), "a measured test recorded a cassette"
            rows += [json.loads(line) for line in out.read_text().splitlines()]
    print(f"{runs} pytest runs of {pairs} pairs of tests (one measured, one not; order alternating),")
    print(f"{streams} streams each; emulator x1000 in this process; each test's median stream")
    for key, label in (("ms", "stream"), ("cpu", "stream CPU")):
        on = [r[key] for r in rows if r["mode"] == "on"]
        off = [r[key] for r in rows if r["mode"] == "off"]
        ratio = median_ci([a / b for a, b in zip(on, off, strict=True)])
        added = median_ci([(a - b) * 1000 for a, b in zip(on, off, strict=True)])
        print(
            f"{label:<11} off {statistics.median(off):8.3f} ms, on {statistics.median(on):8.3f} ms;"
            f" paired ratio {ratio[0]:.4f} (95 % interval {ratio[1]:.4f}..{ratio[2]:.4f}),"
            f" {added[0]:+.0f} us ({added[1]:+.0f}..{added[2]:+.0f})"
        )


def canned_client() -> groq.Groq:
    """The SDK on a transport answering at once with the emulator's recorded bytes."""
    import httpx

    recorded: dict[bool, tuple[int, list[tuple[str, str]], bytes]] = {}
    with GroqEmulator(time_scale=1000, jitter=0, queue_ms=0) as emu, httpx.Client() as http:
        for stream in (True, False):
            body = {"model": "openai/gpt-oss-20b", "messages": MSG, "stream": stream}
            url = emu.base_url + "/openai/v1/chat/completions"
            with http.stream("POST", url, json=body, headers={"authorization": "Bearer gsk_bench"}) as response:
                raw = b"".join(response.iter_raw())
                recorded[stream] = (response.status_code, list(response.headers.multi_items()), raw)

    class Canned(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            status, headers, raw = recorded[b'"stream":true' in request.read()]
            return httpx.Response(status, headers=headers, stream=httpx.ByteStream(raw))

    return groq.Groq(base_url="http://127.0.0.1:9", api_key="gsk_bench", http_client=httpx.Client(transport=Canned()))


def counted_child(calls: int, on: bool) -> None:
    """What ``--valgrind`` counts: warm up, then ``calls`` non-streamed calls, measured (as in
    a measured test against the emulator: the test's cassette, none recorded) or not."""
    client = canned_client()
    # both processes warm the same paths (the plugin's lazy imports, the classes it makes
    # once): only the calls that follow differ
    run(client, 100, False)
    warm = Recorder()
    warm.tape = Tape(Path(tempfile.mkdtemp()) / "warm.yaml", nodeid="warm", secrets=warm.secrets)
    with Interceptor(warm):
        run(client, 20, False)
    assert len(warm.calls) == 20
    recorder = Recorder()
    recorder.tape = Tape(Path(tempfile.mkdtemp()) / "bench.yaml", nodeid="bench", secrets=recorder.secrets)
    if on:
        with Interceptor(recorder):
            run(client, calls, False)
    else:
        run(client, calls, False)


def instructions(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> int:
    """The CPU instructions a command executes, counted by valgrind (``PYTHONHASHSEED=0``);
    the largest count is the interpreter's, not a launcher's (a pyenv shim is a process of
    its own)."""
    import re

    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *cmd],
        env={**env, "PYTHONHASHSEED": "0"},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    found = [int(m.replace(",", "")) for m in re.findall(r"I\s+refs:\s+([\d,]+)", out.stderr)]
    if out.returncode != 0 or not found:
        raise SystemExit(f"valgrind failed ({' '.join(cmd)}):\n{out.stdout[-3000:]}\n{out.stderr[-2000:]}")
    return max(found)


def counted(calls: int, old: str | None) -> None:
    """CPU instructions per non-streamed call the plugin adds, counted by valgrind."""
    import concurrent.futures

    def count(mode: str, tree: str | None, n: int = calls) -> int:
        env = {**os.environ}
        if tree:
            env["PYTHONPATH"] = str(Path(tree).resolve())
        return instructions([sys.executable, __file__, "--counted-child", mode, "--calls", str(n)], env)

    trees = {"this tree": None, **({"old tree": old} if old else {})}
    jobs = [(name, mode, tree) for name, tree in trees.items() for mode in ("off", "on")]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        none = pool.submit(count, "off", None, 0)  # the same process making no call: the plain call's count
        counts = dict(zip(jobs, pool.map(lambda job: count(job[1], job[2]), jobs), strict=True))
    plain = (counts[("this tree", "off", None)] - none.result()) / calls
    print(f"{calls} non-streamed calls on a transport answering at once, CPU instructions (valgrind)")
    print(f"the call without the plugin: {plain:>12,.0f} instructions")
    for name, tree in trees.items():
        off, on = counts[(name, "off", tree)], counts[(name, "on", tree)]
        added = (on - off) / calls
        print(f"{name:<10} added by the plugin: {added:>9,.0f} instructions per call ({added / plain:.1%})")


def canned(calls: int, rounds: int, streams: bool = True) -> None:
    """The plugin's own cost per call: the SDK against a transport that answers at once."""
    client = canned_client()
    run(client, 50, True)
    run(client, 50, False)
    print(f"{calls} calls (streamed: {max(1, calls // 20)}) x {rounds} rounds, a transport answering at once")
    header = f"{'plain us/call':>14} {'measured us/call':>17} {'added us/call':>14} {'read later us/call':>19}"
    print(f"{'mode':<12} {header} {'paired wall':>12} {'paired CPU':>11}")
    paired: list[tuple[str, tuple[float, float, float], tuple[float, float, float]]] = []
    for stream in (True, False) if streams else (False,):
        plain, measured, later, wall, cpu = [], [], [], [], []
        n = max(1, calls // 20) if stream else calls  # a stream is ~400 chunks through the SDK
        for round_ in range(rounds):
            # as in a measured test against the emulator: the test's cassette (none recorded)
            recorder = Recorder()
            recorder.tape = Tape(Path(tempfile.mkdtemp()) / "bench.yaml", nodeid="bench", secrets=recorder.secrets)
            spent: dict[bool, float] = {}
            # plain first, then measured first: the place in the pair would otherwise count
            for on in (False, True) if round_ % 2 == 0 else (True, False):
                c0 = time.process_time()
                if on:
                    with Interceptor(recorder):
                        measured.append(run(client, n, stream) * 1000)
                else:
                    plain.append(run(client, n, stream) * 1000)
                spent[on] = time.process_time() - c0
            t0 = time.perf_counter()
            done = recorder.calls
            later.append((time.perf_counter() - t0) / n * 1e6)
            assert len(done) == n and all(c.ok and c.usage for c in done)
            wall.append(measured[-1] - plain[-1])
            cpu.append((spent[True] - spent[False]) / n * 1e6)
        p, m = statistics.median(plain), statistics.median(measured)
        name = "stream" if stream else "non-stream"
        print(
            f"{name:<12} {p:>14.1f} {m:>17.1f} {m - p:>14.1f} {statistics.median(later):>19.1f}"
            f" {statistics.median(wall):>12.1f} {statistics.median(cpu):>11.1f}"
        )
        paired.append((name, median_ci(wall), median_ci([w / b for w, b in zip(wall, plain, strict=True)])))
    for name, (_, low, high), (share, share_low, share_high) in paired:
        print(
            f"{name}: paired wall 95 % interval {low:.1f}..{high:.1f} us; as a share of the plain call"
            f" {share:.2%} ({share_low:.2%}..{share_high:.2%})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pytest", action="store_true", help="measure whole pytest runs, as a user would")
    parser.add_argument("--canned", action="store_true", help="the plugin's own cost, no network")
    parser.add_argument("--no-streams", action="store_true", help="--canned: non-streamed calls only")
    parser.add_argument("--user-calls", type=int, default=40, help="--pytest: non-streamed calls timed per run")
    parser.add_argument("--valgrind", action="store_true", help="--canned: count CPU instructions instead")
    parser.add_argument("--old", help="--canned --valgrind: another tree's pytest_llmlatency, counted too")
    parser.add_argument("--within", action="store_true", help="measured and unmeasured tests in one pytest run")
    parser.add_argument("--pairs", type=int, default=30, help="--within: pairs of tests per run")
    parser.add_argument("--counted-child", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counted_child:
        counted_child(args.calls, args.counted_child == "on")
        return
    if args.canned and args.valgrind:
        counted(args.calls, args.old)
        return
    if args.canned:
        canned(args.calls, args.rounds, not args.no_streams)
        return
    if args.pytest:
        as_user(args.rounds, args.user_calls)
        return
    if args.within:
        within(args.rounds, args.pairs, 8)
        return
    with (
        GroqEmulator(time_scale=1000, jitter=0, queue_ms=0) as emu,
        groq.Groq(base_url=emu.base_url, api_key="gsk_bench") as client,
    ):
        run(client, 20, True)  # warm up connections and imports
        print(f"{args.calls} calls x {args.rounds} rounds, openai/gpt-oss-20b, ~500 tokens each, emulator x1000")
        print(f"{'mode':<12} {'plain ms/call':>14} {'measured ms/call':>17} {'ratio':>7} {'added ms/call':>14}")
        for stream in (True, False):
            plain, measured = [], []
            for _ in range(args.rounds):
                plain.append(run(client, args.calls, stream))
                recorder = Recorder()
                with Interceptor(recorder):
                    measured.append(run(client, args.calls, stream))
                assert len(recorder.calls) == args.calls and all(c.ok for c in recorder.calls)
            p, m = statistics.median(plain), statistics.median(measured)
            name = "stream" if stream else "non-stream"
            print(f"{name:<12} {p:>14.3f} {m:>17.3f} {m / p:>7.3f} {m - p:>14.3f}")


if __name__ == "__main__":
    main()
