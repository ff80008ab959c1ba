"""Exports for continuous-benchmarking services: Bencher Metric Format and github-action-benchmark.

Both formats are checked against the tools' own parsers (see tests/report/test_export.py):

- **BMF** (``bencher run --adapter json``): a JSON object ``{benchmark name: {measure: {"value",
  "lower_value", "upper_value"}}}``. Bencher's JSON adapter deserializes it with serde into
  ``HashMap<BenchmarkNameId, HashMap<MeasureNameId, JsonNewMetric>>``: a benchmark name is 1 to
  1,024 bytes, a measure is a slug (``llm-e2e-ms``: lowercase letters, digits, single hyphens, at
  most 64 bytes; Bencher creates a measure it does not know yet), a value is a finite number. Here:
  one benchmark per test (its node id), one measure per metric, ``value`` the median with the 5th
  and 95th percentiles as ``lower_value`` / ``upper_value``.
- **customSmallerIsBetter** (benchmark-action/github-action-benchmark): a non-empty JSON array of
  ``{"name", "value", "unit", "range"?, "extra"?}``, ``value`` a number, the others strings (its
  ``extract.ts`` parses it with a zod schema). Only smaller-is-better metrics go there, so
  throughput (bigger is better) is left out; names are unique.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

from ..core.calls import percentile
from ..core.records import CallRecord, ResultRecord

__all__ = ["BMF_MEASURES", "render_export", "to_bmf", "to_github_benchmark"]

BMF_MEASURES = {
    "e2e_ms": "llm-e2e-ms",
    "ttft_ms": "llm-ttft-ms",
    "itl_ms": "llm-itl-ms",
    "completion_tokens": "llm-completion-tokens",
    "prompt_tokens": "llm-prompt-tokens",
    "output_tokens_per_s": "llm-throughput-tokens-per-s",
}
"""Call field -> Bencher measure slug."""
MAX_NAME_BYTES = 1024


def _measured(result: ResultRecord) -> list[CallRecord]:
    return [
        c
        for c in result.get("calls") or []
        if isinstance(c, dict) and c.get("ok") and not c.get("warmup") and not c.get("prediction")
    ]


def _values(calls: Sequence[CallRecord], key: str) -> list[float]:
    out = []
    for c in calls:
        v = c.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


def _r(value: float) -> float:
    return round(value, 3)


def _name(nodeid: str, suffix: str = "") -> str:
    """A benchmark name within Bencher's 1,024 bytes (a long node id keeps a digest of itself)."""
    name = nodeid + suffix
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(nodeid.encode()).hexdigest()[:12]
    room = MAX_NAME_BYTES - len(suffix.encode()) - len(digest) - 4
    head = nodeid.encode()[:room].decode("utf-8", "ignore")
    return f"{head}...~{digest}{suffix}"


def to_bmf(results: Sequence[ResultRecord]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for result in sorted(results, key=lambda r: str(r.get("nodeid"))):
        calls = _measured(result)
        measures: dict[str, Any] = {}
        for key, slug in BMF_MEASURES.items():
            values = _values(calls, key)
            if values:
                measures[slug] = {
                    "value": _r(percentile(values, 50)),
                    "lower_value": _r(percentile(values, 5)),
                    "upper_value": _r(percentile(values, 95)),
                }
        if measures:
            out[_name(str(result["nodeid"]))] = measures
    return out


def to_github_benchmark(results: Sequence[ResultRecord]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for result in sorted(results, key=lambda r: str(r.get("nodeid"))):
        calls = _measured(result)
        if not calls:
            continue
        nodeid = str(result["nodeid"])
        models = ", ".join(sorted({str(c.get("model")) for c in calls}))
        extra = f"{len(calls)} call(s); {models}; source {result.get('source', 'live')}"
        for key, label, q, unit in (
            ("e2e_ms", "e2e p50", 50, "ms"),
            ("e2e_ms", "e2e p95", 95, "ms"),
            ("ttft_ms", "TTFT p50", 50, "ms"),
            ("itl_ms", "ITL p50", 50, "ms"),
            ("completion_tokens", "completion tokens p50", 50, "tokens"),
        ):
            values = _values(calls, key)
            if not values:
                continue
            spread = (percentile(values, 95) - percentile(values, 5)) / 2
            entries.append(
                {
                    "name": _name(nodeid, f" {label}"),
                    "value": _r(percentile(values, q)),
                    "unit": unit,
                    "range": f"± {_r(spread):g}",
                    "extra": extra,
                }
            )
    return entries


def render_export(results: Sequence[ResultRecord], kind: str) -> str:
    """``kind``: ``bmf`` or ``github``; the file's text."""
    doc: Any = to_bmf(results) if kind == "bmf" else to_github_benchmark(results)
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"
