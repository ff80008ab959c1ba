"""pytest-llmlatency's pytest hooks and fixtures (the ``pytest11`` entry point).

Kept thin: the emulator and everything heavy load on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .emulator import GroqEmulator


@pytest.fixture(scope="session")
def groq_emulator() -> Iterator[GroqEmulator]:
    """A Groq emulator on a free loopback port for the whole session.

    ``groq_emulator.base_url`` goes to ``groq.Groq(base_url=...)``; it needs no
    real key (any non-empty key is accepted). Stopped at the end of the session.
    """
    from .emulator import GroqEmulator

    emulator = GroqEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
