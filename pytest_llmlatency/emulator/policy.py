"""The emulator's answer policy: which tool, which arguments, which JSON (pure: no I/O).

A request that passed ``validation.check_chat`` goes in, a deterministic :class:`Answer`
comes out; the latency model (``model.py``) bills and times it and the wire format
(``wire.py``) renders it.

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
* **Arguments and JSON** come from the JSON-Schema instance generator
  (``schema_generator.py``), filled from the prompt (``hints.py``) where a property
  name matches and the value stays valid (``schema_validator.py``).
* **Structured output.** ``response_format`` ``json_object`` or ``json_schema`` and
  prompted JSON (a message that mentions JSON) answer with one JSON object and
  nothing after it. A schema or example object found in the messages shapes it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .hints import prompt_hints
from .schema_generator import generate
from .validation import function_tools

__all__ = ["Answer", "ToolCall", "decide", "json_pieces"]


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
    fns = [f for f in function_tools(body) if isinstance(f, dict)]
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
            args = generate(tool_schema, prompt_hints(prompt), rng)
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
        value = generate(schema, prompt_hints(prompt), rng)
    if kind in ("json_object", "prompted") and not isinstance(value, dict):
        value = {"result": value}
    # Groq's structured outputs are compact; prompted JSON reads like a model wrote it
    separators = (",", ":") if kind == "json_schema" else (", ", ": ")
    return Answer("json", json_text=json.dumps(value, separators=separators), response_format=kind)
