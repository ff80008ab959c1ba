"""Start-up cost of the plugin: pytest running one plain test, with the plugin loaded and
with ``-p no:llmlatency``; median of N runs.

    python benchmarks/bench_startup.py [--runs 15]

``--measured`` times a whole pytest run of one measured test instead (``llm_calls``, one
call to the built-in emulator, no cassette: nothing replayed or recorded), the plugin of
this tree against another tree's (``--old TREE``: a folder holding its
``pytest_llmlatency``, put first on ``PYTHONPATH``), the runs interleaved; ``--valgrind``
counts each run's CPU instructions instead of timing it (one run each; Python writes
bytecode in these runs, as in a user's CI).

    python benchmarks/bench_startup.py --measured --old /tmp/oldtree [--valgrind]
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

MEASURED = """
def test_call(groq_client, llm_calls):
    groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "in one word: hi"}])
    assert llm_calls.last.completed
"""


def once(folder: Path, *extra: str, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, str(folder)],
        check=True,
        capture_output=True,
        env=env,
        cwd=folder,
    )
    return (time.perf_counter() - t0) * 1000


def measured(runs: int, old: str | None, valgrind: bool) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    trees = {"this tree": environ}
    if old:
        trees["--old tree"] = {**environ, "PYTHONPATH": str(Path(old).resolve())}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_measured.py").write_text(MEASURED)
        for env in trees.values():  # bytecode written, pytest's rewrite cached
            once(folder, env=env)
        if valgrind:
            sys.path.insert(0, str(Path(__file__).parent))
            from bench_overhead import instructions

            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)]
            counts = {name: instructions(cmd, env, folder) for name, env in trees.items()}
            print("pytest running one measured test (one call to the built-in emulator), CPU instructions")
            for name, count in counts.items():
                print(f"{name:<12} {count / 1e6:8.1f} M")
            return
        times: dict[str, list[float]] = {name: [] for name in trees}
        for i in range(runs):  # interleaved, the order alternating
            for name in list(trees) if i % 2 == 0 else list(trees)[::-1]:
                times[name].append(once(folder, env=trees[name]))
    print(f"pytest running one measured test (one call to the built-in emulator), median of {runs} runs")
    for name, values in times.items():
        print(f"{name:<12} {statistics.median(values):6.0f} ms ({min(values):.0f}-{max(values):.0f})")
    if old:
        diffs = [a - b for a, b in zip(times["this tree"], times["--old tree"], strict=True)]
        print(f"this tree minus --old tree, paired: median {statistics.median(diffs):+.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--measured", action="store_true", help="one measured test making one call")
    parser.add_argument("--old", help="--measured: another tree's pytest_llmlatency, interleaved")
    parser.add_argument("--valgrind", action="store_true", help="--measured: count CPU instructions, one run each")
    args = parser.parse_args()
    if args.measured:
        measured(args.runs, args.old, args.valgrind)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_plain.py").write_text("def test_plain():\n    pass\n")
        once(folder)
        with_plugin = [once(folder) for _ in range(args.runs)]
        without = [once(folder, "-p", "no:llmlatency") for _ in range(args.runs)]
    a, b = statistics.median(with_plugin), statistics.median(without)
    print(f"pytest with one plain test, median of {args.runs} runs")
    print(f"with pytest-llmlatency: {a:.0f} ms; with -p no:llmlatency: {b:.0f} ms; difference {a - b:+.0f} ms")


if __name__ == "__main__":
    main()
