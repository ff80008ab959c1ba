"""The shop's order database and the support tool every agent below is given.

Plain Python, no framework: each agent module wraps :func:`lookup_order` in its
framework's tool format, so the tests compare like with like.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["processing", "shipped", "delivered", "cancelled", "unknown"]

ORDERS: dict[int, dict[str, str]] = {
    1042: {"status": "shipped", "carrier": "DHL", "eta": "2026-12-03"},
    1043: {"status": "processing", "carrier": "", "eta": "2026-12-07"},
    1044: {"status": "delivered", "carrier": "UPS", "eta": "2026-11-28"},
}

SYSTEM_PROMPT = (
    "You are the support agent of an online shop. Look orders up with the lookup_order "
    "tool before answering; never guess an order's status."
)

# appended to the customer's message: a short answer is a fast answer
REPLY_LENGTH = "Reply to the customer in at most 40 words."

LOOKUP_ORDER_DESCRIPTION = "Look up an order by its number: its status, carrier and expected delivery date."


def lookup_order(order_id: int) -> dict[str, str]:
    """Look up an order by its number: its status, carrier and expected delivery date."""
    return {"order_id": str(order_id), **ORDERS.get(order_id, {"status": "unknown"})}


# the same tool as a JSON Schema, for SDKs that take tools as plain dicts
LOOKUP_ORDER_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": LOOKUP_ORDER_DESCRIPTION,
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "integer", "description": "The order number, e.g. 1042"}},
            "required": ["order_id"],
            "additionalProperties": False,
        },
    },
}


class SupportAnswer(BaseModel):
    """The agent's typed answer, shown to the customer and logged."""

    order_id: int = Field(description="The order the customer asked about")
    status: Status
    eta: date | None = Field(default=None, description="Expected delivery date, when known")
    reply: str = Field(description="One or two sentences for the customer")


class Ticket(BaseModel):
    """A support ticket extracted from a customer e-mail."""

    order_id: int
    category: Literal["billing", "refund", "shipping", "account", "other"]
    customer_email: str = Field(description="The sender's e-mail address")
    urgent: bool = False
