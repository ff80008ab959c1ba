"""Issue 15: `llmlatency history`: trends across saved runs, change points, and the page renders.

Saved runs are written with the plugin's own `build_document` from known numbers (no inner
pytest run); the page is checked for its content and screenshotted in headless Chromium as
scripts/render_report.py does (skipped only when no Chromium is installed)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_llmlatency.cli import main
from pytest_llmlatency.gate.store import build_document
from pytest_llmlatency.report.history import change_points, pettitt

# -- Pettitt's test ----------------------------------------------------------------------------------


def test_pettitt_statistic_and_p_value_by_hand() -> None:
    step = [1.0] * 6 + [5.0] * 6
    k, stat, p = pettitt(step)
    # U_6 = sum over the 6 x 6 pairs (left, right) of sign(left - right) = -36
    assert (k, stat) == (6, 36.0)
    assert p == pytest.approx(2 * math.exp(-6 * 36**2 / (12**3 + 12**2)))  # 0.0314
    assert pettitt([3.0]) == (0, 0.0, 1.0)


def test_change_points_on_short_noisy_series() -> None:
    noise = [0.0, 12.0, -9.0, 5.0, -4.0, 8.0, -11.0, 3.0, -6.0, 10.0, -2.0, 7.0]
    flat = [400.0 + n for n in noise]
    assert change_points(flat) == []
    spike = list(flat)
    spike[5] = 2400.0  # one run hit a queue spike: ranks move by one, no change point
    assert change_points(spike) == []
    step = [400.0 + n for n in noise[:6]] + [520.0 + n for n in noise[6:]]
    (cp,) = change_points(step)
    assert cp.index == 6 and cp.p < 0.05
    assert cp.before == pytest.approx(402.5) and cp.after == pytest.approx(520.5)
    assert change_points(step[:5]) == []  # too short to call
    # significant but tiny: below the 5 % minimum shift
    assert change_points([400.0 + n / 100 for n in noise[:6]] + [405.0 + n / 100 for n in noise[6:]]) == []
    # two steps: binary segmentation finds both
    two = [100.0 + n / 10 for n in noise] + [200.0 + n / 10 for n in noise] + [140.0 + n / 10 for n in noise]
    assert [c.index for c in change_points(two)] == [12, 24]


# -- the page ------------------------------------------------------------------------------------------


def _result(nodeid: str, e2e: float, tokens: int, *, budgets: list[dict[str, Any]]) -> dict[str, Any]:
    calls = []
    for i in range(3):
        ms = e2e + i
        calls.append(
            {
                "ok": True,
                "model": "llama-3.1-8b-instant",
                "params": {"max_completion_tokens": 400},
                "prompt_chars": 40,
                "streamed": True,
                "iteration": i,
                "e2e_ms": ms,
                "ttft_ms": ms / 4,
                "queue_ms": 5.0,
                "prompt_ms": 10.0,
                "completion_ms": ms - 30.0,
                "server_ms": ms - 20.0,
                "prompt_tokens": 30,
                "completion_tokens": tokens,
                "finish_reason": "stop",
            }
        )
    return {"nodeid": nodeid, "source": "replay", "calls": calls, "budgets": budgets}


BUDGETS = [
    {"kind": "latency", "label": "max_latency(ms=700)", "ms": 700, "metric": "e2e", "scope": "call"},
    {"kind": "tokens", "label": "max_tokens(completion=300)", "completion": 300},
]


def _storage(tmp_path: Path) -> Path:
    """12 saved runs: test_chat steps from ~400 to ~520 ms at run 7 (and its tokens grow), test_tool is flat."""
    folder = tmp_path / "storage" / "Linux-CPython-3.11-64bit"
    folder.mkdir(parents=True)
    noise = [0.0, 12.0, -9.0, 5.0, -4.0, 8.0, -11.0, 3.0, -6.0, 10.0, -2.0, 7.0]
    for run, n in enumerate(noise):
        chat = (400.0 if run < 6 else 520.0) + n
        results = [
            _result("tests/test_app.py::test_chat", chat, 200 if run < 6 else 260, budgets=BUDGETS),
            _result("tests/test_app.py::test_tool", 300.0 + n, 80, budgets=[]),
        ]
        doc = build_document(results)
        doc["datetime"] = f"2026-01-{run + 1:02d}T10:00:00+00:00"
        doc["commit_info"] = {"id": f"{run:02d}" + "c0ffee" * 6, "dirty": False}
        (folder / f"{run + 1:04d}_main.json").write_text(json.dumps(doc))
    (folder / "0099_other.json").write_text('{"benchmarks": []}')  # not ours: skipped, named
    return tmp_path / "storage"


def test_history_page_marks_budgets_regressions_and_change_points(tmp_path: Path) -> None:
    out = tmp_path / "history.html"
    assert main(["history", str(_storage(tmp_path)), "-o", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http://" not in page.split("<svg")[0]
    assert "12 saved run(s) from 2026-01-01T10:00:00 to 2026-01-12T10:00:00, 2 test(s)" in page
    assert "tests/test_app.py::test_chat" in page and "tests/test_app.py::test_tool" in page
    assert page.count("<title>budget max_latency(ms=700)</title>") == 1
    assert page.count("<title>budget max_tokens(completion=300)</title>") == 1
    # the jump at run 7 (commit 06c0ffee) is a regression against run 6, by the gate's e2e:10%
    assert "<title>regressed at run 06c0ffee</title>" in page
    # ... and a change point, on e2e and on tokens; the flat test has none
    assert page.count("<title>change point before run 06c0ffee") == 3  # e2e, TTFT, tokens of test_chat
    assert "Pettitt p=" in page
    assert "0099_other.json holds no pytest-llmlatency entries" in page
    assert main(["history", str(tmp_path / "nothing"), "-o", str(out)]) == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _screenshot(browser: str, page: Path, png: Path, profile: Path) -> int:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1300,1400",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return png.stat().st_size


def test_history_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the page's rendering is not checked")
    out = tmp_path / "history.html"
    assert main(["history", str(_storage(tmp_path)), "-o", str(out)]) == 0
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    empty = _screenshot(browser, blank, tmp_path / "blank.png", tmp_path / "profile")
    size = _screenshot(browser, out, tmp_path / "history.png", tmp_path / "profile")
    # a blank 1300x1400 page compresses to a few kB; charts, text and lines to tens of kB
    assert size > max(20_000, 5 * empty), (size, empty)
