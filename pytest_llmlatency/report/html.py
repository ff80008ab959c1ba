"""One self-contained HTML file: inline CSS and SVG, no script, no network needed to view it.

Per-test budget bars, latency against output tokens with each model's fitted line,
TTFT distributions, baseline deltas and the advisor's notes.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from typing import Any

from ..core.records import ResultRecord, VerdictRecord
from .terminal import LEVER_HEADERS, baseline_cell, cache_effect, calls_cell, compound_notes, lever_cells

__all__ = ["render_html"]

_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555;margin-bottom:16px}
table{border-collapse:collapse;width:100%}th,td{padding:5px 8px;border-bottom:1px solid #e5e7eb;text-align:left;
vertical-align:top}th{background:#f9fafb;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#15803d;font-weight:600}.fail{color:#b91c1c;font-weight:600}.other{color:#92400e;font-weight:600}
.bar{position:relative;height:14px;background:#f3f4f6;border-radius:3px;min-width:160px}
.bar span{position:absolute;left:0;top:0;bottom:0;border-radius:3px}
.bar i{position:absolute;top:-2px;bottom:-2px;width:2px;background:#111}
.budget{font-size:12px;color:#374151}.msg{font-size:12px;color:#7f1d1d;margin:2px 0}.risk{color:#92400e}
.note{font-size:12px;color:#374151;margin:2px 0}svg text{font:11px system-ui,sans-serif;fill:#374151}
.legend span{display:inline-block;margin-right:14px;font-size:12px}.legend b{display:inline-block;width:10px;
height:10px;border-radius:50%;margin-right:4px;vertical-align:middle}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _verdict_class(verdict: str) -> str:
    return "pass" if verdict == "pass" else "fail" if verdict.startswith("FAIL") or verdict == "error" else "other"


def _budget_bars(result: ResultRecord) -> str:
    """One bar per budget: its worst call (highest share of a maximum, lowest of a minimum)."""
    worst: dict[str, tuple[VerdictRecord, int]] = {}
    for v in result.get("verdicts") or []:
        observed, limit = v.get("observed"), v.get("limit")
        if observed is None or not limit:
            continue
        label = str(v["budget"])
        minimum = label.startswith("min_")
        kept, count = worst.get(label, (v, 0))
        ratio, kept_ratio = observed / limit, (kept.get("observed") or 0) / limit
        if count and ((ratio > kept_ratio) if not minimum else (ratio < kept_ratio)):
            kept = v
        worst[label] = (kept if count else v, count + 1)
    rows = []
    for label, (v, count) in worst.items():
        observed, limit = float(v["observed"] or 0.0), float(v["limit"] or 0.0)  # kept only when set
        scale = max(observed, limit) * 1.1
        colour = "#16a34a" if v.get("passed") else "#dc2626"
        of = f" (worst of {count})" if count > 1 else ""
        rows.append(
            f'<div class="budget">{_e(label)}: {observed:,.1f} / {limit:,.1f}{of}</div>'
            f'<div class="bar" title="{_e(v["message"])}"><span style="width:{min(100.0, observed / scale * 100):.1f}%;'
            f'background:{colour}"></span><i style="left:{limit / scale * 100:.1f}%"></i></div>'
        )
    return "".join(rows) or '<span class="budget">-</span>'


def _scatter(results: Sequence[ResultRecord], fits: dict[str, Any]) -> str:
    points = []
    for r in results:
        for c in r.get("calls") or []:
            tokens, e2e = c.get("completion_tokens"), c.get("e2e_ms")
            if c.get("ok") and not c.get("prediction") and e2e and tokens:
                points.append((str(c["model"]), float(tokens), float(e2e)))
    if not points:
        return "<p>No completed call with client timing.</p>"
    models = sorted({m for m, _, _ in points})
    colour = {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(models)}
    w, h, pad = 720, 360, 48
    x_max = max(x for _, x, _ in points) * 1.08 or 1
    y_max = max(y for _, _, y in points) * 1.1 or 1

    def sx(x: float) -> float:
        return pad + x / x_max * (w - 2 * pad)

    def sy(y: float) -> float:
        return h - pad - y / y_max * (h - 2 * pad)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
        f'aria-label="end-to-end latency against output tokens">',
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#9ca3af"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#9ca3af"/>',
        f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle">output tokens</text>',
        f'<text x="14" y="{h / 2}" transform="rotate(-90 14 {h / 2})" text-anchor="middle">e2e (ms)</text>',
    ]
    for i in range(5):
        xv, yv = x_max * i / 4, y_max * i / 4
        parts.append(f'<text x="{sx(xv):.0f}" y="{h - pad + 16}" text-anchor="middle">{xv:,.0f}</text>')
        parts.append(f'<text x="{pad - 6}" y="{sy(yv) + 4:.0f}" text-anchor="end">{yv:,.0f}</text>')
    for model in models:
        fit = fits.get(model) or {}
        tps = fit.get("decode_tps")
        ttft = fit.get("ttft_median") or 0.0
        if tps:
            x0, x1 = 0.0, x_max
            y0, y1 = ttft, ttft + x1 * 1000.0 / tps
            if y1 > y_max:  # end the line at the top edge, keeping its slope
                x1, y1 = max(0.0, (y_max - ttft) * tps / 1000.0), y_max
            parts.append(
                f'<line x1="{sx(x0):.1f}" y1="{sy(y0):.1f}" x2="{sx(x1):.1f}" y2="{sy(y1):.1f}" '
                f'stroke="{colour[model]}" stroke-dasharray="5 4" opacity="0.7"/>'
            )
    for model, x, y in points:
        parts.append(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{colour[model]}" opacity="0.75">'
            f"<title>{_e(model)}: {x:,.0f} tokens, {y:,.1f} ms</title></circle>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span><b style="background:{colour[m]}"></b>{_e(m)}'
        + (f" - fitted {fits[m]['decode_tps']:,.0f} tok/s" if fits.get(m, {}).get("decode_tps") else "")
        + "</span>"
        for m in models
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _ttft_strips(results: Sequence[ResultRecord]) -> str:
    values_all = [
        ttft
        for r in results
        for c in r.get("calls") or []
        if c.get("streamed") and (ttft := c.get("ttft_ms")) is not None and not c.get("prediction")
    ]
    if not values_all:
        return "<p>No streamed call with client timing.</p>"
    top = max(values_all) * 1.1 or 1
    w, row_h, left = 720, 22, 300
    shown = [
        r for r in results if any(c.get("streamed") and c.get("ttft_ms") is not None for c in r.get("calls") or [])
    ]
    h = row_h * len(shown) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="TTFT">']
    for i, r in enumerate(shown):
        y = 10 + i * row_h + row_h / 2
        name = r["nodeid"] if len(r["nodeid"]) <= 44 else "..." + r["nodeid"][-41:]
        parts.append(f'<text x="{left - 8}" y="{y + 4:.0f}" text-anchor="end">{_e(name)}</text>')
        parts.append(f'<line x1="{left}" y1="{y}" x2="{w - 20}" y2="{y}" stroke="#e5e7eb"/>')
        for c in r.get("calls") or []:
            if c.get("streamed") and c.get("ttft_ms") is not None and not c.get("prediction"):
                x = left + (c["ttft_ms"] or 0.0) / top * (w - 20 - left)
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y}" r="4" fill="#2563eb" opacity="0.6">'
                    f"<title>{c['ttft_ms']:,.1f} ms</title></circle>"
                )
    parts.append(
        f'<text x="{left}" y="{h - 4}">0</text><text x="{w - 20}" y="{h - 4}" text-anchor="end">'
        f"{top:,.0f} ms</text></svg>"
    )
    return "".join(parts)


def _levers_section(results: Sequence[ResultRecord]) -> str:
    """Prompt cache warm against cold, and compound systems' inner calls, when there are any."""
    notes = cache_effect(results) + compound_notes(results)
    if not notes:
        return ""
    return "<h2>Groq levers</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"


def render_html(
    results: Sequence[ResultRecord],
    *,
    fits: dict[str, Any] | None = None,
    baseline: str | None = None,
    advice: dict[str, list[str]] | None = None,
    title: str = "LLM latency report",
) -> str:
    """The report as one HTML document (``fits``: ``ModelFit.to_dict()`` per model)."""
    fits = fits or {}
    advice = advice or {}
    failing = sum(1 for r in results if r.get("failures"))
    calls = sum((r.get("summary") or {}).get("calls", 0) for r in results)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    levers = [lever_cells(r) for r in results]
    shown = [k for k in LEVER_HEADERS if any(c[k] for c in levers)]
    rows = []
    for r, lever in zip(results, levers, strict=True):
        s = r.get("summary") or {}
        verdict = str(r.get("verdict", "-"))
        messages = "".join(f'<div class="msg">{_e(m)}</div>' for m in r.get("failures") or [])
        messages += "".join(f'<div class="msg risk">risk: {_e(m)}</div>' for m in r.get("risks") or [])
        comparison = r.get("comparison") or {}
        if comparison.get("message") and not comparison.get("regressed"):
            messages += f'<div class="note">{_e(comparison["message"])}</div>'
        messages += "".join(f'<div class="note">advice: {_e(a)}</div>' for a in advice.get(r["nodeid"], []))
        rows.append(
            f"<tr><td><code>{_e(r['nodeid'])}</code>{messages}</td>"
            f"<td>{_e(', '.join(s.get('models') or []) or '-')}</td>"
            f'<td class="num" title="{_e(", ".join(s.get("tool_names") or []))}">{_e(calls_cell(s))}</td>'
            f'<td class="num">{_ms(s.get("ttft_p50"))}</td>'
            f'<td class="num">{_ms(s.get("e2e_p50"))}</td><td class="num">{_ms(s.get("e2e_p95"))}</td>'
            + "".join(f'<td class="num">{_e(lever[k] or "-")}</td>' for k in shown)
            + f"<td>{_budget_bars(r)}</td><td>{_e(baseline_cell(r))}</td>"
            f'<td class="{_verdict_class(verdict)}">{_e(verdict)}</td></tr>'
        )
    fit_rows = "".join(f"<li>{_e(f.get('summary', ''))}</li>" for f in fits.values())
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title><style>{_CSS}</style></head><body>'
        f"<h1>{_e(title)}</h1>"
        f'<div class="meta">{len(results)} test(s), {calls} LLM call(s), {failing} failing'
        + (f"; baseline {_e(baseline)}" if baseline else "")
        + f"; generated {stamp} by pytest-llmlatency</div>"
        "<h2>Tests and budgets</h2><table><thead><tr><th>test</th><th>model</th><th>calls</th><th>TTFT p50</th>"
        "<th>e2e p50</th><th>e2e p95</th>"
        + "".join(f"<th>{LEVER_HEADERS[k]}</th>" for k in shown)
        + "<th>budgets (observed / limit)</th><th>baseline</th><th>verdict</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
        + _levers_section(results)
        + '<h2>Latency against output tokens</h2><p class="note">Each point a call; dashed: the model\'s fitted line '
        "(TTFT median + tokens / decode speed).</p>"
        + _scatter(results, fits)
        + "<h2>TTFT per test</h2>"
        + _ttft_strips(results)
        + ("<h2>Latency model</h2><ul>" + fit_rows + "</ul>" if fit_rows else "")
        + "</body></html>\n"
    )
