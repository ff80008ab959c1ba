"""Fault switches: what can go wrong on Groq, on demand.

A fault is written ``NAME[;key=value]...``, e.g. ``429;retry_after=0.2``,
``500;times=2``, ``cut;after=10`` or ``tool_use_failed``. It is chosen per request with the
``x-emulator-fault`` header, or per server (``GroqEmulator(faults=...)``,
``GroqEmulator.inject()``, ``llmlatency emulator --fault``).

``times=N`` on a request header applies the fault to the first N attempts of that
request (the SDK's ``x-stainless-retry-count`` header numbers them), so
``500;times=2`` fails twice and then succeeds. On the server it applies the fault
to the next N requests. Without ``times`` the fault is permanent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .validation import APIError

__all__ = ["FAULTS", "Fault", "FaultError", "parse_fault", "status_error"]

FAULTS: dict[str, dict[str, Any]] = {
    "429": {"status": 429, "retry_after": 1.0},
    "498": {"status": 498},
    "500": {"status": 500, "retry_after": None},
    "502": {"status": 502, "retry_after": None},
    "503": {"status": 503, "retry_after": None},
    "cut": {"after": None},
    "slow_first_byte": {"seconds": 5.0},
    "stall": {"after": None, "seconds": 30.0},
    "tool_use_failed": {},
    "x_groq_error": {"after": None},
    "capacity_pressure": {},
}
"""Every fault with its parameters and their defaults. ``after`` (chunks sent before
the cut or stall) defaults to half of the answer's chunks. ``tool_use_failed`` makes
the generated tool call fail Groq's validation: streamed, an ``event: error`` replaces
the tool-call delta (after any reasoning); non-streamed, a 400 with the same error.
``x_groq_error`` stops a stream after ``after`` output chunks with a chunk carrying
``x_groq.error`` (then ``[DONE]``); a non-streamed request is not affected.
``capacity_pressure`` puts the flex tier under capacity pressure: a request with
``service_tier: "flex"`` (or ``"auto"`` falling back to flex) fails fast with 498
``capacity_exceeded``; other tiers are served normally."""

_NUMERIC = {"retry_after", "seconds", "after", "times"}


class FaultError(ValueError):
    """A fault spec that cannot be parsed."""


@dataclass(frozen=True)
class Fault:
    name: str
    params: dict[str, Any]
    times: int | None = None

    def get(self, key: str) -> Any:
        return self.params.get(key, FAULTS[self.name].get(key))

    @property
    def status(self) -> int | None:
        status = FAULTS[self.name].get("status")
        return int(status) if status is not None else None

    def __str__(self) -> str:
        parts = [self.name] + [f"{k}={v:g}" for k, v in self.params.items()]
        if self.times is not None:
            parts.append(f"times={self.times}")
        return ";".join(parts)


def parse_fault(spec: str) -> Fault:
    """Parse ``NAME[;key=value]...``; raises :class:`FaultError` naming what is wrong."""
    name, *pairs = [p.strip() for p in spec.strip().split(";")]
    if name not in FAULTS:
        raise FaultError(f"unknown fault {name!r} in {spec!r}; known: {', '.join(FAULTS)}")
    allowed = set(FAULTS[name]) - {"status"} | {"times"}
    params: dict[str, Any] = {}
    times: int | None = None
    for pair in pairs:
        if not pair:
            continue
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or key not in allowed:
            raise FaultError(
                f"bad parameter {pair!r} for fault {name!r} in {spec!r}; allowed: {', '.join(sorted(allowed))}"
            )
        try:
            value = float(raw)
        except ValueError:
            raise FaultError(f"{key} must be a number in {spec!r}, got {raw!r}") from None
        if value < 0 or (key in ("times",) and (value < 1 or value != int(value))):
            raise FaultError(f"{key} must be a non-negative number (times: a positive integer) in {spec!r}")
        if key == "times":
            times = int(value)
        elif key == "after":
            params[key] = int(value)
        else:
            params[key] = value
    return Fault(name, params, times)


def status_error(fault: Fault) -> APIError:
    """The error Groq answers with for a fault that has a status (429, 498, 500, 502, 503)."""
    status = fault.status
    headers: dict[str, str] = {}
    retry_after = fault.get("retry_after")
    if retry_after is not None:
        headers["retry-after"] = f"{float(retry_after):g}"
    if status == 429:
        return APIError(
            429,
            "Rate limit reached for model in organization `org_emulator` service tier "
            "`on_demand` on requests per minute (RPM): Limit 30, Used 30, Requested 1. "
            f"Please try again in {float(retry_after or 0):g}s.",
            type="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )
    if status == 498:
        return APIError(
            498,
            "Flex tier capacity exceeded. This is a temporary condition, please try again later.",
            type="capacity_exceeded",
            code="capacity_exceeded",
            headers=headers,
        )
    if status == 503:
        return APIError(
            503, "Service Unavailable", type="internal_server_error", code="service_unavailable", headers=headers
        )
    if status == 502:
        return APIError(502, "Bad Gateway", type="internal_server_error", headers=headers)
    return APIError(500, "Internal Server Error", type="internal_server_error", headers=headers)
