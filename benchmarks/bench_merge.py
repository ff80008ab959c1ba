"""Merging CI shards: ``llmlatency merge`` on 4 shard files of 5,000 LLM calls each.

Writes 4 ``--llm-report-json`` files (version 2) of 1,000 tests x 5 calls each, with full
call records as the plugin writes them (``LLMCall.to_dict`` plus the agent clock, per-test
summaries, verdicts and budgets), then times ``llmlatency merge`` as a whole command
(interpreter start included; median of N runs) and ``merge_files`` in process, wall-clock and
CPU time (CPU time is what a loaded machine does not inflate).

    python benchmarks/bench_merge.py [--shards 4] [--calls 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_llmlatency import __version__
from pytest_llmlatency.core.calls import LLMCall
from pytest_llmlatency.report.jsonfile import SCHEMA, SCHEMA_VERSION, dump_doc
from pytest_llmlatency.report.merge import merge_files

CALLS_PER_TEST = 5


def _call(i: int) -> dict[str, Any]:
    record = LLMCall(
        model="llama-3.1-8b-instant",
        params={"max_completion_tokens": 256, "temperature": 0.2, "stream": True},
        messages=[{"role": "user", "content": f"question {i} " * 20}],
        url="http://127.0.0.1:8765/openai/v1/chat/completions",
        streamed=True,
        replayed=True,
    ).to_dict()
    record.update(
        status=200,
        ok=True,
        e2e_ms=180.0 + i % 97,
        ttfb_ms=40.0 + i % 13,
        ttft_ms=52.0 + i % 17,
        tpot_ms=1.9,
        itl_ms=1.9,
        output_tokens_per_s=520.0,
        prompt_tokens=120,
        completion_tokens=64 + i % 50,
        total_tokens=184 + i % 50,
        queue_ms=12.0,
        prompt_ms=8.0,
        completion_ms=110.0,
        server_ms=118.0,
        finish_reason="stop",
        first_output="content",
        request_id=f"req_{i:08d}",
        agent_start_ms=0.0,
        agent_end_ms=180.0 + i % 97,
    )
    return record


def _shard(index: int, calls: int) -> dict[str, Any]:
    tests = []
    for t in range(calls // CALLS_PER_TEST):
        n = index * calls + t * CALLS_PER_TEST
        tests.append(
            {
                "nodeid": f"tests/test_shard{index}.py::test_case[{t}]",
                "budgets": [{"kind": "latency", "label": "max_latency(ms=900)", "ms": 900, "metric": "e2e"}],
                "verdicts": [{"budget": "max_latency(ms=900)", "passed": True, "message": "ok", "observed": 200.0}],
                "failures": [],
                "risks": [],
                "summary": {"calls": CALLS_PER_TEST, "models": ["llama-3.1-8b-instant"], "e2e_p50": 200.0},
                "calls": [_call(n + k) for k in range(CALLS_PER_TEST)],
                "source": "replay",
                "verdict": "pass",
                "advice": [],
            }
        )
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "plugin_version": __version__,
        "datetime": f"2026-01-01T10:00:0{index}+00:00",
        "python": "3.11.7",
        "target": "emulator",
        "settings": {"target": "emulator", "compare_method": "auto", "compare_fail": ["e2e:10%"]},
        "parts": [],
        "models": {},
        "tests": tests,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--calls", type=int, default=5000, help="LLM calls per shard")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.shards):
            path = Path(tmp, f"shard{i}.json")
            path.write_text(dump_doc(_shard(i, args.calls)))
            paths.append(path)
        size = sum(p.stat().st_size for p in paths) / 1e6
        out = Path(tmp, "merged.json")
        command = [sys.executable, "-m", "pytest_llmlatency.cli", "merge", *map(str, paths), "-o", str(out)]
        whole, whole_cpu, inside, inside_cpu = [], [], [], []
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            whole.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            whole_cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            start, cpu = time.perf_counter(), time.process_time()
            merge_files(paths)
            inside.append(time.perf_counter() - start)
            inside_cpu.append(time.process_time() - cpu)
        merged = json.loads(out.read_text())
        total = sum(len(t["calls"]) for t in merged["tests"])
        print(
            f"{args.shards} shards x {args.calls:,} calls ({size:.1f} MB of JSON) -> {total:,} calls in "
            f"{out.stat().st_size / 1e6:.1f} MB"
        )
        print(
            f"llmlatency merge (whole command): median {statistics.median(whole):.2f} s wall "
            f"(min {min(whole):.2f}, max {max(whole):.2f}, {args.runs} runs), "
            f"{statistics.median(whole_cpu):.2f} s CPU"
        )
        print(
            f"merge_files in process: median {statistics.median(inside):.2f} s wall (min {min(inside):.2f}), "
            f"{statistics.median(inside_cpu):.2f} s CPU"
        )
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
