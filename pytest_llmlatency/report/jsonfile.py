"""``--llm-report-json``: every test's calls, budgets and verdicts.

The file is the unit that travels between machines: CI shards write it, ``llmlatency merge``
combines them, ``llmlatency compare`` / ``save`` / ``export`` read it.

Version 2 (this one) adds what merging needs: ``settings`` (the options that change what is
measured or how it is judged: shards must agree on them) and ``parts`` (the shards a merged
file was made of). Version 1 files are still read by ``report``, ``compare``, ``save`` and
``export``; ``merge`` refuses them, since it cannot check that their settings match.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.records import ResultRecord

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "ReportFileError",
    "build_json",
    "dump_doc",
    "read_report",
    "read_report_text",
    "test_lines",
]

SCHEMA = "pytest-llmlatency/report"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)


class ReportFileError(Exception):
    """A result file that cannot be used; the message names the file."""


def build_json(
    results: Sequence[ResultRecord],
    *,
    base_url: str,
    fits: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> str:
    """The ``--llm-report-json`` file's text. ``settings``: the options that change what the run
    measured or how it judged it (the plugin's ``settings.settings_dict``), which merged shards
    must agree on."""
    doc = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "plugin_version": __version__,
        "datetime": dt.datetime.now(dt.timezone.utc).isoformat(),
        "python": platform.python_version(),
        "target": base_url,
        "settings": settings,
        "parts": [],
        "models": fits or {},
        "tests": list(results),
    }
    return dump_doc(doc)


def dump_doc(doc: dict[str, Any], raw: dict[int, str] | None = None) -> str:
    """The file's text: the header indented, then one test per line. ``json.dumps(indent=...)``
    runs Python's pure-Python encoder (4x slower on a 5,000-call run); this keeps the C encoder, so a merged
    file of 20,000 calls is written in a fraction of a second, and stays diffable per test.
    ``raw``: the text of tests read from such a file (by ``id`` of the test's dict), reused as is."""
    head = {k: v for k, v in doc.items() if k != "tests"}
    text = json.dumps(head, indent=2, default=str)
    raw = raw or {}
    tests = ",\n".join(
        raw.get(id(t)) or json.dumps(t, default=str, separators=(",", ":")) for t in doc.get("tests") or []
    )
    return text[:-2] + ',\n  "tests": [\n' + tests + "\n  ]\n}\n" if tests else text[:-2] + ',\n  "tests": []\n}\n'


def test_lines(text: str, tests: list[dict[str, Any]]) -> dict[int, str]:
    """The text of each test in a file ``dump_doc`` wrote (by ``id`` of the parsed test): one
    compact JSON line each, which is exactly what dumping the parsed test again gives. Empty
    when the file has another layout (then the tests are dumped again)."""
    head, tail = '\n  "tests": [\n', "\n  ]\n}\n"
    start = text.find(head)
    if start < 0 or not text.endswith(tail):
        return {}
    lines = text[start + len(head) : -len(tail)].split("\n")  # a compact JSON value holds no raw newline
    if len(lines) != len(tests):
        return {}
    out = {}
    for line, test in zip(lines, tests, strict=True):
        line = line.removesuffix(",")
        key = '{"nodeid":' + json.dumps(test["nodeid"])
        if not (line.startswith(key + ",") or line == key + "}"):
            return {}
        out[id(test)] = line
    return out


def read_report(path: Path, *, command: str = "llmlatency") -> dict[str, Any]:
    """Read and check a ``--llm-report-json`` file; ``ReportFileError`` names the file and says
    what is wrong (unreadable, truncated or not JSON, not ours, a version this plugin cannot read)."""
    return read_report_text(path, command=command)[0]


def read_report_text(path: Path, *, command: str = "llmlatency") -> tuple[dict[str, Any], str]:
    """``read_report`` and the file's text."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ReportFileError(f"{command}: cannot read {path}: {err}") from None
    if not text.strip():
        raise ReportFileError(f"{command}: {path} is empty (was the run interrupted, or the artifact not uploaded?)")
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise ReportFileError(
            f"{command}: {path} is not valid JSON ({err}): a truncated or corrupted file; write it again with "
            "pytest --llm-report-json"
        ) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ReportFileError(f"{command}: {path} is not a --llm-report-json file (no schema {SCHEMA!r})")
    version = doc.get("version")
    if version not in READABLE_VERSIONS:
        raise ReportFileError(
            f"{command}: {path} has report version {version!r}; this plugin ({__version__}) reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}: upgrade pytest-llmlatency"
        )
    tests = doc.get("tests")
    if not isinstance(tests, list) or not all(isinstance(t, dict) and isinstance(t.get("nodeid"), str) for t in tests):
        raise ReportFileError(f"{command}: {path}: 'tests' must be a list of results with a 'nodeid' each")
    return doc, text
