"""Groq's published prices per model, date-stamped, and the cost of a call (pure data, no I/O
except :func:`load_prices`, which reads a user's price file).

Every built-in entry names the page it was read from and the date it was last confirmed
there. A model missing from the table has no cost ("cost unknown"): the plugin never guesses
one from a similar model. Negotiated prices replace or extend the table from a JSON file
(``--llm-prices`` / ini ``llm_prices``)::

    {
      "llama-3.3-70b-versatile": {"input": 0.40, "output": 0.60, "source": "our contract", "as_of": "2026-01-01"},
      "my-fine-tune": {"input": 0.2, "cached_input": 0.1, "output": 0.4}
    }

Token prices are US dollars per million tokens; audio input per hour of audio; speech per
million input characters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BUILTIN", "Price", "PriceError", "PriceTable", "load_prices"]

MODELS_PAGE = "https://console.groq.com/docs/models"
PRICING_PAGE = "https://groq.com/pricing"
CACHING_PAGE = "https://console.groq.com/docs/prompt-caching"


class PriceError(ValueError):
    """A price file or entry that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Price:
    """One model's prices. None means "not published" (a cost needing it is unknown)."""

    input: float | None = None
    """USD per million prompt tokens that were not cached."""
    output: float | None = None
    """USD per million completion tokens (reasoning tokens included)."""
    cached_input: float | None = None
    """USD per million prompt tokens served from Groq's prompt cache."""
    audio_hour: float | None = None
    """USD per hour of audio sent (transcription, translation)."""
    min_audio_seconds: float = 0.0
    """Groq bills at least this many seconds of audio per request."""
    chars_million: float | None = None
    """USD per million characters of input text (speech)."""
    source: str = ""
    """Where the price was read (a URL), or who set it (a negotiated price file)."""
    as_of: str = ""
    """When it was last confirmed there (YYYY-MM or YYYY-MM-DD)."""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v not in (None, "", 0.0)}


# Groq's model pages (the price column of console.groq.com/docs/models) and groq.com/pricing,
# read from copies of those pages (gpt-oss, Whisper, Orpheus) or from pages quoting the pricing
# page (the llama and qwen models): not confirmed on groq.com itself (docs/levers.md).
# Cached input: Groq's prompt-caching page says cached portions cost 50 % of the input price
# on the models that support caching; only those models carry one here.
BUILTIN: dict[str, Price] = {
    "openai/gpt-oss-120b": Price(0.15, 0.60, 0.075, source=MODELS_PAGE, as_of="2026-06-04"),
    "openai/gpt-oss-20b": Price(0.075, 0.30, 0.0375, source=MODELS_PAGE, as_of="2026-06-04"),
    "llama-3.3-70b-versatile": Price(0.59, 0.79, source=PRICING_PAGE, as_of="2026-04"),
    "llama-3.1-8b-instant": Price(0.05, 0.08, source=PRICING_PAGE, as_of="2026-04"),
    "meta-llama/llama-4-scout-17b-16e-instruct": Price(0.11, 0.34, source=PRICING_PAGE, as_of="2026-04"),
    "qwen/qwen3-32b": Price(0.29, 0.59, source=PRICING_PAGE, as_of="2026-04"),
    "whisper-large-v3": Price(audio_hour=0.111, min_audio_seconds=10.0, source=MODELS_PAGE, as_of="2026-06"),
    "whisper-large-v3-turbo": Price(audio_hour=0.04, min_audio_seconds=10.0, source=MODELS_PAGE, as_of="2026-06"),
    "canopylabs/orpheus-v1-english": Price(chars_million=22.0, source=MODELS_PAGE, as_of="2026-06"),
    "canopylabs/orpheus-arabic-saudi": Price(chars_million=40.0, source=MODELS_PAGE, as_of="2026-06"),
}


@dataclass(frozen=True)
class PriceTable:
    """Prices by model id: the built-in table with a user's entries over it."""

    prices: Mapping[str, Price] = field(default_factory=lambda: dict(BUILTIN))
    origin: str = "built-in"
    """Where the overrides came from (a file path), for reports."""

    def get(self, model: str) -> Price | None:
        return self.prices.get(model)


def _number(path: str, model: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise PriceError(f"{path}: {model!r}.{key} must be a number >= 0 (USD), got {value!r}")
    return float(value)


_KEYS = ("input", "output", "cached_input", "audio_hour", "min_audio_seconds", "chars_million")


def parse_prices(data: Any, path: str = "prices") -> dict[str, Price]:
    """A price file's JSON object as ``Price`` entries (validated, errors name ``path``)."""
    if not isinstance(data, dict):
        raise PriceError(f"{path}: must hold a JSON object of model id -> prices, got {type(data).__name__}")
    out: dict[str, Price] = {}
    for model, entry in data.items():
        if not isinstance(entry, dict):
            raise PriceError(f"{path}: {model!r} must map to an object like {{'input': 0.5, 'output': 1.0}}")
        unknown = sorted(set(entry) - {*_KEYS, "source", "as_of"})
        if unknown:
            raise PriceError(
                f"{path}: {model!r} has unknown key {unknown[0]!r}; allowed: {', '.join(_KEYS)}, source, as_of"
            )
        numbers = {k: _number(path, model, k, entry[k]) for k in _KEYS if entry.get(k) is not None}
        if not any(k in numbers for k in ("input", "output", "audio_hour", "chars_million")):
            raise PriceError(f"{path}: {model!r} gives no price (input, output, audio_hour or chars_million)")
        out[model] = Price(
            input=numbers.get("input"),
            output=numbers.get("output"),
            cached_input=numbers.get("cached_input"),
            audio_hour=numbers.get("audio_hour"),
            min_audio_seconds=numbers.get("min_audio_seconds", 0.0),
            chars_million=numbers.get("chars_million"),
            source=str(entry.get("source") or path),
            as_of=str(entry.get("as_of") or ""),
        )
    return out


def load_prices(path: Path | None) -> PriceTable:
    """The built-in table, with the entries of a JSON price file (negotiated prices) over it."""
    if path is None:
        return PriceTable()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise PriceError(f"--llm-prices: cannot read {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise PriceError(f"--llm-prices: {path} is not valid JSON: {err}") from None
    return PriceTable({**BUILTIN, **parse_prices(data, str(path))}, origin=str(path))
