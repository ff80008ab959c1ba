"""``--llm-report-json``: every test's calls, budgets and verdicts."""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections.abc import Sequence
from typing import Any

from .. import __version__

__all__ = ["build_json"]

SCHEMA_VERSION = 1


def build_json(results: Sequence[dict[str, Any]], *, base_url: str, fits: dict[str, Any] | None = None) -> str:
    doc = {
        "schema": "pytest-llmlatency/report",
        "version": SCHEMA_VERSION,
        "plugin_version": __version__,
        "datetime": dt.datetime.now(dt.timezone.utc).isoformat(),
        "python": platform.python_version(),
        "target": base_url,
        "models": fits or {},
        "tests": list(results),
    }
    return json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"
