"""The same support agent written with the openai SDK against Groq's OpenAI-compatible
API (``<GROQ_BASE_URL>/openai/v1``): a hand-written tool loop on chat completions, and a
streamed order summary on the Responses API.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import openai

from app.orders import LOOKUP_ORDER_TOOL, REPLY_LENGTH, SYSTEM_PROMPT, lookup_order

MODEL = "openai/gpt-oss-20b"
MAX_STEPS = 4  # an agent loop is always bounded
TOOLS: list[Any] = [LOOKUP_ORDER_TOOL]


def _client() -> openai.OpenAI:
    base = os.environ.get("GROQ_BASE_URL", "https://api.groq.com").rstrip("/")
    return openai.OpenAI(base_url=f"{base}/openai/v1", api_key=os.environ["GROQ_API_KEY"])


def run_support_loop(question: str, *, model: str = MODEL) -> str:
    """Chat completions with the ``lookup_order`` tool until the model answers in text."""
    messages: list[Any] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{question} {REPLY_LENGTH}"},
    ]
    with _client() as client:
        for _ in range(MAX_STEPS):
            resp = client.chat.completions.create(
                model=model,
                messages=messages,
                tools=TOOLS,
                max_completion_tokens=150,
                reasoning_effort="low",
                temperature=0,
            )
            message = resp.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                if call.type != "function":  # Groq only makes function calls
                    continue
                args = json.loads(call.function.arguments)
                result = lookup_order(int(args["order_id"]))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    raise RuntimeError(f"no answer after {MAX_STEPS} steps")


def stream_order_summary(order_id: int, *, model: str = MODEL) -> Iterator[str]:
    """A short summary of an order for the customer, streamed from the Responses API."""
    order = lookup_order(order_id)
    facts = ", ".join(f"{k}: {v}" for k, v in order.items() if v)
    with (
        _client() as client,
        client.responses.stream(
            model=model,
            instructions="You write order updates for the customers of an online shop.",
            input=f"Summarise this order for its customer in two sentences. {facts}",
            max_output_tokens=150,
            reasoning={"effort": "low"},
        ) as stream,
    ):
        for event in stream:
            if event.type == "response.output_text.delta":
                yield event.delta
