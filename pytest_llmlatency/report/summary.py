"""The ``LLM latency`` section pytest prints at the end of a session: the table, each test's
baseline shifts, advice, risks and failures, then the run's totals (cassettes, faults, failed
tests by kind, what the calls reached, blocked live calls, the baseline, the files written).

The plugin's ``pytest_terminal_summary`` hook calls :func:`write_summary`; the results are the
tests' JSON-safe dicts, so the summary reads the same on the xdist controller.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ..core.records import ResultRecord
from .terminal import render_table

if TYPE_CHECKING:
    import pytest

__all__ = ["failure_counts", "reached", "write_summary"]

NAME_WIDTH = (30, 70)
"""The table's test-name column: a third of the terminal's width, within these bounds."""


def write_summary(
    tr: pytest.TerminalReporter,
    results: Sequence[ResultRecord],
    *,
    emulator_urls: Collection[str],
    target: str,
    blocked: Sequence[dict[str, Any]] = (),
    parallel: bool = False,
    baseline_note: str | None = None,
    baseline: str | None = None,
    thresholds: Sequence[Any] = (),
    written: Sequence[str] = (),
) -> None:
    """Print the section to pytest's terminal reporter.

    ``emulator_urls``: base URLs of the emulators the session started (a call there is an
    emulator call); ``target``: where the fixtures point, said when no call reached anything;
    ``blocked``: the live calls the no-live-calls guard blocked (``host``, ``nodeid``);
    ``parallel``: the tests ran under pytest-xdist; ``baseline_note``: why the run was not
    compared; ``baseline``: the label of the baseline compared with, and ``thresholds`` its
    gate; ``written``: ``option: path`` of each file the session wrote."""
    tr.write_sep("=", "LLM latency")
    width = max(NAME_WIDTH[0], min(NAME_WIDTH[1], tr._tw.fullwidth // 3))
    for line in render_table(results, name_width=width):
        tr.write_line(line)
    for result in results:
        _write_test_notes(tr, result)
    tr.write_line("")
    _write_cassettes(tr, results)
    _write_faults(tr, results)
    calls = sum((r.get("summary") or {}).get("calls", 0) for r in results)
    tr.write_line(
        f"{len(results)} test(s), {calls} LLM call(s), {failure_counts(results)}; "
        f"reached: {reached(results, emulator_urls, target)}"
    )
    _write_blocked(tr, blocked)
    if parallel:
        tr.write_line(
            "note: tests ran in parallel (pytest-xdist); concurrent calls contend for the LLM server, "
            "so latencies may be higher than in a serial run"
        )
    if baseline_note:
        tr.write_line(f"not compared: {baseline_note}", yellow=True)
    if baseline is not None:
        gate = ", ".join(str(t) for t in thresholds) or "report only (no --llm-compare-fail)"
        tr.write_line(f"compared with baseline {baseline}: {gate}")
    for line in written:
        tr.write_line(f"written ({line})")


def _write_test_notes(tr: pytest.TerminalReporter, result: ResultRecord) -> None:
    """A test's baseline shift (when it passed), advice, risks and failures."""
    comparison = result.get("comparison") or {}
    if (
        not result.get("failures")
        and comparison.get("message")
        and comparison.get("shifts")
        and any(s["verdict"] in ("improved", "inconclusive") for s in comparison["shifts"])
    ):
        tr.write_line("")
        tr.write_line(f"baseline {result['nodeid']}")
        tr.write_line(f"  {comparison['message']}")
    for advice in result.get("advice") or []:
        tr.write_line("")
        tr.write_line(f"advice {result['nodeid']}")
        tr.write_line(f"  {advice}")
    for risk in result.get("risks") or []:
        tr.write_line("")
        tr.write_line(f"risk {result['nodeid']}", yellow=True)
        tr.write_line(f"  {risk}")
    if result.get("failures"):
        tr.write_line("")
        tr.write_line(
            f"{result['verdict']} {result['nodeid']}",
            red=result["verdict"] == "FAIL",
            yellow=result["verdict"] != "FAIL",
        )
        for message in result["failures"]:
            tr.write_line(f"  {message}")


def _write_cassettes(tr: pytest.TerminalReporter, results: Sequence[ResultRecord]) -> None:
    """Calls replayed and recorded, cassettes written, and each cassette's notes."""
    tapes = [r["cassette"] for r in results if r.get("cassette")]
    replayed = sum(t["replayed"] for t in tapes)
    recorded = sum(t["recorded"] for t in tapes)
    if replayed or recorded or any(t.get("notes") for t in tapes):
        written = sum(1 for t in tapes if t["saved"])
        tr.write_line(f"cassettes: {replayed} call(s) replayed, {recorded} recorded, {written} cassette(s) written")
        for t in tapes:
            for note in t.get("notes") or []:
                tr.write_line(f"  {t['path']}: {note}", yellow=True)
    missing = [r for r in results if "cassette" in r and r["cassette"].get("missing")]
    if missing:
        where = "the emulator" if all(r.get("source") == "emulator" for r in missing) else "a server"
        tr.write_line(
            f"{len(missing)} test(s) had no cassette and ran against {where}: record them with: pytest "
            f"--llm-record-mode=once {' '.join(r['nodeid'] for r in missing[:5])}"
            + (" ..." if len(missing) > 5 else "")
            + " (--llm-require-cassettes fails such tests)",
            yellow=True,
        )


def _write_faults(tr: pytest.TerminalReporter, results: Sequence[ResultRecord]) -> None:
    """Calls that failed or succeeded after retries, and the backoff they waited."""
    calls_all = [c for r in results for c in r.get("calls") or []]
    broken = sum(1 for c in calls_all if not c.get("ok") and not c.get("abandoned"))
    recovered = sum(1 for c in calls_all if c.get("ok") and c.get("retries"))
    if broken or recovered:
        retries = sum(c.get("retries") or 0 for c in calls_all)
        backoff = sum(c.get("backoff_ms") or 0.0 for c in calls_all)
        tr.write_line(
            f"faults: {broken} call(s) failed, {recovered} succeeded after retries; {retries} retr"
            f"{'y' if retries == 1 else 'ies'} in all, {backoff:,.0f} ms of backoff (not counted in e2e)"
        )


def _write_blocked(tr: pytest.TerminalReporter, blocked: Sequence[dict[str, Any]]) -> None:
    """The live calls the guard blocked, and where to."""
    if blocked:
        hosts = sorted({b["host"] for b in blocked})
        tests = len({b["nodeid"] for b in blocked})
        tr.write_line(
            f"blocked: {len(blocked)} live call(s) to {', '.join(hosts)} in {tests} test(s), before anything "
            "was sent (the target is the emulator or cassettes; see each test's failure for the fix)",
            red=True,
        )


def reached(results: Iterable[ResultRecord], emulator_urls: Collection[str], target: str) -> str:
    """What this run's LLM calls really reached: the emulator, cassettes, live hosts; when
    none reached anything, where the fixtures point (``target``)."""
    emulator = replayed = 0
    hosts: dict[str, int] = {}
    for result in results:
        for call in result.get("calls") or []:
            url = str(call.get("url") or "")
            if call.get("replayed"):
                replayed += 1
            elif call.get("status") is None:
                continue  # no answer: never reached (blocked by the guard, refused, unresolved)
            elif any(url.startswith(u) for u in emulator_urls) or result.get("source") == "emulator":
                emulator += 1
            else:
                host = urlparse(url).netloc or url or "unknown host"
                hosts[host] = hosts.get(host, 0) + 1
    parts = []
    if emulator:
        parts.append(f"the built-in Groq emulator ({emulator} call(s))")
    if replayed:
        parts.append(f"cassettes ({replayed} call(s) replayed)")
    parts += [f"live {host} ({n} call(s))" for host, n in sorted(hosts.items())]
    if parts:
        return ", ".join(parts)
    return f"no LLM server (fixtures' target: {target})"


def _kind(result: ResultRecord) -> str | None:
    """Why a test failed, for the summary (None when it did not)."""
    failures = result.get("failures") or []
    if not failures:
        return None
    calls = result.get("calls") or []
    if result.get("unseen") and all(str(f).startswith("budgets not proven") for f in failures):
        return "not proven"
    if not calls:
        return "no call"
    if not any(c.get("ok") or c.get("abandoned") for c in calls):
        return "call failed"
    return "over"


def failure_counts(results: Iterable[ResultRecord]) -> str:
    """``2 over budget or regressed, 1 made no LLM call, 1 whose LLM call failed``: each
    failed test counted once, by kind; the first count is always shown."""
    counts = {"over": 0, "no call": 0, "call failed": 0, "not proven": 0}
    for result in results:
        kind = _kind(result)
        if kind is not None:
            counts[kind] += 1
    text = f"{counts['over']} over budget or regressed"
    if counts["no call"]:
        text += f", {counts['no call']} made no LLM call"
    if counts["call failed"]:
        text += f", {counts['call failed']} whose LLM call failed"
    if counts["not proven"]:
        text += f", {counts['not proven']} with budgets not proven (requests the capture did not see)"
    return text
