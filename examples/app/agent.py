"""The shop's support agent: pydantic-ai on Groq, with a tool and a typed answer.

One run is two LLM calls when all goes well: the model calls ``lookup_order``, then,
given the order, returns a :class:`~app.orders.SupportAnswer` through pydantic-ai's
output tool. The client is built from the environment (``GROQ_API_KEY``,
``GROQ_BASE_URL``), as the application does in production.
"""

from __future__ import annotations

import groq
from pydantic_ai import Agent
from pydantic_ai.models.groq import GroqModel, GroqModelSettings
from pydantic_ai.providers.groq import GroqProvider

from app.orders import SYSTEM_PROMPT, SupportAnswer, lookup_order

MODEL = "openai/gpt-oss-20b"
# the knobs that decide each step's latency; the example suite guards them
SETTINGS = GroqModelSettings(max_tokens=150, temperature=0, groq_reasoning_effort="low")


def build_agent(client: groq.AsyncGroq, model: str = MODEL) -> Agent[None, SupportAnswer]:
    agent = Agent(
        GroqModel(model, provider=GroqProvider(groq_client=client)),
        output_type=SupportAnswer,
        system_prompt=SYSTEM_PROMPT,
        model_settings=SETTINGS,
    )
    agent.tool_plain(lookup_order)
    return agent


async def answer(question: str, *, model: str = MODEL) -> SupportAnswer:
    """The typed answer to a customer's question (one agent run)."""
    async with groq.AsyncGroq() as client:
        result = await build_agent(client, model).run(question)
    return result.output


async def stream_answer(question: str, *, model: str = MODEL) -> SupportAnswer:
    """The same run with every model request streamed (pydantic-ai's ``run_stream``), as a
    chat UI does to show progress early."""
    async with groq.AsyncGroq() as client, build_agent(client, model).run_stream(question) as run:
        return await run.get_output()
