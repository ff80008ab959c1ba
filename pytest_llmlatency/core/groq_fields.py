"""Groq's fields beyond the OpenAI shape, read into an :class:`~.calls.LLMCall` from a response
body or a stream chunk: the tier that served the call, a compound system's usage breakdown and
executed tools, and ``x_groq.usage``'s hardware-cache counts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import LLMCall

__all__ = ["read_groq_fields"]


def read_groq_fields(call: LLMCall, obj: dict[str, Any], now: int | None = None) -> None:
    """Take the served tier, a compound system's usage breakdown and executed tools, and
    ``x_groq.usage``'s hardware-cache counts from a response body or a stream chunk
    (``now``: when the chunk was read). Never raises for odd input."""
    tier = obj.get("service_tier")
    if isinstance(tier, str) and tier:
        call.served_tier = tier
    x_groq = obj.get("x_groq")
    x_groq = x_groq if isinstance(x_groq, dict) else {}
    breakdown = obj.get("usage_breakdown") or x_groq.get("usage_breakdown")
    models = breakdown.get("models") if isinstance(breakdown, dict) else None
    if isinstance(models, list):
        call.usage_breakdown = [m for m in models if isinstance(m, dict)]
    xusage = x_groq.get("usage")
    if isinstance(xusage, dict):
        for key in ("dram_cached_tokens", "sram_cached_tokens"):
            value = xusage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                call.hardware_cache[key] = value
    for choice in obj.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        part = choice.get("delta") if isinstance(choice.get("delta"), dict) else choice.get("message")
        tools = part.get("executed_tools") if isinstance(part, dict) else None
        for tool in tools if isinstance(tools, list) else []:
            if isinstance(tool, dict):
                _executed_tool(call, tool, now)


def _executed_tool(call: LLMCall, tool: dict[str, Any], now: int | None) -> None:
    index = tool.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        index = len(call.executed_tools)
    entry = next((t for t in call.executed_tools if t.get("index") == index), None)
    if entry is None:
        entry = {"index": index, "type": None, "arguments_chars": 0, "output_chars": None}
        entry["start_ns"] = now
        entry["end_ns"] = None
        call.executed_tools.append(entry)
    if tool.get("type"):
        entry["type"] = str(tool["type"])
    if isinstance(tool.get("arguments"), str):
        entry["arguments_chars"] = len(tool["arguments"])
    output = tool.get("output")
    if output is None and (tool.get("search_results") or {}).get("results"):
        output = json.dumps(tool["search_results"])
    if isinstance(output, str) and entry.get("output_chars") is None:
        entry["output_chars"] = len(output)
        entry["end_ns"] = now
