"""Structured output: the emulator's JSON is one object, valid against the schema asked for.

Every schema of the corpus (hand-written ones and pydantic models' own schemas, with
``$defs``/``$ref``, ``anyOf`` with null, enums and nested arrays) is checked three
ways: the policy's instance alone, a tool call's arguments and a ``json_schema``
answer from the running emulator, all with ``jsonschema``'s Draft 2020-12 validator
and format checking (date, date-time, email, uri).
"""

from __future__ import annotations

import datetime
import json
from enum import Enum
from typing import Any, Literal

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from pydantic import BaseModel, Field

from pytest_llmlatency.emulator import GroqEmulator, plan_request
from pytest_llmlatency.emulator.schema_generator import instance
from pytest_llmlatency.emulator.schema_validator import is_valid

from ..helpers import post_chat

# -- the corpus ---------------------------------------------------------------------------


class Unit(str, Enum):
    celsius = "celsius"
    fahrenheit = "fahrenheit"


class CityLocation(BaseModel):
    """A city and its country."""

    city: str
    country: str


class Address(BaseModel):
    street: str
    city: str
    postcode: str = Field(min_length=4, max_length=10)


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    email: str | None = Field(default=None, json_schema_extra={"format": "email"})
    addresses: list[Address] = Field(default_factory=list, max_length=3)


class Weather(BaseModel):
    city: str
    unit: Unit = Unit.celsius
    days: int = Field(default=1, ge=1, le=14)


class Step(BaseModel):
    explanation: str
    output: str


class MathReasoning(BaseModel):
    steps: list[Step] = Field(min_length=1)
    final_answer: str


class Label(BaseModel):
    label: Literal["billing", "refund", "shipping"]
    confidence: float = Field(ge=0, le=1)


class Node(BaseModel):
    name: str
    children: list[Node] = Field(default_factory=list)


class Event(BaseModel):
    title: str = Field(max_length=40)
    date: datetime.date
    starts_at: datetime.datetime
    url: str | None = Field(default=None, json_schema_extra={"format": "uri"})
    tags: set[str] = Field(default_factory=set)


class Invoice(BaseModel):
    number: str = Field(pattern=r"^INV-\d+$")
    lines: list[tuple[str, int]]
    total: float = Field(gt=0)
    paid: bool
    notes: dict[str, str] = Field(default_factory=dict)


class Pet(BaseModel):
    kind: Literal["cat", "dog"]
    name: str


class Owner(BaseModel):
    pets: list[Pet] = Field(min_length=2, max_length=4)
    favourite: Pet | None = None
    ratings: list[list[int]] = Field(default_factory=list)


HAND_WRITTEN: dict[str, dict[str, Any]] = {
    "weather_tool": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "empty_object": {"type": "object", "properties": {}},
    "all_scalars": {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "n": {"type": "number"},
            "b": {"type": "boolean"},
            "z": {"type": "null"},
        },
        "required": ["s", "i", "n", "b", "z"],
    },
    "enum_and_const": {
        "type": "object",
        "properties": {"mode": {"enum": ["fast", "slow", 3]}, "version": {"const": "v2"}},
        "required": ["mode", "version"],
        "additionalProperties": False,
    },
    "bounds": {
        "type": "object",
        "properties": {
            "pct": {"type": "number", "minimum": 0, "maximum": 1},
            "count": {"type": "integer", "exclusiveMinimum": 10, "maximum": 12},
            "step": {"type": "integer", "multipleOf": 5, "minimum": 7},
            "neg": {"type": "integer", "maximum": -3},
        },
        "required": ["pct", "count", "step", "neg"],
    },
    "strings": {
        "type": "object",
        "properties": {
            "short": {"type": "string", "maxLength": 3},
            "long": {"type": "string", "minLength": 30},
            "code": {"type": "string", "pattern": "^[A-Z]+$"},
        },
        "required": ["short", "long", "code"],
    },
    "formats": {
        "type": "object",
        "properties": {
            "day": {"type": "string", "format": "date"},
            "when": {"type": "string", "format": "date-time"},
            "mail": {"type": "string", "format": "email"},
            "site": {"type": "string", "format": "uri"},
            "id": {"type": "string", "format": "uuid"},
            "ip": {"type": "string", "format": "ipv4"},
        },
        "required": ["day", "when", "mail", "site", "id", "ip"],
        "additionalProperties": False,
    },
    "array_bounds": {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 5, "uniqueItems": True},
            "none": {"type": "array", "items": {"type": "integer"}, "maxItems": 0},
        },
        "required": ["tags", "none"],
    },
    "nested_arrays": {
        "type": "object",
        "properties": {
            "matrix": {
                "type": "array",
                "minItems": 2,
                "items": {"type": "array", "minItems": 2, "items": {"type": "number"}},
            }
        },
        "required": ["matrix"],
    },
    "array_of_objects": {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
                    "required": ["sku", "qty"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["items"],
        "additionalProperties": False,
    },
    "nullable_type_list": {
        "type": "object",
        "properties": {"maybe": {"type": ["string", "null"]}, "num": {"type": ["null", "integer"]}},
        "required": ["maybe", "num"],
    },
    "any_of_null": {
        "type": "object",
        "properties": {"note": {"anyOf": [{"type": "string", "minLength": 2}, {"type": "null"}]}},
        "required": ["note"],
    },
    "one_of_exclusive": {
        "type": "object",
        "properties": {
            "value": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "number", "maximum": -1}]},
        },
        "required": ["value"],
    },
    "all_of": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
        ]
    },
    "defs_and_ref": {
        "$defs": {
            "Point": {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
            }
        },
        "type": "object",
        "properties": {
            "start": {"$ref": "#/$defs/Point"},
            "path": {"type": "array", "items": {"$ref": "#/$defs/Point"}, "minItems": 2},
        },
        "required": ["start", "path"],
    },
    "legacy_definitions": {
        "definitions": {"Color": {"type": "string", "enum": ["red", "green"]}},
        "type": "object",
        "properties": {"color": {"$ref": "#/definitions/Color"}},
        "required": ["color"],
    },
    "dict_values": {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 1},
        "minProperties": 2,
    },
    "defaults": {
        "type": "object",
        "properties": {
            "lang": {"type": "string", "default": "en", "enum": ["en", "fr"]},
            "n": {"type": "integer", "default": 3},
        },
        "required": ["lang", "n"],
    },
    "untyped_props": {
        "type": "object",
        "properties": {
            "anything": {},
            "tuple": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
        },
        "required": ["anything", "tuple"],
    },
    "deep_nesting": {
        "type": "object",
        "properties": {
            "a": {
                "type": "object",
                "properties": {
                    "b": {
                        "type": "object",
                        "properties": {
                            "c": {
                                "type": "object",
                                "properties": {"d": {"type": "string", "enum": ["deep"]}},
                                "required": ["d"],
                            }
                        },
                        "required": ["c"],
                    }
                },
                "required": ["b"],
            }
        },
        "required": ["a"],
    },
    "search_tool": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to search for"},
            "max_results": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
            "since": {"type": "string", "format": "date"},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    "booking_tool": {
        "type": "object",
        "properties": {
            "destination": {"type": "string"},
            "nights": {"type": "integer", "minimum": 1, "maximum": 30},
            "guests": {"type": "integer", "minimum": 1, "maximum": 8},
            "contact": {"type": "string", "format": "email"},
            "breakfast": {"type": "boolean"},
        },
        "required": ["destination", "nights", "guests", "contact", "breakfast"],
        "additionalProperties": False,
    },
}

PYDANTIC_MODELS: list[type[BaseModel]] = [
    CityLocation,
    Address,
    Person,
    Weather,
    MathReasoning,
    Label,
    Node,
    Event,
    Invoice,
    Owner,
]

CORPUS: dict[str, dict[str, Any]] = {
    **HAND_WRITTEN,
    **{f"pydantic_{m.__name__}": m.model_json_schema() for m in PYDANTIC_MODELS},
}

PROMPTS = [
    "",
    "What's the weather in Paris for 3 days in fahrenheit?",
    'Book 2 nights in Lisbon for 3 guests, contact ana@example.org, since 2025-06-01. Search "cheap hotels".',
    "Reply in JSON.",
]


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _assert_valid(value: Any, schema: dict[str, Any], where: str) -> None:
    errors = sorted(_validator(schema).iter_errors(value), key=str)
    assert not errors, f"{where}: {json.dumps(value)} is invalid: {[e.message for e in errors]}"


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30
    text = json.dumps(CORPUS)
    assert "$defs" in text and "$ref" in text and '"anyOf"' in text and '"enum"' in text


@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("prompt", PROMPTS, ids=["empty", "weather", "booking", "json"])
def test_instances_are_valid(name: str, prompt: str) -> None:
    schema = CORPUS[name]
    for seed in range(5):
        value = instance(schema, prompt=prompt, seed=seed)
        _assert_valid(value, schema, f"{name} seed {seed}")
        assert is_valid(value, schema), "the policy's own validator agrees"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_instances_are_deterministic(name: str) -> None:
    assert instance(CORPUS[name], prompt=PROMPTS[2], seed=7) == instance(CORPUS[name], prompt=PROMPTS[2], seed=7)


def test_values_come_from_the_prompt() -> None:
    booking = instance(HAND_WRITTEN["booking_tool"], prompt=PROMPTS[2])
    assert booking["destination"] == "Lisbon"
    assert booking["nights"] == 2 and booking["guests"] == 3
    assert booking["contact"] == "ana@example.org"
    weather = instance(Weather.model_json_schema(), prompt=PROMPTS[1])
    assert weather["city"] == "Paris" and weather["days"] == 3 and weather["unit"] == "fahrenheit"
    search = instance(HAND_WRITTEN["search_tool"], prompt=PROMPTS[2])
    assert search["since"] == "2025-06-01" and search["query"]
    # a value from the prompt that would break the schema is not used
    capped = {"type": "object", "properties": {"nights": {"type": "integer", "maximum": 1}}, "required": ["nights"]}
    assert instance(capped, prompt="Book 2 nights")["nights"] <= 1


def test_pydantic_models_parse_the_instances() -> None:
    for model in PYDANTIC_MODELS:
        for prompt in PROMPTS:
            model.model_validate(instance(model.model_json_schema(), prompt=prompt))


# -- over the wire ------------------------------------------------------------------------


def _json_schema_body(schema: dict[str, Any], *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "model": "openai/gpt-oss-20b",
        "messages": [{"role": "user", "content": PROMPTS[2]}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}},
        "stream": stream,
        "reasoning_effort": "low",
        **extra,
    }


def test_json_schema_answers_are_valid(fast_emulator: GroqEmulator) -> None:
    for name, schema in CORPUS.items():
        resp = post_chat(fast_emulator, _json_schema_body(schema))
        assert resp.status_code == 200, resp.text
        choice = resp.json()["choices"][0]
        assert choice["finish_reason"] == "stop"
        _assert_valid(json.loads(choice["message"]["content"]), schema, name)


def test_tool_arguments_are_valid(fast_emulator: GroqEmulator) -> None:
    for name, schema in CORPUS.items():
        if schema.get("type") != "object":
            continue
        body = {
            "model": "llama-3.3-70b-versatile",
            "messages": [{"role": "user", "content": PROMPTS[2]}],
            "tools": [{"type": "function", "function": {"name": "do_it", "parameters": schema}}],
            "tool_choice": "required",
        }
        resp = post_chat(fast_emulator, body)
        assert resp.status_code == 200, resp.text
        call = resp.json()["choices"][0]["message"]["tool_calls"][0]
        _assert_valid(json.loads(call["function"]["arguments"]), schema, name)


def test_json_schema_matches_the_real_answer_shape(fast_emulator: GroqEmulator) -> None:
    """As in real-cassettes/pydantic__pydantic-ai/test_groq_native_output.yaml."""
    body = {
        "model": "openai/gpt-oss-120b",
        "messages": [{"role": "user", "content": "What is the largest city in Mexico?"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "CityLocation", "schema": CityLocation.model_json_schema(), "strict": True},
        },
    }
    resp = post_chat(fast_emulator, body).json()
    message = resp["choices"][0]["message"]
    assert set(message) == {"role", "content", "reasoning"}
    assert message["content"] == '{"city":"Mexico","country":"Mexico"}', "compact, filled from the prompt"
    assert resp["choices"][0]["finish_reason"] == "stop"


def test_streamed_json_is_pieces_of_one_object(fast_emulator: GroqEmulator) -> None:
    body = _json_schema_body(Person.model_json_schema(), stream=True)
    with httpx.Client(timeout=30) as client:
        resp = client.post(
            f"{fast_emulator.base_url}/openai/v1/chat/completions",
            json=body,
            headers={"authorization": "Bearer gsk_test"},
        )
    chunks = [json.loads(line[6:]) for line in resp.text.splitlines() if line.startswith("data: {")]
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    pieces = [p for p in pieces if p]
    assert len(pieces) > 5
    Person.model_validate_json("".join(pieces))


@pytest.mark.parametrize(
    "prompt",
    [
        "Classify the intent of 'where is my money back?'. Reply in JSON.",
        'Extract the person. Reply in JSON like {"name": "Ann", "age": 30}. Text: Bob is 42 years old.',
        "Answer with a JSON object following this schema: " + json.dumps(Person.model_json_schema()),
    ],
)
def test_prompted_json_stops_at_the_end_of_the_object(prompt: str) -> None:
    plan = plan_request({"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": prompt}]})
    value = json.loads("".join(plan.content))  # nothing after the object
    assert isinstance(value, dict) and plan.finish_reason == "stop" and plan.response_format == "prompted"
    if "like" in prompt:
        assert set(value) == {"name", "age"} and value["age"] == 42, "shaped like the example, filled from the text"
    if "schema" in prompt:
        Person.model_validate(value)


def test_json_object_mode() -> None:
    body = {
        "model": "llama-3.1-8b-instant",
        "messages": [
            {"role": "system", "content": "You extract data as JSON."},
            {"role": "user", "content": "Paris is in France."},
        ],
        "response_format": {"type": "json_object"},
    }
    plan = plan_request(body)
    assert isinstance(json.loads("".join(plan.content)), dict) and plan.response_format == "json_object"
    assert plan_request(body).content == plan.content, "deterministic"


def test_cap_truncates_json_with_length() -> None:
    body = {
        "model": "llama-3.1-8b-instant",
        "messages": [{"role": "user", "content": "Reply in JSON."}],
        "response_format": {"type": "json_object"},
    }
    full = plan_request(body)
    cut = plan_request({**body, "max_completion_tokens": 3})
    assert cut.finish_reason == "length" and cut.completion_tokens == 3
    assert "".join(full.content).startswith("".join(cut.content)) and len(cut.content) == 3


@pytest.mark.parametrize(
    ("change", "param", "text"),
    [
        ({"model": "llama-3.1-8b-instant"}, "response_format", "does not support response format `json_schema`"),
        ({"response_format": {"type": "xml"}}, "response_format", "must be one of text, json_object, json_schema"),
        (
            {
                "model": "qwen/qwen3-32b",
                "reasoning_format": "raw",
                "reasoning_effort": None,
                "messages": [{"role": "user", "content": "Reply in JSON."}],
            },
            "reasoning_format",
            "not supported with JSON mode or tool use",
        ),
        (
            {"response_format": {"type": "json_object"}, "messages": [{"role": "user", "content": "hi"}]},
            "messages",
            "must contain the word 'json'",
        ),
    ],
)
def test_unsupported_combinations_get_groq_400s(
    fast_emulator: GroqEmulator, change: dict[str, Any], param: str, text: str
) -> None:
    body = _json_schema_body(CityLocation.model_json_schema())
    if change.get("model") == "qwen/qwen3-32b":
        body["response_format"] = {"type": "json_object"}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    if body["model"] != "openai/gpt-oss-20b":
        body.pop("reasoning_effort", None)
    resp = post_chat(fast_emulator, body)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and text in error["message"]
