"""Scale: suites of 100, 1,000 and 5,000 recorded LLM calls (streamed and not, several
models), replayed by pytest-llmlatency.

Records a few template calls once from the emulator (x1000 speed), then writes one
cassette per test by cloning a template with its own prompt and request id (the bytes
keep their sizes, so the recorded timing stays valid). For each suite size it times, as
whole pytest runs (median of N, with the spread):
  - collection (``--collect-only``) with the plugin and with ``-p no:llmlatency``,
  - the suite without LLM calls (pytest's own cost),
  - pytest-llmlatency replay (the advisor's cache warm, as on a developer's second run),
  - the same with ``-p no:cacheprovider`` (the advisor reads every cassette),
  - pytest-recording replay of the same cassettes (``-p no:llmlatency``),
and in process: the advisor reading every cassette cold and from its cache, its fit, and
the report writers (JSON, HTML, Markdown, terminal table) on the run's results. Peak RSS of
each pytest process comes from ``wait4``.

    python benchmarks/bench_scale.py [--sizes 100 1000 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TEMPLATES = [
    ("llama-3.1-8b-instant", True),
    ("llama-3.1-8b-instant", False),
    ("openai/gpt-oss-20b", True),
    ("llama-3.3-70b-versatile", False),
    ("qwen/qwen3-32b", True),
]

SUITE = """
import os, groq, pytest

LLM = os.environ.get("BENCH_LLM") == "1"
VCR = os.environ.get("BENCH_VCR") == "1"
TEMPLATES = {templates!r}
N = {n}
pytestmark = [pytest.mark.vcr] if VCR else [pytest.mark.max_tokens(completion=4000)] if LLM else []

@pytest.fixture
def vcr_config():
    return {{"match_on": ["method", "uri", "body"]}}

CLIENT = groq.Groq(base_url=os.environ["BENCH_URL"], api_key="gsk_bench", max_retries=0)

@pytest.mark.parametrize("i", range(N))
def test_call(i):
    if not LLM:
        return
    model, stream = TEMPLATES[i % len(TEMPLATES)]
    prompt = f"bench-{{i:06d}} describe queues in 40 words."
    kwargs = dict(model=model, messages=[{{"role": "user", "content": prompt}}])
    if stream:
        for _ in CLIENT.chat.completions.create(stream=True, **kwargs):
            pass
    else:
        CLIENT.chat.completions.create(**kwargs)
"""

GRAB = """
import json, os, time
import pytest

@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    out = os.environ.get("BENCH_GRAB")
    if not out:
        return
    from pytest_llmlatency.plugin import _plugin_key
    from pytest_llmlatency.report import build_json
    from pytest_llmlatency.report.html import render_html
    from pytest_llmlatency.report.markdown import render_markdown
    from pytest_llmlatency.report.terminal import render_table

    plugin = session.config.stash[_plugin_key]
    results = plugin.results
    times = {}

    def timed(name, fn):
        t = time.perf_counter()
        value = fn()
        times[name] = time.perf_counter() - t
        return value

    fits = timed("advisor (read, fit, lint; cache warm)", plugin._advise)
    timed("JSON report", lambda: build_json(results, base_url="x", fits=fits))
    timed("HTML report", lambda: render_html(results, fits=fits, advice={}, baseline=None))
    timed("Markdown report", lambda: render_markdown(results, baseline=None))
    timed("terminal table", lambda: render_table(results))
    with open(out, "w") as fh:
        json.dump({"calls": sum(len(r.get("calls") or []) for r in results), "times": times}, fh)
"""


def run(folder: Path, env: dict[str, str], *args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one pytest run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args, str(folder)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=folder,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)  # reaped here, for its own peak RSS
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 5):
        raise SystemExit(f"pytest failed ({args}, {env}):\n{out[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024


def record_templates(folder: Path) -> str:
    from pytest_llmlatency.emulator import GroqEmulator

    (folder / "test_scale.py").write_text(SUITE.format(templates=TEMPLATES, n=len(TEMPLATES)))
    with GroqEmulator(time_scale=1000, jitter=0, queue_ms=0) as emu:
        run(folder, {"BENCH_LLM": "1", "BENCH_URL": emu.base_url}, "--llm-record-mode=once", "-p", "no:cacheprovider")
        return str(emu.base_url)


def clone(folder: Path, n: int) -> None:
    """One cassette per test, cloned from the templates: a new prompt and request id of
    the same length, so body sizes (and the recorded timing) stay valid."""
    cassettes = folder / "cassettes" / "test_scale"
    templates = []
    for j in range(len(TEMPLATES)):
        text = (cassettes / f"test_call[{j}].yaml").read_text()
        ids = sorted(set(re.findall(r"req_[0-9a-z]{26}", text)))
        templates.append((text, ids))
    for i in range(len(TEMPLATES), n):
        text, ids = templates[i % len(TEMPLATES)]
        j = i % len(TEMPLATES)
        text = text.replace(f"bench-{j:06d}", f"bench-{i:06d}")
        for k, old in enumerate(ids):
            text = text.replace(old, f"req_{i:013d}{k:013d}")
        (cassettes / f"test_call[{i}].yaml").write_text(text)
    (folder / "test_scale.py").write_text(SUITE.format(templates=TEMPLATES, n=n))


def in_process(folder: Path) -> dict[str, float]:
    """The advisor's read of every cassette, cold and from its cache, and its fit."""
    from pytest_llmlatency.advisor.fit import fit_models
    from pytest_llmlatency.advisor.scan import ScanStats, _memo, cassette_observations
    from pytest_llmlatency.cassettes import fileformat as cassettefile

    cache = folder / ".bench-observations.json"
    cache.unlink(missing_ok=True)
    cassettefile.clear_cache()
    _memo.clear()
    t = time.perf_counter()
    obs = cassette_observations(folder, limit=10**6, cache=cache)
    cold = time.perf_counter() - t
    _memo.clear()
    stats = ScanStats()
    t = time.perf_counter()
    again = cassette_observations(folder, limit=10**6, cache=cache, stats=stats)
    warm = time.perf_counter() - t
    assert stats.parsed == 0 and len(again) == len(obs), (stats, len(again), len(obs))
    t = time.perf_counter()
    fits = fit_models(obs)
    fit = time.perf_counter() - t
    assert len(fits) == len({m for m, _ in TEMPLATES}), sorted(fits)
    return {
        "advisor: read every cassette (cold)": cold,
        "advisor: the same from its cache": warm,
        "advisor: fit": fit,
        "observations": float(len(obs)),
    }


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} s ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-vcr", action="store_true", help="skip the pytest-recording comparison")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        template_dir = Path(tmp, "templates")
        template_dir.mkdir()
        url = record_templates(template_dir)
        for n in args.sizes:
            folder = Path(tmp, f"suite{n}")
            (folder / "cassettes").mkdir(parents=True)
            shutil.copytree(template_dir / "cassettes", folder / "cassettes", dirs_exist_ok=True)
            (folder / "conftest.py").write_text(GRAB)
            clone(folder, n)
            env = {"BENCH_URL": url, "GROQ_API_KEY": "gsk_bench"}
            llm = {**env, "BENCH_LLM": "1"}
            modes: dict[str, tuple[dict[str, str], list[str]]] = {
                "collect, plugin": (env, ["--collect-only", "-p", "no:cacheprovider"]),
                "collect, -p no:llmlatency": (env, ["--collect-only", "-p", "no:llmlatency", "-p", "no:cacheprovider"]),
                "no LLM calls (baseline)": (env, ["--llm-no-summary"]),
                "pytest-llmlatency replay": (llm, ["--llm-no-summary"]),
                "pytest-llmlatency replay, no cacheprovider": (llm, ["--llm-no-summary", "-p", "no:cacheprovider"]),
            }
            if not args.no_vcr:
                modes["pytest-recording replay"] = (
                    {**llm, "BENCH_VCR": "1"},
                    ["-p", "no:llmlatency", "--record-mode=none"],
                )
            # warm pytest's cache (and the advisor's) once, as a developer's earlier run would
            run(folder, llm, "--llm-no-summary")
            times: dict[str, list[float]] = {}
            rss: dict[str, float] = {}
            for _ in range(args.runs):
                for name, (menv, extra) in modes.items():
                    seconds, peak = run(folder, menv, *extra)
                    times.setdefault(name, []).append(seconds)
                    rss[name] = max(rss.get(name, 0.0), peak)
            grab = folder / "grab.json"
            run(folder, {**llm, "BENCH_GRAB": str(grab)}, "--llm-no-summary")
            writers = json.loads(grab.read_text())
            inproc = in_process(folder)
            rows.append({"n": n, "times": times, "rss": rss, "writers": writers, "in_process": inproc})
            print(f"\n== {n} recorded calls ({len(TEMPLATES)} kinds, 3 streamed), {args.runs} runs: median (min-max)")
            base = statistics.median(times["no LLM calls (baseline)"])
            for name, values in times.items():
                over = ""
                if name.startswith("pytest-"):
                    over = f"   over baseline {statistics.median(values) - base:6.2f} s"
                print(f"{name:<44} {spread(values)}   peak RSS {rss[name]:6.0f} MB{over}")
            for name, seconds in writers["times"].items():
                print(f"{name:<44} {seconds * 1000:8.1f} ms")
            for name, value in inproc.items():
                print(f"{name:<44} " + (f"{value:8.0f}" if name == "observations" else f"{value * 1000:8.1f} ms"))
    if len(rows) > 1:
        print("\nper-call slope between the smallest and the largest suite (ms per call):")
        first, last = rows[0], rows[-1]
        dn = last["n"] - first["n"]
        for name in rows[0]["times"]:
            a, b = statistics.median(first["times"][name]), statistics.median(last["times"][name])
            ra, rb = first["rss"][name], last["rss"][name]
            per_call = (b - a) / dn * 1000
            print(f"{name:<44} {per_call:6.2f} ms/call   RSS {(rb - ra) / dn * 1000:6.1f} MB per 1,000 calls")
        for name in rows[0]["in_process"]:
            if name == "observations":
                continue
            a, b = first["in_process"][name], last["in_process"][name]
            print(f"{name:<44} {(b - a) / dn * 1000:6.3f} ms/call")
        for name in rows[0]["writers"]["times"]:
            a, b = first["writers"]["times"][name], last["writers"]["times"][name]
            print(f"{name:<44} {(b - a) / dn * 1000:6.3f} ms/call")


if __name__ == "__main__":
    main()
