"""What a call cost, from the price table (``prices.PriceTable``): its tokens, audio seconds or
speech characters at its model's price; a compound system's inner models at their own prices.
Never a guess: a price the call needs that is missing gives None and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import LLMCall

__all__ = ["cached_tokens_of", "call_cost"]


def call_cost(call: LLMCall) -> tuple[float | None, str]:
    """(USD, how it was computed) or (None, why the cost is unknown): ``LLMCall.cost``."""
    if call.compound:
        return _compound_cost(call)
    return _token_cost(call, call.model, _price(call, call.model))


def _price(call: LLMCall, model: str) -> Any:
    from .prices import PriceTable

    table = call.price_table if call.price_table is not None else PriceTable()
    return table.get(model)


def _compound_cost(call: LLMCall) -> tuple[float | None, str]:
    if call.executed_tools:
        return None, (
            f"cost unknown: {call.model} ran server-side tools ({', '.join(call.tool_names_executed)}) "
            "whose fees are not in the price table"
        )
    total = 0.0
    for model, row in call.inner_models.items():
        price = _price(call, model)
        usage = {k: v for k, v in row.items() if k != "calls"}
        value, why = _usage_cost(model, price, usage)
        if value is None:
            return None, f"cost unknown: inner model {why.removeprefix('cost unknown: ')}"
        total += value
    return total, f"{len(call.usage_breakdown)} inner model call(s) at their prices"


def cached_tokens_of(usage: Any) -> int | None:
    """A ``usage``'s ``prompt_tokens_details.cached_tokens``; None when absent or not a count."""
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    value = details.get("cached_tokens") if isinstance(details, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage_cost(model: str, price: Any, usage: dict[str, Any]) -> tuple[float | None, str]:
    """The cost of token usage at a model's price; (None, why) when a needed price is missing."""
    if price is None:
        return None, f"cost unknown: {model} is not in the price table (add it with --llm-prices)"
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    if not isinstance(prompt, (int, float)) or not isinstance(completion, (int, float)):
        return None, "cost unknown: the response reported no token usage"
    cached = usage.get("cached_tokens")
    if cached is None:
        cached = cached_tokens_of(usage)
    cached = min(float(cached or 0), float(prompt))
    if price.input is None or price.output is None:
        return None, f"cost unknown: {model} has no published per-token price"
    if cached and price.cached_input is None:
        return None, (
            f"cost unknown: {cached:.0f} prompt tokens were cached and {model} has no cached-input price in the table"
        )
    usd = ((prompt - cached) * price.input + cached * (price.cached_input or 0.0) + completion * price.output) / 1e6
    return usd, f"{model} at ${price.input:g}/${price.output:g} per 1M tokens ({price.as_of or price.source})"


def _token_cost(call: LLMCall, model: str, price: Any) -> tuple[float | None, str]:
    """A plain call's cost: tokens, audio seconds or speech characters at the model's price."""
    if price is None:
        return None, f"cost unknown: {model or 'the model'} is not in the price table (add it with --llm-prices)"
    if call.endpoint in ("transcription", "translation"):
        if price.audio_hour is None or call.audio_seconds is None:
            return None, "cost unknown: no per-hour price or no audio duration"
        seconds = max(call.audio_seconds, price.min_audio_seconds)
        return seconds / 3600 * price.audio_hour, f"{seconds:g} s of audio at ${price.audio_hour:g}/hour"
    if call.endpoint == "speech":
        text = call.params.get("input")
        if price.chars_million is None or not isinstance(text, str):
            return None, "cost unknown: no per-character price or no input text"
        return len(text) * price.chars_million / 1e6, f"{len(text)} characters at ${price.chars_million:g}/1M"
    return _usage_cost(model, price, call.usage or {})
