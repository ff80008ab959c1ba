"""The emulator's answer policy: which tool, which arguments, which JSON (pure: no I/O).

A request goes in, a deterministic :class:`Answer` comes out; the latency model
(``model.py``) bills and times it and the wire format (``wire.py``) renders it.

* **Tools.** With ``tools`` offered and ``tool_choice`` not ``"none"``: a named
  choice calls that function; ``"required"`` calls the best-matching tool;
  ``"auto"`` (the default) calls the best-matching tool unless the last message is
  a tool result, in which case it answers in text. "Best-matching" scores the words
  of each tool's name (twice) and description against the last user message; ties
  and no match go to the first tool. A tool result asking to "try again" (a validation
  error) calls the same tool again. When a call is forced after tool results, tools
  not yet called in the conversation go first, so agent loops that must end with an
  output tool (pydantic-ai, instructor) terminate. With ``parallel_tool_calls`` not
  false, every tool whose name is named in the message is called, in order.
* **Arguments and JSON** come from :func:`instance`, a small JSON-Schema instance
  generator (types, ``enum``, ``const``, ``default``, ``required``, nested objects
  and arrays, ``additionalProperties``, ``anyOf``/``oneOf``/``allOf``, ``$ref`` into
  ``$defs``/``definitions``, string formats and lengths, numeric bounds), filled
  from the prompt where a property name matches and the value stays valid (checked
  by :func:`is_valid`, a validator for the same keywords).
* **Structured output.** ``response_format`` ``json_object`` or ``json_schema`` and
  prompted JSON (a message that mentions JSON) answer with one JSON object and
  nothing after it. A schema or example object found in the messages shapes it.
"""

from __future__ import annotations

import datetime
import importlib
import json
import math
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "PolicyError",
    "ToolCall",
    "decide",
    "instance",
    "is_valid",
    "json_pieces",
    "prompt_hints",
    "validate_request",
]


class PolicyError(ValueError):
    """A request Groq rejects with a 400 (``model.py`` turns it into an ``APIError``)."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """The arguments as Groq sends them: compact JSON text."""


@dataclass
class Answer:
    kind: str
    """``"text"``, ``"tool_calls"`` or ``"json"``."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    json_text: str | None = None
    response_format: str | None = None
    """``"json_object"``, ``"json_schema"``, ``"prompted"`` (JSON asked for in a message) or None."""


# -- request validation ---------------------------------------------------------------

_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
_BUILTIN_TOOLS = ("browser_search", "code_interpreter")


def _function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools") or []
    return [t["function"] for t in tools if isinstance(t, dict) and t.get("type") == "function"]


def validate_request(body: dict[str, Any], *, supports_json_schema: bool, reasoning: str | None) -> None:
    """Raise :class:`PolicyError` for the tool and response-format requests Groq refuses."""
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise PolicyError("'tools' : value must be an array", "tools")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise PolicyError(f"'tools.{i}' : value must be an object", f"tools.{i}")
            kind = tool.get("type")
            if kind in _BUILTIN_TOOLS and reasoning == "gpt-oss":
                continue
            if kind != "function":
                raise PolicyError(f"'tools.{i}.type' : value must be 'function'", f"tools.{i}.type")
            fn = tool.get("function")
            if not isinstance(fn, dict):
                raise PolicyError(f"'tools.{i}.function' : property 'function' is missing", f"tools.{i}.function")
            name = fn.get("name")
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise PolicyError(
                    f"'tools.{i}.function.name' : value must match the pattern ^[a-zA-Z0-9_.-]{{1,64}}$",
                    f"tools.{i}.function.name",
                )
            params = fn.get("parameters")
            if params is not None and (not isinstance(params, dict) or params.get("type", "object") != "object"):
                raise PolicyError(
                    f"invalid JSON schema for tool {name}, tools[{i}].function.parameters: "
                    "the root of a function's parameters schema must be an object with type 'object'",
                    f"tools.{i}.function.parameters",
                )
    choice = body.get("tool_choice")
    if choice is not None:
        if not tools:
            raise PolicyError("`tool_choice` is only allowed when `tools` are specified", "tool_choice")
        if isinstance(choice, str):
            if choice not in ("none", "auto", "required"):
                raise PolicyError(
                    "Only allowed string values for 'tool_choice' are none, auto, and required", "tool_choice"
                )
        elif isinstance(choice, dict):
            fn = choice.get("function")
            name = fn.get("name") if isinstance(fn, dict) else None
            if choice.get("type") != "function" or not isinstance(name, str):
                raise PolicyError(
                    "'tool_choice' : value must be none, auto, required or "
                    '{"type": "function", "function": {"name": ...}}',
                    "tool_choice",
                )
            if name not in {f.get("name") for f in _function_tools(body)}:
                raise PolicyError(
                    f"Tool choice function `{name}` is not one of the tools provided in the request", "tool_choice"
                )
        else:
            raise PolicyError("'tool_choice' : value must be a string or an object", "tool_choice")
    fmt = body.get("response_format")
    kind = None
    if fmt is not None:
        if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
            raise PolicyError(
                "'response_format.type' : value must be one of text, json_object, json_schema", "response_format"
            )
        kind = fmt["type"]
        if kind == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise PolicyError(
                    "'response_format.json_schema.name' : property 'name' is missing", "response_format.json_schema"
                )
            schema = spec.get("schema")
            if schema is not None and not isinstance(schema, dict):
                raise PolicyError(
                    "'response_format.json_schema.schema' : value must be an object", "response_format.json_schema"
                )
            if not supports_json_schema:
                raise PolicyError(
                    "This model does not support response format `json_schema`. See supported models at "
                    "https://console.groq.com/docs/structured-outputs#supported-models",
                    "response_format",
                )
        if kind == "json_object":
            text = json.dumps(body.get("messages"), default=str).lower()
            if "json" not in text:
                raise PolicyError(
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                    "'json_object'.",
                    "messages",
                )
    if body.get("reasoning_format") == "raw" and (kind in ("json_object", "json_schema") or tools):
        raise PolicyError(
            "`reasoning_format` raw is not supported with JSON mode or tool use; use `parsed` or `hidden`",
            "reasoning_format",
        )


# -- which tool ----------------------------------------------------------------------

_STOP = frozenset(
    "a an and are as at be by call can do does for from get give how i in is it me my of on or please "
    "set tell that the this to tool use what whats which with you your function".split()
)
_WORD_RE = re.compile(r"[A-Za-z][a-z]*|[0-9]+")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD_RE.findall(text) if len(w) > 2 and w.lower() not in _STOP}


def _matches(word: str, prompt_words: set[str]) -> bool:
    if word in prompt_words:
        return True
    stem = word[:5]
    return len(word) >= 5 and any(p.startswith(stem) for p in prompt_words if len(p) >= 5)


def _score(fn: dict[str, Any], prompt: str, prompt_words: set[str]) -> int:
    name = str(fn.get("name", ""))
    score = 10 if name and name.lower() in prompt.lower() else 0
    score += sum(2 for w in _words(name.replace("_", " ")) if _matches(w, prompt_words))
    score += sum(1 for w in _words(str(fn.get("description") or "")) if _matches(w, prompt_words))
    return score


def _name_named(fn: dict[str, Any], prompt: str, prompt_words: set[str]) -> bool:
    name = str(fn.get("name", ""))
    if name and name.lower() in prompt.lower():
        return True
    words = _words(name.replace("_", " "))
    return bool(words) and all(_matches(w, prompt_words) for w in words)


def _called_names(messages: list[Any]) -> set[str]:
    names: set[str] = set()
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "assistant":
            for call in m.get("tool_calls") or []:
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                    names.add(fn["name"])
    return names


def _choose_tools(body: dict[str, Any], messages: list[Any], prompt: str) -> list[dict[str, Any]]:
    fns = [f for f in _function_tools(body) if isinstance(f, dict)]
    choice = body.get("tool_choice")
    if not fns or choice == "none":
        return []
    if isinstance(choice, dict):
        name = choice["function"]["name"]
        return [f for f in fns if f.get("name") == name][:1]
    after_tool = isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
    if after_tool:
        retry = _retried_tool(messages, fns)
        if retry is not None:
            return [retry]
    if after_tool and choice != "required":
        return []
    words = _words(prompt)
    pool = fns
    if after_tool:
        called = _called_names(messages)
        pool = [f for f in fns if f.get("name") not in called] or fns
    if body.get("parallel_tool_calls") is not False and not after_tool:
        named = [f for f in pool if _name_named(f, prompt, words)]
        if len(named) > 1:
            return named[:4]
    best = max(pool, key=lambda f: (_score(f, prompt, words), -pool.index(f)))
    return [best]


_RETRY_RE = re.compile(r"try again|validation error|invalid arguments?", re.IGNORECASE)


def _retried_tool(messages: list[Any], fns: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The tool to call again when its result says the call was invalid (pydantic-ai's
    "Fix the errors and try again."), as a model does."""
    last = messages[-1]
    if not _RETRY_RE.search(_text(last)):
        return None
    call_id = last.get("tool_call_id")
    for m in reversed(messages[:-1]):
        if isinstance(m, dict) and m.get("role") == "assistant":
            for call in m.get("tool_calls") or []:
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict) and (call.get("id") == call_id or call_id is None):
                    return next((f for f in fns if f.get("name") == fn.get("name")), None)
            break
    return None


_ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _call_id(rng: random.Random, model: str) -> str:
    """Groq's tool-call ids: ``fc_<uuid>`` on gpt-oss, 9 lowercase alphanumerics elsewhere."""
    if model.startswith("openai/gpt-oss"):
        h = f"{rng.getrandbits(128):032x}"
        return f"fc_{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"
    return "".join(rng.choice(_ID_CHARS) for _ in range(9))


# -- prompt hints --------------------------------------------------------------------

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


def _candidates(name: str, schema: dict[str, Any], hints: Hints) -> Iterator[Any]:
    """Values from the prompt for a property called ``name`` (most likely first)."""
    if not name or not hints.text:
        return
    low = name.lower()
    positions = _name_positions(name, hints.text)
    types = _types(schema)
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


# -- schema instance generation ------------------------------------------------------------

_MAX_DEPTH = 8
_WORDS = ("example", "sample", "alpha", "value", "demo", "test", "item", "note")


def _types(schema: dict[str, Any]) -> set[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
        ref = schema["$ref"]
        target: Any = root
        if ref.startswith("#"):
            for part in ref[1:].split("/"):
                if not part:
                    continue
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
        else:
            target = None
        if not isinstance(target, dict):
            return {}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if rest else target
        seen += 1
    return schema


def _merge_all_of(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        part = _merge_all_of(_resolve(part, root), root)
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
        schema = _resolve(schema, self.root)
        if schema is True or not isinstance(schema, dict):
            return self._untyped(name)
        schema = _merge_all_of(schema, self.root)
        if "const" in schema:
            return schema["const"]
        for candidate in _candidates(name, schema, self.hints):
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
        types = _types(schema)
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
        resolved = [_resolve(b, self.root) for b in branches]
        nullable = [b for b in resolved if isinstance(b, dict) and _types(b) == {"null"}]
        others = [b for b in resolved if b not in nullable]
        if nullable and (depth >= _MAX_DEPTH or (not others)):
            return None
        has_hint = any(True for b in others if isinstance(b, dict) for _ in _candidates(name, b, self.hints))
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
        if isinstance(schema.get("multipleOf"), int) or ("integer" in _types(schema)):
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
        if isinstance(pattern, str) and not _search(pattern, value):
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
            if schema.get("uniqueItems") and any(_equal(value, v) for v in out):
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
                sub_schema = _resolve(sub, self.root)
                wanted = isinstance(sub_schema, dict) and (
                    any(self.valid(c, sub_schema) for c in _candidates(key, sub_schema, self.hints))
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


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True


def _equal(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and type(a) is type(b)


# -- validation (the keywords the generator knows) ---------------------------------------

_DATE_FULL = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_FULL = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
_EMAIL_FULL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI_FULL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$")


def _format_ok(fmt: str, value: str) -> bool:
    if fmt == "date":
        if not _DATE_FULL.match(value):
            return False
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if fmt == "date-time":
        if not _DATETIME_FULL.match(value):
            return False
        try:
            datetime.date.fromisoformat(value[:10])
        except ValueError:
            return False
        return True
    if fmt == "email":
        return bool(_EMAIL_FULL.match(value))
    if fmt in ("uri", "url", "iri"):
        return bool(_URI_FULL.match(value))
    return True


def _type_ok(t: str, value: Any) -> bool:
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    return True


def is_valid(value: Any, schema: Any, root: dict[str, Any] | None = None, depth: int = 0) -> bool:
    """Whether ``value`` satisfies ``schema`` for the keywords the generator knows.

    Unknown keywords are ignored (so it may accept what a full validator refuses)."""
    if depth > 64:
        return True
    root = root if root is not None else (schema if isinstance(schema, dict) else {})
    schema = _resolve(schema, root)
    if schema is True or schema == {}:
        return True
    if schema is False or not isinstance(schema, dict):
        return schema is not False
    types = _types(schema)
    if types and not any(_type_ok(t, value) for t in types):
        return False
    if "const" in schema and not _equal(value, schema["const"]):
        return False
    if isinstance(schema.get("enum"), list) and not any(_equal(value, e) for e in schema["enum"]):
        return False
    for part in schema.get("allOf", []) if isinstance(schema.get("allOf"), list) else []:
        if not is_valid(value, part, root, depth + 1):
            return False
    if isinstance(schema.get("anyOf"), list) and not any(is_valid(value, b, root, depth + 1) for b in schema["anyOf"]):
        return False
    if isinstance(schema.get("oneOf"), list) and sum(is_valid(value, b, root, depth + 1) for b in schema["oneOf"]) != 1:
        return False
    if "not" in schema and is_valid(value, schema["not"], root, depth + 1):
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if isinstance(lo, (int, float)) and value < lo:
            return False
        if isinstance(hi, (int, float)) and value > hi:
            return False
        if isinstance(xlo, (int, float)) and not isinstance(xlo, bool) and value <= xlo:
            return False
        if isinstance(xhi, (int, float)) and not isinstance(xhi, bool) and value >= xhi:
            return False
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            q = value / step
            if abs(q - round(q)) > 1e-9:
                return False
    elif isinstance(value, str):
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            return False
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            return False
        if isinstance(schema.get("pattern"), str) and not _search(schema["pattern"], value):
            return False
        if isinstance(schema.get("format"), str) and not _format_ok(schema["format"], value):
            return False
    elif isinstance(value, list):
        if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
            return False
        if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
            return False
        prefix: list[Any] = schema["prefixItems"] if isinstance(schema.get("prefixItems"), list) else []
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items", True)
            if not is_valid(item, sub, root, depth + 1):
                return False
        if schema.get("uniqueItems"):
            seen = [json.dumps(v, sort_keys=True) for v in value]
            if len(set(seen)) != len(seen):
                return False
    elif isinstance(value, dict):
        required: list[Any] = schema["required"] if isinstance(schema.get("required"), list) else []
        if any(r not in value for r in required):
            return False
        props: dict[str, Any] = schema["properties"] if isinstance(schema.get("properties"), dict) else {}
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                if not is_valid(item, props[key], root, depth + 1):
                    return False
            elif extra is False or (isinstance(extra, dict) and not is_valid(item, extra, root, depth + 1)):
                return False
        if isinstance(schema.get("minProperties"), int) and len(value) < schema["minProperties"]:
            return False
        if isinstance(schema.get("maxProperties"), int) and len(value) > schema["maxProperties"]:
            return False
    return True


def instance(schema: Any, *, prompt: str = "", seed: int = 0, name: str = "") -> Any:
    """A value valid against ``schema``, filled from ``prompt`` where property names match."""
    root = schema if isinstance(schema, dict) else {}
    return _Generator(root, prompt_hints(prompt), random.Random(seed)).make(schema, name)


# -- structured output ------------------------------------------------------------------


def _json_objects(text: str) -> Iterator[Any]:
    """JSON objects written inside a message (a schema or an example)."""
    decoder = json.JSONDecoder()
    i = text.find("{")
    found = 0
    while i >= 0 and found < 8:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found += 1
            yield obj
        i = text.find("{", end)


def _looks_like_schema(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("properties"), dict) or "$defs" in obj or obj.get("type") == "object"


def _schema_of_example(example: Any) -> dict[str, Any]:
    if isinstance(example, dict):
        return {
            "type": "object",
            "properties": {k: _schema_of_example(v) for k, v in example.items()},
            "required": list(example),
        }
    if isinstance(example, list):
        return {"type": "array", "items": _schema_of_example(example[0]) if example else {}}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int):
        return {"type": "integer"}
    if isinstance(example, float):
        return {"type": "number"}
    if example is None:
        return {"type": "null"}
    return {"type": "string"}


_INTENTS = ("billing", "refund", "shipping", "account", "support", "cancel", "greeting")


def _prompted_schema(messages: list[Any]) -> dict[str, Any] | None:
    """The schema a message asks the answer to follow: a JSON Schema, else an example object."""
    texts = [_text(m) for m in messages if isinstance(m, dict) and m.get("role") in ("system", "developer", "user")]
    example: dict[str, Any] | None = None
    for text in reversed(texts):
        for obj in _json_objects(text):
            if _looks_like_schema(obj):
                inner: dict[str, Any] = obj["schema"] if isinstance(obj.get("schema"), dict) else obj
                return inner
            if example is None:
                example = obj
    if example is None:
        return None
    schema = _schema_of_example(example)
    # "classify as one of billing, refund, shipping ... Reply in JSON like {"intent": "billing"}":
    # a string field of the example takes one of the listed labels, as a model would answer
    labels = _listed_labels(" ".join(texts))
    if labels:
        for prop in schema["properties"].values():
            if prop.get("type") == "string" and set(_example_strings(example)) & set(labels):
                prop["enum"] = labels
    return schema


def _listed_labels(text: str) -> list[str]:
    """The options of "one of a, b, c" (or "a, b or c") in a prompt."""
    match = re.search(r"\bone of:?\s+([\w-]+(?:\s*,\s*(?:or\s+)?[\w-]+|\s+or\s+[\w-]+)+)", text, re.IGNORECASE)
    if match is None:
        return []
    return [w for w in re.split(r"\s*,\s*(?:or\s+)?|\s+or\s+", match.group(1)) if w]


def _example_strings(example: Any) -> list[str]:
    if isinstance(example, dict):
        return [s for v in example.values() for s in _example_strings(v)]
    return [example] if isinstance(example, str) else []


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _asks_for_json(messages: list[Any]) -> bool:
    user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    system = [m for m in messages if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    texts = [_text(m) for m in [*system, *user[-1:]]]
    return any(re.search(r"\bjson\b", t, re.IGNORECASE) for t in texts)


def json_pieces(text: str) -> list[str]:
    """Split JSON text into token-like pieces (one per word, number or symbol)."""
    pieces = re.findall(r"\s*(?:[A-Za-z_]+|\d+|[^\w\s])", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        pieces.append(tail)
    return pieces


# -- the decision ----------------------------------------------------------------------


def decide(body: dict[str, Any], *, seed: int) -> Answer:
    """Plan the answer's shape for a validated request: text, tool calls or JSON."""
    messages: list[Any] = body["messages"]
    model = str(body.get("model"))
    user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    prompt = _text(user[-1]) if user else ""
    rng = random.Random(seed)
    chosen = _choose_tools(body, messages, prompt)
    if chosen:
        calls = []
        for fn in chosen:
            params = fn.get("parameters")
            tool_schema: dict[str, Any] = params if isinstance(params, dict) else {"type": "object", "properties": {}}
            args = _Generator(tool_schema, prompt_hints(prompt), rng).make(tool_schema)
            if not isinstance(args, dict):
                args = {}
            calls.append(ToolCall(_call_id(rng, model), str(fn["name"]), json.dumps(args, separators=(",", ":"))))
        return Answer("tool_calls", tool_calls=calls)
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    schema: dict[str, Any] | None = None
    if kind == "json_schema":
        spec: dict[str, Any] = fmt["json_schema"] if isinstance(fmt, dict) else {}
        schema = spec["schema"] if isinstance(spec.get("schema"), dict) else {"type": "object"}
    elif kind == "json_object" or _asks_for_json(messages):
        schema = _prompted_schema(messages)
        if kind != "json_object":
            kind = "prompted"
    else:
        return Answer("text")
    if schema is None:
        value: Any = {"intent": rng.choice(_INTENTS)}
    else:
        value = _Generator(schema, prompt_hints(prompt), rng).make(schema)
    if kind in ("json_object", "prompted") and not isinstance(value, dict):
        value = {"result": value}
    # Groq's structured outputs are compact; prompted JSON reads like a model wrote it
    separators = (",", ":") if kind == "json_schema" else (", ", ": ")
    return Answer("json", json_text=json.dumps(value, separators=separators), response_format=kind)
