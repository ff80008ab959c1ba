"""Groq's audio endpoints for the emulator: pure functions (no I/O, no clock).

* ``/audio/transcriptions`` and ``/audio/translations`` (Whisper): a multipart form
  in, a deterministic transcript out, timed from the audio's duration and the
  model's published real-time speed factor.
* ``/audio/speech`` (Orpheus text-to-speech): JSON in, a small valid WAV out.

Audio duration: read from the file when it is a WAV (the ``wave`` module); for
other formats estimated from its size (see :data:`ASSUMED_BYTES_PER_SECOND`), or
given exactly with the ``x-emulator-audio-seconds`` request header.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import struct
import wave
from dataclasses import dataclass, field
from typing import Any

from .model import APIError
from .profiles import AUDIO_PROFILES, SPEECH_PROFILES, AudioProfile, SpeechProfile

__all__ = [
    "ASSUMED_BYTES_PER_SECOND",
    "AudioPlan",
    "MultipartError",
    "SpeechPlan",
    "Upload",
    "audio_seconds",
    "parse_multipart",
    "plan_speech",
    "plan_transcription",
    "render_transcription",
    "wav_bytes",
]

ASSUMED_BYTES_PER_SECOND: dict[str, float] = {
    "wav": 32000.0,  # 16 kHz, 16-bit mono PCM (what Groq recommends) when the header cannot be read
    "flac": 16000.0,  # about half of 16 kHz 16-bit PCM
    "other": 16000.0,  # compressed (mp3, m4a, ogg, opus, webm, mp4): 128 kbit/s
}
"""Bytes per second of audio assumed when the duration cannot be read from the file."""

HINT_HEADER = "x-emulator-audio-seconds"
RESPONSE_FORMATS = ("json", "text", "verbose_json")
WORDS_PER_SECOND = 2.5  # about 150 words a minute of speech


class MultipartError(ValueError):
    """A request body that is not a well-formed multipart/form-data body."""


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


def _params(header: str) -> tuple[str, dict[str, str]]:
    head, *rest = header.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, sep, value = item.strip().partition("=")
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            params[key.strip().lower()] = value
    return head.strip().lower(), params


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, list[str]], dict[str, Upload]]:
    """Split a multipart/form-data body into text fields (every value of each name,
    in order) and file parts."""
    kind, params = _params(content_type or "")
    boundary = params.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise MultipartError("the request must be multipart/form-data with a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    fields: dict[str, list[str]] = {}
    files: dict[str, Upload] = {}
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise MultipartError("the multipart body has no parts")
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise MultipartError("a multipart part has no header block")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        _, disposition = _params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            raise MultipartError("a multipart part has no name")
        if "filename" in disposition:
            files[name] = Upload(disposition["filename"], headers.get("content-type", "application/octet-stream"), data)
        else:
            fields.setdefault(name, []).append(data.decode("utf-8", "replace"))
    return fields, files


def audio_seconds(upload: Upload, hint: str | None = None) -> tuple[float, str]:
    """The audio's duration in seconds and how it was found (``header``, ``wav``,
    or ``estimated``)."""
    if hint:
        try:
            seconds = float(hint)
        except ValueError:
            raise APIError(400, f"{HINT_HEADER} must be a number of seconds, got {hint!r}") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise APIError(400, f"{HINT_HEADER} must be a non-negative number of seconds, got {hint!r}")
        return seconds, "header"
    if upload.data[:4] == b"RIFF" and upload.data[8:12] == b"WAVE":
        try:
            with wave.open(io.BytesIO(upload.data)) as w:
                return w.getnframes() / float(w.getframerate()), "wav"
        except (wave.Error, EOFError, ZeroDivisionError):
            return len(upload.data) / ASSUMED_BYTES_PER_SECOND["wav"], "estimated"
    ext = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
    rate = ASSUMED_BYTES_PER_SECOND["flac" if ext == "flac" else "other"]
    return len(upload.data) / rate, "estimated"


@dataclass
class AudioPlan:
    model: str
    profile: AudioProfile
    task: str
    """``transcribe`` or ``translate``."""
    response_format: str
    language: str
    seconds: float
    seconds_source: str
    billed_seconds: float
    text: str
    words: list[tuple[str, float, float]]
    granularities: list[str]
    temperature: float
    queue_s: float
    processing_s: float
    audio_sha256: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def realtime_factor(self) -> float:
        """Audio seconds per second of server time (queue included)."""
        total = self.queue_s + self.processing_s
        return self.seconds / total if total > 0 else math.inf


_LANGUAGES = {"en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "pt": "portuguese"}
_LANGUAGES.update({"nl": "dutch", "ja": "japanese", "zh": "chinese", "ar": "arabic", "hi": "hindi", "ru": "russian"})

_WORDS = (
    "thanks for calling we can help you with your order today the delivery is scheduled for "
    "tomorrow morning please confirm the address and the account number so I can check the "
    "status of the refund it should arrive within three to five business days is there anything "
    "else I can do for you the meeting starts at ten and we will review the latency numbers"
).split()


def _one(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[-1] if values else None


def _digest(*parts: Any) -> int:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\0")
    return int.from_bytes(h.digest()[:8], "big")


def _transcript(seconds: float, data: bytes, prompt: str, language: str, task: str) -> list[tuple[str, float, float]]:
    rng = random.Random(_digest(data, prompt, language, task))
    n = max(1, round(seconds * WORDS_PER_SECOND))
    span = seconds / n if seconds > 0 else 0.0
    words = []
    start = rng.randrange(len(_WORDS))
    for i in range(n):
        word = _WORDS[(start + i * (1 + rng.randrange(3))) % len(_WORDS)]
        if i == 0:
            word = word.capitalize()
        words.append((word, round(i * span, 2), round((i + 1) * span, 2)))
    return words


def plan_transcription(
    fields: dict[str, list[str]],
    files: dict[str, Upload],
    *,
    task: str,
    hint: str | None = None,
    seed: int = 0,
    occurrence: int = 0,
    jitter: float = 0.05,
    queue_ms: float | None = None,
) -> AudioPlan:
    """Validate a transcription or translation form as Groq does and plan the answer."""
    model = _one(fields, "model")
    if not model:
        raise APIError(400, "'model' : property 'model' is missing", param="model")
    profile = AUDIO_PROFILES.get(model)
    if profile is None:
        raise APIError(
            404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
        )
    if task == "translate" and not profile.translations:
        raise APIError(
            400,
            f"`{model}` does not support translations; use `whisper-large-v3`",
            param="model",
        )
    upload = files.get("file")
    if upload is None:
        if _one(fields, "url"):
            raise APIError(400, "the emulator needs the audio itself: send `file`, not `url`", param="url")
        raise APIError(400, "'file' : either file or url must be provided", param="file")
    if not upload.data:
        raise APIError(400, "'file' : the audio file is empty", param="file")
    if len(upload.data) > profile.max_file_bytes:
        raise APIError(
            413, "Request Entity Too Large: the audio file is larger than 25 MB", type="invalid_request_error"
        )
    fmt = _one(fields, "response_format") or "json"
    if fmt not in RESPONSE_FORMATS:
        raise APIError(
            400,
            f"response_format `{fmt}` is not supported; use one of: {', '.join(RESPONSE_FORMATS)}",
            param="response_format",
        )
    temperature_raw = _one(fields, "temperature")
    try:
        temperature = float(temperature_raw) if temperature_raw not in (None, "") else 0.0
    except ValueError:
        raise APIError(400, "'temperature' : value must be a number", param="temperature") from None
    if not 0.0 <= temperature <= 1.0:
        raise APIError(400, "'temperature' : number must be between 0 and 1", param="temperature")
    granularities = fields.get("timestamp_granularities[]", []) + fields.get("timestamp_granularities", [])
    for g in granularities:
        if g not in ("word", "segment"):
            raise APIError(
                400,
                "'timestamp_granularities' : values must be word or segment",
                param="timestamp_granularities",
            )
    language = (_one(fields, "language") or "en").lower()
    if task == "translate":
        language = "en"
    prompt = _one(fields, "prompt") or ""
    seconds, source = audio_seconds(upload, hint)
    words = _transcript(seconds, upload.data, prompt, language, task)
    text = " ".join(w for w, _, _ in words) + "."
    rng = random.Random(_digest("timing", seed, upload.data, model, occurrence))
    if queue_ms is not None:
        queue_s = queue_ms / 1000.0
    else:
        median = profile.queue_median_ms / 1000.0
        queue_s = min(median * math.exp(0.6 * rng.gauss(0, 1)), 20 * median)
    rate = max(0.5, 1.0 + jitter * rng.gauss(0, 1)) if jitter > 0 else 1.0
    return AudioPlan(
        model=model,
        profile=profile,
        task=task,
        response_format=fmt,
        language=language,
        seconds=seconds,
        seconds_source=source,
        billed_seconds=max(seconds, profile.min_billed_s),
        text=text,
        words=words,
        granularities=granularities or ["segment"],
        temperature=temperature,
        queue_s=queue_s,
        processing_s=seconds / (profile.speed_factor * rate),
        audio_sha256=hashlib.sha256(upload.data).hexdigest(),
        params={k: v[-1] for k, v in fields.items()},
    )


def _segments(plan: AudioPlan) -> list[dict[str, Any]]:
    segments: list[dict[str, Any]] = []
    per = 12  # words per segment (about five seconds of speech)
    for i in range(0, len(plan.words), per):
        chunk = plan.words[i : i + per]
        text = " " + " ".join(w for w, _, _ in chunk)
        if i + per >= len(plan.words):
            text += "."
        segments.append(
            {
                "id": len(segments),
                "seek": int(chunk[0][1] * 100),
                "start": chunk[0][1],
                "end": chunk[-1][2],
                "text": text,
                "tokens": [50365 + (_digest(w) % 1000) for w, _, _ in chunk],
                "temperature": plan.temperature,
                "avg_logprob": -0.21,
                "compression_ratio": 1.35,
                "no_speech_prob": 0.01,
            }
        )
    return segments


def render_transcription(plan: AudioPlan, request_id: str) -> tuple[str, bytes]:
    """The response body as Groq returns it: (content type, bytes)."""
    if plan.response_format == "text":
        return "text/plain; charset=utf-8", (plan.text + "\n").encode()
    import json

    if plan.response_format == "json":
        body: dict[str, Any] = {"text": plan.text, "x_groq": {"id": request_id}}
    else:
        body = {
            "task": plan.task,
            "language": _LANGUAGES.get(plan.language, plan.language),
            "duration": round(plan.seconds, 2),
            "text": plan.text,
        }
        if "segment" in plan.granularities:
            body["segments"] = _segments(plan)
        if "word" in plan.granularities:
            body["words"] = [{"word": w, "start": s, "end": e} for w, s, e in plan.words]
        body["x_groq"] = {"id": request_id}
    return "application/json", json.dumps(body).encode()


# -- text to speech ---------------------------------------------------------------------
@dataclass
class SpeechPlan:
    model: str
    profile: SpeechProfile
    voice: str
    characters: int
    seconds: float
    """Duration of the generated speech."""
    first_byte_s: float
    generation_s: float
    audio: bytes


SAMPLE_RATE = 24000


def wav_bytes(seconds: float, seed: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A valid mono 16-bit WAV of ``seconds``: a quiet deterministic tone."""
    frames = max(1, int(seconds * sample_rate))
    freq = 180 + seed % 120
    period = max(1, round(sample_rate / freq))
    cycle = b"".join(struct.pack("<h", int(900 * math.sin(2 * math.pi * i / period))) for i in range(period))
    pcm = (cycle * (frames // period + 1))[: frames * 2]
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return out.getvalue()


def plan_speech(body: Any, *, queue_ms: float | None = None) -> tuple[SpeechPlan, float]:
    """Validate a speech request and plan it: (plan, queue seconds)."""
    if not isinstance(body, dict):
        raise APIError(400, "request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise APIError(400, "'model' : property 'model' is missing", param="model")
    profile = SPEECH_PROFILES.get(model)
    if profile is None:
        raise APIError(
            404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
        )
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise APIError(400, "'input' : property 'input' is missing", param="input")
    if len(text) > profile.max_input_chars:
        raise APIError(400, f"'input' : at most {profile.max_input_chars} characters", param="input")
    voice = body.get("voice") or profile.voices[0]
    if voice not in profile.voices:
        raise APIError(400, f"'voice' : must be one of: {', '.join(profile.voices)} for `{model}`", param="voice")
    fmt = body.get("response_format") or "wav"
    if fmt != "wav":
        raise APIError(400, f"response_format `{fmt}`: the emulator produces wav only", param="response_format")
    speed = body.get("speed", 1.0)
    if not isinstance(speed, (int, float)) or not 0.5 <= speed <= 5.0:
        raise APIError(400, "'speed' : number must be between 0.5 and 5", param="speed")
    seconds = len(text) / (profile.chars_per_second * float(speed))
    seed = _digest(model, voice, text)
    plan = SpeechPlan(
        model=model,
        profile=profile,
        voice=voice,
        characters=len(text),
        seconds=seconds,
        first_byte_s=profile.first_byte_ms / 1000.0,
        generation_s=seconds / profile.speed_factor,
        audio=wav_bytes(seconds, seed),
    )
    return plan, (queue_ms if queue_ms is not None else 20.0) / 1000.0
