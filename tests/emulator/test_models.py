"""The emulator's model catalogue: Groq's current models, their published speeds,
and Groq's own error for decommissioned ones."""

from __future__ import annotations

from collections.abc import Iterator

import groq
import httpx
import openai
import pytest

from pytest_llmlatency.emulator import PROFILES, GroqEmulator
from pytest_llmlatency.emulator.audio import wav_bytes
from pytest_llmlatency.emulator.profiles import (
    AUDIO_PROFILES,
    DECOMMISSIONED,
    RETIRED,
    SPEECH_PROFILES,
    decommissioned_message,
)

MS = 1_000_000  # ns
REQUIRED = {
    "openai/gpt-oss-20b",
    "openai/gpt-oss-120b",
    "openai/gpt-oss-safeguard-20b",
    "groq/compound",
    "groq/compound-mini",
    "qwen/qwen3-32b",
    "llama-3.1-8b-instant",
    "llama-3.3-70b-versatile",
    "meta-llama/llama-4-scout-17b-16e-instruct",
    "meta-llama/llama-4-maverick-17b-128e-instruct",
    "moonshotai/kimi-k2-instruct",
    "moonshotai/kimi-k2-instruct-0905",
    "whisper-large-v3",
    "whisper-large-v3-turbo",
    "canopylabs/orpheus-v1-english",
    "canopylabs/orpheus-arabic-saudi",
}


@pytest.fixture
def groq_client(fast_emulator: GroqEmulator) -> Iterator[groq.Groq]:
    with groq.Groq(base_url=fast_emulator.base_url, api_key="k", max_retries=0) as client:
        yield client


def test_models_list_holds_every_model_with_groqs_fields(fast_emulator: GroqEmulator, groq_client: groq.Groq) -> None:
    listed = groq_client.models.list().data
    ids = {m.id for m in listed}
    assert ids >= REQUIRED
    assert ids == set(PROFILES) | set(AUDIO_PROFILES) | set(SPEECH_PROFILES)
    assert not ids & set(DECOMMISSIONED)
    with openai.OpenAI(base_url=fast_emulator.openai_base_url, api_key="k", max_retries=0) as oa:
        assert {m.id for m in oa.models.list()} == ids
        kimi = oa.models.retrieve("moonshotai/kimi-k2-instruct-0905")
    assert kimi.owned_by == "Moonshot AI"
    assert kimi.model_extra is not None and kimi.model_extra["context_window"] == 262144
    one = groq_client.models.retrieve("whisper-large-v3-turbo")
    assert one.id == "whisper-large-v3-turbo" and one.object == "model"
    with pytest.raises(groq.NotFoundError):
        groq_client.models.retrieve("gemma2-9b-it")


@pytest.mark.parametrize("model", sorted(PROFILES))
def test_every_chat_model_answers_chat_and_responses(fast_emulator: GroqEmulator, model: str) -> None:
    with openai.OpenAI(base_url=fast_emulator.openai_base_url, api_key="k", max_retries=0) as oa:
        chat = oa.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hi in two words."}])
        resp = oa.responses.create(model=model, input="Say hi in two words.")
    assert chat.model == resp.model == model
    assert chat.usage is not None and resp.usage is not None
    assert resp.usage.output_tokens == chat.usage.completion_tokens


def test_a_new_models_stream_keeps_its_published_speed(exact_emulator: GroqEmulator) -> None:
    model = "moonshotai/kimi-k2-instruct-0905"  # 200 tokens/s on Groq's models page
    with openai.OpenAI(base_url=exact_emulator.openai_base_url, api_key="k", max_retries=0) as client:
        stream = client.responses.create(model=model, stream=True, input="Describe queues in 20 words.")
        for _ in stream:
            pass
    served = exact_emulator.requests[-1]
    written = served.token_times_ns
    assert served.usage is not None and len(written) == served.usage["output_tokens"] > 5
    profile = PROFILES[model]
    assert profile.decode_tps == 200
    # token i is never written before queue + prefill + (i + 1) / decode rate (the lag of a
    # loaded machine can only delay it)
    start_s = 0.005 + served.usage["input_tokens"] / profile.prefill_tps
    for i, t in enumerate(written):
        assert (t - served.t_received_ns) / 1e9 >= start_s + (i + 1) / profile.decode_tps - 1e-4


@pytest.mark.parametrize("model", ["llama3-8b-8192", "llama3-70b-8192", "gemma2-9b-it", "mixtral-8x7b-32768"])
def test_decommissioned_models_get_groqs_error_everywhere(fast_emulator: GroqEmulator, model: str) -> None:
    with groq.Groq(base_url=fast_emulator.base_url, api_key="k", max_retries=0) as client:
        with pytest.raises(groq.BadRequestError) as chat:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(groq.BadRequestError) as audio:
            client.audio.transcriptions.create(file=("a.wav", wav_bytes(1.0, seed=1)), model=model)
    url = fast_emulator.openai_base_url
    resp = httpx.post(f"{url}/responses", json={"model": model, "input": "hi"}, headers={"authorization": "Bearer k"})
    expected = {
        "message": decommissioned_message(model),
        "type": "invalid_request_error",
        "code": "model_decommissioned",
    }
    assert resp.status_code == 400 and resp.json() == {"error": expected}
    for err in (chat.value, audio.value):
        body = err.body
        assert isinstance(body, dict) and body.get("error", body) == expected
    assert [r.status for r in fast_emulator.requests] == [400, 400, 400]
    assert "has been decommissioned and is no longer supported" in expected["message"]
    assert "https://console.groq.com/docs/deprecations" in expected["message"]


def test_the_key_is_checked_before_the_model(fast_emulator: GroqEmulator) -> None:
    resp = httpx.post(
        f"{fast_emulator.openai_base_url}/chat/completions",
        json={"model": "gemma2-9b-it", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 401


def test_retired_models_are_refused_when_asked_to_act_like_groq_today() -> None:
    with (
        GroqEmulator(jitter=0, queue_ms=5, time_scale=20, serve_retired=False) as emu,
        groq.Groq(base_url=emu.base_url, api_key="k", max_retries=0) as client,
    ):
        assert not {m.id for m in client.models.list().data} & set(RETIRED)
        with pytest.raises(groq.BadRequestError, match="decommissioned"):
            client.chat.completions.create(model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}])
        ok = client.chat.completions.create(
            model="openai/gpt-oss-20b", messages=[{"role": "user", "content": "Say hi in two words."}]
        )
    assert ok.choices[0].message.content
