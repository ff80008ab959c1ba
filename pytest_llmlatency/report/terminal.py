"""The terminal summary table: one row per test that used the plugin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["calls_cell", "render_table"]

_HEADERS = (
    "test",
    "model",
    "src",
    "calls",
    "tokens in/out",
    "TTFT p50",
    "e2e p50",
    "e2e p95",
    "tok/s",
    "budget",
    "baseline",
    "verdict",
)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _row(result: dict[str, Any], width: int) -> tuple[str, ...]:
    s = result.get("summary") or {}
    name = result["nodeid"]
    if len(name) > width:
        name = "..." + name[-(width - 3) :]
    tokens = "-"
    if s.get("prompt_tokens") is not None or s.get("completion_tokens") is not None:
        tokens = f"{s.get('prompt_tokens') or 0:,}/{s.get('completion_tokens') or 0:,}"
    speed = s.get("tokens_per_s_p50")
    budgets = ", ".join(v["budget"] for v in result.get("verdicts", [])) or "-"
    budgets = ", ".join(dict.fromkeys(budgets.split(", ")))
    if len(budgets) > 48:
        budgets = budgets[:45] + "..."
    calls = result.get("calls") or []
    replayed = sum(1 for c in calls if c.get("replayed"))
    if not calls:
        source = "-"
    elif replayed and replayed < len(calls):
        source = "mixed"
    else:
        source = str(result.get("source") or ("replay" if replayed else "live"))
    return (
        name,
        ", ".join(s.get("models") or []) or "-",
        source,
        calls_cell(s),
        tokens,
        _ms(s.get("ttft_p50")),
        _ms(s.get("e2e_p50")),
        _ms(s.get("e2e_p95")),
        "-" if speed is None else f"{speed:,.0f}",
        budgets,
        baseline_cell(result),
        result.get("verdict", "-"),
    )


def calls_cell(summary: dict[str, Any]) -> str:
    """``3``, ``3 (1 failed)``, ``3 (2 tool calls)``: the calls column, compact."""
    notes = []
    if summary.get("failed"):
        notes.append(f"{summary['failed']} failed")
    tools = summary.get("tool_calls")
    if tools:
        notes.append(f"{tools} tool call{'' if tools == 1 else 's'}")
    return str(summary.get("calls", 0)) + (f" ({', '.join(notes)})" if notes else "")


def baseline_cell(result: dict[str, Any]) -> str:
    """The e2e shift against the baseline, marked when the gate judged it."""
    comparison = result.get("comparison")
    if not comparison:
        return "-"
    if comparison.get("new"):
        return "new"
    shifts = {s["metric"]: s for s in comparison.get("shifts", [])}
    worst = next((s for s in comparison.get("shifts", []) if s["verdict"] == "regressed"), None)
    shown = worst or shifts.get("e2e") or next(iter(shifts.values()), None)
    if shown is None:
        return "-"
    mark = {"regressed": " !", "improved": " +", "inconclusive": " ?"}.get(shown["verdict"], "")
    if shown.get("percent") is None:
        return f"{shown['metric']} {shown['new'] - shown['old']:+,.0f}{mark}"
    return f"{shown['metric']} {shown['percent']:+.0f}%{mark}"


def render_table(results: Sequence[dict[str, Any]], *, name_width: int = 60) -> list[str]:
    rows = [_HEADERS] + [_row(r, name_width) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]
    right = {3, 4, 5, 6, 7, 8}
    lines = []
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines
