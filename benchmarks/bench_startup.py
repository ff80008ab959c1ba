"""Start-up cost of the idle plugin: pytest collecting one plain test, with the plugin
loaded and with ``-p no:llmlatency``; median of N runs.

    python benchmarks/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def once(folder: Path, *extra: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, str(folder)],
        check=True,
        capture_output=True,
    )
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
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
