"""The emulator's audio endpoints through the real groq and openai SDKs.

Latency assertions compare the server's own recorded waits with the Whisper speed
profile (Groq's published real-time factors); transcripts are deterministic.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator

import groq
import httpx
import openai
import pytest
from openai.types.audio import Transcription, TranscriptionVerbose

from pytest_llmlatency.emulator import GroqEmulator
from pytest_llmlatency.emulator.audio import (
    ASSUMED_BYTES_PER_SECOND,
    MultipartError,
    parse_multipart,
    wav_bytes,
)
from pytest_llmlatency.emulator.profiles import AUDIO_PROFILES, SPEECH_PROFILES


@pytest.fixture
def clients(fast_emulator: GroqEmulator) -> Iterator[tuple[GroqEmulator, openai.OpenAI, groq.Groq]]:
    with (
        openai.OpenAI(base_url=fast_emulator.openai_base_url, api_key="k", max_retries=0) as oa,
        groq.Groq(base_url=fast_emulator.base_url, api_key="k", max_retries=0) as gq,
    ):
        yield fast_emulator, oa, gq


def test_groq_and_openai_sdks_transcribe_deterministically(
    clients: tuple[GroqEmulator, openai.OpenAI, groq.Groq],
) -> None:
    emu, oa, gq = clients
    audio = wav_bytes(6.0, seed=1)
    by_groq = gq.audio.transcriptions.create(file=("call.wav", audio), model="whisper-large-v3-turbo")
    by_openai = oa.audio.transcriptions.create(file=("call.wav", audio), model="whisper-large-v3-turbo")
    assert isinstance(by_openai, Transcription)
    assert by_groq.text == by_openai.text and by_groq.text
    assert by_openai.model_extra is not None and by_openai.model_extra["x_groq"]["id"].startswith("req_")
    assert emu.requests[-1].request_id == by_openai.model_extra["x_groq"]["id"]
    other = oa.audio.transcriptions.create(file=("call.wav", wav_bytes(6.0, seed=2)), model="whisper-large-v3-turbo")
    assert other.text != by_openai.text, "the transcript follows the audio bytes"
    prompted = oa.audio.transcriptions.create(file=("call.wav", audio), model="whisper-large-v3-turbo", prompt="Acme")
    assert prompted.text != by_openai.text, "and the prompt"
    # about 2.5 words per second of speech
    assert 12 <= len(by_openai.text.split()) <= 18


def test_verbose_json_has_duration_segments_and_words(
    clients: tuple[GroqEmulator, openai.OpenAI, groq.Groq],
) -> None:
    _, oa, _ = clients
    verbose = oa.audio.transcriptions.create(
        file=("call.wav", wav_bytes(12.0, seed=3)),
        model="whisper-large-v3",
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        language="en",
    )
    assert isinstance(verbose, TranscriptionVerbose)
    assert verbose.duration == pytest.approx(12.0)
    assert verbose.language == "english"
    assert verbose.segments and verbose.words
    assert verbose.segments[-1].end <= 12.0 and verbose.words[-1].end <= 12.0
    assert " ".join(w.word for w in verbose.words) + "." == verbose.text
    assert "".join(s.text for s in verbose.segments).strip() == verbose.text
    text = oa.audio.transcriptions.create(
        file=("call.wav", wav_bytes(12.0, seed=3)), model="whisper-large-v3", response_format="text", language="en"
    )
    assert isinstance(text, str) and text.strip() == verbose.text


def test_processing_time_follows_the_real_time_factor(exact_emulator: GroqEmulator) -> None:
    seconds = 30.0
    with openai.OpenAI(base_url=exact_emulator.openai_base_url, api_key="k", max_retries=0) as oa:
        for model in ("whisper-large-v3-turbo", "whisper-large-v3"):
            oa.audio.transcriptions.create(file=("long.wav", wav_bytes(seconds, seed=4)), model=model)
    turbo, large = exact_emulator.requests
    for served in (turbo, large):
        assert served.usage is not None and served.model is not None
        assert served.usage["audio_seconds"] == pytest.approx(seconds)
        assert served.usage["audio_seconds_source"] == "wav"
        planned = seconds / AUDIO_PROFILES[served.model].speed_factor
        assert served.usage["processing_time"] >= planned - 1e-4, "never faster than the published factor"
        assert served.usage["queue_time"] >= 0.005 - 1e-4
        assert served.t_last_token_ns is not None and served.t_headers_ns is not None
        waited = (served.t_last_token_ns - served.t_received_ns) / 1e9
        assert waited == pytest.approx(served.usage["queue_time"] + served.usage["processing_time"], abs=1e-6)
        assert served.t_last_token_ns <= served.t_headers_ns
    # planned: 30/216 = 139 ms for turbo, 30/189 = 159 ms for large-v3
    assert AUDIO_PROFILES["whisper-large-v3-turbo"].speed_factor == 216
    assert AUDIO_PROFILES["whisper-large-v3"].speed_factor == 189


def test_billing_minimum_duration_hint_and_size_estimate(
    clients: tuple[GroqEmulator, openai.OpenAI, groq.Groq],
) -> None:
    emu, oa, _ = clients
    oa.audio.transcriptions.create(file=("short.wav", wav_bytes(2.0, seed=5)), model="whisper-large-v3-turbo")
    short = emu.requests[-1].usage
    assert short is not None and short["audio_seconds"] == pytest.approx(2.0) and short["billed_seconds"] == 10.0
    mp3 = bytes(range(256)) * 250  # 64000 bytes of "compressed audio"
    oa.audio.transcriptions.create(file=("clip.mp3", mp3), model="whisper-large-v3-turbo")
    estimated = emu.requests[-1].usage
    assert estimated is not None and estimated["audio_seconds_source"] == "estimated"
    assert estimated["audio_seconds"] == pytest.approx(len(mp3) / ASSUMED_BYTES_PER_SECOND["other"])
    oa.audio.transcriptions.create(
        file=("clip.mp3", mp3),
        model="whisper-large-v3-turbo",
        extra_headers={"x-emulator-audio-seconds": "42.5"},
    )
    hinted = emu.requests[-1].usage
    assert hinted is not None and hinted["audio_seconds"] == 42.5 and hinted["audio_seconds_source"] == "header"


def test_translations_only_on_whisper_large_v3(clients: tuple[GroqEmulator, openai.OpenAI, groq.Groq]) -> None:
    emu, oa, gq = clients
    done = gq.audio.translations.create(file=("fr.wav", wav_bytes(5.0, seed=6)), model="whisper-large-v3")
    assert done.text
    assert emu.requests[-1].path.endswith("/audio/translations")
    with pytest.raises(openai.BadRequestError) as info:
        oa.audio.translations.create(file=("fr.wav", wav_bytes(5.0, seed=6)), model="whisper-large-v3-turbo")
    assert "translations" in str(info.value)


def test_audio_errors_as_groq_answers_them(clients: tuple[GroqEmulator, openai.OpenAI, groq.Groq]) -> None:
    emu, oa, gq = clients
    with pytest.raises(groq.BadRequestError) as gone:
        gq.audio.transcriptions.create(file=("a.wav", wav_bytes(1.0, seed=7)), model="distil-whisper-large-v3-en")
    body = gone.value.body
    assert isinstance(body, dict)
    assert body.get("error", body)["code"] == "model_decommissioned"  # groq 0.x and 1.x unwrap differently
    with pytest.raises(openai.NotFoundError):
        oa.audio.transcriptions.create(file=("a.wav", wav_bytes(1.0, seed=7)), model="whisper-9")
    with pytest.raises(openai.BadRequestError):
        oa.audio.transcriptions.create(
            file=("a.wav", wav_bytes(1.0, seed=7)),
            model="whisper-large-v3",
            response_format="srt",  # Groq does not support vtt or srt
        )
    with pytest.raises(openai.RateLimitError):
        oa.audio.transcriptions.create(
            file=("a.wav", wav_bytes(1.0, seed=7)),
            model="whisper-large-v3",
            extra_headers={"x-emulator-fault": "429;retry_after=0"},
        )
    assert [r.status for r in emu.requests] == [400, 404, 400, 429]


def test_speech_returns_a_valid_wav_after_the_profiles_latency(exact_emulator: GroqEmulator) -> None:
    text = "Your order ships today. Thanks for calling, and have a good evening."
    with openai.OpenAI(base_url=exact_emulator.openai_base_url, api_key="k", max_retries=0) as oa:
        speech = oa.audio.speech.create(
            model="canopylabs/orpheus-v1-english", voice="autumn", input=text, response_format="wav"
        )
        data = speech.read()
        assert speech.response.headers["content-type"] == "audio/wav"
        with pytest.raises(openai.BadRequestError):
            oa.audio.speech.create(model="canopylabs/orpheus-v1-english", voice="fritz", input=text)
    with wave.open(io.BytesIO(data)) as w:
        profile = SPEECH_PROFILES["canopylabs/orpheus-v1-english"]
        assert w.getnframes() / w.getframerate() == pytest.approx(len(text) / profile.chars_per_second, abs=1e-3)
    served = exact_emulator.requests[0]
    assert served.t_first_token_ns is not None and served.t_last_token_ns is not None
    first_byte_s = (served.t_first_token_ns - served.t_received_ns) / 1e9
    assert first_byte_s >= 0.005 + profile.first_byte_ms / 1000 - 1e-4
    generation_s = (served.t_last_token_ns - served.t_first_token_ns) / 1e9
    assert generation_s >= len(text) / profile.chars_per_second / profile.speed_factor - 1e-4


def test_multipart_parser_keeps_binary_bytes_and_repeated_fields() -> None:
    payload = b"\r\n--x\r\n\x00\xff binary"
    body = (
        b"--BOUND\r\n"
        b'Content-Disposition: form-data; name="model"\r\n\r\n'
        b"whisper-large-v3\r\n"
        b"--BOUND\r\n"
        b'Content-Disposition: form-data; name="timestamp_granularities[]"\r\n\r\nword\r\n'
        b"--BOUND\r\n"
        b'Content-Disposition: form-data; name="timestamp_granularities[]"\r\n\r\nsegment\r\n'
        b"--BOUND\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n--BOUND--\r\n"
    )
    fields, files = parse_multipart('multipart/form-data; boundary="BOUND"', body)
    assert fields == {"model": ["whisper-large-v3"], "timestamp_granularities[]": ["word", "segment"]}
    assert files["file"].filename == "a.bin" and files["file"].data == payload
    with pytest.raises(MultipartError):
        parse_multipart("application/json", body)


def test_a_form_that_is_not_multipart_is_a_400(fast_emulator: GroqEmulator) -> None:
    resp = httpx.post(
        f"{fast_emulator.openai_base_url}/audio/transcriptions",
        json={"model": "whisper-large-v3"},
        headers={"authorization": "Bearer k"},
    )
    assert resp.status_code == 400 and "multipart" in resp.json()["error"]["message"]
