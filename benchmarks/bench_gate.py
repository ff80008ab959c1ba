"""Quality of the live regression gate under Groq-calibrated noise.

Each trial builds a baseline of N calls and a new run of N calls and asks the gate
(``--llm-compare-fail=e2e:10%``, live sources, ``auto`` method) for a verdict:

- **A/A**: both sides the same request. Any "regressed" verdict is a false alarm.
- **+15 % / +50 %**: the new side's expected latency without queue time (network/client
  + Groq prompt time + Groq completion time) is 15 % or 50 % higher, caused by
  (a) more output tokens, (b) a slower decode (a slower model), (c) a longer prompt.
  "regressed" is a detection.

Calls are synthetic, drawn in-process from the emulator's own latency model
(``emulator.model.plan_request`` with ``queue_profile="groq"``: Groq's heavy-tailed queue
time, median 101 ms, p90 608 ms, and 7 % per-request speed jitter), plus a network/client
time of 20 ms x lognormal(sigma 0.25). Why not a whole pytest run per trial: 28 cells x
200 trials x 2 sides x N calls is 53,200 calls; at Groq's time scale that is about 4 hours,
and at the 20x emulator time scale the loopback and the client's own milliseconds would
be as large as the scaled server times, which measures the test machine, not the gate.
The emulator's HTTP path is measured separately (``--http``: A/A and +50 % tokens at n=1
through the real emulator over loopback, at Groq's time scale by default).

The "before" columns are the previous gate on the same trials: the raw e2e medians,
rank test from 5 samples per side, inconclusive (passing) below.

    python benchmarks/bench_gate.py [--trials 200] [--n 1 3 5 10] [--http [--http-scale 1]] [--http-only]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from typing import Any

from pytest_llmlatency.emulator.model import plan_request, prompt_tokens
from pytest_llmlatency.gate.compare import _judge_shift as judge_raw
from pytest_llmlatency.gate.compare import compare_test
from pytest_llmlatency.gate.store import TestBaseline
from pytest_llmlatency.gate.thresholds import Threshold, parse_thresholds

MODEL = "llama-3.1-8b-instant"
BASE_PROMPT_WORDS = 150
BASE_TOKENS = 150
PATH_MS = 20.0
PATH_SIGMA = 0.25
CAUSES = ("tokens", "decode", "prompt")
THRESHOLD = parse_thresholds("e2e:10%")


def _messages(words: int) -> list[dict[str, str]]:
    filler = " ".join(["context"] * words)
    return [{"role": "user", "content": f"{filler}\nDescribe queues in about 2000 words."}]


def _body(words: int, tokens: int) -> dict[str, Any]:
    return {"model": MODEL, "messages": _messages(words), "max_completion_tokens": tokens}


class Scenario:
    """The request of one side, and how its expected latency is made slower."""

    def __init__(self, cause: str | None, slower: float) -> None:
        base = plan_request(_body(BASE_PROMPT_WORDS, BASE_TOKENS), jitter=0, queue_ms=0)
        self.token_ms = base.timing.token_s * 1000
        prompt_n = prompt_tokens(_messages(BASE_PROMPT_WORDS))
        self.prompt_ms_per_token = base.timing.prompt_s * 1000 / prompt_n
        expected = PATH_MS * math.exp(PATH_SIGMA**2 / 2) + base.timing.prompt_s * 1000 + BASE_TOKENS * self.token_ms
        extra = expected * (slower - 1)
        self.words, self.tokens, self.decode = BASE_PROMPT_WORDS, BASE_TOKENS, 1.0
        if cause == "tokens":
            self.tokens = BASE_TOKENS + round(extra / self.token_ms)
        elif cause == "decode":
            self.decode = 1 + extra / (BASE_TOKENS * self.token_ms)
        elif cause == "prompt":
            need = prompt_n + extra / self.prompt_ms_per_token
            while prompt_tokens(_messages(self.words)) < need:
                self.words += max(1, int((need - prompt_tokens(_messages(self.words))) * 0.9))
        self.expected = expected

    def calls(self, seed: int, n: int, rng: random.Random) -> list[dict[str, Any]]:
        out = []
        body = _body(self.words, self.tokens)
        for i in range(n):
            plan = plan_request(body, seed=seed, occurrence=i, queue_profile="groq")
            queue = plan.timing.queue_s * 1000
            prompt = plan.timing.prompt_s * 1000
            completion = plan.completion_tokens * plan.timing.token_s * 1000 * self.decode
            path = PATH_MS * math.exp(PATH_SIGMA * rng.gauss(0, 1))
            e2e = queue + prompt + completion + path
            out.append(
                {
                    "ok": True,
                    "model": MODEL,
                    "params": {"max_completion_tokens": self.tokens},
                    "prompt_chars": self.words,
                    "iteration": i,
                    "streamed": False,
                    "e2e_ms": e2e,
                    "ttft_ms": e2e,
                    "queue_ms": queue,
                    "prompt_ms": prompt,
                    "completion_ms": completion,
                    "server_ms": prompt + completion,
                    "prompt_tokens": plan.prompt_tokens,
                    "completion_tokens": plan.completion_tokens,
                    "finish_reason": plan.finish_reason,
                }
            )
        return out


def _verdicts(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> tuple[str, str]:
    base = TestBaseline("t", "live", {"e2e": [c["e2e_ms"] for c in old]}, old)
    comparison = compare_test("t", new, "live", base, THRESHOLD)
    (shift,) = [s for s in comparison.shifts if s.metric == "e2e"]
    before = judge_raw("e2e", [c["e2e_ms"] for c in old], [c["e2e_ms"] for c in new], Threshold("e2e", 10), "rank")
    return shift.verdict, before.verdict


def cell(cause: str | None, slower: float, n: int, trials: int) -> tuple[float, float, float]:
    """(regressed now, inconclusive now, regressed before) over the trials."""
    old_side, new_side = Scenario(None, 1.0), Scenario(cause, slower)
    now = before = unsure = 0
    for t in range(trials):
        rng = random.Random(f"{cause}-{slower}-{n}-{t}")
        old = old_side.calls(10_000 + 2 * t, n, rng)
        new = new_side.calls(10_001 + 2 * t, n, rng)
        verdict, previous = _verdicts(old, new)
        now += verdict == "regressed"
        unsure += verdict == "inconclusive"
        before += previous == "regressed"
    return now / trials, unsure / trials, before / trials


def http_cells(trials: int, scale: float) -> None:
    """A/A and +50 % tokens at n=1 through the real emulator (HTTP, at ``scale``)."""
    import groq

    from pytest_llmlatency.capture.intercept import Interceptor, Recorder
    from pytest_llmlatency.emulator import GroqEmulator

    def run(seed: int, tokens: int) -> list[dict[str, Any]]:
        recorder = Recorder()
        with (
            GroqEmulator(seed=seed, time_scale=scale, queue_profile="groq") as emu,
            Interceptor(recorder),
            groq.Groq(base_url=emu.base_url, api_key="gsk_bench", max_retries=0) as client,
        ):
            client.chat.completions.create(
                model=MODEL,
                messages=_messages(BASE_PROMPT_WORDS),  # type: ignore[arg-type]
                max_completion_tokens=tokens,
            )
        return [c.to_dict() for c in recorder.calls]

    extra = Scenario("tokens", 1.5).tokens
    for label, tokens in (("A/A", BASE_TOKENS), ("+50% tokens", extra)):
        verdicts = [_verdicts(run(2 * t, BASE_TOKENS), run(2 * t + 1, tokens))[0] for t in range(trials)]
        print(
            f"http n=1 x{scale:g} {label:>12}: regressed {verdicts.count('regressed') / trials:.1%}, "
            f"inconclusive {verdicts.count('inconclusive') / trials:.1%} ({trials} trials)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--n", type=int, nargs="+", default=[1, 3, 5, 10])
    parser.add_argument("--http", action="store_true", help="also run two n=1 cells through the real emulator")
    parser.add_argument("--http-trials", type=int, default=40)
    parser.add_argument("--http-scale", type=float, default=1.0, help="time scale of the emulator (1 = Groq's)")
    parser.add_argument("--http-only", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.http_only:
        http_cells(args.http_trials, args.http_scale)
        return
    base = Scenario(None, 1.0)
    print(
        f"gate e2e:10% (live, auto method), {args.trials} trials per cell; {MODEL}, {BASE_TOKENS} output tokens, "
        f"expected latency without queue {base.expected:,.0f} ms; queue profile groq; network/client "
        f"{PATH_MS:g} ms x lognormal({PATH_SIGMA:g})"
    )
    header = ["n", "A/A alarms (before)"] + [f"{c} +{p}% (before)" for c in CAUSES for p in (15, 50)]
    print(" | ".join(header))
    for n in args.n:
        aa, _, aa_before = cell(None, 1.0, n, args.trials)
        row = [str(n), f"{aa:.1%} ({aa_before:.1%})"]
        for cause in CAUSES:
            for pct in (15, 50):
                now, _, before = cell(cause, 1 + pct / 100, n, args.trials)
                row.append(f"{now:.1%} ({before:.1%})")
        print(" | ".join(row), flush=True)
    if args.http:
        http_cells(args.http_trials, args.http_scale)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
