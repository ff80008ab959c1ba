"""The support agent with langchain-groq: ``ChatGroq.bind_tools`` in a bounded loop, and
``with_structured_output`` for the typed answer.

``ChatGroq`` is given the groq SDK root explicitly: it would otherwise read
``GROQ_API_BASE``, which litellm's convention sets to the OpenAI-compatible root.
"""

from __future__ import annotations

import os

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_groq import ChatGroq

from app.orders import REPLY_LENGTH, SYSTEM_PROMPT, SupportAnswer
from app.orders import lookup_order as _lookup_order

MODEL = "openai/gpt-oss-20b"
MAX_STEPS = 4


@tool
def lookup_order(order_id: int) -> dict[str, str]:
    """Look up an order by its number: its status, carrier and expected delivery date."""
    return _lookup_order(order_id)


def _llm(model: str) -> ChatGroq:
    return ChatGroq(
        model=model,
        base_url=os.environ.get("GROQ_BASE_URL", "https://api.groq.com"),
        max_tokens=150,
        temperature=0,
        reasoning_effort="low",
        max_retries=0,
    )


def run_support_loop(question: str, *, model: str = MODEL) -> str:
    """Tool calls until the model answers in text."""
    llm = _llm(model).bind_tools([lookup_order])
    messages: list[BaseMessage] = [SystemMessage(SYSTEM_PROMPT), HumanMessage(f"{question} {REPLY_LENGTH}")]
    for _ in range(MAX_STEPS):
        reply = llm.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return str(reply.content)
        for call in reply.tool_calls:
            messages.append(ToolMessage(str(lookup_order.invoke(call["args"])), tool_call_id=call["id"]))
    raise RuntimeError(f"no answer after {MAX_STEPS} steps")


def typed_answer(question: str, *, model: str = MODEL) -> SupportAnswer:
    """The typed answer in one call (langchain's structured output: a forced tool call)."""
    out = _llm(model).with_structured_output(SupportAnswer).invoke(question)
    assert isinstance(out, SupportAnswer)
    return out
