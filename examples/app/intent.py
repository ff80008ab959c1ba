"""An intent classifier on Groq, tuned for latency.

The client is built inside the application from the environment
(``GROQ_API_KEY``, ``GROQ_BASE_URL``), as real applications do: the tests do
not hand it a client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import groq

MODEL = "openai/gpt-oss-20b"
# the knobs that decide this call's latency; the example suite guards them
PARAMS: dict[str, Any] = {
    "max_completion_tokens": 50,
    "reasoning_effort": "low",
    "stop": ["}"],
    "temperature": 0,
}
PROMPT = (
    "Classify the intent of the customer message below as one of billing, refund, "
    "shipping, account, support, cancel, greeting. Reply in JSON like "
    '{{"intent": "billing"}}.\n\nMessage: {message}'
)


def _client() -> groq.Groq:
    return groq.Groq()


def classify(message: str, **overrides: Any) -> str:
    """The intent label of a customer message (streamed, so the first token comes early).

    ``overrides`` replace entries of :data:`PARAMS`; ``None`` removes one."""
    params = {**PARAMS, **overrides}
    params = {k: v for k, v in params.items() if v is not None}
    with _client() as client:
        stream = client.chat.completions.create(
            model=params.pop("model", MODEL),
            messages=[{"role": "user", "content": PROMPT.format(message=message)}],
            stream=True,
            **params,
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices).strip()
    head = text.split("}", 1)[0]  # the stop sequence is not part of the answer
    return str(json.loads(head + "}")["intent"])


def stream_reply(question: str, *, model: str = "llama-3.1-8b-instant") -> Iterator[str]:
    """A support answer streamed to the user as it is generated."""
    with _client() as client:
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": f"Answer in about 60 words: {question}"}],
            stream=True,
            max_completion_tokens=200,
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content
