"""Plugin overhead: the same LLM calls to the emulator with and without measurement.

The emulator runs 1000x faster than Groq so that the client-side cost dominates:
what remains is HTTP on loopback, the groq SDK, and (with measurement) our tee and
SSE parser. Reports the median time per call and the ratio.

    python benchmarks/bench_overhead.py [--calls 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import groq

from pytest_llmlatency.emulator import GroqEmulator
from pytest_llmlatency.intercept import Interceptor, Recorder

MSG = [{"role": "user", "content": "Describe queues in about 200 words."}]


def run(client: groq.Groq, calls: int, stream: bool) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        out = client.chat.completions.create(model="openai/gpt-oss-20b", messages=MSG, stream=stream)  # type: ignore[call-overload]
        if stream:
            for _chunk in out:
                pass
    return (time.perf_counter() - t0) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
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
