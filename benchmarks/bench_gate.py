"""Quality of the live (rank) gate on the emulator with jitter.

Each trial measures a baseline run and a new run of N identical calls against two
emulators with different seeds (so queue times and decode speeds jitter
independently, as a live server's would), then asks the gate
(``e2e:10%``, rank method) for a verdict:

- A/A: both emulators at the same speed. Any "regressed" verdict is a false alarm.
- +15 %: the new emulator runs 15 % slower (time_scale 1/1.15). "regressed" is a detection.

Both emulators run 4x faster than Groq to keep the run short; that leaves the
emulator's relative jitter as it is and makes the client's own noise relatively
larger, so the figures are on the cautious side.

    python benchmarks/bench_gate.py [--trials 40] [--n 10 5]
"""

from __future__ import annotations

import argparse
import time

import groq

from pytest_llmlatency.baseline import TestBaseline, compare_test, parse_thresholds
from pytest_llmlatency.emulator import GroqEmulator
from pytest_llmlatency.intercept import Interceptor, Recorder

SPEED = 4.0
MSG = [{"role": "user", "content": "Describe queues in about 60 words."}]


def run(seed: int, n: int, slower: float) -> list[dict[str, object]]:
    recorder = Recorder()
    with (
        GroqEmulator(seed=seed, time_scale=SPEED / slower) as emu,
        Interceptor(recorder),
        groq.Groq(base_url=emu.base_url, api_key="gsk_bench", max_retries=0) as client,
    ):
        for _ in range(n):
            client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)  # type: ignore[arg-type]
    return [c.to_dict() for c in recorder.calls]


def trial(seed: int, n: int, slower: float) -> str:
    old = run(seed * 2, n, 1.0)
    new = run(seed * 2 + 1, n, slower)
    base = TestBaseline("t", "live", {"e2e": [float(c["e2e_ms"]) for c in old]}, old)  # type: ignore[arg-type]
    comparison = compare_test("t", new, "live", base, parse_thresholds("e2e:10%"), method="rank")
    (shift,) = [s for s in comparison.shifts if s.metric == "e2e"]
    return shift.verdict


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--n", type=int, nargs="+", default=[10, 5])
    args = parser.parse_args()
    t0 = time.perf_counter()
    print(f"gate e2e:10% (rank method), {args.trials} trials per cell, emulator jitter on, x{SPEED:g} speed")
    print(f"{'calls per side':>14}  {'A/A false alarms':>17}  {'+15% detected':>14}  {'+15% inconclusive':>18}")
    for n in args.n:
        aa = [trial(1000 + i, n, 1.0) for i in range(args.trials)]
        shifted = [trial(5000 + i, n, 1.15) for i in range(args.trials)]
        alarms = aa.count("regressed") / len(aa)
        detected = shifted.count("regressed") / len(shifted)
        unsure = shifted.count("inconclusive") / len(shifted)
        print(f"{n:>14}  {alarms:>16.1%}  {detected:>13.1%}  {unsure:>17.1%}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
