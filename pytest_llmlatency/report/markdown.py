"""``--llm-report-md`` and ``$GITHUB_STEP_SUMMARY``: the session as a Markdown table."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.records import ResultRecord
from .terminal import LEVER_HEADERS, baseline_cell, cache_effect, calls_cell, compound_notes, lever_cells

__all__ = ["render_markdown"]

_ICONS = {
    "pass": "pass",
    "FAIL": "**FAIL**",
    "FAIL (test)": "**FAIL** (test)",
    "xfail": "xfail",
    "XPASS": "XPASS",
    "skip": "skip",
    "error": "**error**",
}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Sequence[ResultRecord], *, baseline: str | None) -> str:
    lines = ["## LLM latency", ""]
    if not results:
        return "\n".join([*lines, "No test measured an LLM call.", ""])
    failing = sum(1 for r in results if r.get("failures"))
    calls = sum((r.get("summary") or {}).get("calls", 0) for r in results)
    head = f"{len(results)} test(s), {calls} LLM call(s), {failing} failing"
    lines += [head + (f"; baseline: `{_cell(baseline)}`" if baseline else "") + ".", ""]
    levers = {r["nodeid"]: lever_cells(r) for r in results}
    shown = [k for k in LEVER_HEADERS if any(c[k] for c in levers.values())]
    extra = "".join(f" {LEVER_HEADERS[k]} |" for k in shown)
    lines += [
        "| test | model | calls | tokens in/out | TTFT p50 | e2e p50 | e2e p95 |"
        + extra
        + " budgets | baseline | verdict |",
        "|---|---|--:|--:|--:|--:|--:|" + "--:|" * len(shown) + "---|---|---|",
    ]
    for r in results:
        s = r.get("summary") or {}
        budgets = ", ".join(dict.fromkeys(v["budget"] for v in r.get("verdicts", []))) or "-"
        tokens = f"{s.get('prompt_tokens') or 0:,}/{s.get('completion_tokens') or 0:,}" if s.get("calls") else "-"
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    f"`{r['nodeid']}`",
                    ", ".join(s.get("models") or []) or "-",
                    calls_cell(s) if s.get("calls") else "0",
                    tokens,
                    _ms(s.get("ttft_p50")),
                    _ms(s.get("e2e_p50")),
                    _ms(s.get("e2e_p95")),
                    *(levers[r["nodeid"]][k] or "-" for k in shown),
                    budgets,
                    baseline_cell(r),
                    _ICONS.get(r.get("verdict", ""), r.get("verdict", "-")),
                )
            )
            + " |"
        )
    notes = cache_effect(results) + compound_notes(results)
    if notes:
        lines += ["", *(f"- {_cell(n)}" for n in notes)]
    details = [r for r in results if r.get("failures") or (r.get("comparison") or {}).get("message")]
    if details:
        lines += ["", "<details><summary>Messages</summary>", ""]
        for r in details:
            lines.append(f"- `{_cell(r['nodeid'])}`")
            for message in r.get("failures") or []:
                lines.append(f"  - {_cell(message)}")
            comparison = r.get("comparison") or {}
            if comparison.get("message") and not comparison.get("regressed"):
                lines.append(f"  - {_cell(comparison['message'])}")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
