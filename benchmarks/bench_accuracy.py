"""Measurement accuracy: client timings against the emulator's own timestamps.

The emulator records when it wrote each byte (``perf_counter_ns``, the same clock);
the plugin records when the client read it. The gap is what the read path adds.

    python benchmarks/bench_accuracy.py [--calls 20]
"""

from __future__ import annotations

import argparse
import statistics

import groq

from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.emulator import GroqEmulator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    recorder = Recorder()
    with (
        GroqEmulator(jitter=0, queue_ms=15) as emu,
        Interceptor(recorder),
        groq.Groq(base_url=emu.base_url, api_key="gsk_bench") as client,
    ):
        for i in range(args.calls):
            for _ in client.chat.completions.create(
                model="openai/gpt-oss-20b",
                stream=True,
                reasoning_effort="low",
                messages=[{"role": "user", "content": f"Question {i}: describe queues in 100 words."}],
            ):
                pass
        served = emu.requests
    ttft, e2e, speed = [], [], []
    for call, record in zip(recorder.calls, served, strict=True):
        ttft.append((call.ttft_ms or 0) - (record.t_first_token_ns - record.t_received_ns) / 1e6)  # type: ignore[operator]
        e2e.append((call.e2e_ms or 0) - (record.t_done_ns - record.t_received_ns) / 1e6)  # type: ignore[operator]
        speed.append(call.output_tokens_per_s or 0)
    print(f"{args.calls} streamed calls, openai/gpt-oss-20b (emulator: 1000 tok/s, exact schedule)")
    print(f"TTFT, client minus server: median {statistics.median(ttft):.2f} ms, max {max(ttft):.2f} ms")
    print(f"e2e, client minus server:  median {statistics.median(e2e):.2f} ms, max {max(e2e):.2f} ms")
    print(f"decode speed seen by the client: median {statistics.median(speed):.0f} tok/s")


if __name__ == "__main__":
    main()
