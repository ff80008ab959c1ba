"""pytest-llmlatency: LLM latency as a tested, versioned property of an application."""

from __future__ import annotations

__version__ = "0.1.0"
