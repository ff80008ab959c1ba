"""The regression gate on a sampling model: A/A false alarms and detection, in process.

Each trial draws a baseline and a new run of N calls of a model on Groq that samples: answer
lengths around 80 tokens with a 30 % spread, 5 % of calls decoding 2x slower, a lognormal queue,
and the prompt cache warm or cold at random with the same prompt (the draws of
``tests/gate/records.sampled_call``, which the unit tests use too). Unchanged requests (A/A) are
compared at n = 1, 3, 10 calls per side; detection is a cap change 60 -> 300 on answers that
run about 60 % longer, at one call per side. Gate ``e2e:10%``, live, ``auto`` method.

    python benchmarks/bench_gate_sampling.py [--trials 1000] [--seed 1000]

Run from the repository root (it imports the draws from ``tests/``). Results: docs/regressions.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_llmlatency.gate.compare import compare_test
from pytest_llmlatency.gate.store import TestBaseline
from pytest_llmlatency.gate.thresholds import parse_thresholds
from tests.gate.records import sampled_call

GATE = parse_thresholds("e2e:10%")


def _compare(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Any:
    base = TestBaseline("t.py::t", "live", {"e2e": [c["e2e_ms"] for c in old]}, old)  # type: ignore[arg-type]
    return compare_test("t.py::t", new, "live", base, GATE)  # type: ignore[arg-type]


def aa(n: int, trials: int, seed: int) -> int:
    """Unchanged requests, n calls per side: how many comparisons regressed."""
    rng = random.Random(seed + n)
    regressed = 0
    for _ in range(trials):
        old = [sampled_call(rng, cache_flip=True) | {"iteration": k} for k in range(n)]
        new = [sampled_call(rng, cache_flip=True) | {"iteration": k} for k in range(n)]
        regressed += bool(_compare(old, new).regressions)
    return regressed


def detection(trials: int, seed: int) -> int:
    """Cap 60 -> 300 on answers ~60 % longer, one call per side: caught and naming the cap."""
    rng = random.Random(seed - 901)
    caught = 0
    for _ in range(trials):
        comparison = _compare([sampled_call(rng, cap=60)], [sampled_call(rng, cap=300, longer=1.6)])
        caught += bool(comparison.regressions and "max_completion_tokens 60 -> 300" in comparison.message())
    return caught


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000, help="comparisons per cell (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1000, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"gate e2e:10%, {args.trials} trials per cell, seed {args.seed}")
    for n in (1, 3, 10):
        bad = aa(n, args.trials, args.seed)
        print(f"A/A n={n}: {bad}/{args.trials} regressed ({bad / args.trials:.1%})")
    caught = detection(args.trials, args.seed)
    print(f"cap 60 -> 300, n=1: {caught}/{args.trials} caught naming the cap ({caught / args.trials:.1%})")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
