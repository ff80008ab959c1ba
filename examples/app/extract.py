"""Ticket extraction with instructor on Groq: a customer e-mail in, a typed ticket out.

instructor's TOOLS mode sends the :class:`~app.orders.Ticket` schema as a forced tool
call and validates the arguments; JSON mode asks for a JSON object instead. Either is
one LLM call when the model gets it right, one more per validation retry, so the
example suite caps the calls.
"""

from __future__ import annotations

import groq
import instructor

from app.orders import Ticket

MODEL = "openai/gpt-oss-20b"


def extract_ticket(email: str, *, mode: instructor.Mode = instructor.Mode.TOOLS, model: str = MODEL) -> Ticket:
    """The ticket in a customer's e-mail (instructor retries once on a validation error)."""
    with groq.Groq() as raw:
        client = instructor.from_groq(raw, mode=mode)
        ticket: Ticket = client.chat.completions.create(
            model=model,
            response_model=Ticket,
            max_retries=1,
            max_completion_tokens=150,
            reasoning_effort="low",
            temperature=0,
            messages=[
                {"role": "system", "content": "Extract the support ticket from the customer's e-mail."},
                {"role": "user", "content": email},
            ],
        )
    return ticket
