"""What the advisor knows of generation parameters: the reasoning efforts, their order and each
model family's default; the output cap under its several names; the parameters that do not
change how long a call takes."""

from __future__ import annotations

from typing import Any

__all__ = [
    "CAP_PARAMS",
    "DEFAULT_EFFORT",
    "EFFORT_ORDER",
    "EFFORT_RANK",
    "NO_EFFECT",
    "cap_name",
    "default_effort",
    "output_cap",
]

EFFORT_ORDER = ("none", "low", "medium", "default", "high")
EFFORT_RANK = {"none": 0, "low": 1, "medium": 2, "default": 2, "high": 3}
"""How much each ``reasoning_effort`` reasons, as a rank (``default`` is qwen3's medium)."""
DEFAULT_EFFORT = {"openai/gpt-oss": "medium", "qwen/qwen3": "default"}
"""The effort a model family uses when the request does not say, by model-name prefix."""
# parameters that change the text, not its length or speed: a change to one predicts no change
NO_EFFECT = {
    "temperature",
    "top_p",
    "seed",
    "user",
    "stream_options",
    "logprobs",
    "top_logprobs",
    "metadata",
    "store",
    "parallel_tool_calls",
}


def default_effort(model: str) -> str | None:
    for prefix, effort in DEFAULT_EFFORT.items():
        if model.startswith(prefix):
            return effort
    return None


CAP_PARAMS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
"""The output cap: chat completions' (and its older name), the Responses API's."""


def output_cap(params: dict[str, Any]) -> int | None:
    """The request's output cap, under whichever of its names it used; None when unset."""
    for key in CAP_PARAMS:
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
    return None


def cap_name(params: dict[str, Any], endpoint: str | None = None) -> str:
    """The name the request used for its cap (``max_output_tokens`` on the Responses API)."""
    for key in CAP_PARAMS:
        if key in params:
            return key
    return "max_output_tokens" if endpoint == "responses" else "max_completion_tokens"
