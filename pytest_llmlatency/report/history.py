"""``llmlatency history``: saved runs as one self-contained HTML page of trends.

Per test, across the saved runs (oldest to newest): e2e p50 and p95, TTFT p50 and completion
tokens; the test's budgets as horizontal lines; each run's verdict against the run before it
(the regression gate's own ``compare_test``, so the marks mean what the gate means); and change
points.

Change points: **Pettitt's test** (Pettitt 1979, "A non-parametric approach to the change-point
problem", Applied Statistics 28(2)) applied by **binary segmentation**. Pettitt's statistic is the
largest Mann-Whitney U statistic over every split of the series, ``K = max_t |U_t|``, with the
approximate p-value ``2 exp(-6 K^2 / (n^3 + n^2))``. It suits short, noisy latency series: it
uses ranks only, so a single slow run (a queue spike on Groq) moves it by one rank instead of
dragging a mean, it assumes no distribution, and it needs no penalty to tune, unlike PELT or
CUSUM with a Gaussian cost. Its p-value is conservative on few points: a clean step needs about
10 runs to be called, so on fewer runs the page shows the gate's run-to-run marks and no change
point. A split must also move the median by at least ``MIN_SHIFT`` (5 %, and 2 ms for times),
so that a significant but negligible drift is not called a change. Each side of a change point is
searched again (segments of at least ``MIN_SEGMENT`` runs) with the same rule.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..gate.compare import compare_test
from ..gate.errors import BaselineError
from ..gate.stats import median
from ..gate.store import Baseline, load_baseline
from ..gate.thresholds import parse_thresholds

__all__ = ["ALPHA", "ChangePoint", "HistoryError", "change_points", "load_runs", "pettitt", "render_history"]

ALPHA = 0.05
MIN_SHIFT = 0.05
MIN_SHIFT_MS = 2.0
MIN_SEGMENT = 3
DEFAULT_GATE = "e2e:10%,ttft:20%,completion_tokens:10%"


class HistoryError(Exception):
    """No usable saved run; the message names the folder or file."""


# -- change points ---------------------------------------------------------------------------------


def pettitt(values: Sequence[float]) -> tuple[int, float, float]:
    """Pettitt's test on a series: ``(k, K, p)``; the change is between ``values[k-1]`` and
    ``values[k]``. O(n^2), for the tens to hundreds of runs a history holds."""
    n = len(values)
    if n < 2:
        return 0, 0.0, 1.0
    best_k, best = 0, 0.0
    u = 0.0
    for t in range(n - 1):
        # U_t = U_{t-1} + sum_j sign(x_t - x_j): x_t moves from the right side to the left
        u += sum((values[t] > x) - (values[t] < x) for x in values)
        if abs(u) > best:
            best_k, best = t + 1, abs(u)
    p = min(1.0, 2.0 * math.exp(-6.0 * best * best / (n**3 + n**2)))
    return best_k, best, p


@dataclass(frozen=True)
class ChangePoint:
    index: int
    """The first run after the change."""
    before: float
    after: float
    p: float

    @property
    def percent(self) -> float | None:
        return None if not self.before else (self.after - self.before) / self.before * 100


def change_points(values: Sequence[float], *, time: bool = True, alpha: float = ALPHA) -> list[ChangePoint]:
    """Change points of a series by binary segmentation with Pettitt's test (see the module doc)."""
    found: list[ChangePoint] = []

    def search(lo: int, hi: int) -> None:
        segment = list(values[lo:hi])
        if len(segment) < 2 * MIN_SEGMENT:
            return
        k, _, p = pettitt(segment)
        if p >= alpha or k < MIN_SEGMENT or len(segment) - k < MIN_SEGMENT:
            return
        before, after = median(segment[:k]), median(segment[k:])
        shift = abs(after - before)
        if shift < MIN_SHIFT * abs(before) or (time and shift < MIN_SHIFT_MS):
            return
        found.append(ChangePoint(lo + k, before, after, p))
        search(lo, lo + k)
        search(lo + k, hi)

    search(0, len(values))
    return sorted(found, key=lambda c: c.index)


# -- saved runs -------------------------------------------------------------------------------------


@dataclass
class Run:
    path: Path
    label: str
    when: str
    baseline: Baseline
    doc: dict[str, Any]
    points: dict[str, dict[str, float | None]] = field(default_factory=dict)
    budgets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _files(sources: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for source in sources:
        if source.is_file():
            out.append(source)
        elif source.is_dir():
            out += sorted(p for p in source.rglob("*.json") if p.is_file())
        else:
            raise HistoryError(f"llmlatency history: {source} does not exist")
    return out


def _p(values: Sequence[float], q: float) -> float | None:
    from ..core.calls import percentile

    return percentile(values, q) if values else None


def load_runs(sources: Sequence[Path]) -> tuple[list[Run], list[str]]:
    """The saved runs under the folders or files given, oldest first; and notes on files skipped."""
    runs, skipped = [], []
    for path in _files(sources):
        try:
            baseline = load_baseline(path)
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (BaselineError, OSError, ValueError) as err:
            skipped.append(str(err))
            continue
        commit = doc.get("commit_info") if isinstance(doc.get("commit_info"), dict) else {}
        when = str(doc.get("datetime") or "")
        commit_id = str(commit.get("id") or "")
        short = commit_id[:8] if commit_id and commit_id != "unversioned" else ""
        label = short or path.stem
        run = Run(path, label, when, baseline, doc)
        for bench in doc.get("benchmarks") or []:
            extra = bench.get("extra_info") if isinstance(bench, dict) else None
            if not isinstance(extra, dict) or extra.get("metric") != "e2e":
                continue
            nodeid = str(extra.get("nodeid"))
            run.budgets[nodeid] = [b for b in extra.get("budgets") or [] if isinstance(b, dict)]
        for nodeid, test in baseline.tests.items():
            e2e, ttft = test.samples.get("e2e") or [], test.samples.get("ttft") or []
            tokens = test.samples.get("completion_tokens") or []
            run.points[nodeid] = {
                "e2e_p50": _p(e2e, 50),
                "e2e_p95": _p(e2e, 95),
                "ttft_p50": _p(ttft, 50),
                "completion_tokens": median(tokens) if tokens else None,
            }
        runs.append(run)
    runs.sort(key=lambda r: (r.when, r.path.name))
    if not runs:
        where = ", ".join(str(s) for s in sources)
        raise HistoryError(
            f"llmlatency history: no saved pytest-llmlatency run in {where} (save runs with pytest --llm-save=NAME, "
            "--llm-autosave or llmlatency save)" + (f"; skipped: {'; '.join(skipped)}" if skipped else "")
        )
    return runs, skipped


def _verdicts(runs: Sequence[Run], gate: str) -> dict[str, dict[int, dict[str, str]]]:
    """Per test, per run index: metric -> ``regressed`` / ``improved`` against the run before."""
    thresholds = parse_thresholds(gate, source="llmlatency history --fail")
    out: dict[str, dict[int, dict[str, str]]] = {}
    for i in range(1, len(runs)):
        old, new = runs[i - 1].baseline, runs[i].baseline
        for nodeid, test in new.tests.items():
            base = old.tests.get(nodeid)
            if base is None or not test.calls:
                continue
            comparison = compare_test(
                nodeid, test.calls, test.source, base, thresholds, baseline_label=runs[i - 1].label
            )
            marks = {s.metric: s.verdict for s in comparison.shifts if s.verdict in ("regressed", "improved")}
            if marks:
                out.setdefault(nodeid, {})[i] = marks
    return out


# -- rendering --------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:26px 0 6px;word-break:break-all}
.meta{color:#555;margin-bottom:12px}.note{font-size:12px;color:#374151;max-width:980px}
table{border-collapse:collapse}th,td{padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left}
th{background:#f9fafb}td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:10px}.chart{border:1px solid #e5e7eb;border-radius:4px;padding:4px}
svg text{font:10px system-ui,sans-serif;fill:#374151}.reg{color:#b91c1c;font-weight:600}
.imp{color:#15803d;font-weight:600}.cp{color:#c2410c;font-weight:600}
"""
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 300, 170, 44, 10, 20, 34


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _budget_lines(budgets: Sequence[dict[str, Any]], chart: str) -> list[tuple[float, str]]:
    lines = []
    for b in budgets:
        kind = b.get("kind")
        if kind == "latency" and b.get("scope", "call") == "call" and isinstance(b.get("ms"), (int, float)):
            metric = b.get("metric", "e2e")
            if (chart == "e2e" and metric == "e2e") or (chart == "ttft" and metric == "ttft"):
                lines.append((float(b["ms"]), str(b.get("label") or kind)))
        elif kind == "tokens" and chart == "tokens" and isinstance(b.get("completion"), (int, float)):
            lines.append((float(b["completion"]), str(b.get("label") or kind)))
    return lines


Series = tuple[str, str, Sequence[float | None]]
"""One line of a chart: its name, its colour and one value per run (None: the test did not run)."""
HEADROOM = 1.08
"""The top of a chart's value axis, over its largest value."""


@dataclass(frozen=True)
class _Frame:
    """A chart's plot area: runs along x (oldest left), values from ``lo`` to ``hi`` up y."""

    n: int
    lo: float
    hi: float
    x0: float = PAD_L
    x1: float = W - PAD_R
    y0: float = H - PAD_B
    y1: float = PAD_T

    def sx(self, i: int) -> float:
        return self.x0 + (self.x1 - self.x0) * (i / (self.n - 1) if self.n > 1 else 0.5)

    def sy(self, v: float) -> float:
        return self.y0 - (self.y0 - self.y1) * ((v - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.5)


def _chart(
    title: str,
    unit: str,
    labels: Sequence[str],
    series: Sequence[Series],
    budgets: Sequence[tuple[float, str]],
    marks: dict[int, str],
    cps: Sequence[ChangePoint],
) -> str:
    ys = [v for _, _, vals in series for v in vals if v is not None] + [b for b, _ in budgets]
    if not ys:
        return ""
    frame = _Frame(len(labels), min(0.0, min(ys)), max(ys) * HEADROOM or 1.0)
    parts = [
        *_axes(frame, title, unit, labels, series),
        *_budget_marks(frame, budgets),
        *_change_point_marks(frame, cps, labels, unit),
        *_series_marks(frame, series, labels, unit),
        *_verdict_marks(frame, series[0][2], marks, labels),
        "</svg>",
    ]
    return '<div class="chart">' + "".join(parts) + "</div>"


def _axes(frame: _Frame, title: str, unit: str, labels: Sequence[str], series: Sequence[Series]) -> list[str]:
    """The svg element, the title, both axes with their ticks, and the legend of several series."""
    x0, x1, y0, y1, n = frame.x0, frame.x1, frame.y0, frame.y1, frame.n
    parts = [
        f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{_e(title)}">',
        f'<text x="{x0}" y="12" style="font-weight:600">{_e(title)} ({_e(unit)})</text>',
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#9ca3af"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#9ca3af"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = frame.lo + (frame.hi - frame.lo) * frac
        parts.append(f'<text x="{x0 - 4}" y="{frame.sy(v) + 3:.1f}" text-anchor="end">{_fmt(v)}</text>')
    step = max(1, math.ceil(n / 4))
    for i in range(0, n, step):
        parts.append(f'<text x="{frame.sx(i):.1f}" y="{y0 + 13}" text-anchor="middle">{_e(labels[i][:8])}</text>')
    if len(series) > 1:
        legend = " ".join(f'<tspan style="fill:{color}">&#9679; {_e(name)}</tspan>' for name, color, _ in series)
        parts.append(f'<text x="{x1}" y="12" text-anchor="end">{legend}</text>')
    return parts


def _budget_marks(frame: _Frame, budgets: Sequence[tuple[float, str]]) -> list[str]:
    """A dashed red line per budget."""
    parts = []
    for value, label in budgets:
        y = frame.sy(value)
        parts.append(
            f'<line x1="{frame.x0}" y1="{y:.1f}" x2="{frame.x1}" y2="{y:.1f}" stroke="#dc2626" stroke-dasharray="5 3">'
            f"<title>budget {_e(label)}</title></line>"
        )
        parts.append(f'<text x="{frame.x1}" y="{y - 3:.1f}" text-anchor="end" style="fill:#dc2626">budget</text>')
    return parts


def _change_point_marks(frame: _Frame, cps: Sequence[ChangePoint], labels: Sequence[str], unit: str) -> list[str]:
    """A dashed orange line between the runs before and after each change point."""
    parts = []
    for cp in cps:
        x = (frame.sx(cp.index - 1) + frame.sx(cp.index)) / 2
        pct = cp.percent
        what = f"{_fmt(cp.before)} -> {_fmt(cp.after)} {unit}" + (f" ({pct:+.0f}%)" if pct is not None else "")
        parts.append(
            f'<line x1="{x:.1f}" y1="{frame.y1}" x2="{x:.1f}" y2="{frame.y0}" stroke="#ea580c" stroke-width="2" '
            f'stroke-dasharray="2 2"><title>change point before run {_e(labels[cp.index])}: {_e(what)}, '
            f"Pettitt p={cp.p:.3f}</title></line>"
        )
    return parts


def _series_marks(frame: _Frame, series: Sequence[Series], labels: Sequence[str], unit: str) -> list[str]:
    """Each series as a line through a point per run, the first series on top."""
    parts = []
    for name, color, values in reversed(series):  # the first series on top
        pts = [(frame.sx(i), frame.sy(v)) for i, v in enumerate(values) if v is not None]
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6"/>')
        for i, point in enumerate(values):
            if point is not None:
                parts.append(
                    f'<circle cx="{frame.sx(i):.1f}" cy="{frame.sy(point):.1f}" r="2.6" fill="{color}">'
                    f"<title>{_e(name)} {_e(labels[i])}: {_fmt(point)} {_e(unit)}</title></circle>"
                )
    return parts


def _verdict_marks(
    frame: _Frame, first: Sequence[float | None], marks: dict[int, str], labels: Sequence[str]
) -> list[str]:
    """The gate's verdict against the run before, on the first series: a red triangle up for a
    regression, a green one down for an improvement."""
    parts = []
    for i, verdict in sorted(marks.items()):
        at = first[i] if i < len(first) else None
        if at is None:
            continue
        x, y = frame.sx(i), frame.sy(at)
        if verdict == "regressed":
            shape = f"{x:.1f},{y - 12:.1f} {x - 5:.1f},{y - 4:.1f} {x + 5:.1f},{y - 4:.1f}"
            color = "#b91c1c"
        else:
            shape = f"{x:.1f},{y + 12:.1f} {x - 5:.1f},{y + 4:.1f} {x + 5:.1f},{y + 4:.1f}"
            color = "#15803d"
        parts.append(
            f'<polygon points="{shape}" fill="{color}"><title>{verdict} at run {_e(labels[i])}</title></polygon>'
        )
    return parts


def render_history(runs: Sequence[Run], *, gate: str = DEFAULT_GATE, skipped: Sequence[str] = ()) -> str:
    labels = [r.label for r in runs]
    nodeids = sorted({n for r in runs for n in r.points})
    verdicts = _verdicts(runs, gate)
    rows: list[str] = []
    sections: list[str] = []
    for nodeid in nodeids:
        row, section = _test_section(nodeid, runs, labels, verdicts.get(nodeid, {}), anchor=f"t{len(rows)}")
        rows.append(row)
        sections.append(section)
    return _page(runs, len(nodeids), rows, sections, gate, skipped)


def _test_section(
    nodeid: str, runs: Sequence[Run], labels: Sequence[str], marks: dict[int, dict[str, str]], anchor: str
) -> tuple[str, str]:
    """One test's row of the summary table and its section of charts."""
    pts = [r.points.get(nodeid) or {} for r in runs]

    def col(key: str) -> list[float | None]:
        return [p.get(key) for p in pts]

    budgets = next((r.budgets[nodeid] for r in reversed(runs) if r.budgets.get(nodeid)), [])

    def marks_for(metric: str) -> dict[int, str]:
        return {i: m[metric] for i, m in marks.items() if metric in m}

    def cps(key: str, time: bool) -> list[ChangePoint]:
        values = col(key)
        known = [(i, v) for i, v in enumerate(values) if v is not None]
        found = change_points([v for _, v in known], time=time)
        return [ChangePoint(known[c.index][0], c.before, c.after, c.p) for c in found]

    e2e_cps, ttft_cps, token_cps = cps("e2e_p50", True), cps("ttft_p50", True), cps("completion_tokens", False)
    charts = [
        _chart(
            "e2e",
            "ms",
            labels,
            [("p50", "#2563eb", col("e2e_p50")), ("p95", "#93c5fd", col("e2e_p95"))],
            _budget_lines(budgets, "e2e"),
            marks_for("e2e"),
            e2e_cps,
        ),
        _chart(
            "TTFT p50",
            "ms",
            labels,
            [("p50", "#9333ea", col("ttft_p50"))],
            _budget_lines(budgets, "ttft"),
            marks_for("ttft"),
            ttft_cps,
        ),
        _chart(
            "completion tokens",
            "tokens",
            labels,
            [("median", "#0891b2", col("completion_tokens"))],
            _budget_lines(budgets, "tokens"),
            marks_for("completion_tokens"),
            token_cps,
        ),
    ]
    n_reg = sum(1 for m in marks.values() for v in m.values() if v == "regressed")
    n_imp = sum(1 for m in marks.values() for v in m.values() if v == "improved")
    all_cps = len(e2e_cps) + len(ttft_cps) + len(token_cps)
    latest = next((v for v in reversed(col("e2e_p50")) if v is not None), None)
    row = (
        f'<tr><td><a href="#{anchor}">{_e(nodeid)}</a></td><td class="num">'
        f"{sum(1 for p in pts if p)}</td><td class=num>{'-' if latest is None else _fmt(latest)}</td>"
        f"<td class='num reg'>{n_reg or ''}</td><td class='num imp'>{n_imp or ''}</td>"
        f"<td class='num cp'>{all_cps or ''}</td></tr>"
    )
    section = f'<h2 id="{anchor}">{_e(nodeid)}</h2><div class="charts">{"".join(c for c in charts if c)}</div>'
    return row, section


def _page(
    runs: Sequence[Run], tests: int, rows: Sequence[str], sections: Sequence[str], gate: str, skipped: Sequence[str]
) -> str:
    """The whole page: the header, the legend, the summary table and the tests' sections."""
    first, last = (runs[0].when[:19], runs[-1].when[:19]) if runs else ("", "")
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    notes = "".join(f"<li>{_e(s)}</li>" for s in skipped)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>LLM latency history</title><style>{_CSS}</style></head><body>"
        "<h1>LLM latency history</h1>"
        f"<div class='meta'>{len(runs)} saved run(s) from {_e(first)} to {_e(last)}, {tests} test(s); "
        f"generated {now} by pytest-llmlatency</div>"
        "<p class='note'>Each chart: one point per saved run, oldest left (labelled by commit, else by file). "
        "<span style='color:#dc2626'>Dashed red</span>: the test's budget. "
        "<span class='reg'>&#9650;</span> regressed / <span class='imp'>&#9660;</span> improved against the "
        f"run before, by the regression gate ({_e(gate)}). <span class='cp'>Dashed orange</span>: a change "
        "point, by Pettitt's rank test with binary segmentation (p &lt; 0.05 and a median shift of at least "
        "5 %; robust to single slow runs; needs about 10 runs to call a clean step).</p>"
        + (f"<details><summary>skipped files</summary><ul>{notes}</ul></details>" if notes else "")
        + "<table><tr><th>test</th><th>runs</th><th>latest e2e p50 (ms)</th><th>regressions</th>"
        "<th>improvements</th><th>change points</th></tr>"
        + "".join(rows)
        + "</table>"
        + "".join(sections)
        + "</body></html>\n"
    )
