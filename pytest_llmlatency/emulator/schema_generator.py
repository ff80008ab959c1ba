"""A JSON-Schema instance generator (pure): a valid value for a schema, filled from the prompt.

Knows types, ``enum``, ``const``, ``default``, ``required``, nested objects and arrays,
``additionalProperties``, ``anyOf``/``oneOf``/``allOf``, ``$ref`` into
``$defs``/``definitions``, string formats, lengths and patterns, and numeric bounds. A
property whose name matches a value in the prompt (``hints.py``) takes that value when it
stays valid (checked by ``schema_validator.is_valid``); otherwise values are drawn from
the seeded random generator, so the same schema, prompt and seed give the same value.
"""

from __future__ import annotations

import datetime
import importlib
import math
import random
import re
import sys
from typing import Any

from .hints import Hints, candidates, prompt_hints
from .schema_validator import is_valid, pattern_matches, resolve, same_value, schema_types

__all__ = ["generate", "instance"]

_MAX_DEPTH = 8
"""Nesting past which optional parts are left out and nullable values are null."""
_WORDS = ("example", "sample", "alpha", "value", "demo", "test", "item", "note")


def _merge_all_of(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        part = _merge_all_of(resolve(part, root), root)
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


class _Generator:
    def __init__(self, root: dict[str, Any], hints: Hints, rng: random.Random) -> None:
        self.root = root
        self.hints = hints
        self.rng = rng

    def valid(self, value: Any, schema: Any) -> bool:
        return is_valid(value, schema, self.root)

    def make(self, schema: Any, name: str = "", depth: int = 0) -> Any:
        schema = resolve(schema, self.root)
        if schema is True or not isinstance(schema, dict):
            return self._untyped(name)
        schema = _merge_all_of(schema, self.root)
        if "const" in schema:
            return schema["const"]
        for candidate in candidates(name, schema, self.hints):
            if self.valid(candidate, schema):
                return candidate
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            mentioned = [v for v in enum if isinstance(v, str) and v and v.lower() in self.hints.text.lower()]
            pool = [v for v in (mentioned or enum) if self.valid(v, {k: x for k, x in schema.items() if k != "enum"})]
            return (pool or enum)[0] if mentioned else self.rng.choice(pool or enum)
        if "default" in schema and self.valid(schema["default"], schema):
            return schema["default"]
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self._branch(schema, key, branches, name, depth)
        types = schema_types(schema)
        if not types:
            if "properties" in schema or "additionalProperties" in schema or "required" in schema:
                types = {"object"}
            elif "items" in schema or "prefixItems" in schema:
                types = {"array"}
            elif "minLength" in schema or "format" in schema or "pattern" in schema:
                types = {"string"}
            elif "minimum" in schema or "maximum" in schema:
                types = {"number"}
        order = ("object", "array", "string", "integer", "number", "boolean", "null")
        chosen = next((t for t in order if t in types and t != "null"), "null" if "null" in types else "")
        if chosen == "":
            return self._untyped(name)
        if depth >= _MAX_DEPTH and "null" in types:
            return None
        value = getattr(self, "_" + chosen)(schema, name, depth)
        return value

    def _mentions_enum(self, schema: dict[str, Any]) -> bool:
        enum = schema.get("enum")
        text = self.hints.text.lower()
        return isinstance(enum, list) and any(
            isinstance(v, str) and len(v) > 2 and re.search(r"\b" + re.escape(v.lower()) + r"\b", text) for v in enum
        )

    def _untyped(self, name: str) -> Any:
        return self.rng.choice(_WORDS)

    def _branch(self, schema: dict[str, Any], key: str, branches: list[Any], name: str, depth: int) -> Any:
        base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        resolved = [resolve(b, self.root) for b in branches]
        nullable = [b for b in resolved if isinstance(b, dict) and schema_types(b) == {"null"}]
        others = [b for b in resolved if b not in nullable]
        if nullable and (depth >= _MAX_DEPTH or (not others)):
            return None
        has_hint = any(True for b in others if isinstance(b, dict) for _ in candidates(name, b, self.hints))
        if nullable and not has_hint and "default" in schema and schema["default"] is None:
            return None
        for branch in [*others, *nullable]:
            merged = {**base, **branch} if isinstance(branch, dict) else branch
            for _ in range(3):
                value = self.make(merged, name, depth + 1)
                if self.valid(value, schema):
                    return value
        return None if nullable else self.make(others[0] if others else {}, name, depth + 1)

    def _null(self, schema: dict[str, Any], name: str, depth: int) -> Any:
        return None

    def _boolean(self, schema: dict[str, Any], name: str, depth: int) -> bool:
        return self.rng.random() < 0.5

    def _integer(self, schema: dict[str, Any], name: str, depth: int) -> int:
        lo, hi = _bounds(schema, integer=True)
        step = schema.get("multipleOf")
        base = self.rng.randint(1, 10)
        if lo is not None and hi is not None:
            value = lo + (base - 1) % (int(hi - lo) + 1)
        elif lo is not None:
            value = int(lo) + base - 1
        elif hi is not None:
            value = min(int(hi), base)
        else:
            value = base
        if isinstance(step, (int, float)) and step > 0:
            k = math.ceil((lo if lo is not None else value) / step)
            candidate = int(k * step)
            while hi is not None and candidate > hi and k > -1_000_000:
                k -= 1
                candidate = int(k * step)
            value = candidate
        return int(value)

    def _number(self, schema: dict[str, Any], name: str, depth: int) -> float | int:
        if isinstance(schema.get("multipleOf"), int) or ("integer" in schema_types(schema)):
            return self._integer(schema, name, depth)
        lo, hi = _bounds(schema, integer=False)
        base = round(self.rng.uniform(0.1, 10.0), 2)
        if lo is not None and hi is not None:
            value = lo + (hi - lo) * self.rng.uniform(0.1, 0.9)
        elif lo is not None:
            value = lo + base
        elif hi is not None:
            value = hi - base
        else:
            value = base
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            value = round(value / step) * step
            if not self.valid(value, schema):
                value = math.ceil((lo or 0) / step) * step
            return value
        rounded = round(value, 2)
        return rounded if self.valid(rounded, schema) else value

    def _string(self, schema: dict[str, Any], name: str, depth: int) -> str:
        fmt = schema.get("format")
        value = _format_value(fmt, self.rng) if isinstance(fmt, str) else None
        if value is None:
            word = self.rng.choice(_WORDS)
            value = f"{word} {name}".strip() if name and not name.startswith("_") else word
            value = value.replace("_", " ")
        lo = schema.get("minLength")
        hi = schema.get("maxLength")
        if isinstance(lo, int) and len(value) < lo:
            value = (value + " " + "x" * lo)[: max(lo, len(value))]
            value = value.ljust(lo, "x")
        if isinstance(hi, int) and len(value) > hi:
            value = value[:hi]
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not pattern_matches(pattern, value):
            for _ in range(8):
                candidate = _from_pattern(pattern, self.rng)
                if candidate is not None and self.valid(candidate, schema):
                    return candidate
        return value

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        lo: int = schema["minItems"] if isinstance(schema.get("minItems"), int) else 0
        hi: int | None = schema["maxItems"] if isinstance(schema.get("maxItems"), int) else None
        prefix: list[Any] = schema["prefixItems"] if isinstance(schema.get("prefixItems"), list) else []
        items = schema.get("items", {})
        count = max(lo, len(prefix), 1 if depth < _MAX_DEPTH - 2 else 0)
        if depth >= _MAX_DEPTH - 2:
            count = max(lo, len(prefix) if lo else 0)
        if items is False:
            count = min(count, len(prefix))
        if hi is not None:
            count = min(count, hi)
        singular = name[:-1] if name.endswith("s") else name
        out: list[Any] = []
        attempts = 0
        while len(out) < count and attempts < count * 8 + 8:
            attempts += 1
            i = len(out)
            sub = prefix[i] if i < len(prefix) else items
            value = self.make(sub, singular, depth + 1)
            if schema.get("uniqueItems") and any(same_value(value, v) for v in out):
                continue
            out.append(value)
        return out

    def _object(self, schema: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        props: dict[str, Any] = schema["properties"] if isinstance(schema.get("properties"), dict) else {}
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        out: dict[str, Any] = {}
        min_props: int = schema["minProperties"] if isinstance(schema.get("minProperties"), int) else 0
        for key, sub in props.items():
            wanted = key in required
            if not wanted and depth < _MAX_DEPTH - 2:
                sub_schema = resolve(sub, self.root)
                wanted = isinstance(sub_schema, dict) and (
                    any(self.valid(c, sub_schema) for c in candidates(key, sub_schema, self.hints))
                    or self._mentions_enum(sub_schema)
                )
            if wanted or len(out) < min_props:
                out[key] = self.make(sub, key, depth + 1)
        for key in required:  # required but not described: anything goes unless forbidden
            if key not in out:
                extra = schema.get("additionalProperties", True)
                out[key] = self.make(extra if isinstance(extra, dict) else {}, key, depth + 1)
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict) and depth < _MAX_DEPTH - 2:
            out.setdefault(self.rng.choice(("key", "name", "id")), self.make(extra, "", depth + 1))
        while len(out) < min_props and extra is not False:
            out[f"field_{len(out)}"] = self.make(extra if isinstance(extra, dict) else {}, "", depth + 1)
        max_props = schema.get("maxProperties")
        if isinstance(max_props, int) and len(out) > max_props:
            out = {k: out[k] for k in list(out)[:max_props]}
        return out


def _bounds(schema: dict[str, Any], *, integer: bool) -> tuple[float | None, float | None]:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    xlo = schema.get("exclusiveMinimum")
    xhi = schema.get("exclusiveMaximum")
    eps = 1 if integer else 1e-6
    if isinstance(xlo, (int, float)) and not isinstance(xlo, bool):
        lo = max(lo, xlo + eps) if isinstance(lo, (int, float)) else xlo + eps
    if isinstance(xhi, (int, float)) and not isinstance(xhi, bool):
        hi = min(hi, xhi - eps) if isinstance(hi, (int, float)) else xhi - eps
    lo = lo if isinstance(lo, (int, float)) and not isinstance(lo, bool) else None
    hi = hi if isinstance(hi, (int, float)) and not isinstance(hi, bool) else None
    if integer:
        lo = math.ceil(lo) if lo is not None else None
        hi = math.floor(hi) if hi is not None else None
    return lo, hi


def _format_value(fmt: str, rng: random.Random) -> str | None:
    day = datetime.date(2025, 1, 1) + datetime.timedelta(days=rng.randrange(365))
    hour, minute = rng.randrange(8, 18), rng.choice((0, 15, 30, 45))
    values = {
        "date": day.isoformat(),
        "date-time": f"{day.isoformat()}T{hour:02d}:{minute:02d}:00Z",
        "time": f"{hour:02d}:{minute:02d}:00Z",
        "email": f"{rng.choice(('alice', 'bob', 'carol', 'dave'))}@example.com",
        "idn-email": "user@example.com",
        "uri": f"https://example.com/{rng.choice(_WORDS)}",
        "url": f"https://example.com/{rng.choice(_WORDS)}",
        "iri": "https://example.com/",
        "uri-reference": f"/{rng.choice(_WORDS)}",
        "hostname": "example.com",
        "idn-hostname": "example.com",
        "ipv4": f"192.0.2.{rng.randrange(1, 255)}",
        "ipv6": f"2001:db8::{rng.randrange(1, 0xFFFF):x}",
        "uuid": f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
        f"{0x8000 | rng.getrandbits(14):04x}-{rng.getrandbits(48):012x}",
        "duration": f"P{rng.randrange(1, 30)}D",
        "regex": "^[a-z]+$",
        "json-pointer": "/a/b",
    }
    return values.get(fmt)


_sre: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")
_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_WORD": "abcdefghijklmnopqrstuvwxyz0123456789",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": "abcxyz",
    "CATEGORY_NOT_WORD": "-.",
    "CATEGORY_NOT_SPACE": "abc",
}


def _from_pattern(pattern: str, rng: random.Random) -> str | None:
    """A string matching a regular expression (anchors, classes, repeats, groups,
    alternation); None when the pattern uses something else (lookarounds, backrefs)."""
    try:
        parsed = _sre.parse(pattern)
    except Exception:
        return None
    out: list[str] = []
    try:
        _emit(parsed, rng, out, 0)
    except ValueError:
        return None
    return "".join(out)


def _emit(items: Any, rng: random.Random, out: list[str], depth: int) -> None:
    if depth > 20:
        raise ValueError("pattern too deep")
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_from_class(arg, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, sub = arg
            hi = lo + 3 if hi > lo + 3 else hi
            for _ in range(rng.randint(max(lo, min(1, hi)), max(lo, min(hi, max(lo, 1) + 2)))):
                _emit(sub, rng, out, depth + 1)
        elif name == "SUBPATTERN":
            _emit(arg[-1], rng, out, depth + 1)
        elif name == "BRANCH":
            _emit(rng.choice(arg[1]), rng, out, depth + 1)
        elif name == "AT":
            continue
        else:
            raise ValueError(f"unsupported regex operator {name}")


def _from_class(items: Any, rng: random.Random) -> str:
    if items and str(items[0][0]) == "NEGATE":
        excluded = set()
        for op, arg in items[1:]:
            if str(op) == "LITERAL":
                excluded.add(chr(arg))
            elif str(op) == "RANGE":
                excluded |= {chr(c) for c in range(arg[0], arg[1] + 1)}
        for c in "abcxyz0123456789":
            if c not in excluded:
                return c
        raise ValueError("no character left")
    op, arg = rng.choice(list(items))
    name = str(op)
    if name == "LITERAL":
        return chr(arg)
    if name == "RANGE":
        return chr(rng.randint(arg[0], arg[1]))
    if name == "CATEGORY":
        return rng.choice(_CATEGORY_CHARS.get(str(arg), "a"))
    raise ValueError(f"unsupported class item {name}")


def instance(schema: Any, *, prompt: str = "", seed: int = 0, name: str = "") -> Any:
    """A value valid against ``schema``, filled from ``prompt`` where property names match."""
    root = schema if isinstance(schema, dict) else {}
    return _Generator(root, prompt_hints(prompt), random.Random(seed)).make(schema, name)


def generate(schema: dict[str, Any], hints: Hints, rng: random.Random) -> Any:
    """A value valid against ``schema`` (its own root), drawn with ``rng``, filled from ``hints``."""
    return _Generator(schema, hints, rng).make(schema)
