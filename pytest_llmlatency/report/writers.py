"""The files a session writes at its end, as its options ask: the JSON report, the Bencher and
github-action-benchmark exports, the HTML and Markdown reports, ``$GITHUB_STEP_SUMMARY`` and
the saved baseline.

The plugin's ``pytest_sessionfinish`` hook calls :func:`write_reports`. Each file is written
whole or not at all (``core.atomic``); a file that cannot be written is reported and the others
are still written. (The JUnit properties are not a file of ours: the plugin adds each test's to
its ``user_properties``, which pytest's ``--junitxml`` writes.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ..core.records import ResultRecord

__all__ = ["ReportWriter", "append_step_summary", "baseline_text", "write_reports"]


class ReportWriter:
    """Writes files atomically, keeping what it wrote and reporting what it could not."""

    def __init__(self, error: Callable[[str], None]) -> None:
        self.error = error
        """Called with the message when a file cannot be written."""
        self.written: list[tuple[str, Path]] = []
        """(option, path) of each file written, in order."""

    def write(self, option: str, path: Path, render: Callable[[], str]) -> bool:
        """Write ``render()`` to ``path``; False (the error reported) when it cannot be."""
        from ..core.atomic import atomic_write_text

        try:
            atomic_write_text(path, render())
        except OSError as err:
            self.error(f"cannot write {option} {path}: {err}")
            return False
        self.written.append((option, path))
        return True


def write_reports(
    writer: ReportWriter,
    results: Sequence[ResultRecord],
    files: Mapping[str, Path | None],
    *,
    base_url: str,
    fits: dict[str, Any],
    settings: dict[str, Any] | None,
    baseline: str | None,
    save: str | None,
    autosave: bool,
    storage: Path,
) -> bool:
    """Write every report ``files`` names (by option: ``--llm-report-json`` and the other
    ``--llm-report-*``) and the baseline ``save`` / ``autosave`` ask for; False when one of them
    could not be written.

    ``fits``: the advisor's fitted models (JSON-safe); ``settings``: the options recorded in the
    JSON report (``settings.settings_dict``); ``baseline``: the label of the baseline compared with;
    ``storage``: the folder of saved runs.
    """
    ok = True
    renders: dict[str, Callable[[], str]] = {
        "--llm-report-json": partial(_json, results, base_url, fits, settings),
        "--llm-report-bmf": partial(_export, results, "bmf"),
        "--llm-report-github-benchmark": partial(_export, results, "github"),
        "--llm-report-html": partial(_html, results, fits, baseline),
    }
    for option, render in renders.items():
        path = files.get(option)
        if path is not None:
            ok &= writer.write(option, path, render)
    ok &= _write_markdown(writer, results, files.get("--llm-report-md"), baseline=baseline)
    if (save or autosave) and results:
        ok &= _save_baseline(writer, results, storage, save)
    return ok


def _json(results: Sequence[ResultRecord], base_url: str, fits: dict[str, Any], settings: dict[str, Any] | None) -> str:
    from .jsonfile import build_json

    return build_json(results, base_url=base_url, fits=fits, settings=settings)


def _export(results: Sequence[ResultRecord], kind: str) -> str:
    from .export import render_export

    return render_export(results, kind)


def _html(results: Sequence[ResultRecord], fits: dict[str, Any], baseline: str | None) -> str:
    from .html import render_html

    advice = {r["nodeid"]: r.get("advice") or [] for r in results}
    return render_html(results, fits=fits, advice=advice, baseline=baseline)


def _write_markdown(
    writer: ReportWriter, results: Sequence[ResultRecord], path: Path | None, *, baseline: str | None
) -> bool:
    """``--llm-report-md``, and the same summary appended to ``$GITHUB_STEP_SUMMARY`` when that
    is set (a failure to append is reported, not counted as a failed write)."""
    if path is None and not (os.environ.get("GITHUB_STEP_SUMMARY") and results):
        return True
    from .markdown import render_markdown

    ok = True
    markdown = render_markdown(results, baseline=baseline)
    if path is not None:
        ok = writer.write("--llm-report-md", path, lambda: markdown)
    problem = append_step_summary(markdown)
    if problem:
        writer.error(problem)
    return ok


def _save_baseline(writer: ReportWriter, results: Sequence[ResultRecord], storage: Path, save: str | None) -> bool:
    """``--llm-save`` / ``--llm-autosave``: the run as a baseline in the storage (or a file)."""
    from ..gate.errors import BaselineError
    from ..gate.store import autosave_name, resolve_save

    try:
        target = resolve_save(storage, save or autosave_name())
    except BaselineError as err:
        writer.error(str(err))
        return False
    return writer.write("--llm-save", target, lambda: baseline_text(results))


def baseline_text(results: Sequence[ResultRecord]) -> str:
    """A saved baseline's text: the results in pytest-benchmark's format."""
    from ..gate.store import build_document

    return json.dumps(build_document(results), indent=4) + "\n"


def append_step_summary(markdown: str) -> str | None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when it is set; an error message, or None."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return None
    try:
        with open(summary, "a", encoding="utf-8") as fh:  # GitHub's file: append, as the docs ask
            fh.write(markdown + "\n")
    except OSError as err:
        return f"cannot append to $GITHUB_STEP_SUMMARY {summary}: {err}"
    return None
