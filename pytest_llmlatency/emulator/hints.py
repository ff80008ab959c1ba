"""Prompt hints: the values a model would copy from the prompt into arguments (pure).

:func:`prompt_hints` collects places, numbers, quoted text, e-mail addresses, URLs and
dates from the last user message (JSON objects written in it are schemas or examples, not
data: skipped); :func:`candidates` offers them, most likely first, for a property of a
given name and schema. The instance generator (``schema_generator.py``) keeps the first
candidate that is valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .schema_validator import schema_types

__all__ = ["Hints", "candidates", "prompt_hints"]

_PLACE_RE = re.compile(r"\b(?:in|at|for|to|from|near|of)\s+((?:[A-Z][\w'-]*)(?:\s+[A-Z][\w'-]*){0,2})")
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_QUOTED_RE = re.compile(r"\"([^\"\n]{1,200})\"|'([^'\n]{1,200})'|“([^”\n]{1,200})”")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL_RE = re.compile(r"https?://[^\s\"'<>)]+")
_DATE_RE = re.compile(r"\b(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:\d{2})?)?")
_PLACE_PROPS = ("city", "location", "place", "town", "country", "destination", "origin", "region", "where", "state")
_TEXT_PROPS = ("query", "question", "prompt", "text", "input", "message", "search", "q")


@dataclass
class Hints:
    """Values found in the prompt, by kind."""

    text: str = ""
    places: list[str] = field(default_factory=list)
    numbers: list[tuple[int, str]] = field(default_factory=list)
    """(position, number text)"""
    quoted: list[tuple[int, str]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    dates: list[tuple[str, str | None, str | None]] = field(default_factory=list)


def _without_json(text: str) -> str:
    """The text with JSON objects written in it (schemas, examples) blanked out."""
    decoder = json.JSONDecoder()
    out, i = [], 0
    start = text.find("{")
    while start >= 0:
        try:
            _, end = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        out.append(text[i:start])
        i = end
        start = text.find("{", end)
    out.append(text[i:])
    return " ".join(out)


def prompt_hints(text: str) -> Hints:
    """Collect the values a model would copy from the prompt into arguments
    (JSON objects in the prompt are examples or schemas, not data: they are skipped)."""
    text = _without_json(text)
    h = Hints(text=text)
    skip = {"I", "The", "What", "Please", "JSON", "Which", "How", "Who", "Where", "When"}
    for m in _PLACE_RE.finditer(text):
        words = [w for w in m.group(1).split() if w not in skip]
        if words:
            h.places.append(" ".join(words))
    h.numbers = [(m.start(), m.group()) for m in _NUMBER_RE.finditer(text)]
    h.quoted = [(m.start(), next(g for g in m.groups() if g is not None)) for m in _QUOTED_RE.finditer(text)]
    h.emails = _EMAIL_RE.findall(text)
    h.urls = [u.rstrip(".,;:!?") for u in _URL_RE.findall(text)]
    h.dates = [(m.group(1), m.group(2), m.group(3)) for m in _DATE_RE.finditer(text)]
    return h


def _name_positions(name: str, text: str) -> list[int]:
    lowered = text.lower()
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").lower().strip()
    out = [m.start() for m in re.finditer(r"\b" + re.escape(spaced) + r"\b", lowered)] if spaced else []
    if not out and name.lower() != spaced:
        out = [m.start() for m in re.finditer(re.escape(name.lower()), lowered)]
    return out


def candidates(name: str, schema: dict[str, Any], hints: Hints) -> Iterator[Any]:
    """Values from the prompt for a property called ``name`` (most likely first)."""
    if not name or not hints.text:
        return
    low = name.lower()
    positions = _name_positions(name, hints.text)
    types = schema_types(schema)
    if "string" in types or not types:
        fmt = schema.get("format")
        if fmt == "email" or "email" in low:
            yield from hints.emails
        if fmt in ("uri", "url", "iri") or low in ("url", "uri", "link", "href", "website"):
            yield from hints.urls
        if fmt in ("date", "date-time") or "date" in low:
            for day, clock, zone in hints.dates:
                yield day if fmt != "date-time" else f"{day}T{clock or '00:00:00'}{zone or 'Z'}"
        for pos in positions:  # a quoted value right after the property's name
            for qpos, value in hints.quoted:
                if 0 <= qpos - pos <= len(name) + 12:
                    yield value
        if any(p in low for p in _PLACE_PROPS):
            yield from hints.places
        if positions:
            for _, value in hints.quoted:
                yield value
        if low in _TEXT_PROPS or low.endswith("_query"):
            yield hints.text.strip()
    if types & {"integer", "number"}:
        for pos in positions:  # "3 days", "days: 3"
            for npos, value in hints.numbers:
                if -12 <= npos - pos <= len(name) + 6:
                    yield _num(value)
        for _, value in hints.numbers:
            yield _num(value)
    if "boolean" in types and positions:
        window = hints.text[max(0, positions[0] - 12) : positions[0] + len(name) + 12].lower()
        yield not any(w in window for w in ("no ", "not ", "without", "false", "n't"))


def _num(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value
