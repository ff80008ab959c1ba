"""The terminal summary table: one row per test that used the plugin."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.records import CallRecord, ResultRecord, SummaryRecord

__all__ = ["cache_effect", "calls_cell", "compound_notes", "lever_cells", "render_table"]

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


def _row(result: ResultRecord, width: int) -> tuple[str, ...]:
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


def calls_cell(summary: SummaryRecord) -> str:
    """``3``, ``3 (1 failed)``, ``3 (2 tool calls)``: the calls column, compact."""
    notes = []
    if summary.get("failed"):
        notes.append(f"{summary['failed']} failed")
    tools = summary.get("tool_calls")
    if tools:
        notes.append(f"{tools} tool call{'' if tools == 1 else 's'}")
    return str(summary.get("calls", 0)) + (f" ({', '.join(notes)})" if notes else "")


def baseline_cell(result: ResultRecord) -> str:
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


LEVER_HEADERS = {"cache": "cached", "tier": "tier", "cost": "cost"}


def _usd(value: float) -> str:
    return f"${value:.2g}" if value < 0.01 else f"${value:,.4f}"


def lever_cells(result: ResultRecord) -> dict[str, str]:
    """The Groq levers of a test's calls, compact (empty strings when there is nothing to show):
    ``cache`` the share of prompt tokens served from the prompt cache; ``tier`` the served tiers;
    ``cost`` the calls' total cost at the price table, ``?`` when any call's cost is unknown."""
    calls = result.get("calls") or []
    prompt = sum(c.get("prompt_tokens") or 0 for c in calls)
    cached = sum(c.get("cached_tokens") or 0 for c in calls)
    tiers = list(dict.fromkeys(str(c["service_tier"]) for c in calls if c.get("service_tier")))
    costs = [c.get("cost_usd") for c in calls if c.get("prompt_tokens") is not None or c.get("cost_usd") is not None]
    cost = ""
    if costs:
        known = [v for v in costs if v is not None]
        cost = "?" if len(known) < len(costs) else _usd(sum(known))
    return {
        "cache": f"{cached / prompt:.0%}" if prompt and cached else "",
        "tier": ", ".join(tiers),
        "cost": cost,
    }


def _p50(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def cache_effect(results: Sequence[ResultRecord]) -> list[str]:
    """Per model whose calls met Groq's prompt cache: the warm calls (half the prompt or more
    cached) against the cold ones (nothing cached): prompt time and TTFT medians."""
    by_model: dict[str, list[CallRecord]] = {}
    for r in results:
        for c in r.get("calls") or []:
            if c.get("cached_share") is not None:
                by_model.setdefault(str(c.get("model")), []).append(c)
    lines = []
    for model, calls in by_model.items():
        if not any(c.get("cached_tokens") for c in calls):
            continue
        warm = [c for c in calls if (c.get("cached_share") or 0) >= 0.5]
        cold = [c for c in calls if not c.get("cached_share")]
        parts = []
        for label, group in (("warm", warm), ("cold", cold)):
            if not group:
                continue
            share = sum(c.get("cached_tokens") or 0 for c in group) / max(
                1, sum(c.get("prompt_tokens") or 0 for c in group)
            )
            prompt = _p50([v for c in group if (v := c.get("prompt_ms")) is not None])
            ttft = _p50([v for c in group if (v := c.get("ttft_ms")) is not None])
            parts.append(
                f"{label} {len(group)} call(s), {share:.0%} cached: prompt time p50 {_ms(prompt)}, TTFT p50 {_ms(ttft)}"
            )
        lines.append(f"prompt cache {model}: " + "; ".join(parts))
    return lines


def compound_notes(results: Sequence[ResultRecord]) -> list[str]:
    """One line per compound-system call: its inner model calls and the tools it ran."""
    lines = []
    for r in results:
        for i, c in enumerate(r.get("calls") or []):
            models = c.get("inner_models") or {}
            tools = c.get("executed_tools") or []
            if not models and not tools:
                continue
            inner = ", ".join(
                f"{m} x{int(row.get('calls', 1))} ({int(row.get('prompt_tokens', 0)):,}/"
                f"{int(row.get('completion_tokens', 0)):,} tokens)"
                for m, row in models.items()
            )
            text = f"compound {r['nodeid']} call {i + 1} ({c.get('model')}): "
            text += f"{sum(int(row.get('calls', 1)) for row in models.values())} inner model call(s): {inner or '-'}"
            if tools:
                text += f"; tools run: {', '.join(str(t.get('type') or '?') for t in tools)}"
                if c.get("tool_run_ms") is not None:
                    text += f" ({_ms(c['tool_run_ms'])} between their arguments and their output)"
            lines.append(text)
    return lines


def render_table(results: Sequence[ResultRecord], *, name_width: int = 60) -> list[str]:
    levers = [lever_cells(r) for r in results]
    shown = [k for k in LEVER_HEADERS if any(c[k] for c in levers)]
    at = _HEADERS.index("budget")
    headers = _HEADERS[:at] + tuple(LEVER_HEADERS[k] for k in shown) + _HEADERS[at:]
    rows = [headers] + [
        row[:at] + tuple(c[k] or "-" for k in shown) + row[at:]
        for row, c in zip((_row(r, name_width) for r in results), levers, strict=True)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    right = {3, 4, 5, 6, 7, 8, *range(at, at + len(shown))}
    lines = []
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines + cache_effect(results) + compound_notes(results)
