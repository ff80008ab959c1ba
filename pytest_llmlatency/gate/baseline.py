"""Baselines: history files in pytest-benchmark's JSON schema, and the regression gate.

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
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cassettes.request_diff import request_diff
from .stats import (
    EMULATOR_NOISE,
    LIVE_NOISE,
    MIN_SAMPLES,
    NoiseModel,
    hodges_lehmann,
    mann_whitney_greater,
    median,
    repeats_to_decide,
)

__all__ = [
    "METRICS",
    "TOKEN_METRICS",
    "Baseline",
    "BaselineError",
    "NothingSaved",
    "Comparison",
    "Threshold",
    "build_document",
    "compare_test",
    "gate_result",
    "load_baseline",
    "parse_thresholds",
    "resolve_compare",
    "resolve_save",
]

METRICS = ("e2e", "ttft", "ttfb", "server", "queue")
"""Time metrics saved as benchmark entries (milliseconds here, seconds in the file)."""
TOKEN_METRICS = ("completion_tokens", "prompt_tokens", "reasoning_tokens", "total_tokens")
AGENT = "agent"
"""The agent wall time of one run of a test: first call's start to last call's end (ms)."""
CALLS = "calls"
"""LLM calls per run of a test."""
CACHED_SHARE = "cached_share"
"""The share of a run's prompt tokens Groq's prompt cache served, in percentage points (0-100):
higher is better, so a drop is the regression."""
COST = "cost"
"""US dollars per run of a test (the sum of its calls' costs from the price table)."""
LEVER_METRICS = (CACHED_SHARE, COST)
TIME_METRICS = (*METRICS, AGENT)
COUNT_METRICS = (*TOKEN_METRICS, CALLS)
GATE_METRICS = (*METRICS, AGENT, *TOKEN_METRICS, CALLS, *LEVER_METRICS)
HIGHER_IS_BETTER = (CACHED_SHARE,)
CACHE_CHANGE_POINTS = 5.0
"""A run's cached share must move by at least this many percentage points to be named as a cause."""
FLOOR_MS = 2.0
"""A time shift smaller than this never counts as a regression or an improvement."""
EMULATOR_FLOOR_MS = 15.0
"""The same floor for emulator runs: their schedule is seeded, but a cold connection or a
loaded CI runner moves a single call by several milliseconds."""
ALPHA = 0.05
"""Significance level of the live rank test."""
FORMAT = "pytest-llmlatency/1"


class BaselineError(Exception):
    """A baseline that cannot be used; the message names the file or the option."""


class NothingSaved(BaselineError):
    """``--llm-compare`` (the latest run) with no saved run yet."""


# -- thresholds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    metric: str
    percent: float | None = None
    absolute: float | None = None

    """Milliseconds for time metrics, tokens for token metrics, percentage points for
    ``cached_share``, US dollars for ``cost``."""

    def __str__(self) -> str:
        if self.metric == CACHED_SHARE:
            return f"{self.metric}:{self.absolute or 0:g}%"
        if self.percent is not None:
            return f"{self.metric}:{self.percent:g}%"
        unit = "ms" if self.metric in TIME_METRICS else ""
        return f"{self.metric}:{self.absolute:g}{unit}"

    def exceeded(self, old: float, new: float, floor: float = FLOOR_MS) -> bool:
        if self.metric in HIGHER_IS_BETTER:
            return self._beyond(old - new, old, floor)
        return self._beyond(new - old, old, floor)

    def improved(self, old: float, new: float, floor: float = FLOOR_MS) -> bool:
        if self.metric in HIGHER_IS_BETTER:
            return self._beyond(new - old, old, floor)
        return self._beyond(old - new, old, floor)

    def _beyond(self, delta: float, old: float, floor: float = FLOOR_MS) -> bool:
        if self.metric in TIME_METRICS and delta < floor:
            return False
        delta = round(delta, 9)  # 80 % - 60 % is 20 points, not 20.000000000000004
        if self.percent is not None:
            if old <= 0:
                return delta > 0
            return delta / old * 100 > self.percent
        return delta > (self.absolute or 0)


_THRESHOLD = re.compile(r"^(?P<metric>[a-z0-9_]+):(?P<amount>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?P<unit>%|ms|s)?$")


def parse_thresholds(spec: str | Iterable[str], *, source: str = "--llm-compare-fail") -> list[Threshold]:
    """``e2e:10%``, ``ttft:20%``, ``server:5ms``, ``e2e:0.05`` (seconds, as in
    pytest-benchmark), ``completion_tokens:0``, ``cached_share:20%`` (a drop of more than 20
    percentage points; ``cached_share:0.2`` the same as a fraction), ``cost:10%`` or ``cost:0.001``
    (US dollars per run); several separated by commas."""
    items = [spec] if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        for part in str(item).split(","):
            text = part.strip()
            if not text:
                continue
            m = _THRESHOLD.match(text)
            if not m:
                raise BaselineError(
                    f"{source}: cannot parse {text!r}; expected METRIC:AMOUNT[%|ms|s] such as e2e:10%, "
                    f"ttft:20%, server:5ms or completion_tokens:0"
                )
            metric, amount, unit = m["metric"], float(m["amount"]), m["unit"]
            if metric not in GATE_METRICS:
                raise BaselineError(
                    f"{source}: unknown metric {metric!r} in {text!r}; use one of {', '.join(GATE_METRICS)}"
                )
            if metric == CACHED_SHARE:
                points = amount if unit == "%" else amount * 100 if not unit else None
                if points is None or points > 100:
                    raise BaselineError(
                        f"{source}: {text!r}: cached_share takes a drop in percentage points "
                        "(cached_share:20%) or as a fraction (cached_share:0.2), at most 100% or 1"
                    )
                out.append(Threshold(metric, absolute=points))
            elif metric == COST and unit in ("ms", "s"):
                raise BaselineError(
                    f"{source}: {text!r}: cost takes a percentage (cost:10%) or US dollars per run (cost:0.001)"
                )
            elif unit == "%":
                out.append(Threshold(metric, percent=amount))
            elif metric == COST:
                out.append(Threshold(metric, absolute=amount))
            elif metric in COUNT_METRICS:
                if unit:
                    raise BaselineError(f"{source}: {text!r}: count metrics take a count or a percentage")
                out.append(Threshold(metric, absolute=amount))
            else:
                ms = amount if unit == "ms" else amount * 1000  # bare numbers are seconds
                out.append(Threshold(metric, absolute=ms))
    return out


# -- storage ---------------------------------------------------------------------------------------


def machine_id() -> str:
    from pytest_benchmark.utils import get_machine_id

    return str(get_machine_id())


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
    number = int(files[-1].name[:4]) + 1 if files else 1
    return folder / f"{number:04d}_{name}.json"


def resolve_compare(storage: Path, value: str | None) -> Path:
    """The run to compare with: the latest saved one (no value), a saved run by number or
    name prefix (``0001``, ``0001_main``), or a file path."""
    folder = storage / machine_id()
    if value and Path(value).is_file():
        return Path(value)
    if value and _is_path(value):
        raise BaselineError(f"--llm-compare: baseline file {value} does not exist")
    files = _numbered(folder)
    if value:
        files = [f for f in files if f.name.startswith(value)]
    if not files:
        what = f"matching {value!r} " if value else ""
        raise (BaselineError if value else NothingSaved)(
            f"--llm-compare: no saved run {what}in {folder} (save one with --llm-save=NAME or --llm-autosave)"
        )
    return files[-1]


def autosave_name() -> str:
    from pytest_benchmark.utils import get_tag

    return str(get_tag())


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

        return dict(get_commit_info())
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


def _call_record(call: dict[str, Any]) -> dict[str, Any]:
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
    return {k: call.get(k) for k in keep} | {k: call[k] for k in levers if k in call}


def _runs(calls: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The measured calls of each run of a test (``llm_repeat`` iteration), in run order."""
    runs: dict[int, list[dict[str, Any]]] = {}
    for c in calls:
        if c.get("warmup") or c.get("prediction"):
            continue
        iteration = c.get("iteration")
        runs.setdefault(iteration if isinstance(iteration, int) else 0, []).append(c)
    return [runs[k] for k in sorted(runs)]


def agent_samples(calls: Sequence[dict[str, Any]]) -> list[float]:
    """The agent wall time of each run whose calls all carry their agent clock (ms)."""
    out = []
    for run in _runs(calls):
        ends = [e for e in (c.get("agent_end_ms") for c in run) if isinstance(e, (int, float))]
        if run and len(ends) == len(run):
            out.append(float(max(ends)))
    return out


def call_counts(calls: Sequence[dict[str, Any]]) -> list[float]:
    """LLM calls per run."""
    return [float(len(run)) for run in _runs(calls)]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def cache_shares(calls: Sequence[dict[str, Any]]) -> list[float]:
    """The share of each run's prompt tokens served from Groq's prompt cache, in percentage
    points, weighted by prompt tokens. A run is left out when a call of it carries no share (a
    baseline saved before shares were kept, a call that reported no prompt tokens)."""
    out = []
    for run in _runs(calls):
        ok = [c for c in run if c.get("ok")]
        pairs = [(_number(c.get("cached_share")), _number(c.get("prompt_tokens"))) for c in ok]
        if not ok or any(share is None or not prompt for share, prompt in pairs):
            continue
        total = sum(prompt or 0.0 for _, prompt in pairs)
        out.append(sum((share or 0.0) * (prompt or 0.0) for share, prompt in pairs) / total * 100)
    return out


def run_costs(calls: Sequence[dict[str, Any]]) -> list[float]:
    """US dollars per run (the sum of its calls' costs); a run with a call of unknown cost is left out."""
    out = []
    for run in _runs(calls):
        ok = [c for c in run if c.get("ok")]
        costs = [_number(c.get("cost_usd")) for c in ok]
        if ok and all(cost is not None for cost in costs):
            out.append(sum(cost or 0.0 for cost in costs))
    return out


def call_tier(call: dict[str, Any]) -> str | None:
    """The service tier that served a call: as its response said, else the tier it asked for; a
    call that asked for none and was not told is counted as ``on_demand``, Groq's default. None
    when unknown (``auto`` on a stream, a record saved before tiers were kept)."""
    tier = call.get("service_tier")
    if isinstance(tier, str) and tier:
        return tier
    if "requested_tier" in call and call.get("requested_tier") is None:
        return "on_demand"
    return None


def served_tiers(calls: Sequence[dict[str, Any]]) -> list[str] | None:
    """The distinct tiers that served the measured calls, in order; None when any is unknown."""
    tiers = [call_tier(c) for c in calls if c.get("ok") and not c.get("warmup") and not c.get("prediction")]
    if not tiers or any(t is None for t in tiers):
        return None
    return list(dict.fromkeys(t for t in tiers if t))


def _multi_call(calls: Sequence[dict[str, Any]]) -> bool:
    return any(len(run) > 1 for run in _runs(calls))


def _samples(calls: Sequence[dict[str, Any]], key: str) -> list[float]:
    """Measured values only: a call answered with a predicted cost is left out."""
    return [
        float(c[key]) for c in calls if c.get("ok") and not c.get("prediction") and isinstance(c.get(key), (int, float))
    ]


def build_document(results: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A pytest-benchmark document for the measured tests of a session."""
    from pytest_benchmark import __version__ as pb_version
    from pytest_benchmark.stats import Stats

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
        tokens = {k: _samples(calls, k) for k in TOKEN_METRICS}
        levers = _levers(calls)
        for metric in (*METRICS, AGENT):
            if metric == AGENT:
                # only for agents: a one-call test's agent time is its call's wall time
                values = agent_samples(calls) if _multi_call(calls) else []
            else:
                values = _samples(calls, f"{metric}_ms")
            if not values:
                continue
            stats = Stats()
            for v in values:
                stats.update(v / 1000.0)
            as_dict = stats.as_dict()
            as_dict["data"] = list(stats.data)
            as_dict["iterations"] = 1
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
                    "stats": as_dict,
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


def _levers(calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A test's prompt cache share, served tiers and cost for ``extra_info`` (keys only when known)."""
    out: dict[str, Any] = {}
    ok = [c for c in calls if c.get("ok")]
    shares = [(_number(c.get("cached_share")), _number(c.get("prompt_tokens"))) for c in ok]
    known = [(share, prompt) for share, prompt in shares if share is not None and prompt]
    if known:
        total = sum(prompt or 0.0 for _, prompt in known)
        out["cached_share"] = sum((share or 0.0) * (prompt or 0.0) for share, prompt in known) / total
    tiers = list(dict.fromkeys(t for t in (call_tier(c) for c in ok) if t))
    if tiers:
        out["service_tiers"] = tiers
    costs = [_number(c.get("cost_usd")) for c in ok]
    if ok and any(cost is not None for cost in costs):
        unknown = sum(cost is None for cost in costs)
        out["cost_usd"] = {
            "total": sum(cost or 0.0 for cost in costs) if not unknown else None,
            "per_run": median(run_costs(calls)) if run_costs(calls) else None,
            "unknown_calls": unknown,
        }
    return out


@dataclass
class TestBaseline:
    nodeid: str
    source: str = "live"
    samples: dict[str, list[float]] = field(default_factory=dict)
    """Milliseconds per time metric; counts per token metric."""
    calls: list[dict[str, Any]] = field(default_factory=list)


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
            test.calls = [c for c in extra["calls"] if isinstance(c, dict)]
            for key in TOKEN_METRICS:
                test.samples[key] = _samples(test.calls, key)
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


# -- comparison ------------------------------------------------------------------------------------


@dataclass
class Shift:
    metric: str
    old: float
    new: float
    threshold: Threshold | None
    verdict: str
    """``regressed``, ``improved``, ``unchanged`` or ``inconclusive``."""
    p: float | None = None
    denoised: tuple[float, float] | None = None
    """Medians of the metric without Groq's queue time (old, new), when every call reported it:
    the verdict is judged on these."""
    detail: str | None = None
    """The decomposition: tokens, Groq's prompt and completion time, queue, network/client, and why
    the verdict is what it is."""
    certain: bool = False
    """Decided by the service part beyond the noise envelope (no rank test needed)."""
    repeats: int | None = None
    """For an inconclusive shift: about how many calls per side would decide it."""
    cause: str | None = None
    """``tier``: not compared, the service tier that served the calls changed."""

    @property
    def percent(self) -> float | None:
        if self.metric == CACHED_SHARE:  # a share moves in points; a relative change of it misleads
            return None
        return None if not self.old else (self.new - self.old) / self.old * 100

    def describe(self) -> str:
        if self.metric in LEVER_METRICS:
            return self._describe_lever()
        unit = " ms" if self.metric in TIME_METRICS else ""
        pct = self.percent
        change = f" ({pct:+.0f}%" if pct is not None else f" ({self.new - self.old:+,.0f}{unit.strip() and ' ms'}"
        change += f", limit {_limit(self.threshold)}" if self.threshold else ""
        if self.p is not None:
            change += f", p={self.p:.3f}"
        if self.detail:
            change += f"; {self.detail}"
        change += ")"
        return f"{self.metric} {_num(self.old)}{unit} -> {_num(self.new)}{unit}{change}"

    def _describe_lever(self) -> str:
        if self.metric == CACHED_SHARE:
            change = f"{self.new - self.old:+.0f} pts"
            values = f"{self.old:.0f}% -> {self.new:.0f}%"
        else:
            pct = self.percent
            change = f"{pct:+.0f}%" if pct is not None else f"{_usd(self.new - self.old, signed=True)}"
            values = f"{_usd(self.old)} -> {_usd(self.new)} per run"
        if self.threshold:
            change += f", limit {_limit(self.threshold)}"
        if self.detail:
            change += f"; {self.detail}"
        return f"{self.metric} {values} ({change})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "old": self.old,
            "new": self.new,
            "percent": self.percent,
            "threshold": None if self.threshold is None else str(self.threshold),
            "verdict": self.verdict,
            "p": self.p,
            "denoised": None if self.denoised is None else list(self.denoised),
            "certain": self.certain,
            "repeats": self.repeats,
            "detail": self.detail,
            "cause": self.cause,
        }


def _usd(value: float, *, signed: bool = False) -> str:
    """``$0.000123``: enough decimals for three significant digits of a small cost."""
    sign = ("+" if value >= 0 else "-") if signed else "-" if value < 0 else ""
    amount = abs(value)
    if amount == 0:
        return f"{sign}$0"
    decimals = max(2, 2 - math.floor(math.log10(amount)))
    return f"{sign}${amount:,.{decimals}f}"


def _limit(threshold: Threshold) -> str:
    if threshold.metric == CACHED_SHARE:
        return f"{threshold.absolute or 0:g} pts"
    if threshold.metric == COST and threshold.absolute is not None:
        return _usd(threshold.absolute)
    if threshold.percent is not None:
        return f"{threshold.percent:g}%"
    unit = " ms" if threshold.metric in TIME_METRICS else " calls" if threshold.metric == CALLS else " tokens"
    return f"{threshold.absolute:g}{unit}"


def _num(value: float) -> str:
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


@dataclass
class Comparison:
    nodeid: str
    method: str
    shifts: list[Shift]
    notes: list[str]
    baseline: str
    tiers: dict[str, list[str]] | None = None
    """When the served tiers changed: ``{"baseline": [...], "new": [...], "compared": [...]}``
    (``compared``: the tiers whose calls the time metrics were compared on; empty: none)."""

    @property
    def regressions(self) -> list[Shift]:
        return [s for s in self.shifts if s.verdict == "regressed"]

    @property
    def improvements(self) -> list[Shift]:
        return [s for s in self.shifts if s.verdict == "improved"]

    @property
    def inconclusive(self) -> list[Shift]:
        return [s for s in self.shifts if s.verdict == "inconclusive"]

    def message(self) -> str:
        name = self.nodeid.rsplit("::", 1)[-1]
        parts = []
        if self.regressions:
            parts.append(
                f"{name} regressed against {self.baseline}: " + "; ".join(s.describe() for s in self.regressions) + "."
            )
        if self.improvements:
            parts.append(
                f"{name} improved: "
                + "; ".join(s.describe() for s in self.improvements)
                + " (refresh the baseline with --llm-save)."
            )
        tiered = [s for s in self.inconclusive if s.cause == "tier"]
        noisy = [s for s in self.inconclusive if s.repeats is not None and s.cause is None]
        few = [s for s in self.inconclusive if s.repeats is None and s.cause is None]
        if tiered and self.tiers is not None:
            change = f"{', '.join(self.tiers['baseline'])} -> {', '.join(self.tiers['new'])}"
            parts.append(
                f"{name}: not compared, tier changed {change}: a run served by another tier is not judged "
                f"against this baseline (save one on {', '.join(self.tiers['new'])} with --llm-save): "
                + "; ".join(s.describe() for s in tiered)
                + "."
            )
        if noisy:
            parts.append(
                f"{name}: inconclusive, the shift is inside the noise envelope: "
                + "; ".join(s.describe() for s in noisy)
                + "."
            )
        if few:
            parts.append(
                f"{name}: inconclusive, too few samples for a live comparison "
                f"(at least {MIN_SAMPLES} per side; use @pytest.mark.llm_repeat): "
                + "; ".join(s.describe() for s in few)
                + "."
            )
        if parts:
            parts.extend(self.notes)
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "method": self.method,
            "shifts": [s.to_dict() for s in self.shifts],
            "notes": self.notes,
            "regressed": bool(self.regressions),
            "message": self.message(),
            **({"tiers": self.tiers} if self.tiers is not None else {}),
        }


def _current_samples(calls: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    out = {m: _samples(calls, f"{m}_ms") for m in METRICS}
    out.update({k: _samples(calls, k) for k in TOKEN_METRICS})
    out[AGENT] = agent_samples(calls)
    out[CALLS] = call_counts(calls)
    out[CACHED_SHARE] = cache_shares(calls)
    out[COST] = run_costs(calls)
    return out


def _tools_of(runs: Sequence[Sequence[dict[str, Any]]]) -> str:
    """``get_weather x2, search`` over the first run."""
    names: dict[str, int] = {}
    for c in runs[0] if runs else []:
        for name in c.get("tool_names") or []:
            names[str(name)] = names.get(str(name), 0) + 1
    return ", ".join(f"{n} x{k}" if k > 1 else n for n, k in names.items()) or "none"


def _steps_note(old_calls: Sequence[dict[str, Any]], new_calls: Sequence[dict[str, Any]]) -> str | None:
    """``3 -> 5 LLM calls: the agent took 2 more steps (tool calls get_weather -> get_weather x3)``."""
    old_runs, new_runs = _runs(old_calls), _runs(new_calls)
    a, b = call_counts(old_calls), call_counts(new_calls)
    if not a or not b or median(a) == median(b):
        return None
    n_old, n_new = median(a), median(b)
    steps = n_new - n_old
    text = (
        f"{_num(n_old)} -> {_num(n_new)} LLM calls per run: the agent took {_num(abs(steps))} "
        f"{'more' if steps > 0 else 'fewer'} step{'' if abs(steps) == 1 else 's'}"
    )
    tools_old, tools_new = _tools_of(old_runs), _tools_of(new_runs)
    if tools_old != tools_new:
        text += f" (tool calls {tools_old} -> {tools_new})"
    old_e2e = sum(float(c.get("e2e_ms") or 0) for c in old_runs[0]) if old_runs else 0.0
    new_e2e = sum(float(c.get("e2e_ms") or 0) for c in new_runs[0]) if new_runs else 0.0
    if old_e2e and new_e2e:
        text += f"; time in LLM calls {_num(old_e2e)} -> {_num(new_e2e)} ms"
    return text + "."


def _call_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changes = []
    if old.get("model") != new.get("model"):
        changes.append(f"model {old.get('model')!r} -> {new.get('model')!r}")
    changes += request_diff(old.get("params") or {}, new.get("params") or {})
    if old.get("prompt_chars") != new.get("prompt_chars"):
        changes.append(f"prompt length {old.get('prompt_chars')} -> {new.get('prompt_chars')} chars")
    return changes


def _finish_change(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    finish_old, finish_new = old.get("finish_reason"), new.get("finish_reason")
    if finish_old == finish_new or not finish_old or not finish_new:
        return None
    why = {
        ("length", "stop"): ": the old cap truncated the answer",
        ("stop", "length"): ": the new cap truncates the answer",
    }.get((finish_old, finish_new), "")
    return f"finish_reason {finish_old} -> {finish_new}{why}"


def _tier_note(tiers: _TierKey, old_calls: Sequence[dict[str, Any]], new_calls: Sequence[dict[str, Any]]) -> str:
    """``Tier changed on_demand -> flex (the request asked for 'auto' both times)``, and what
    the time metrics were compared on."""
    asked_old = list(dict.fromkeys(str(c.get("requested_tier")) for c in old_calls if c.get("ok")))
    asked_new = list(dict.fromkeys(str(c.get("requested_tier")) for c in new_calls if c.get("ok")))
    text = f"Tier changed {tiers.change}"
    if asked_old == asked_new and len(asked_new) == 1:
        asked = "no tier (on_demand)" if asked_new[0] == "None" else repr(asked_new[0])
        text += f" (the requests asked for {asked} both times: Groq served them on another tier)"
    if tiers.common:
        left = sum(1 for c in new_calls if c.get("ok") and call_tier(c) not in tiers.common)
        left_old = sum(1 for c in old_calls if c.get("ok") and call_tier(c) not in tiers.common)
        text += (
            f"; time metrics compared on the calls served by {', '.join(tiers.common)} only "
            f"({left_old} baseline and {left} new call(s) left out)"
        )
    else:
        text += "; time metrics not compared"
    return text + "."


def _prompt_ms(calls: Sequence[dict[str, Any]]) -> float | None:
    values = _samples(calls, "prompt_ms")
    return median(values) if values else None


def _cache_note(
    old_calls: Sequence[dict[str, Any]], new_calls: Sequence[dict[str, Any]], same_request: bool
) -> str | None:
    """``Prompt 80% cached -> 0%: a cold cache, +42 ms prompt time``, from Groq's prompt_time."""
    change = _cache_change(old_calls, new_calls)
    if change is None:
        return None
    a, b = change
    text = f"Prompt {a:.0f}% cached -> {b:.0f}%: a {'cold' if b < a else 'warmer'} cache"
    pa, pb = _prompt_ms(old_calls), _prompt_ms(new_calls)
    if pa is not None and pb is not None:
        text += f", {_signed(pb - pa)} ms prompt time (Groq's prompt_time {_num(pa)} -> {_num(pb)} ms)"
    if b < a:
        text += (
            " with the same request: the prefix was not in Groq's cache (it keeps one for about 2 hours, best "
            "effort; warm it with @pytest.mark.llm_repeat(warmup=1))"
            if same_request
            else ": the changed request no longer starts with the cached prefix"
        )
    return text + "."


def _attribution(
    base: TestBaseline, calls: Sequence[dict[str, Any]], shown: set[str], tiers: _TierKey | None = None
) -> list[str]:
    """What changed in the requests since the baseline (call by call, in order), and what that
    did to tokens (token metrics already reported as shifts are not repeated); a change of the
    service tier that served the calls, or of the share of the prompt Groq's cache served."""
    notes = []
    old_calls, new_calls = base.calls, [c for c in calls if not c.get("warmup") and not c.get("prediction")]
    if tiers is not None:
        notes.append(_tier_note(tiers, old_calls, new_calls))
    steps = _steps_note(old_calls, new_calls)
    if steps:
        notes.append(steps)
    elif len(old_calls) != len(new_calls):
        notes.append(f"Calls per run {len(old_calls)} -> {len(new_calls)}.")
    pairs = list(zip(old_calls, new_calls, strict=False))
    if not pairs:
        return notes
    per_call = [_call_changes(old, new) for old, new in pairs]
    distinct = list(dict.fromkeys(tuple(c) for c in per_call if c))
    if not distinct:
        notes.append("The request is unchanged.")
    elif len(distinct) == 1 and all(per_call):
        notes.append("Request changed: " + "; ".join(distinct[0]) + ".")
    else:
        notes.append(
            "Requests changed: "
            + "; ".join(f"call {i + 1}: " + ", ".join(c) for i, c in enumerate(per_call) if c)
            + "."
        )
    tokens = []
    for key in ("completion_tokens", "reasoning_tokens", "prompt_tokens"):
        if key in shown:
            continue
        a, b = _samples(old_calls, key), _samples(new_calls, key)
        if a and b and median(a) != median(b):
            tokens.append(f"{key} {_num(median(a))} -> {_num(median(b))}")
    finishes = list(dict.fromkeys(f for f in (_finish_change(o, n) for o, n in pairs) if f))
    tokens += finishes
    cache = _cache_note(old_calls, new_calls, same_request=not distinct)
    if tokens:
        notes.append("; ".join(tokens) + ".")
    if cache:
        notes.append(cache)
    elif not tokens and not distinct and not (shown & set(TOKEN_METRICS)) and not (tiers and not tiers.common):
        server = []
        for key, label in (("queue_ms", "queue"), ("completion_ms", "completion")):
            a, b = _samples(old_calls, key), _samples(new_calls, key)
            if a and b:
                server.append(f"Groq {label} {_num(median(a))} -> {_num(median(b))} ms")
        if server:
            notes.append("Same tokens: the server or the network got slower or faster (" + ", ".join(server) + ").")
    return notes


def choose_method(method: str, base_source: str, source: str) -> str:
    if method != "auto":
        return method
    deterministic = {"replay", "emulator"}
    return "deterministic" if base_source in deterministic and source in deterministic else "rank"


def _cache_change(
    old_calls: Sequence[dict[str, Any]], new_calls: Sequence[dict[str, Any]]
) -> tuple[float, float] | None:
    """The median cached share per run (points) on each side, when both are known and they differ
    by at least ``CACHE_CHANGE_POINTS``."""
    a, b = cache_shares(old_calls), cache_shares(new_calls)
    if not a or not b or abs(median(b) - median(a)) < CACHE_CHANGE_POINTS:
        return None
    return median(a), median(b)


@dataclass
class _TierKey:
    """How the service tiers of the baseline and of this run compare."""

    old: list[str]
    new: list[str]
    common: list[str]

    @property
    def change(self) -> str:
        return f"{', '.join(self.old)} -> {', '.join(self.new)}"


def _tier_key(base_calls: Sequence[dict[str, Any]], calls: Sequence[dict[str, Any]]) -> _TierKey | None:
    """The tiers on both sides when every call's tier is known and they differ; None otherwise."""
    old, new = served_tiers(base_calls), served_tiers(calls)
    if not old or not new or set(old) == set(new):
        return None
    return _TierKey(old, new, [t for t in old if t in new])


def compare_test(
    nodeid: str,
    calls: Sequence[dict[str, Any]],
    source: str,
    base: TestBaseline,
    thresholds: Sequence[Threshold],
    *,
    method: str = "auto",
    baseline_label: str = "the baseline",
    agent: bool = False,
) -> Comparison:
    """Compare one test's calls with its baseline.

    Deterministic (replayed or emulator runs on both sides): medians compared with
    the thresholds. Rank (live): the shift must exceed the threshold *and* a
    one-sided Mann-Whitney U test must find it significant at 5 %; with fewer than
    5 samples on a side the result is inconclusive, never a failure. Token counts,
    the cached share and the cost are always compared on their medians.

    ``agent``: the test's latency budget covers the whole agent run (``scope="test"``), so an
    ``e2e`` threshold judges the agent wall time per run (metric ``agent``) instead.

    Keyed on the service tier: when the tiers that served the calls differ between the baseline
    and this run, time metrics are compared on the calls of the tiers both sides share, and not
    at all (verdict ``inconclusive``, cause ``tier``) when they share none: a flex run is not
    judged against an on_demand baseline as if the two were the same service."""
    chosen = choose_method(method, base.source, source)
    measured = [c for c in calls if not c.get("warmup")]
    current = _current_samples(measured)
    tiers = _tier_key(base.calls, measured)
    time_base, time_calls, time_current = base, list(calls), current
    if tiers is not None and tiers.common:
        kept_old = [c for c in base.calls if call_tier(c) in tiers.common]
        time_calls = [c for c in measured if call_tier(c) in tiers.common]
        time_base = TestBaseline(base.nodeid, base.source, _current_samples(kept_old), kept_old)
        time_current = _current_samples(time_calls)
    untiered = tiers is not None and not tiers.common
    shifts = []
    if agent:
        thresholds = [
            Threshold(AGENT, t.percent, t.absolute)
            if t.metric == "e2e" and not any(u.metric == AGENT for u in thresholds)
            else t
            for t in thresholds
        ]
    checked = {t.metric for t in thresholds}
    for threshold in thresholds:
        timed = threshold.metric in TIME_METRICS
        side_base, side_calls, side_current = (time_base, time_calls, time_current) if timed else (base, calls, current)
        old, new = side_base.samples.get(threshold.metric) or [], side_current.get(threshold.metric) or []
        if not old or not new:
            continue
        if timed and untiered and tiers is not None:
            shifts.append(_tier_shift(threshold.metric, old, new, threshold, tiers))
            continue
        floor = EMULATOR_FLOOR_MS if "emulator" in (base.source, source) and chosen == "deterministic" else FLOOR_MS
        if base.source == source == "replay":
            floor = 0.0  # replays carry the recorded timings exactly
        noise = EMULATOR_NOISE if "live" not in (base.source, source) else LIVE_NOISE
        decomposed = (
            _judge_decomposed(threshold.metric, side_base.calls, side_calls, threshold, chosen, floor, noise)
            if threshold.metric in DECOMPOSED
            else None
        )
        shifts.append(decomposed or _judge_shift(threshold.metric, old, new, threshold, chosen, floor))
    # the headline metrics are always shown, judged or not (an agent's wall time and call count too)
    headline = ["e2e", "completion_tokens"]
    if _multi_call(base.calls) or _multi_call(calls):
        headline += [AGENT, CALLS]
    for metric in headline:
        if metric in checked:
            continue
        side_base, side_current = (time_base, time_current) if metric in TIME_METRICS else (base, current)
        old, new = side_base.samples.get(metric) or [], side_current.get(metric) or []
        if old and new:
            if untiered and tiers is not None and metric in TIME_METRICS:
                shifts.append(_tier_shift(metric, old, new, None, tiers))
            else:
                shifts.append(Shift(metric, median(old), median(new), None, "unchanged"))
    for metric in LEVER_METRICS:  # shown when they moved
        old, new = base.samples.get(metric) or [], current.get(metric) or []
        if metric not in checked and old and new and median(old) != median(new):
            shifts.append(Shift(metric, median(old), median(new), None, "unchanged"))
    moved = {s.metric for s in shifts if s.verdict != "unchanged" or (s.metric == CALLS and s.old != s.new)}
    notes = _attribution(base, calls, moved, tiers) if moved else []
    return Comparison(
        nodeid=nodeid,
        method=chosen,
        shifts=shifts,
        notes=notes,
        baseline=baseline_label,
        tiers=None if tiers is None else {"baseline": tiers.old, "new": tiers.new, "compared": tiers.common},
    )


def _tier_shift(metric: str, old: list[float], new: list[float], threshold: Threshold | None, tiers: _TierKey) -> Shift:
    return Shift(
        metric,
        median(old),
        median(new),
        threshold,
        "inconclusive",
        detail=f"not compared: served by {', '.join(tiers.new)}, the baseline by {', '.join(tiers.old)}",
        cause="tier",
    )


def gate_result(
    result: dict[str, Any], baseline: Baseline, thresholds: Sequence[Threshold], *, method: str = "auto"
) -> tuple[dict[str, Any] | None, str | None]:
    """The gate on one test's JSON result (what ``--llm-report-json`` holds): its comparison as a
    dict (None when not compared) and the regression message when it fails. The in-run gate
    and ``llmlatency compare`` both call this, so a merged file gets the same verdicts."""
    options = result.get("baseline_options") or {}
    if not result.get("calls") or options.get("compare") is False:
        return None, None
    nodeid = str(result["nodeid"])
    base = baseline.tests.get(nodeid)
    if base is None:
        new = {"baseline": baseline.label, "new": True, "shifts": [], "regressed": False}
        return {**new, "message": "no baseline for this test yet"}, None
    if options.get("tolerance") is not None:
        thresholds = parse_thresholds(options["tolerance"], source="@pytest.mark.llm_baseline: tolerance=")
    comparison = compare_test(
        nodeid,
        result["calls"],
        str(result.get("source") or "live"),
        base,
        thresholds,
        method=method,
        baseline_label=baseline.label,
        agent=any(isinstance(b, dict) and b.get("scope") == "test" for b in result.get("budgets") or []),
    )
    return comparison.to_dict(), comparison.message() if comparison.regressions else None


def _judge_shift(
    metric: str, old: list[float], new: list[float], threshold: Threshold, method: str, floor: float = FLOOR_MS
) -> Shift:
    a, b = median(old), median(new)
    if method == "deterministic" or metric in COUNT_METRICS or metric in LEVER_METRICS:
        verdict = (
            "regressed"
            if threshold.exceeded(a, b, floor)
            else "improved"
            if threshold.improved(a, b, floor)
            else "unchanged"
        )
        return Shift(metric, a, b, threshold, verdict)
    if not (threshold.exceeded(a, b) or threshold.improved(a, b)):
        return Shift(metric, a, b, threshold, "unchanged")
    if len(old) < MIN_SAMPLES or len(new) < MIN_SAMPLES:
        return Shift(metric, a, b, threshold, "inconclusive")
    if threshold.exceeded(a, b):
        test = mann_whitney_greater(new, old)
        return Shift(metric, a, b, threshold, "regressed" if test.p < ALPHA else "unchanged", test.p)
    test = mann_whitney_greater(old, new)
    return Shift(metric, a, b, threshold, "improved" if test.p < ALPHA else "unchanged", test.p)


# -- the decomposed gate ---------------------------------------------------------------------------

DECOMPOSED = ("e2e", "ttft", "server")
"""Time metrics the gate judges on Groq's decomposition when every call reported it."""


@dataclass
class _Part:
    """One call's metric split into Groq's queue (noise), the service (prompt + completion time)
    and the network/client rest."""

    raw: float
    queue: float
    service: float
    path: float
    completion_tokens: float
    prompt_tokens: float
    completion_ms: float
    prompt_ms: float

    @property
    def denoised(self) -> float:
        return self.raw - self.queue


def _num_of(call: dict[str, Any], key: str) -> float | None:
    value = call.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _part(call: dict[str, Any], metric: str) -> _Part | None:
    raw = _num_of(call, f"{metric}_ms")
    queue, prompt_ms, completion_ms = (
        _num_of(call, "queue_ms"),
        _num_of(call, "prompt_ms"),
        _num_of(call, "completion_ms"),
    )
    if raw is None or queue is None or prompt_ms is None or completion_ms is None:
        return None
    completion, prompt = _num_of(call, "completion_tokens") or 0.0, _num_of(call, "prompt_tokens") or 0.0
    if metric == "server":
        return _Part(raw, 0.0, raw, 0.0, completion, prompt, completion_ms, prompt_ms)
    if metric == "ttft" and call.get("streamed"):
        # the first token follows the prompt's processing; the decode of the rest is not in it
        service = prompt_ms
        completion, completion_ms = 0.0, 0.0
    else:
        service = prompt_ms + completion_ms
    return _Part(raw, queue, service, raw - queue - service, completion, prompt, completion_ms, prompt_ms)


def _parts(calls: Sequence[dict[str, Any]], metric: str) -> list[_Part] | None:
    measured = [c for c in calls if c.get("ok") and not c.get("warmup") and not c.get("prediction")]
    parts = [_part(c, metric) for c in measured]
    if not parts or any(p is None for p in parts):
        return None
    return [p for p in parts if p is not None]


def _per_token(parts: Sequence[_Part], ms: str, tokens: str) -> float:
    rates = [getattr(p, ms) / getattr(p, tokens) for p in parts if getattr(p, tokens) > 0]
    return median(rates) if rates else 0.0


def _signed(ms: float) -> str:
    text = f"{ms:+,.0f}"
    return "+0" if text in ("-0", "+0") else text


def _judge_decomposed(
    metric: str,
    old_calls: Sequence[dict[str, Any]],
    new_calls: Sequence[dict[str, Any]],
    threshold: Threshold,
    method: str,
    floor: float,
    noise: NoiseModel,
) -> Shift | None:
    """Judge a time metric on Groq's decomposition: queue time is noise and is left out; the
    service (prompt and completion time, driven by the token counts) and the network/client rest
    are compared. A shift is *certain* when the tokens alone, or the whole de-noised shift, exceed
    the threshold beyond the noise envelope; otherwise the rank test decides from 5 samples per
    side, and below that the shift is inconclusive, with the number of repeats that would decide.
    None when a call lacks Groq's timings (the plain comparison applies)."""
    old, new = _parts(old_calls, metric), _parts(new_calls, metric)
    if not old or not new:
        return None
    raw_a, raw_b = median([p.raw for p in old]), median([p.raw for p in new])
    d_old, d_new = [p.denoised for p in old], [p.denoised for p in new]
    a, b = median(d_old), median(d_new)
    delta = b - a
    limit = (threshold.percent / 100 * a) if threshold.percent is not None else (threshold.absolute or 0.0)

    def med(parts: Sequence[_Part], key: str) -> float:
        return median([float(getattr(p, key)) for p in parts])

    # the part of the shift the token counts explain, at the per-token times of both sides' calls
    both = [*old, *new]
    ms_completion = _per_token(both, "completion_ms", "completion_tokens")
    ms_prompt = _per_token(both, "prompt_ms", "prompt_tokens")
    dc = med(new, "completion_tokens") - med(old, "completion_tokens")
    dp = med(new, "prompt_tokens") - med(old, "prompt_tokens")
    token_ms = dc * ms_completion + dp * ms_prompt
    pooled = len(both)
    token_sd = abs(token_ms) * noise.service_rel_sd * (1.2533 if pooled > 2 else 1.0) / pooled**0.5
    # a cold (or warmer) prompt cache: Groq's own prompt time moved beyond what the prompt tokens explain
    cache = _cache_change(old_calls, new_calls)
    cache_ms = 0.0
    if cache is not None:
        cache_ms = med(new, "prompt_ms") - med(old, "prompt_ms") - dp * ms_prompt
        fewest = min(len(old), len(new))
        cache_sd = (
            noise.service_rel_sd
            * (med(new, "prompt_ms") ** 2 + med(old, "prompt_ms") ** 2) ** 0.5
            * (1.2533 if fewest > 2 else 1.0)
            / fewest**0.5
        )
        token_ms += cache_ms
        token_sd = (token_sd**2 + cache_sd**2) ** 0.5
    explained_by = "the token counts and the prompt cache" if cache is not None else "the token counts alone"
    # the noise of the rest: the server's speed and the network/client path, per side
    path_only = metric != "server"

    def side_sd(parts: Sequence[_Part]) -> float:
        service, path = med(parts, "service"), med(parts, "path") if path_only else 0.0
        sd = noise.median_sd(service, path, len(parts))
        return (
            sd
            if path_only
            else noise.service_rel_sd * service * (1.2533 if len(parts) > 2 else 1.0) / len(parts) ** 0.5
        )

    rest_sd = (side_sd(old) ** 2 + side_sd(new) ** 2) ** 0.5
    envelope = noise.z * (rest_sd**2 + token_sd**2) ** 0.5
    token_low = token_ms - noise.z * token_sd
    rest = delta - token_ms

    items = []
    if dc:
        items.append(
            f"completion {_num(med(old, 'completion_tokens'))} -> {_num(med(new, 'completion_tokens'))} tokens "
            f"({_signed(dc * ms_completion)} ms)"
        )
    if dp:
        items.append(
            f"prompt {_num(med(old, 'prompt_tokens'))} -> {_num(med(new, 'prompt_tokens'))} tokens "
            f"({_signed(dp * ms_prompt)} ms)"
        )
    if cache is not None:
        items.append(f"prompt cache {cache[0]:.0f}% -> {cache[1]:.0f}% cached ({_signed(cache_ms)} ms prompt time)")
    speed = delta - token_ms - (med(new, "path") - med(old, "path") if path_only else 0.0)
    if abs(speed) >= max(2.0, 0.02 * a):
        items.append(f"server speed at these tokens {_signed(speed)} ms")
    if path_only:
        items.append(f"network/client {_signed(med(new, 'path') - med(old, 'path'))} ms")
        items.append(f"queue {_signed(med(new, 'queue') - med(old, 'queue'))} ms (Groq's load: left out)")
    pct = f"{delta / a * 100:+.0f}%" if a > 0 else f"{delta:+,.0f} ms"
    head = f"without queue {_num(a)} -> {_num(b)} ms ({pct})" if path_only else f"{_num(a)} -> {_num(b)} ms ({pct})"
    head += ": " + ", ".join(items) if items else ""
    sides = f"{len(old)} vs {len(new)} call(s)"

    def shift(verdict: str, why: str, **extra: Any) -> Shift:
        return Shift(metric, raw_a, raw_b, threshold, verdict, denoised=(a, b), detail=f"{head}; {why}", **extra)

    if method != "deterministic":
        # the token counts are the request's: the part of the shift they explain at Groq's per-token
        # times is known to within the per-token estimate, whatever the speed noise of single calls
        # ... unless the rest of the shift is a speed-up beyond the envelope plus one sd (a faster
        # model or server, not noise): then the tokens do not tell the whole story
        guard = (noise.z + 1) * rest_sd
        if token_low > limit and rest > -guard:
            return shift(
                "regressed",
                f"certain at {sides}: {explained_by} add at least {token_low:,.0f} ms, beyond the "
                f"{limit:,.0f} ms limit",
                certain=True,
            )
        if -token_ms - noise.z * token_sd > limit and rest < guard:
            return shift(
                "improved",
                f"certain at {sides}: {explained_by} save at least {-token_ms - noise.z * token_sd:,.0f} "
                f"ms, beyond the {limit:,.0f} ms limit",
                certain=True,
            )
    ranked = len(old) >= MIN_SAMPLES and len(new) >= MIN_SAMPLES and method != "deterministic"
    # from 5 calls per side the shift is the Hodges-Lehmann estimate (the rank test's own)
    effect = hodges_lehmann(d_new, d_old) if ranked else delta
    regress = effect > limit and effect >= floor
    improve = -effect > limit and -effect >= floor
    if not (regress or improve):
        why = "within the limit" + (" once queue time is left out" if path_only and raw_b - raw_a > limit else "")
        return shift("unchanged", why)
    word = "regressed" if regress else "improved"
    if method == "deterministic":
        return shift(word, f"{sides}, deterministic")
    margin = abs(effect) - limit
    if margin > envelope:
        return shift(
            word, f"certain at {sides}: beyond the noise envelope of +-{envelope:,.0f} ms ({noise.name})", certain=True
        )
    if ranked:
        test = mann_whitney_greater(d_new, d_old) if regress else mann_whitney_greater(d_old, d_new)
        verdict = word if test.p < ALPHA else "unchanged"
        return shift(verdict, f"rank test on the latency without queue, shift {effect:+,.0f} ms, {sides}", p=test.p)
    sd_one = max(
        noise.call_sd(med(old, "service"), med(old, "path")), noise.call_sd(med(new, "service"), med(new, "path"))
    )
    need = repeats_to_decide(margin, sd_one, noise.z, min(len(old), len(new)))
    return shift(
        "inconclusive",
        f"inside the noise envelope of +-{envelope:,.0f} ms at {sides}; about {need} calls per side would decide "
        f"(@pytest.mark.llm_repeat(n={need}))",
        repeats=need,
    )
