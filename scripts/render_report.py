"""Render the example suite's HTML report in headless Chromium and save a screenshot.

Checks that the report renders: runs the example suite with --llm-report-html,
opens the file in headless Chromium (Debian's ``chromium``; install it with
``apt-get install chromium``), saves a PNG and checks it is not blank.

    python scripts/render_report.py [--out report.png]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="llmlatency-report.png")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("no Chromium found: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "report.html"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--llm-report-html={html}",
                str(ROOT / "examples"),
            ],
            check=False,
            capture_output=True,
            cwd=ROOT,
        )
        if not html.is_file():
            print("the example run wrote no report", file=sys.stderr)
            return 1
        out = Path(args.out).resolve()
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
                f"--user-data-dir={tmp}/profile",
                "--window-size=1300,2200",
                f"--screenshot={out}",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    size = out.stat().st_size if out.is_file() else 0
    if size < 20_000:  # a blank 1300x2200 PNG is a few kB; the report is hundreds
        print(f"{out}: {size} bytes, looks blank", file=sys.stderr)
        return 1
    print(f"screenshot of the rendered report: {out} ({size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
