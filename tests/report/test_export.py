"""Issue 15: exports for Bencher (BMF) and github-action-benchmark, checked against the rules of
the tools' own parsers.

- Bencher (bencherdev/bencher): ``lib/bencher_adapter/src/adapters/json.rs`` parses BMF with
  ``serde_json::from_str::<AdapterResults>``: a map of ``BenchmarkNameId`` (``bencher_valid``'s
  ``BenchmarkName``: 1 to 1,024 bytes) to a map of ``MeasureNameId`` (a UUID, a slug, or a
  ``ResourceName`` of 1 to 64 bytes; ``is_valid_slug``: ``slug == slugify(slug)``) to
  ``JsonNewMetric {value: f64, lower_value: Option<f64>, upper_value: Option<f64>}``. Bencher
  publishes no JSON schema for it (its openapi.json has none), so the schema below encodes
  those types.
- github-action-benchmark (benchmark-action/github-action-benchmark): ``src/extract.ts`` parses
  ``customSmallerIsBetter`` with the zod schema ``z.array(z.object({name: z.coerce.string(),
  value: z.coerce.number(), range: z.coerce.string().optional(), unit: z.coerce.string(),
  extra: z.coerce.string().optional()}))`` and throws when the array is empty.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from pytest_llmlatency.core.calls import percentile
from pytest_llmlatency.report.export import BMF_MEASURES, render_export, to_bmf, to_github_benchmark

jsonschema = pytest.importorskip("jsonschema")

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
NUMBER = {"type": "number"}
BMF_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"minLength": 1},
    "additionalProperties": {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": SLUG, "maxLength": 64},
        "additionalProperties": {
            "type": "object",
            "required": ["value"],
            "properties": {
                "value": NUMBER,
                "lower_value": {"type": ["number", "null"]},
                "upper_value": {"type": ["number", "null"]},
            },
            "additionalProperties": False,
        },
    },
}
ACTION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["name", "value", "unit"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "value": NUMBER,
            "unit": {"type": "string"},
            "range": {"type": "string"},
            "extra": {"type": "string"},
        },
    },
}
# github-action-benchmark's own fixture, test/data/extract/customSmallerIsBetter_output.json
ACTION_EXAMPLE = [
    {
        "name": "My Custom Smaller Is Better Benchmark - CPU Load",
        "unit": "Percent",
        "value": 50,
        "range": "5%",
        "extra": "My Optional Information for the tooltip",
    },
    {"name": "My Custom Smaller Is Better Benchmark - Memory Used", "unit": "Megabytes", "value": 100},
]
# bencher's own fixture, lib/bencher_adapter/tool_output/json/report_latency.json (first entry)
BMF_EXAMPLE = {"tests::benchmark_a": {"latency": {"value": 3247.0, "lower_value": 1044.0, "upper_value": 1044.0}}}


def check_bmf(text: str) -> dict[str, Any]:
    """Everything Bencher's JSON adapter requires of a BMF file, plus lower <= value <= upper."""
    doc: dict[str, Any] = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON Bencher reads"))
    jsonschema.validate(doc, BMF_SCHEMA)
    for name, measures in doc.items():
        assert 1 <= len(name.encode()) <= 1024, name  # BenchmarkName: bytes, not characters
        for measure, metric in measures.items():
            assert len(measure.encode()) <= 64
            assert all(math.isfinite(v) for v in metric.values() if v is not None)
            assert metric["lower_value"] <= metric["value"] <= metric["upper_value"], (name, measure)
    return doc


def check_action(text: str) -> list[dict[str, Any]]:
    doc: list[dict[str, Any]] = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c}: zod rejects NaN"))
    jsonschema.validate(doc, ACTION_SCHEMA)
    names = [e["name"] for e in doc]
    assert len(names) == len(set(names)), "a name twice would mix two series in one chart"
    return doc


def test_the_schemas_accept_the_tools_own_examples() -> None:
    jsonschema.validate(ACTION_EXAMPLE, ACTION_SCHEMA)
    jsonschema.validate(BMF_EXAMPLE, BMF_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([], ACTION_SCHEMA)  # extract.ts: "No benchmark result was found"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"name": "x", "value": 1}], ACTION_SCHEMA)  # unit is required
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"t": {"Latency MS": {"value": 1}}}, BMF_SCHEMA)  # not a slug
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"t": {"llm-e2e-ms": {"lower_value": 1}}}, BMF_SCHEMA)  # value is required


def _call(e2e: float, *, ttft: float | None = None, tokens: int = 40, **extra: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "model": "llama-3.1-8b-instant",
        "e2e_ms": e2e,
        "ttft_ms": ttft,
        "itl_ms": None if ttft is None else 1.5,
        "completion_tokens": tokens,
        "prompt_tokens": 30,
        "output_tokens_per_s": tokens / e2e * 1000,
        **extra,
    }


RESULTS: list[dict[str, Any]] = [
    {
        "nodeid": "tests/test_b.py::test_stream",
        "source": "replay",
        "calls": [_call(100.0 + 10 * i, ttft=20.0 + i) for i in range(10)],
    },
    {
        "nodeid": "tests/test_a.py::test_plain[x]",
        "source": "emulator",
        "calls": [
            _call(250.0),
            _call(9999.0, warmup=True),  # warm-up, predicted and failed calls are not measured
            _call(8888.0, prediction={"e2e": [1, 2]}),
            {"ok": False, "e2e_ms": 7777.0, "model": "m"},
        ],
    },
    {"nodeid": "tests/test_a.py::test_no_calls", "calls": []},
]


def test_bmf_has_one_measure_per_metric_with_percentiles() -> None:
    doc = check_bmf(render_export(RESULTS, "bmf"))
    assert list(doc) == ["tests/test_a.py::test_plain[x]", "tests/test_b.py::test_stream"]
    stream = doc["tests/test_b.py::test_stream"]
    assert set(stream) == set(BMF_MEASURES.values())
    e2e = [100.0 + 10 * i for i in range(10)]
    assert stream["llm-e2e-ms"] == {
        "value": round(percentile(e2e, 50), 3),
        "lower_value": round(percentile(e2e, 5), 3),
        "upper_value": round(percentile(e2e, 95), 3),
    }
    plain = doc["tests/test_a.py::test_plain[x]"]
    assert "llm-ttft-ms" not in plain and "llm-itl-ms" not in plain  # not streamed: no TTFT to report
    assert plain["llm-e2e-ms"] == {"value": 250.0, "lower_value": 250.0, "upper_value": 250.0}


def test_github_benchmark_has_smaller_is_better_entries_only() -> None:
    doc = check_action(render_export(RESULTS, "github"))
    names = [e["name"] for e in doc]
    assert names == [
        "tests/test_a.py::test_plain[x] e2e p50",
        "tests/test_a.py::test_plain[x] e2e p95",
        "tests/test_a.py::test_plain[x] completion tokens p50",
        "tests/test_b.py::test_stream e2e p50",
        "tests/test_b.py::test_stream e2e p95",
        "tests/test_b.py::test_stream TTFT p50",
        "tests/test_b.py::test_stream ITL p50",
        "tests/test_b.py::test_stream completion tokens p50",
    ]
    assert not any("throughput" in n for n in names)  # bigger is better: not in this file
    p95 = next(e for e in doc if e["name"] == "tests/test_b.py::test_stream e2e p95")
    assert p95 == {
        "name": "tests/test_b.py::test_stream e2e p95",
        "value": round(percentile([100.0 + 10 * i for i in range(10)], 95), 3),
        "unit": "ms",
        "range": "± 40.5",
        "extra": "10 call(s); llama-3.1-8b-instant; source replay",
    }


def test_long_node_ids_fit_bencher_and_stay_distinct() -> None:
    long_a = "tests/test_x.py::test_case[" + "é" * 700 + "a]"
    long_b = "tests/test_x.py::test_case[" + "é" * 700 + "b]"
    results = [{"nodeid": n, "calls": [_call(10.0)]} for n in (long_a, long_b)]
    bmf = check_bmf(render_export(results, "bmf"))
    assert len(bmf) == 2 and all(len(n.encode()) <= 1024 for n in bmf)
    action = check_action(render_export(results, "github"))
    assert len({e["name"] for e in action}) == len(action)


def test_nothing_measured_gives_empty_files() -> None:
    assert to_bmf([]) == {} and to_github_benchmark([]) == []
    doc = check_bmf(render_export([{"nodeid": "t", "calls": [_call(float("nan"))]}], "bmf"))
    assert "llm-e2e-ms" not in doc["t"] and "llm-completion-tokens" in doc["t"]  # no NaN reaches the file
