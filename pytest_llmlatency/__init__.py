"""pytest-llmlatency: LLM latency as a tested, versioned property of an application.

The public types import from the package itself::

    from pytest_llmlatency import GroqEmulator, LLMCall, LLMCalls, MarkerError

Each loads on first use (``__getattr__`` below): importing the package alone loads neither
the emulator, groq, vcrpy nor the measurement.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .budgets.markers import MarkerError
    from .budgets.view import LLMCalls
    from .core.calls import LLMCall
    from .emulator import GroqEmulator

__all__ = ["GroqEmulator", "LLMCall", "LLMCalls", "MarkerError", "__version__"]

_PUBLIC = {
    "GroqEmulator": ".emulator",
    "LLMCall": ".core.calls",
    "LLMCalls": ".budgets.view",
    "MarkerError": ".budgets.markers",
}
"""Each public type and the module it is defined in (imported on first use)."""


if not TYPE_CHECKING:  # the type checker sees the imports above, and no name this function would invent

    def __getattr__(name: str) -> Any:
        module = _PUBLIC.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # the next lookup finds it without this function
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_PUBLIC})
