"""The frameworks Groq apps are built on accept the emulator's tool calls and JSON."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from pytest_llmlatency.emulator import GroqEmulator


class CityLocation(BaseModel):
    city: str
    country: str


QUESTION = "What is the largest city in Mexico?"


@contextlib.asynccontextmanager
async def _pydantic_ai_models(emu: GroqEmulator) -> AsyncIterator[list[Any]]:
    """A GroqModel and an OpenAIChatModel on the emulator, their clients closed after."""
    pytest.importorskip("pydantic_ai")
    import groq
    import openai
    from pydantic_ai.models.groq import GroqModel
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.groq import GroqProvider
    from pydantic_ai.providers.openai import OpenAIProvider

    async with (
        groq.AsyncGroq(base_url=emu.base_url, api_key="gsk_test") as g,
        openai.AsyncOpenAI(base_url=emu.openai_base_url, api_key="gsk_test") as o,
    ):
        yield [
            GroqModel("openai/gpt-oss-20b", provider=GroqProvider(groq_client=g)),
            OpenAIChatModel("openai/gpt-oss-20b", provider=OpenAIProvider(openai_client=o)),
        ]


async def _weather_agent_run(model: Any) -> tuple[list[str], Any]:
    from pydantic_ai import Agent

    agent = Agent(model, output_type=CityLocation)
    called: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        called.append(city)
        return f"Sunny, 22C in {city}"

    return called, await agent.run("What's the weather in Paris?")


@pytest.mark.anyio
async def test_pydantic_ai_agent_with_a_tool_and_typed_output(fast_emulator: GroqEmulator) -> None:
    async with _pydantic_ai_models(fast_emulator) as models:
        for model in models:
            called, result = await _weather_agent_run(model)
            assert called == ["Paris"], "the tool ran once with the city from the prompt"
            assert result.output.city == "Paris"
            assert len(result.all_messages()) == 5, "request, tool call, result, output tool call, its return"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["native", "prompted"])
async def test_pydantic_ai_native_and_prompted_output(fast_emulator: GroqEmulator, kind: str) -> None:
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent, NativeOutput, PromptedOutput

    async with _pydantic_ai_models(fast_emulator) as models:
        for model in models:
            output = NativeOutput(CityLocation) if kind == "native" else PromptedOutput(CityLocation)
            result = await Agent(model, output_type=output).run(QUESTION)
            assert result.output == CityLocation(city="Mexico", country="Mexico")


@pytest.mark.parametrize("client", ["groq", "openai"])
@pytest.mark.parametrize("mode", ["TOOLS", "JSON"])
def test_instructor(fast_emulator: GroqEmulator, client: str, mode: str) -> None:
    instructor = pytest.importorskip("instructor")
    import groq
    import openai

    raw: groq.Groq | openai.OpenAI
    if client == "groq":
        raw = groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_test")
        patched = instructor.from_groq(raw, mode=getattr(instructor.Mode, mode))
    else:
        raw = openai.OpenAI(base_url=fast_emulator.openai_base_url, api_key="gsk_test")
        patched = instructor.from_openai(raw, mode=getattr(instructor.Mode, mode))
    with raw:
        out = patched.chat.completions.create(
            model="llama-3.3-70b-versatile",
            response_model=CityLocation,
            messages=[{"role": "user", "content": QUESTION}],
        )
    assert out.model_dump() == {"city": "Mexico", "country": "Mexico"}


def test_openai_sdk_tool_call_round_trip(fast_emulator: GroqEmulator) -> None:
    import openai

    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather for a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    messages: list[dict[str, object]] = [{"role": "user", "content": "What's the weather in Paris?"}]
    with openai.OpenAI(base_url=fast_emulator.openai_base_url, api_key="gsk_test") as client:
        first = client.chat.completions.create(model="llama-3.1-8b-instant", messages=messages, tools=tools)  # type: ignore[arg-type]
        call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "Sunny"},
        ]
        second = client.chat.completions.create(model="llama-3.1-8b-instant", messages=messages, tools=tools)  # type: ignore[arg-type]
    assert first.choices[0].finish_reason == "tool_calls"
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content


def test_langchain_groq_structured_output(fast_emulator: GroqEmulator) -> None:
    langchain_groq = pytest.importorskip("langchain_groq")
    llm = langchain_groq.ChatGroq(model="llama-3.3-70b-versatile", base_url=fast_emulator.base_url, api_key="gsk_test")
    assert llm.with_structured_output(CityLocation).invoke(QUESTION) == CityLocation(city="Mexico", country="Mexico")
