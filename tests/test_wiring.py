"""Pointing every common Groq client at the target: groq_env, the OpenAI-compatible root,
groq_openai_env. Each client is the real package (skipped when absent), talking to the
built-in emulator on 127.0.0.1; the emulator's own request log proves where it went."""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from typing import Any

import pytest

from pytest_llmlatency.emulator import GroqEmulator

MODEL = "llama-3.1-8b-instant"
MSG = [{"role": "user", "content": "Say hi in five words."}]


@pytest.fixture
def since(groq_emulator: GroqEmulator) -> int:
    return time.perf_counter_ns()


def _import(name: str) -> Any:
    """Import an optional framework, skipping when absent; its import-time warnings
    (deprecations inside the framework) are not this project's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip(name)


def _paths(emulator: GroqEmulator, t_ns: int) -> list[str]:
    return [r.path.split("?", 1)[0] for r in emulator.requests_since(t_ns)]


def test_groq_env_sets_every_variable_and_undoes_it(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(
        """
        import os

        def test_a(groq_env, groq_base_url, groq_openai_base_url):
            assert groq_env == groq_base_url == os.environ["GROQ_BASE_URL"]
            assert groq_base_url.startswith("http://127.0.0.1:")
            assert groq_openai_base_url == groq_base_url + "/openai/v1" == os.environ["GROQ_API_BASE"]
            assert os.environ["GROQ_API_KEY"] == "gsk_emulator_no_key_needed"
            assert "OPENAI_BASE_URL" not in os.environ and "OPENAI_API_KEY" not in os.environ

        def test_b(groq_openai_env, groq_openai_base_url):
            assert groq_openai_env == groq_openai_base_url
            assert os.environ["OPENAI_BASE_URL"] == os.environ["OPENAI_API_BASE"] == groq_openai_base_url
            assert os.environ["OPENAI_API_KEY"] == "gsk_emulator_no_key_needed"

        def test_c():
            for name in ("GROQ_BASE_URL", "GROQ_API_BASE", "GROQ_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
                assert name not in os.environ, name
        """
    )
    for name in (
        "GROQ_BASE_URL",
        "GROQ_API_BASE",
        "GROQ_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_BASE",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_groq_sdk_reads_groq_env(groq_env: str, llm_calls: object, groq_emulator: GroqEmulator, since: int) -> None:
    import groq

    with groq.Groq() as client:
        client.chat.completions.create(model=MODEL, messages=MSG)  # type: ignore[arg-type]
    assert _paths(groq_emulator, since) == ["/openai/v1/chat/completions"]


def test_litellm_reads_groq_api_base(groq_env: str, groq_emulator: GroqEmulator, since: int) -> None:
    litellm = _import("litellm")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    answer = litellm.completion(model=f"groq/{MODEL}", messages=MSG, num_retries=0)
    assert answer.choices[0].message.content
    assert _paths(groq_emulator, since) == ["/openai/v1/chat/completions"]


def test_litellm_async_reads_groq_api_base(groq_env: str, groq_emulator: GroqEmulator, since: int) -> None:
    litellm = _import("litellm")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

    async def main() -> Any:
        try:
            return await litellm.acompletion(model=f"groq/{MODEL}", messages=MSG, num_retries=0)
        finally:  # litellm caches its aiohttp session: close it on this loop
            close = getattr(litellm, "close_litellm_async_clients", None)
            if close is not None:
                await close()

    answer = asyncio.run(main())
    assert answer.choices[0].message.content
    assert _paths(groq_emulator, since) == ["/openai/v1/chat/completions"]


def test_pydantic_ai_groq_provider_reads_groq_env(groq_env: str, groq_emulator: GroqEmulator, since: int) -> None:
    _import("pydantic_ai.models.groq")
    from pydantic_ai import Agent
    from pydantic_ai.models.groq import GroqModel
    from pydantic_ai.providers.groq import GroqProvider

    agent = Agent(GroqModel(MODEL, provider=GroqProvider()))

    async def run() -> str:
        # the agent as a context manager closes the provider's own httpx client on this loop
        # (pydantic-ai's documented lifecycle); run_sync would leave its connection open for
        # the garbage collector to report in whichever test runs next
        async with agent:
            return (await agent.run("Say hi in five words.")).output

    assert asyncio.run(run())
    assert _paths(groq_emulator, since) == ["/openai/v1/chat/completions"]


def test_instructor_from_provider_reads_groq_env(groq_env: str, groq_base_url: str) -> None:
    instructor = _import("instructor")
    client = instructor.from_provider(f"groq/{MODEL}")
    assert str(client.client.base_url).rstrip("/") == groq_base_url


def test_openai_sdk_with_the_openai_root(
    groq_openai_base_url: str, groq_emulator: GroqEmulator, since: int, groq_openai_env: str
) -> None:
    openai = pytest.importorskip("openai")
    with openai.OpenAI(base_url=groq_openai_base_url, api_key="gsk_emulator_no_key_needed") as explicit:
        explicit.chat.completions.create(model=MODEL, messages=MSG)  # type: ignore[arg-type]
    with openai.OpenAI() as from_env:  # OPENAI_BASE_URL / OPENAI_API_KEY from groq_openai_env
        from_env.chat.completions.create(model=MODEL, messages=MSG)  # type: ignore[arg-type]
    assert _paths(groq_emulator, since) == ["/openai/v1/chat/completions"] * 2


def test_langchain_groq_with_base_url(groq_base_url: str, groq_emulator: GroqEmulator, since: int) -> None:
    langchain_groq = _import("langchain_groq")
    chat = langchain_groq.ChatGroq(model=MODEL, base_url=groq_base_url, api_key="gsk_emulator_no_key_needed")
    assert chat.invoke("Say hi in five words.").content
    assert _paths(groq_emulator, since) == ["/openai/v1/chat/completions"]


def test_langchain_groq_in_app_code_with_groq_env(
    groq_env: str, monkeypatch: pytest.MonkeyPatch, groq_emulator: GroqEmulator, since: int
) -> None:
    langchain_groq = _import("langchain_groq")
    # ChatGroq reads GROQ_API_BASE as the groq SDK root, litellm as the OpenAI root: groq_env sets
    # litellm's; without it ChatGroq falls back to the groq SDK, which reads GROQ_BASE_URL
    monkeypatch.delenv("GROQ_API_BASE")
    assert langchain_groq.ChatGroq(model=MODEL).invoke("Say hi in five words.").content
    assert _paths(groq_emulator, since) == ["/openai/v1/chat/completions"]
