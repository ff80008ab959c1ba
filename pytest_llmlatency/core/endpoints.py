"""The LLM endpoints the plugin measures, one small descriptor each.

Chat completions, the Responses API and audio differ in how a request is read and
matched, where usage lives and which event is the first output. Capture
(``intercept``), cassettes, the advisor and the reports consult these descriptors
instead of testing URL paths themselves.

| endpoint        | path suffix               | request          | first output (streamed)                          |
|-----------------|---------------------------|------------------|--------------------------------------------------|
| ``chat``        | ``/chat/completions``     | JSON             | ``delta.content``, ``delta.reasoning``, tool call |
| ``responses``   | ``/responses``            | JSON             | ``response.*.delta`` events                      |
| ``transcription`` | ``/audio/transcriptions`` | multipart form | (not streamed) the body                          |
| ``translation`` | ``/audio/translations``   | multipart form   | (not streamed) the body                          |
| ``speech``      | ``/audio/speech``         | JSON             | the first audio bytes                            |

Multipart requests are summarised as JSON (form fields, and for each file its name,
size, sha256 and, for WAV audio, its duration): cassettes store that summary instead
of the audio, and requests match on it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import wave
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import LLMCall

__all__ = [
    "ENDPOINTS",
    "Endpoint",
    "audio_seconds",
    "endpoint_for",
    "endpoint_for_uri",
    "multipart_summary",
    "request_json",
]

SUMMARY_KEY = "llmlatency_multipart"
"""Key marking a multipart request summarised as JSON (in a cassette's request body)."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    suffix: str
    audio_in: bool = False
    """The request carries audio (multipart); latency is judged against its duration."""
    audio_out: bool = False
    """The response is audio bytes."""

    def matches(self, path: str) -> bool:
        return path.rstrip("/").endswith(self.suffix)

    @property
    def label(self) -> str:
        return {
            "chat": "chat completion",
            "responses": "Responses API call",
            "transcription": "transcription",
            "translation": "translation",
            "speech": "speech synthesis",
        }[self.name]


CHAT = Endpoint("chat", "/chat/completions")
RESPONSES = Endpoint("responses", "/responses")
TRANSCRIPTION = Endpoint("transcription", "/audio/transcriptions", audio_in=True)
TRANSLATION = Endpoint("translation", "/audio/translations", audio_in=True)
SPEECH = Endpoint("speech", "/audio/speech", audio_out=True)
ENDPOINTS = (CHAT, RESPONSES, TRANSCRIPTION, TRANSLATION, SPEECH)
BY_NAME = {e.name: e for e in ENDPOINTS}


_BY_PATH: dict[str, Endpoint | None] = {}
"""The endpoint of each path seen (a client sends to a few): one look-up per request."""
_UNSEEN = Endpoint("", "")


def endpoint_for(method: str, path: str) -> Endpoint | None:
    """The endpoint a request goes to (POST only), or None for anything else."""
    if method != "POST":
        return None
    found = _BY_PATH.get(path, _UNSEEN)
    if found is not _UNSEEN:
        return found
    stripped = path.rstrip("/")
    found = next((e for e in ENDPOINTS if stripped.endswith(e.suffix)), None)
    if len(_BY_PATH) < 1024:  # bounded: paths that carry ids would grow it without end
        _BY_PATH[path] = found
    return found


def endpoint_for_uri(method: str, uri: str) -> Endpoint | None:
    """The same, for a full URI (cassette requests)."""
    path = re.sub(r"^[a-z0-9+.-]+://[^/]+", "", str(uri).split("?", 1)[0])
    return endpoint_for(method, path)


# -- request bodies ---------------------------------------------------------------------------


def audio_seconds(data: bytes) -> float | None:
    """The duration of WAV audio (from its header), or None for anything else."""
    if not data.startswith(b"RIFF") or data[8:12] != b"WAVE":
        return None
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate = w.getframerate()
            return w.getnframes() / rate if rate else None
    except (wave.Error, EOFError, ValueError):
        return None


def multipart_summary(raw: bytes, content_type: str) -> dict[str, Any] | None:
    """A multipart/form-data body as JSON-safe data: each text field by name (repeated
    names become lists), each file as ``{"filename", "bytes", "sha256", "audio_s"}``."""
    if "multipart/form-data" not in content_type.lower():
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    try:
        message = BytesParser(policy=HTTP).parsebytes(head + raw)
    except Exception:
        return None
    if not message.is_multipart():
        return None
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        value: Any
        if filename is not None:
            value = {
                "filename": filename,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "audio_s": audio_seconds(data),
            }
        else:
            value = data.decode("utf-8", "replace")
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[name] = value
    return {SUMMARY_KEY: 1, **fields}


def request_json(raw: bytes, content_type: str = "") -> dict[str, Any]:
    """A request body as a dict: JSON parsed, a multipart form summarised, {} otherwise."""
    if raw.startswith(b"{"):
        try:
            body = json.loads(raw)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    summary = multipart_summary(raw, content_type)
    return summary if summary is not None else {}


def is_summary(body: Any) -> bool:
    return isinstance(body, dict) and SUMMARY_KEY in body


def input_audio_seconds(body: dict[str, Any]) -> float | None:
    """Seconds of audio a (summarised) multipart request sent, when known."""
    file = body.get("file")
    if isinstance(file, dict) and isinstance(file.get("audio_s"), (int, float)):
        return float(file["audio_s"])
    return None


# -- normalising usage -----------------------------------------------------------------------


def chat_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Usage in chat-completions keys. The Responses API says ``input_tokens`` /
    ``output_tokens`` / ``output_tokens_details``; those keys are kept and the chat
    names added, so every metric reads one set of keys."""
    if "prompt_tokens" in usage or "input_tokens" not in usage:
        return usage
    out = dict(usage)
    out["prompt_tokens"] = usage.get("input_tokens")
    out["completion_tokens"] = usage.get("output_tokens")
    out.setdefault("total_tokens", (usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0))
    details = usage.get("output_tokens_details")
    if isinstance(details, dict):
        out["completion_tokens_details"] = details
    cached = usage.get("input_tokens_details")
    if isinstance(cached, dict):
        out["prompt_tokens_details"] = cached
    return out


# -- reading responses -----------------------------------------------------------------------
# Each reader updates the call from one parsed SSE event (streams) or the whole body. They run
# on the capture path: cheap, and never raise for odd input (the caller guards anyway).


def read_event(endpoint: Endpoint, call: LLMCall, chunk: dict[str, Any], event: str | None, now: int) -> bool:
    """Update ``call`` from one streamed event; True when the event ends the stream."""
    if endpoint is RESPONSES:
        return _responses_event(call, chunk, event, now)
    return _chat_event(call, chunk, now)


def read_body(endpoint: Endpoint, call: LLMCall, raw: bytes, content_type: str) -> str | None:
    """Update ``call`` from a whole (non-streamed) body; returns an error message the body
    holds, if any."""
    if endpoint.audio_out and "json" not in content_type:
        call.output_audio_seconds = audio_seconds(raw)
        return None
    if "json" not in content_type and not raw.lstrip().startswith(b"{"):
        if endpoint.audio_in and raw:
            call.content = raw.decode("utf-8", "replace")  # response_format=text
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    x_groq = body.get("x_groq")
    if isinstance(x_groq, dict) and x_groq.get("id") and not call.request_id:
        call.request_id = str(x_groq["id"])
    if isinstance(body.get("usage"), dict):
        call.usage = chat_usage(body["usage"])
    elif isinstance(x_groq, dict) and isinstance(x_groq.get("usage"), dict):
        call.usage = chat_usage(x_groq["usage"])
    call.read_groq_fields(body)  # served tier, compound breakdown and executed tools
    message: str | None = None
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        message = str(error["message"])
    if endpoint is RESPONSES:
        _responses_body(call, body)
    elif endpoint.audio_in:
        if isinstance(body.get("text"), str):
            call.content = body["text"]
        if isinstance(body.get("duration"), (int, float)) and call.audio_seconds is None:
            call.audio_seconds = float(body["duration"])
    else:
        _chat_body(call, body)
    return message


def _stream_error(call: LLMCall, error: Any) -> bool:
    """An error event inside a stream (``{"error": {...}}`` instead of ``choices``, as Groq sends
    ``tool_use_failed``; or ``x_groq.error``): the call failed with that message. True when it
    was one."""
    if not error:
        return False
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("code") or error)
        code = error.get("code") or error.get("type")
        call.error = f"{code}: {message}" if code and not message.startswith(str(code)) else message
    else:
        call.error = str(error)
    return True


def _output(call: LLMCall, kind: str, now: int) -> None:
    """A token event: its time, and what the first output was."""
    if not call.token_times_ns:
        call.first_output = kind
    call.token_times_ns.append(now)


_FAST_DELTA = re.compile(
    rb'\{"id":"[^"\\]*","object":"chat\.completion\.chunk","created":\d+,"model":"[^"\\]*"'
    rb'(?:,"system_fingerprint":(?:"[^"\\]*"|null))?'
    rb',"choices":\[\{"index":0,"delta":\{"(content|reasoning)":"((?:[^"\\\x00-\x1f]|\\.)*)"(?:,"channel":"[^"\\]*")?\}'
    rb',"logprobs":null,"finish_reason":null\}\]\}'
)


def fast_chat_delta(data: bytes) -> tuple[str, str, bytes, bytes] | None:
    """``(kind, text, head, tail)`` for the stream chunk Groq sends for almost every token (one
    choice whose delta holds only ``content`` or ``reasoning``, nothing else in the chunk),
    read without building the JSON object: ``head`` is the chunk's bytes before the key,
    ``tail`` those after the text (the capture reuses them for the next chunks). None for
    any other chunk, which :func:`read_event` then reads in full. The pattern matches the
    whole chunk, so what it accepts reads the same both ways."""
    match = _FAST_DELTA.fullmatch(data)
    if match is None:
        return None
    raw = match.group(2)
    try:
        text = json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode("utf-8")
    except ValueError:
        return None
    return match.group(1).decode("ascii"), text, data[: match.start(1)], data[match.end(2) :]


def _chat_event(call: LLMCall, chunk: dict[str, Any], now: int) -> bool:
    if not call.token_times_ns:
        # nothing output yet in this attempt: whatever a failed earlier attempt left goes
        call.tool_calls = []
        call.first_output = None
    x_groq = chunk.get("x_groq")
    if not isinstance(x_groq, dict):
        x_groq = {}
    if x_groq.get("id") and not call.request_id:
        call.request_id = x_groq["id"]
    usage = x_groq.get("usage") or chunk.get("usage")
    if isinstance(usage, dict):
        call.usage = usage
    call.read_groq_fields(chunk, now)  # served tier, compound breakdown and executed tools
    if _stream_error(call, chunk.get("error")) or _stream_error(call, x_groq.get("error")):
        return True
    for choice in chunk.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or {}
        if isinstance(delta, dict):
            text = delta.get("content")
            reasoning = delta.get("reasoning")
            tools = delta.get("tool_calls")
            if reasoning:
                _output(call, "reasoning", now)
                call.reasoning_streamed = True
            elif text:
                _output(call, "content", now)
            if isinstance(text, str):
                call.content += text
            if isinstance(tools, list) and tools:
                if not reasoning and not text:
                    _output(call, "tool_call", now)
                for piece in tools:
                    if isinstance(piece, dict):
                        _tool_delta(call, piece)
        if choice.get("finish_reason"):
            call.finish_reason = choice["finish_reason"]
    return False


def _tool_delta(call: LLMCall, piece: dict[str, Any]) -> None:
    """One entry of ``delta.tool_calls``. Groq sends each call whole in one delta; OpenAI-style
    servers send the id and name first and the arguments in pieces, keyed by ``index``."""
    function = piece.get("function")
    fn: dict[str, Any] = function if isinstance(function, dict) else {}
    index = piece.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        index = len(call.tool_calls)
    entry = next((t for t in call.tool_calls if t.get("index") == index), None)
    if entry is None:
        entry = {"index": index, "id": None, "name": None, "arguments_chars": 0}
        call.tool_calls.append(entry)
    if piece.get("id"):
        entry["id"] = str(piece["id"])
    if fn.get("name"):
        entry["name"] = str(fn["name"])
    arguments = fn.get("arguments")
    if isinstance(arguments, str):
        entry["arguments_chars"] += len(arguments)


def _tool_entry(index: int, call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {
        "index": index,
        "id": None if call_id is None else str(call_id),
        "name": None if name is None else str(name),
        "arguments_chars": len(arguments) if isinstance(arguments, str) else 0,
    }


def _chat_body(call: LLMCall, body: dict[str, Any]) -> None:
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        call.finish_reason = choice.get("finish_reason")
        message = choice.get("message") or {}
        if not isinstance(message, dict):
            return
        if isinstance(message.get("content"), str):
            call.content = message["content"]
        tools = [t for t in message.get("tool_calls") or [] if isinstance(t, dict)]
        call.tool_calls = []
        for i, tool in enumerate(tools):
            function = tool.get("function")
            fn: dict[str, Any] = function if isinstance(function, dict) else {}
            call.tool_calls.append(_tool_entry(i, tool.get("id"), fn.get("name"), fn.get("arguments")))
        # the order the server generated the answer in: reasoning, then text, then tool calls
        if message.get("reasoning"):
            call.first_output = "reasoning"
        elif message.get("content"):
            call.first_output = "content"
        elif call.tool_calls:
            call.first_output = "tool_call"


# Responses API: streamed events are typed (``type`` in the data, and the SSE ``event:`` name).
_RESPONSES_OUTPUT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
        "response.function_call_arguments.delta",
        "response.refusal.delta",
    }
)
_RESPONSES_REASONING = frozenset({"response.reasoning_text.delta", "response.reasoning_summary_text.delta"})
_RESPONSES_FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _responses_event(call: LLMCall, chunk: dict[str, Any], event: str | None, now: int) -> bool:
    kind = chunk.get("type") or event or ""
    if kind == "response.created":
        # the stream's first event: whatever a failed earlier attempt left goes
        call.tool_calls = []
        call.first_output = None
    if kind in _RESPONSES_OUTPUT_DELTAS:
        if chunk.get("delta"):
            first = (
                "reasoning"
                if kind in _RESPONSES_REASONING
                else "tool_call"
                if kind == "response.function_call_arguments.delta"
                else "content"
            )
            _output(call, first, now)
        if kind in _RESPONSES_REASONING:
            call.reasoning_streamed = True
        elif kind == "response.output_text.delta" and isinstance(chunk.get("delta"), str):
            call.content += chunk["delta"]
        elif kind == "response.function_call_arguments.delta" and isinstance(chunk.get("delta"), str):
            entry = _responses_tool(call, chunk.get("item_id"), chunk.get("output_index"))
            entry["arguments_chars"] += len(chunk["delta"])
        return False
    if kind in ("response.output_item.added", "response.output_item.done"):
        item = chunk.get("item")
        if isinstance(item, dict) and item.get("type") == "function_call":
            entry = _responses_tool(call, item.get("id"), chunk.get("output_index"))
            entry["id"] = str(item.get("call_id") or item.get("id") or entry["id"] or "") or None
            if item.get("name"):
                entry["name"] = str(item["name"])
            if isinstance(item.get("arguments"), str) and item["arguments"]:
                entry["arguments_chars"] = len(item["arguments"])
        return False
    if kind == "response.function_call_arguments.done":
        entry = _responses_tool(call, chunk.get("item_id"), chunk.get("output_index"))
        if chunk.get("name"):
            entry["name"] = str(chunk["name"])
        if isinstance(chunk.get("arguments"), str):
            entry["arguments_chars"] = len(chunk["arguments"])
        return False
    response = chunk.get("response")
    if isinstance(response, dict) and kind in ({"response.created"} | _RESPONSES_FINAL):
        if response.get("id") and not call.request_id:
            call.request_id = str(response["id"])
        if isinstance(response.get("usage"), dict):
            call.usage = chat_usage(response["usage"])
        if kind in _RESPONSES_FINAL:
            call.finish_reason = _responses_finish(response)
            if kind == "response.failed":
                _stream_error(call, response.get("error") or "the response failed")
            tools = _responses_tools(response)
            if tools:
                call.tool_calls = tools
            return True
    if kind == "error":
        _stream_error(call, chunk.get("error") or {k: v for k, v in chunk.items() if k in ("code", "message")})
        return True
    return False


def _responses_tool(call: LLMCall, item_id: Any, output_index: Any) -> dict[str, Any]:
    """The tool-call entry of a Responses API function_call item, keyed by its output index
    (else its item id): ``{"index", "id", "name", "arguments_chars"}``."""
    key = output_index if isinstance(output_index, int) and not isinstance(output_index, bool) else str(item_id)
    for entry in call.tool_calls:
        if entry.get("index") == key:
            return entry
    entry = {"index": key, "id": None, "name": None, "arguments_chars": 0}
    call.tool_calls.append(entry)
    return entry


def _responses_tools(response: dict[str, Any]) -> list[dict[str, Any]]:
    items = [o for o in response.get("output") or [] if isinstance(o, dict) and o.get("type") == "function_call"]
    return [
        _tool_entry(i, o.get("call_id") or o.get("id"), o.get("name"), o.get("arguments")) for i, o in enumerate(items)
    ]


def _responses_finish(response: dict[str, Any]) -> str:
    status = str(response.get("status") or "")
    if status == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
    if any(isinstance(o, dict) and o.get("type") == "function_call" for o in response.get("output") or []):
        return "tool_calls"
    return "stop" if status == "completed" else status


def _responses_body(call: LLMCall, body: dict[str, Any]) -> None:
    if body.get("id") and not call.request_id:
        call.request_id = str(body["id"])
    texts: list[str] = []
    kinds: list[str] = []
    for item in body.get("output") or []:
        if isinstance(item, dict) and item.get("type") in ("reasoning", "message", "function_call"):
            kinds.append({"reasoning": "reasoning", "message": "content", "function_call": "tool_call"}[item["type"]])
        if not isinstance(item, dict) or item.get("type") != "message":
            continue
        for part in item.get("content") or []:
            if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
    call.content = "".join(texts)
    call.tool_calls = _responses_tools(body)
    call.first_output = kinds[0] if kinds else None
    if body.get("status") == "failed":
        _stream_error(call, body.get("error") or "the response failed")
    if body.get("status"):
        call.finish_reason = _responses_finish(body)


def describe_request(endpoint: Endpoint, body: dict[str, Any]) -> tuple[str, dict[str, Any], list[Any], bool]:
    """(model, parameters, messages, streamed) of a request body. The Responses API's
    ``input`` is kept as the messages (a string becomes one user message); a multipart
    form's file is kept as its summary among the parameters."""
    model = str(body.get("model", ""))
    streamed = body.get("stream") is True or body.get("stream") == "true"
    if endpoint is RESPONSES:
        given = body.get("input")
        messages = [{"role": "user", "content": given}] if isinstance(given, str) else list(given or [])
        params = {k: v for k, v in body.items() if k not in ("input", "model")}
        return model, params, messages, streamed
    params = {k: v for k, v in body.items() if k not in ("messages", "model", SUMMARY_KEY)}
    return model, params, list(body.get("messages") or []), streamed
