"""Results from more than one machine: merge shard files, gate and save from a merged file.

``merge`` is order-independent and idempotent: the merged document depends only on the set of
tests and the shards' own metadata (tests sorted by node id, the parts sorted), and merging a
merged file alone gives it back byte for byte. The gate (``compare``) calls the same
``gate.compare.gate_result`` as the in-run gate, so a merged file gets the verdicts a
single-machine run would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..core.records import ResultRecord
from .jsonfile import SCHEMA, SCHEMA_VERSION, ReportFileError, dump_doc, read_report_text, test_lines

__all__ = ["CompareOutcome", "MergeError", "compare_results", "merge_docs", "merge_files", "save_results"]


class MergeError(ReportFileError):
    """Shards that cannot be merged; the message names the files."""


def _part_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The shard runs a document stands for: its own ``parts`` when it is a merged file."""
    parts = doc.get("parts")
    if parts:
        return [dict(p) for p in parts]
    return [
        {
            "datetime": doc.get("datetime"),
            "python": doc.get("python"),
            "target": doc.get("target"),
            "tests": len(doc.get("tests") or []),
        }
    ]


def _models(docs: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The advisor's fitted models: each shard fits them on its own calls and the suite's
    cassettes; per model, the fit on the most calls wins (ties: the first in a fixed order)."""
    best: dict[str, dict[str, Any]] = {}
    for _, doc in sorted(docs, key=lambda d: (str(d[1].get("datetime")), d[0])):
        for model, fit in sorted((doc.get("models") or {}).items()):
            if not isinstance(fit, dict):
                continue
            old = best.get(model)
            if old is None or int(fit.get("n") or 0) > int(old.get("n") or 0):
                best[model] = fit
    return dict(sorted(best.items()))


def merge_docs(docs: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Merge checked report documents, given with their file names (for the errors)."""
    if not docs:
        raise MergeError("llmlatency merge: no shard files given")
    old = [name for name, doc in docs if doc.get("version") != SCHEMA_VERSION]
    if old:
        raise MergeError(
            f"llmlatency merge: {', '.join(old)}: report version 1 (an older pytest-llmlatency) holds no "
            "settings to check the shards against each other; re-run those shards with this version"
        )
    versions: dict[str, list[str]] = {}
    for name, doc in docs:
        versions.setdefault(str(doc.get("plugin_version")), []).append(name)
    if len(versions) > 1:
        listed = "; ".join(f"{v}: {', '.join(names)}" for v, names in sorted(versions.items()))
        raise MergeError(f"llmlatency merge: the shards come from different pytest-llmlatency versions ({listed})")
    first_name, first = docs[0]
    reference = first.get("settings") or {}
    for name, doc in docs[1:]:
        settings = doc.get("settings") or {}
        for key in sorted(set(reference) | set(settings)):
            if reference.get(key) != settings.get(key):
                raise MergeError(
                    f"llmlatency merge: incompatible settings: {key} is {reference.get(key)!r} in {first_name} "
                    f"but {settings.get(key)!r} in {name}; every shard must run with the same options"
                )
    seen: dict[str, str] = {}
    tests: list[ResultRecord] = []
    for name, doc in docs:
        for result in doc["tests"]:
            nodeid = result["nodeid"]
            if nodeid in seen:
                where = f"both {seen[nodeid]} and {name}" if seen[nodeid] != name else f"{name} twice"
                raise MergeError(
                    f"llmlatency merge: test {nodeid} is in {where}: a test must run in one shard only "
                    "(the same file given twice, or overlapping -k / --group selections)"
                )
            seen[nodeid] = name
            tests.append(result)
    tests.sort(key=lambda r: str(r["nodeid"]))
    parts = [p for _, doc in docs for p in _part_of(doc)]
    parts.sort(key=lambda p: (str(p.get("datetime")), int(p.get("tests") or 0), str(p.get("target"))))
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "plugin_version": first.get("plugin_version"),
        "datetime": max(str(doc.get("datetime") or "") for _, doc in docs),
        "python": first.get("python"),
        "target": first.get("target"),
        "settings": reference,
        "parts": parts,
        "models": _models(docs),
        "tests": tests,
    }


def merge_files(paths: Sequence[Path]) -> str:
    """The merged document's text; ``ReportFileError`` names the file at fault."""
    docs, raw = [], {}
    for path in paths:
        doc, text = read_report_text(path, command="llmlatency merge")
        docs.append((str(path), doc))
        raw.update(test_lines(text, doc["tests"]))
    return dump_doc(merge_docs(docs), raw)


# -- the gate --------------------------------------------------------------------------------------


@dataclass
class CompareOutcome:
    results: list[ResultRecord]
    """The results with this comparison in place of the one made during the run (if any)."""
    regressed: list[str]
    baseline: str
    thresholds: list[str]
    markdown: str


def compare_results(
    doc: dict[str, Any], baseline_path: Path, fail: Sequence[str], *, method: str = "auto"
) -> CompareOutcome:
    """Judge every test of a (merged) result file against a baseline with the in-run gate's code."""
    from ..gate.compare import gate_result
    from ..gate.store import load_baseline
    from ..gate.thresholds import parse_thresholds
    from .markdown import render_markdown

    thresholds = parse_thresholds(list(fail), source="llmlatency compare --fail")
    baseline = load_baseline(baseline_path)
    results: list[ResultRecord] = []
    regressed = []
    # sorted: a merged file and a single-machine run (tests in run order) give the same summary
    for original in sorted(doc.get("tests") or [], key=lambda r: str(r["nodeid"])):
        result = cast(ResultRecord, dict(original))
        prior = result.pop("comparison", None) or {}
        failures = list(result.get("failures") or [])
        if prior.get("regressed") and prior.get("message") in failures:
            failures.remove(prior["message"])  # the run's own gate: judged again below
        comparison, message = gate_result(result, baseline, thresholds, method=method)
        if comparison is not None:
            result["comparison"] = comparison
        if message:
            failures.append(message)
            regressed.append(str(result["nodeid"]))
            if result.get("verdict") in ("pass", "XPASS", None):
                result["verdict"] = "FAIL"
        result["failures"] = failures
        results.append(result)
    markdown = render_markdown(results, baseline=baseline.label)
    gate = ", ".join(str(t) for t in thresholds) or "report only (no --fail)"
    markdown += f"\nGate: {gate}; {len(regressed)} regression(s).\n"
    return CompareOutcome(results, regressed, baseline.label, [str(t) for t in thresholds], markdown)


def save_results(doc: dict[str, Any], storage: Path, name: str) -> Path:
    """Write the results as one pytest-benchmark-format baseline; the path written."""
    from ..core.atomic import atomic_write_text
    from ..gate.store import resolve_save
    from .writers import baseline_text

    target = resolve_save(storage, name)
    atomic_write_text(target, baseline_text(doc.get("tests") or []))
    return target
