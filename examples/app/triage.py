"""Inbox triage with litellm: several e-mails classified concurrently, each into a typed
ticket through Groq's structured outputs (``response_format`` json_schema).

litellm reaches Groq through ``groq/<model>`` and reads ``GROQ_API_KEY`` and
``GROQ_API_BASE`` (the OpenAI-compatible root, ``<GROQ_BASE_URL>/openai/v1``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download at import

import litellm

from app.orders import Ticket

MODEL = "groq/openai/gpt-oss-20b"
RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "ticket", "schema": Ticket.model_json_schema(), "strict": False},
}


async def triage_one(email: str, *, model: str = MODEL) -> Ticket:
    resp = await litellm.acompletion(
        model=model,
        messages=[
            {"role": "system", "content": "Extract the support ticket from the customer's e-mail."},
            {"role": "user", "content": email},
        ],
        response_format=RESPONSE_FORMAT,
        max_completion_tokens=150,
        reasoning_effort="low",
        temperature=0,
        num_retries=0,
    )
    return Ticket.model_validate_json(resp.choices[0].message.content)


async def triage(emails: list[str], *, model: str = MODEL) -> list[Ticket]:
    """Every e-mail's ticket, the calls made concurrently."""
    return list(await asyncio.gather(*(triage_one(e, model=model) for e in emails)))
