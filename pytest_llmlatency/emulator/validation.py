"""Request validation: every check the emulator answers with a Groq error, and its one error type.

Each check raises :class:`APIError` with Groq's status, message, ``param`` and ``code``; the
server answers it with Groq's error body (``{"error": {...}}``) and an ``x-request-id``.

* The HTTP prologue: the API key, the JSON body, decommissioned and retired models.
* Chat completions (:func:`check_chat`): the model, the messages and the sampling, length
  and reasoning parameters, then the tools, ``tool_choice`` and ``response_format``;
  ``service_tier`` last (:func:`check_service_tier`), after the answer is planned, as before.
* Audio: the transcription and translation form (:func:`check_transcription`), the
  ``x-emulator-audio-seconds`` hint (:func:`audio_seconds_hint`) and the speech body
  (:func:`check_speech`).

The Responses API's own checks run while its input becomes a chat body (``responses.py``,
with :func:`invalid`); a bad fault header is refused where faults are chosen (``server.py``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from .profiles import (
    AUDIO_PROFILES,
    DECOMMISSIONED,
    PROFILES,
    RETIRED,
    SPEECH_PROFILES,
    AudioProfile,
    ModelProfile,
    SpeechProfile,
    decommissioned_message,
)

__all__ = [
    "APIError",
    "HINT_HEADER",
    "MODEL_ALIASES",
    "SERVICE_TIERS",
    "ChatRequest",
    "SpeechRequest",
    "TranscriptionForm",
    "audio_seconds_hint",
    "check_chat",
    "check_key",
    "check_service_tier",
    "check_speech",
    "check_transcription",
    "decommissioned",
    "form_value",
    "function_tools",
    "invalid",
    "json_body",
    "model_not_found",
    "require",
    "require_object",
    "retired",
    "unknown_url",
]

SERVICE_TIERS = ("auto", "on_demand", "flex", "performance")
"""Groq's ``service_tier`` values (groq SDK ``completion_create_params``)."""
MODEL_ALIASES = {"compound-beta": "groq/compound", "compound-beta-mini": "groq/compound-mini"}
"""Older names Groq still answered with the new model name (real recording: a request for
``compound-beta`` answered as ``groq/compound``)."""
REASONING_EFFORTS = {"gpt-oss": ("low", "medium", "high"), "qwen3": ("none", "default")}
DEFAULT_EFFORT = {"gpt-oss": "medium", "qwen3": "default"}
HINT_HEADER = "x-emulator-audio-seconds"
TRANSCRIPTION_FORMATS = ("json", "text", "verbose_json")
BAD_JSON = "We could not parse the JSON body of your request."


class APIError(Exception):
    """A request Groq would reject, with Groq's status and error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - Groq's field name
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}  # sent with the error besides x-request-id (retry-after)

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.param is not None:
            err["param"] = self.param
        if self.code is not None:
            err["code"] = self.code
        return {"error": err}


def invalid(message: str, param: str | None = None) -> APIError:
    """Groq's 400 ``invalid_request_error``."""
    return APIError(400, message, param=param)


def require(cond: bool, message: str, param: str | None = None) -> None:
    if not cond:
        raise invalid(message, param)


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise APIError(400, "request body must be a JSON object")
    return body


def model_not_found(model: str) -> APIError:
    return APIError(404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found")


# -- the HTTP prologue -------------------------------------------------------------------


def check_key(authorization: str, expected: str | None) -> None:
    """A bearer key is required; with ``expected`` set, that key only."""
    key = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    if not key or (expected is not None and key != expected):
        raise APIError(401, "Invalid API Key", code="invalid_api_key")


def json_body(raw: bytes) -> Any:
    """The request's JSON (None for an empty body)."""
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise APIError(400, BAD_JSON) from None


def retired(model: Any, serve_retired: bool) -> bool:
    """Whether Groq answers ``model`` with ``model_decommissioned``."""
    if not isinstance(model, str):
        return False
    return model in DECOMMISSIONED or (model in RETIRED and not serve_retired)


def decommissioned(model: str) -> APIError:
    return APIError(400, decommissioned_message(model), code="model_decommissioned")


def unknown_url(method: str, path: str) -> APIError:
    return APIError(
        404,
        f"Unknown request URL: {method} {path}. Please check the URL for typos, "
        "or see the docs at https://console.groq.com/docs/",
        code="unknown_url",
    )


# -- chat completions --------------------------------------------------------------------

_ROLES = {"system", "user", "assistant", "tool", "developer"}
_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
_BUILTIN_TOOLS = ("browser_search", "code_interpreter")


@dataclass(frozen=True)
class ChatRequest:
    """A chat-completions body that passed Groq's checks, with what the checks settled."""

    model: str
    """The model asked for, aliases resolved."""
    messages: list[Any]
    profile: ModelProfile
    stops: list[str]
    limit: int
    """Most completion tokens: the request's cap, else the model's."""
    stream: bool
    include_usage: bool
    effort: str
    """The reasoning effort that applies (``"none"`` on a model that does not reason)."""
    show_reasoning: str
    """``"field"``, ``"raw"`` (think tags in content) or ``"hidden"``."""


def check_chat(body: Any) -> ChatRequest:
    """Check a chat-completions body as Groq does, in Groq's order (``service_tier`` aside)."""
    body = require_object(body)
    model, messages, profile = _model_and_messages(body)
    n = body.get("n")
    require(n is None or n == 1, "'n' : number must be at most 1", "n")
    stops = _stop_sequences(body)
    for name, lo, hi in (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0)):
        value = body.get(name)
        require(
            value is None or (isinstance(value, (int, float)) and lo <= value <= hi),
            f"'{name}' : number must be between {lo:g} and {hi:g}",
            name,
        )
    limit = _completion_limit(body, profile)
    stream_options = body.get("stream_options") or {}
    include_usage = bool(isinstance(stream_options, dict) and stream_options.get("include_usage"))
    effort = _reasoning_effort(body, profile)
    show = _reasoning_shown(body, profile)
    _check_tool_use(body, profile)
    fmt_kind = body["response_format"].get("type") if isinstance(body.get("response_format"), dict) else None
    if (
        profile.reasoning == "qwen3"
        and body.get("reasoning_format") is None
        and show == "raw"
        and (body.get("tools") or fmt_kind in ("json_object", "json_schema"))
    ):
        show = "field"  # raw (think tags in content) cannot carry JSON or tool calls: Groq parses instead
    return ChatRequest(model, messages, profile, stops, limit, bool(body.get("stream")), include_usage, effort, show)


def _model_and_messages(body: dict[str, Any]) -> tuple[str, list[Any], ModelProfile]:
    model = body.get("model")
    require(isinstance(model, str) and model != "", "'model' : property 'model' is missing", "model")
    assert isinstance(model, str)
    messages = body.get("messages")
    require(isinstance(messages, list) and len(messages) > 0, "'messages' : minimum number of items is 1", "messages")
    assert isinstance(messages, list)
    for i, m in enumerate(messages):
        require(
            isinstance(m, dict) and m.get("role") in _ROLES,
            f"'messages.{i}' : discriminator property 'role' has invalid value",
            f"messages.{i}",
        )
    model = MODEL_ALIASES.get(model, model)
    profile = PROFILES.get(model)
    if profile is None:
        raise model_not_found(model)
    return model, messages, profile


def _stop_sequences(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        stop = [stop]
    require(
        isinstance(stop, list) and all(isinstance(s, str) for s in stop),
        "'stop' : value must be a string or an array of strings",
        "stop",
    )
    require(len(stop) <= 4, "'stop' : maximum 4 items allowed", "stop")
    return [s for s in stop if s]


def _int_param(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    require(
        isinstance(value, int) and not isinstance(value, bool) and value >= 1,
        f"'{name}' : number must be at least 1",
        name,
    )
    return int(value)


def _completion_limit(body: dict[str, Any], profile: ModelProfile) -> int:
    cap = _int_param(body, "max_completion_tokens")
    if cap is None:
        cap = _int_param(body, "max_tokens")
    if cap is not None and cap > profile.max_completion_tokens:
        raise APIError(
            400,
            f"`max_completion_tokens` must be less than or equal to "
            f"`{profile.max_completion_tokens}`, the maximum value for "
            f"`max_completion_tokens` is less than the `context_window` for this model",
            param="max_completion_tokens",
        )
    return cap if cap is not None else profile.max_completion_tokens


def _reasoning_effort(body: dict[str, Any], profile: ModelProfile) -> str:
    effort = body.get("reasoning_effort")
    if profile.reasoning is None:
        require(effort is None, "`reasoning_effort` is not supported with this model", "reasoning_effort")
        return "none"
    allowed = REASONING_EFFORTS[profile.reasoning]
    require(
        effort is None or effort in allowed,
        f"`reasoning_effort` must be one of: {', '.join(allowed)}",
        "reasoning_effort",
    )
    return effort if isinstance(effort, str) else DEFAULT_EFFORT[profile.reasoning]


def _reasoning_shown(body: dict[str, Any], profile: ModelProfile) -> str:
    fmt = body.get("reasoning_format")
    include_reasoning = body.get("include_reasoning")
    if profile.reasoning == "gpt-oss":
        require(
            fmt is None,
            "`reasoning_format` is not supported with this model, use `include_reasoning` instead",
            "reasoning_format",
        )
        return "hidden" if include_reasoning is False else "field"
    if profile.reasoning == "qwen3":
        require(
            fmt is None or fmt in ("raw", "parsed", "hidden"),
            "`reasoning_format` must be one of: raw, parsed, hidden",
            "reasoning_format",
        )
        show = {"raw": "raw", "parsed": "field", "hidden": "hidden"}[fmt or "raw"]
        return "hidden" if include_reasoning is False else show
    return "hidden"


def function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``function`` objects of the request's function tools."""
    tools = body.get("tools") or []
    return [t["function"] for t in tools if isinstance(t, dict) and t.get("type") == "function"]


def _check_tool_use(body: dict[str, Any], profile: ModelProfile) -> None:
    """The tool and response-format requests Groq refuses."""
    tools = body.get("tools")
    if tools is not None:
        _check_tools(tools, profile.reasoning)
    choice = body.get("tool_choice")
    if choice is not None:
        require(bool(tools), "`tool_choice` is only allowed when `tools` are specified", "tool_choice")
        _check_tool_choice(body, choice)
    kind = _check_response_format(body, profile.supports_json_schema)
    if body.get("reasoning_format") == "raw" and (kind in ("json_object", "json_schema") or tools):
        raise invalid(
            "`reasoning_format` raw is not supported with JSON mode or tool use; use `parsed` or `hidden`",
            "reasoning_format",
        )


def _check_tools(tools: Any, reasoning: str | None) -> None:
    require(isinstance(tools, list), "'tools' : value must be an array", "tools")
    for i, tool in enumerate(tools):
        require(isinstance(tool, dict), f"'tools.{i}' : value must be an object", f"tools.{i}")
        kind = tool.get("type")
        if kind in _BUILTIN_TOOLS and reasoning == "gpt-oss":
            continue
        require(kind == "function", f"'tools.{i}.type' : value must be 'function'", f"tools.{i}.type")
        fn = tool.get("function")
        require(isinstance(fn, dict), f"'tools.{i}.function' : property 'function' is missing", f"tools.{i}.function")
        name = fn.get("name")
        require(
            isinstance(name, str) and bool(_NAME_RE.match(name)),
            f"'tools.{i}.function.name' : value must match the pattern ^[a-zA-Z0-9_.-]{{1,64}}$",
            f"tools.{i}.function.name",
        )
        params = fn.get("parameters")
        require(
            params is None or (isinstance(params, dict) and params.get("type", "object") == "object"),
            f"invalid JSON schema for tool {name}, tools[{i}].function.parameters: "
            "the root of a function's parameters schema must be an object with type 'object'",
            f"tools.{i}.function.parameters",
        )


def _check_tool_choice(body: dict[str, Any], choice: Any) -> None:
    if isinstance(choice, str):
        require(
            choice in ("none", "auto", "required"),
            "Only allowed string values for 'tool_choice' are none, auto, and required",
            "tool_choice",
        )
        return
    require(isinstance(choice, dict), "'tool_choice' : value must be a string or an object", "tool_choice")
    fn = choice.get("function")
    name = fn.get("name") if isinstance(fn, dict) else None
    require(
        choice.get("type") == "function" and isinstance(name, str),
        '\'tool_choice\' : value must be none, auto, required or {"type": "function", "function": {"name": ...}}',
        "tool_choice",
    )
    require(
        name in {f.get("name") for f in function_tools(body)},
        f"Tool choice function `{name}` is not one of the tools provided in the request",
        "tool_choice",
    )


def _check_response_format(body: dict[str, Any], supports_json_schema: bool) -> str | None:
    """The ``response_format`` type asked for (None when absent), once Groq accepts it."""
    fmt = body.get("response_format")
    if fmt is None:
        return None
    require(
        isinstance(fmt, dict) and fmt.get("type") in ("text", "json_object", "json_schema"),
        "'response_format.type' : value must be one of text, json_object, json_schema",
        "response_format",
    )
    kind: str = fmt["type"]
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        require(
            isinstance(spec, dict) and isinstance(spec.get("name"), str),
            "'response_format.json_schema.name' : property 'name' is missing",
            "response_format.json_schema",
        )
        require(
            spec.get("schema") is None or isinstance(spec.get("schema"), dict),
            "'response_format.json_schema.schema' : value must be an object",
            "response_format.json_schema",
        )
        require(
            supports_json_schema,
            "This model does not support response format `json_schema`. See supported models at "
            "https://console.groq.com/docs/structured-outputs#supported-models",
            "response_format",
        )
    if kind == "json_object":
        require(
            "json" in json.dumps(body.get("messages"), default=str).lower(),
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            "messages",
        )
    return kind


def check_service_tier(body: dict[str, Any]) -> str | None:
    """The ``service_tier`` asked for (None when absent)."""
    tier = body.get("service_tier")
    require(
        tier is None or tier in SERVICE_TIERS,
        f"'service_tier' : value must be one of: {', '.join(SERVICE_TIERS)}",
        "service_tier",
    )
    return tier if isinstance(tier, str) else None


# -- audio -------------------------------------------------------------------------------


def form_value(fields: dict[str, list[str]], name: str) -> str | None:
    """The last value of a form field (None when absent)."""
    values = fields.get(name)
    return values[-1] if values else None


@dataclass(frozen=True)
class TranscriptionForm:
    """A transcription or translation form that passed Groq's checks."""

    model: str
    profile: AudioProfile
    response_format: str
    temperature: float
    granularities: list[str]


def check_transcription(fields: dict[str, list[str]], upload_size: int | None, *, task: str) -> TranscriptionForm:
    """Check a transcription (``task="transcribe"``) or translation form as Groq does;
    ``upload_size`` is the size of the ``file`` part (None without one)."""
    model = form_value(fields, "model")
    if not model:
        raise invalid("'model' : property 'model' is missing", "model")
    profile = AUDIO_PROFILES.get(model)
    if profile is None:
        raise model_not_found(model)
    if task == "translate" and not profile.translations:
        raise invalid(f"`{model}` does not support translations; use `whisper-large-v3`", "model")
    if upload_size is None:
        if form_value(fields, "url"):
            raise invalid("the emulator needs the audio itself: send `file`, not `url`", "url")
        raise invalid("'file' : either file or url must be provided", "file")
    if not upload_size:
        raise invalid("'file' : the audio file is empty", "file")
    if upload_size > profile.max_file_bytes:
        raise APIError(
            413, "Request Entity Too Large: the audio file is larger than 25 MB", type="invalid_request_error"
        )
    fmt = form_value(fields, "response_format") or "json"
    if fmt not in TRANSCRIPTION_FORMATS:
        raise invalid(
            f"response_format `{fmt}` is not supported; use one of: {', '.join(TRANSCRIPTION_FORMATS)}",
            "response_format",
        )
    temperature_raw = form_value(fields, "temperature")
    try:
        temperature = float(temperature_raw) if temperature_raw not in (None, "") else 0.0
    except ValueError:
        raise invalid("'temperature' : value must be a number", "temperature") from None
    if not 0.0 <= temperature <= 1.0:
        raise invalid("'temperature' : number must be between 0 and 1", "temperature")
    granularities = fields.get("timestamp_granularities[]", []) + fields.get("timestamp_granularities", [])
    for g in granularities:
        if g not in ("word", "segment"):
            raise invalid("'timestamp_granularities' : values must be word or segment", "timestamp_granularities")
    return TranscriptionForm(model, profile, fmt, temperature, granularities)


def audio_seconds_hint(hint: str) -> float:
    """The audio duration given in the ``x-emulator-audio-seconds`` header."""
    try:
        seconds = float(hint)
    except ValueError:
        raise APIError(400, f"{HINT_HEADER} must be a number of seconds, got {hint!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise APIError(400, f"{HINT_HEADER} must be a non-negative number of seconds, got {hint!r}")
    return seconds


def check_speech(body: Any) -> SpeechRequest:
    """Check a text-to-speech body as Groq does."""
    body = require_object(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("'model' : property 'model' is missing", "model")
    profile = SPEECH_PROFILES.get(model)
    if profile is None:
        raise model_not_found(model)
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise invalid("'input' : property 'input' is missing", "input")
    if len(text) > profile.max_input_chars:
        raise invalid(f"'input' : at most {profile.max_input_chars} characters", "input")
    voice = body.get("voice") or profile.voices[0]
    if voice not in profile.voices:
        raise invalid(f"'voice' : must be one of: {', '.join(profile.voices)} for `{model}`", "voice")
    fmt = body.get("response_format") or "wav"
    if fmt != "wav":
        raise invalid(f"response_format `{fmt}`: the emulator produces wav only", "response_format")
    speed = body.get("speed", 1.0)
    if not isinstance(speed, (int, float)) or not 0.5 <= speed <= 5.0:
        raise invalid("'speed' : number must be between 0.5 and 5", "speed")
    return SpeechRequest(model, profile, text, voice, speed)


class SpeechRequest(NamedTuple):
    """A speech body that passed Groq's checks."""

    model: str
    profile: SpeechProfile
    text: str
    voice: str
    speed: float
