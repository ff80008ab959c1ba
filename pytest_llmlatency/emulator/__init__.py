"""A Groq-compatible HTTP server on loopback with Groq's latency behaviour.

See ``docs/emulator.md`` for the latency model and the fault switches.
"""

from __future__ import annotations

from .faults import FAULTS, Fault, FaultError, parse_fault
from .model import Plan, plan_request
from .profiles import PROFILES, ModelProfile
from .server import GroqEmulator, ServedRequest
from .validation import APIError

__all__ = [
    "APIError",
    "FAULTS",
    "Fault",
    "FaultError",
    "GroqEmulator",
    "ModelProfile",
    "PROFILES",
    "Plan",
    "ServedRequest",
    "parse_fault",
    "plan_request",
]
