"""Groq's audio endpoints for the emulator: pure functions (no I/O, no clock).

* ``/audio/transcriptions`` and ``/audio/translations`` (Whisper): a multipart form
  in, a deterministic transcript out, timed from the audio's duration and the
  model's published real-time speed factor.
* ``/audio/speech`` (Orpheus text-to-speech): JSON in, a small valid WAV out.

Audio duration: read from the file when it is a WAV (the ``wave`` module); for
other formats estimated from its size (see :data:`ASSUMED_BYTES_PER_SECOND`), or
given exactly with the ``x-emulator-audio-seconds`` request header.

The planning is pure (no I/O, no clock); :func:`serve_transcription`,
:func:`serve_translation` and :func:`serve_speech` play the plans in real time: the
transcript in one body once the audio is processed, the speech as chunked WAV paced over
its generation time.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import struct
import time
import wave
from dataclasses import dataclass, field
from typing import Any

from . import wire
from .connection import Connection
from .faults import Fault
from .model import lognormal_queue_s, speed_factor
from .profiles import AudioProfile, SpeechProfile
from .streaming import ServedRequest, begin, begin_json, end_body, send_half, slow_first_byte, stamp_token
from .validation import (
    HINT_HEADER,
    APIError,
    audio_seconds_hint,
    check_speech,
    check_transcription,
    decommissioned,
    form_value,
    retired,
)

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
    "serve_speech",
    "serve_transcription",
    "serve_translation",
    "wav_bytes",
]

ASSUMED_BYTES_PER_SECOND: dict[str, float] = {
    "wav": 32000.0,  # 16 kHz, 16-bit mono PCM (what Groq recommends) when the header cannot be read
    "flac": 16000.0,  # about half of 16 kHz 16-bit PCM
    "other": 16000.0,  # compressed (mp3, m4a, ogg, opus, webm, mp4): 128 kbit/s
}
"""Bytes per second of audio assumed when the duration cannot be read from the file."""

WORDS_PER_SECOND = 2.5  # about 150 words a minute of speech
QUEUE_SIGMA = 0.6
"""Shape of the Whisper models' log-normal queue time (their median is in the profile)."""
SPEECH_QUEUE_MS = 20.0
"""Queue time of a speech request (fixed; the emulator's assumption)."""
SPEECH_CHUNKS = 8
"""Pieces a speech answer is streamed in, paced over its generation time."""


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
        return audio_seconds_hint(hint), "header"
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
    upload = files.get("file")
    form = check_transcription(fields, len(upload.data) if upload is not None else None, task=task)
    assert upload is not None
    language = (form_value(fields, "language") or "en").lower()
    if task == "translate":
        language = "en"
    prompt = form_value(fields, "prompt") or ""
    seconds, source = audio_seconds(upload, hint)
    words = _transcript(seconds, upload.data, prompt, language, task)
    text = " ".join(w for w, _, _ in words) + "."
    rng = random.Random(_digest("timing", seed, upload.data, form.model, occurrence))
    if queue_ms is not None:
        queue_s = queue_ms / 1000.0
    else:
        queue_s = lognormal_queue_s(rng, form.profile.queue_median_ms, QUEUE_SIGMA)
    rate = speed_factor(rng, jitter)
    return AudioPlan(
        model=form.model,
        profile=form.profile,
        task=task,
        response_format=form.response_format,
        language=language,
        seconds=seconds,
        seconds_source=source,
        billed_seconds=max(seconds, form.profile.min_billed_s),
        text=text,
        words=words,
        granularities=form.granularities or ["segment"],
        temperature=form.temperature,
        queue_s=queue_s,
        processing_s=seconds / (form.profile.speed_factor * rate),
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
    req = check_speech(body)
    seconds = len(req.text) / (req.profile.chars_per_second * float(req.speed))
    seed = _digest(req.model, req.voice, req.text)
    plan = SpeechPlan(
        model=req.model,
        profile=req.profile,
        voice=req.voice,
        characters=len(req.text),
        seconds=seconds,
        first_byte_s=req.profile.first_byte_ms / 1000.0,
        generation_s=seconds / req.profile.speed_factor,
        audio=wav_bytes(seconds, seed),
    )
    return plan, (queue_ms if queue_ms is not None else SPEECH_QUEUE_MS) / 1000.0


# -- serving -------------------------------------------------------------------------------


def serve_transcription(conn: Connection, record: ServedRequest, raw: bytes) -> None:
    """Answer one ``/audio/transcriptions`` request (refusals raise :class:`APIError`)."""
    _serve_form(conn, record, raw, "transcribe")


def serve_translation(conn: Connection, record: ServedRequest, raw: bytes) -> None:
    """Answer one ``/audio/translations`` request (refusals raise :class:`APIError`)."""
    _serve_form(conn, record, raw, "translate")


def _serve_form(conn: Connection, record: ServedRequest, raw: bytes, task: str) -> None:
    emu = conn.emulator
    fault = begin(conn, record)
    try:
        fields, files = parse_multipart(conn.headers.get("content-type", ""), raw)
    except MultipartError as err:
        raise APIError(400, f"could not parse the multipart form: {err}") from None
    model = form_value(fields, "model")
    upload = files.get("file")
    form: dict[str, Any] = {k: v[-1] for k, v in fields.items()}
    record.body = form
    if upload is not None:
        form["file"] = {"filename": upload.filename, "bytes": len(upload.data)}
    if retired(model, emu.serve_retired):
        record.model = str(model)
        raise decommissioned(str(model))
    plan = plan_transcription(
        fields,
        files,
        task=task,
        hint=conn.headers.get(HINT_HEADER),
        seed=emu.seed,
        occurrence=emu._occurrence([task, form, upload.data.hex()[:64] if upload else None]),
        jitter=emu.jitter,
        queue_ms=emu.queue_ms,
    )
    record.model = plan.model
    record.status = 200
    form["file"]["sha256"] = plan.audio_sha256
    _send_transcript(conn, plan, record, fault)


def _send_transcript(conn: Connection, plan: AudioPlan, record: ServedRequest, fault: Fault | None) -> None:
    """The transcript in one body once the queue and the processing time have passed."""
    scale = conn.emulator.time_scale
    t0 = record.t_received_ns
    slow_first_byte(conn, fault, t0)
    conn.wait_until(t0 + int(plan.queue_s / scale * 1e9))
    t_admit = time.perf_counter_ns()
    conn.wait_until(t_admit + int(plan.processing_s / scale * 1e9))
    t_end = time.perf_counter_ns()
    _, request_id = wire.new_ids()
    record.request_id = request_id
    record.usage = {
        "audio_seconds": plan.seconds,
        "audio_seconds_source": plan.seconds_source,
        "billed_seconds": plan.billed_seconds,
        "queue_time": (t_admit - t0) / 1e9,
        "processing_time": (t_end - t_admit) / 1e9,
    }
    content_type, data = render_transcription(plan, request_id)
    record.t_last_token_ns = t_end
    record.t_headers_ns = record.t_first_token_ns = time.perf_counter_ns()
    conn.begin_response(200, content_type, request_id, None, length=len(data))
    if fault is not None and fault.name == "cut":
        send_half(conn, data, fault)
        return
    record.t_done_ns = time.perf_counter_ns()
    conn.wfile.write(data)


def serve_speech(conn: Connection, record: ServedRequest, raw: bytes) -> None:
    """Answer one ``/audio/speech`` request: the WAV in chunks, the first after the queue
    and the time to first audio, the rest paced over the generation time."""
    emu = conn.emulator
    body, fault = begin_json(conn, record, raw)
    plan, queue_s = plan_speech(body, queue_ms=emu.queue_ms)
    record.model = plan.model
    record.status = 200
    scale = emu.time_scale
    t0 = record.t_received_ns
    slow_first_byte(conn, fault, t0)
    conn.wait_until(t0 + int((queue_s + plan.first_byte_s) / scale * 1e9))
    _, request_id = wire.new_ids()
    record.request_id = request_id
    record.t_headers_ns = time.perf_counter_ns()
    conn.begin_response(200, "audio/wav", request_id, None)
    data = plan.audio
    pieces = SPEECH_CHUNKS
    size = -(-len(data) // pieces)
    for i in range(pieces):
        chunk = data[i * size : (i + 1) * size]
        if not chunk:
            break
        if i:
            # paced from the first audio bytes, so first-to-last is never shorter than generation
            start = record.token_times_ns[0]
            conn.wait_until(start + int(i * plan.generation_s / (pieces - 1) / scale * 1e9))
        stamp_token(record)
        if fault is not None and fault.name == "cut" and i >= pieces // 2:
            conn.cut()
            return
        conn.send_chunk(chunk)
    record.t_last_token_ns = record.token_times_ns[-1]
    record.usage = {"characters": plan.characters, "audio_seconds": plan.seconds}
    end_body(conn, record)
