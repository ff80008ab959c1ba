"""JSON-Schema validation for the keywords the instance generator knows (pure).

:func:`is_valid` checks a value against a schema: types, ``enum``, ``const``, ``allOf``,
``anyOf``, ``oneOf``, ``not``, ``$ref`` into the root schema, numeric bounds and
``multipleOf``, string lengths, patterns and formats (date, date-time, email, URI), array
lengths, ``prefixItems``/``items`` and ``uniqueItems``, object ``required``,
``properties``, ``additionalProperties`` and property counts. Unknown keywords are
ignored, so it may accept what a full validator refuses. ``schema_generator.py`` makes
values that pass it; the prompt hints (``hints.py``) are kept only when they pass it.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

__all__ = ["is_valid", "pattern_matches", "resolve", "same_value", "schema_types"]


def schema_types(schema: dict[str, Any]) -> set[str]:
    """The names in the schema's ``type`` (a string or a list)."""
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def resolve(schema: Any, root: dict[str, Any]) -> Any:
    """The schema with its ``$ref`` (into ``root``) followed; an unknown reference gives ``{}``."""
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


def pattern_matches(pattern: str, value: str) -> bool:
    """Whether ``value`` matches ``pattern`` (a pattern Python cannot compile matches anything)."""
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True


def same_value(a: Any, b: Any) -> bool:
    """JSON equality that tells 1 from 1.0 and from True."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and type(a) is type(b)


# -- formats and types ---------------------------------------------------------------------

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


_MAX_DEPTH = 64
"""Nesting (``$ref`` cycles included) past which a value is taken as valid."""


def is_valid(value: Any, schema: Any, root: dict[str, Any] | None = None, depth: int = 0) -> bool:
    """Whether ``value`` satisfies ``schema`` for the keywords the generator knows.

    Unknown keywords are ignored (so it may accept what a full validator refuses)."""
    if depth > _MAX_DEPTH:
        return True
    root = root if root is not None else (schema if isinstance(schema, dict) else {})
    schema = resolve(schema, root)
    if schema is True or schema == {}:
        return True
    if schema is False or not isinstance(schema, dict):
        return schema is not False
    if not _any_value_ok(value, schema, root, depth):
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        return _number_ok(value, schema)
    if isinstance(value, str):
        return _string_ok(value, schema)
    if isinstance(value, list):
        return _array_ok(value, schema, root, depth)
    if isinstance(value, dict):
        return _object_ok(value, schema, root, depth)
    return True


def _any_value_ok(value: Any, schema: dict[str, Any], root: dict[str, Any], depth: int) -> bool:
    """The keywords that apply to every value: type, const, enum and the combinators."""
    types = schema_types(schema)
    if types and not any(_type_ok(t, value) for t in types):
        return False
    if "const" in schema and not same_value(value, schema["const"]):
        return False
    if isinstance(schema.get("enum"), list) and not any(same_value(value, e) for e in schema["enum"]):
        return False
    for part in schema.get("allOf", []) if isinstance(schema.get("allOf"), list) else []:
        if not is_valid(value, part, root, depth + 1):
            return False
    if isinstance(schema.get("anyOf"), list) and not any(is_valid(value, b, root, depth + 1) for b in schema["anyOf"]):
        return False
    if isinstance(schema.get("oneOf"), list) and sum(is_valid(value, b, root, depth + 1) for b in schema["oneOf"]) != 1:
        return False
    return not ("not" in schema and is_valid(value, schema["not"], root, depth + 1))


def _number_ok(value: float, schema: dict[str, Any]) -> bool:
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
    return True


def _string_ok(value: str, schema: dict[str, Any]) -> bool:
    if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
        return False
    if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
        return False
    if isinstance(schema.get("pattern"), str) and not pattern_matches(schema["pattern"], value):
        return False
    return not (isinstance(schema.get("format"), str) and not _format_ok(schema["format"], value))


def _array_ok(value: list[Any], schema: dict[str, Any], root: dict[str, Any], depth: int) -> bool:
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
    return True


def _object_ok(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], depth: int) -> bool:
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
    return not (isinstance(schema.get("maxProperties"), int) and len(value) > schema["maxProperties"])
