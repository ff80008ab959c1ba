"""Reports of a session's LLM calls: terminal table and JSON file."""

from __future__ import annotations

from .jsonfile import build_json
from .terminal import render_table

__all__ = ["build_json", "render_table"]
