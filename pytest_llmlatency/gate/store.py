"""Saved runs: history files in pytest-benchmark's JSON schema, their names and paths.

A saved run is a pytest-benchmark document (``machine_info``, ``commit_info``,
``benchmarks``, ``datetime``, ``version``) with one benchmark entry per measured
test and latency metric; ``stats`` are pytest-benchmark's (seconds, computed by its
own ``Stats``), and ``extra_info`` keeps the model, the request parameters, the
token counts and the per-call records. So ``pytest-benchmark compare`` and
``pytest-benchmark list`` read our runs, and tools that ingest pytest-benchmark
JSON work unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ..core.records import CallRecord, ResultRecord
from .errors import BaselineError, NothingSaved
from .metrics import AGENT, CACHED_SHARE, CALLS, COST, METRICS, TOKEN_METRICS
from .samples import agent_samples, cache_shares, call_counts, measured_values, multi_call, number, run_costs
from .stats import median
from .tiers import call_tier

__all__ = [
    "FORMAT",
    "Baseline",
    "TestBaseline",
    "autosave_name",
    "build_document",
    "check_save_name",
    "load_baseline",
    "machine_id",
    "resolve_compare",
    "resolve_save",
]

FORMAT = "pytest-llmlatency/1"

# pytest-benchmark ships py.typed but leaves its helpers unannotated: its calls below say so one by one


# -- names and paths -------------------------------------------------------------------------------


def machine_id() -> str:
    from pytest_benchmark.utils import get_machine_id

    return str(get_machine_id())  # type: ignore[no-untyped-call]


def _is_path(value: str) -> bool:
    return value.endswith(".json") or "/" in value or "\\" in value


def _numbered(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("[0-9][0-9][0-9][0-9]_*.json") if p.is_file())


def check_save_name(name: str) -> None:
    """A name (not a path) must make a file name, as pytest-benchmark's --benchmark-save."""
    if _is_path(name):
        return
    illegal = "".join(c for c in r":*?<>|" if c in name)
    if illegal:
        raise BaselineError(f"--llm-save: {name!r} must not contain any of {illegal!r}")


def resolve_save(storage: Path, name: str) -> Path:
    """``NAME`` -> ``<storage>/<machine id>/NNNN_NAME.json`` (pytest-benchmark's numbering);
    a value that is a path (contains a separator or ends in .json) is used as it is."""
    check_save_name(name)
    if _is_path(name):
        return Path(name)
    folder = storage / machine_id()
    files = _numbered(folder)
    next_number = int(files[-1].name[:4]) + 1 if files else 1
    return folder / f"{next_number:04d}_{name}.json"


def resolve_compare(storage: Path, value: str | None) -> Path:
    """The run to compare with, as pytest-benchmark names them: the latest saved one (no value),
    a run id (``0001``), a full name (``0001_main``), a name (``main``: the latest run saved
    under a name that starts with it), or a file path."""
    folder = storage / machine_id()
    if value and Path(value).is_file():
        return Path(value)
    if value and _is_path(value):
        raise BaselineError(f"--llm-compare: baseline file {value} does not exist")
    files = _numbered(folder)
    if value:
        files = [f for f in files if f.name.startswith(value) or f.stem.partition("_")[2].startswith(value)]
    if not files:
        what = f"matching {value!r} " if value else ""
        raise (BaselineError if value else NothingSaved)(
            f"--llm-compare: no saved run {what}in {folder} (save one with --llm-save=NAME or --llm-autosave)"
        )
    return files[-1]


def autosave_name() -> str:
    from pytest_benchmark.utils import get_tag

    return str(get_tag())  # type: ignore[no-untyped-call]


# -- documents -------------------------------------------------------------------------------------


def _machine_info() -> dict[str, Any]:
    import os
    import platform

    return {
        "node": platform.node(),
        "processor": platform.processor(),
        "machine": platform.machine(),
        "python_compiler": platform.python_compiler(),
        "python_implementation": platform.python_implementation(),
        "python_implementation_version": platform.python_version(),
        "python_version": platform.python_version(),
        "python_build": list(platform.python_build()),
        "release": platform.release(),
        "system": platform.system(),
        "cpu": {"count": os.cpu_count(), "arch_string_raw": platform.machine()},
    }


def _commit_info() -> dict[str, Any]:
    try:
        from pytest_benchmark.utils import get_commit_info

        return dict(get_commit_info())  # type: ignore[no-untyped-call]
    except Exception as err:  # no git, no hg: what pytest-benchmark records then
        return {
            "id": "unversioned",
            "time": None,
            "author_time": None,
            "dirty": False,
            "project": "",
            "branch": "(unknown)",
            "error": str(err),
        }


def _call_record(call: CallRecord) -> dict[str, Any]:
    keep = (
        "model",
        "params",
        "prompt_chars",
        "streamed",
        "replayed",
        "client_timing",
        "ok",
        "iteration",
        "e2e_ms",
        "ttfb_ms",
        "ttft_ms",
        "tpot_ms",
        "output_tokens_per_s",
        "prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "total_tokens",
        "queue_ms",
        "prompt_ms",
        "completion_ms",
        "server_ms",
        "finish_reason",
        "retries",
        "backoff_ms",
        "tool_names",
        "first_output",
        "response_format",
        "agent_start_ms",
        "agent_end_ms",
    )
    # the levers only when the call knew them: a missing requested_tier is not "asked for none"
    levers = ("cached_tokens", "cached_share", "service_tier", "requested_tier", "cost_usd")
    record: dict[str, Any] = dict(call)
    return {k: record.get(k) for k in keep} | {k: record[k] for k in levers if k in record}


def build_document(results: Iterable[ResultRecord]) -> dict[str, Any]:
    """A pytest-benchmark document for the measured tests of a session."""
    from pytest_benchmark import __version__ as pb_version

    from .. import __version__

    benchmarks = []
    for result in results:
        # warm-up runs and calls answered with a predicted cost were not measured: never saved
        calls = [c for c in result.get("calls") or [] if not c.get("warmup") and not c.get("prediction")]
        ok = [c for c in calls if c.get("ok")]
        if not ok:
            continue
        nodeid = result["nodeid"]
        name = nodeid.rsplit("::", 1)[-1]
        records = [_call_record(c) for c in calls]
        tokens = {k: measured_values(calls, k) for k in TOKEN_METRICS}
        levers = _levers(calls)
        for metric in (*METRICS, AGENT):
            if metric == AGENT:
                # only for agents: a one-call test's agent time is its call's wall time
                values = agent_samples(calls) if multi_call(calls) else []
            else:
                values = measured_values(calls, f"{metric}_ms")
            if not values:
                continue
            benchmarks.append(
                {
                    "group": f"llm {metric}",
                    "name": f"{name}::{metric}",
                    "fullname": f"{nodeid}::{metric}",
                    "params": None,
                    "param": None,
                    "extra_info": {
                        "llmlatency": FORMAT,
                        "nodeid": nodeid,
                        "metric": metric,
                        "unit": "seconds",
                        "source": result.get("source", "live"),
                        "models": sorted({str(c.get("model")) for c in calls}),
                        "tokens": {k: median(v) for k, v in tokens.items() if v},
                        **levers,
                        "calls": records,
                        "budgets": json.loads(json.dumps(result.get("budgets") or [], default=str)),
                    },
                    "options": {
                        "disable_gc": False,
                        "timer": "perf_counter_ns",
                        "min_rounds": len(values),
                        "max_time": 0,
                        "min_time": 0,
                        "warmup": False,
                    },
                    "stats": _stats(values),
                }
            )
    return {
        "machine_info": _machine_info(),
        "commit_info": _commit_info(),
        "benchmarks": benchmarks,
        "datetime": dt.datetime.now(dt.timezone.utc).isoformat(),
        "version": pb_version,
        "llmlatency": {"format": FORMAT, "version": __version__},
    }


def _stats(values: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark's statistics of a metric's values (milliseconds in, seconds out)."""
    from pytest_benchmark.stats import Stats

    stats = Stats()  # type: ignore[no-untyped-call]
    for v in values:
        stats.update(v / 1000.0)  # type: ignore[no-untyped-call]
    as_dict: dict[str, Any] = stats.as_dict()  # type: ignore[no-untyped-call]
    as_dict["data"] = list(stats.data)
    as_dict["iterations"] = 1
    return as_dict


def _levers(calls: Sequence[CallRecord]) -> dict[str, Any]:
    """A test's prompt cache share, served tiers and cost for ``extra_info`` (keys only when known)."""
    out: dict[str, Any] = {}
    ok = [c for c in calls if c.get("ok")]
    shares = [(number(c.get("cached_share")), number(c.get("prompt_tokens"))) for c in ok]
    known = [(share, prompt) for share, prompt in shares if share is not None and prompt]
    if known:
        total = sum(prompt or 0.0 for _, prompt in known)
        out["cached_share"] = sum((share or 0.0) * (prompt or 0.0) for share, prompt in known) / total
    tiers = list(dict.fromkeys(t for t in (call_tier(c) for c in ok) if t))
    if tiers:
        out["service_tiers"] = tiers
    costs = [number(c.get("cost_usd")) for c in ok]
    if ok and any(cost is not None for cost in costs):
        unknown = sum(cost is None for cost in costs)
        out["cost_usd"] = {
            "total": sum(cost or 0.0 for cost in costs) if not unknown else None,
            "per_run": median(run_costs(calls)) if run_costs(calls) else None,
            "unknown_calls": unknown,
        }
    return out


# -- loading ---------------------------------------------------------------------------------------


@dataclass
class TestBaseline:
    nodeid: str
    source: str = "live"
    samples: dict[str, list[float]] = field(default_factory=dict)
    """Milliseconds per time metric; counts per token metric."""
    calls: list[CallRecord] = field(default_factory=list)


@dataclass
class Baseline:
    path: Path
    tests: dict[str, TestBaseline]
    label: str


def load_baseline(path: Path) -> Baseline:
    """Read a saved run; ``BaselineError`` names the file and says what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BaselineError(f"baseline {path} cannot be read: {err}") from None
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise BaselineError(f"baseline {path} is not valid JSON ({err}); it was left untouched") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise BaselineError(f"baseline {path} is not a pytest-benchmark file (no 'benchmarks' list)")
    tests: dict[str, TestBaseline] = {}
    for bench in doc["benchmarks"]:
        extra = bench.get("extra_info") if isinstance(bench, dict) else None
        if not isinstance(extra, dict) or not str(extra.get("llmlatency", "")).startswith("pytest-llmlatency/"):
            continue
        try:
            nodeid = str(extra["nodeid"])
            metric = str(extra["metric"])
            data = [float(x) * 1000.0 for x in bench["stats"]["data"]]
        except (KeyError, TypeError, ValueError) as err:
            raise BaselineError(f"baseline {path}: entry {bench.get('fullname')!r} is malformed ({err!r})") from None
        test = tests.setdefault(nodeid, TestBaseline(nodeid, str(extra.get("source", "live"))))
        test.samples[metric] = data
        if not test.calls and isinstance(extra.get("calls"), list):
            test.calls = [cast(CallRecord, c) for c in extra["calls"] if isinstance(c, dict)]
            for key in TOKEN_METRICS:
                test.samples[key] = measured_values(test.calls, key)
            test.samples[CALLS] = call_counts(test.calls)
            test.samples.setdefault(AGENT, agent_samples(test.calls))
            test.samples[CACHED_SHARE] = cache_shares(test.calls)
            test.samples[COST] = run_costs(test.calls)
    if not tests:
        raise BaselineError(
            f"baseline {path} holds no pytest-llmlatency entries (a pytest-benchmark file from another "
            "tool?); save one with --llm-save"
        )
    commit = doc.get("commit_info")
    commit_id = str(commit.get("id") or "") if isinstance(commit, dict) else ""
    label = path.name + (f" (commit {commit_id[:10]})" if commit_id and commit_id != "unversioned" else "")
    return Baseline(path=path, tests=tests, label=label)
