from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmlatency.emulator import GroqEmulator

pytest_plugins = ["pytester"]

# litellm fetches its model price list from the network when imported unless told not to;
# tests reach 127.0.0.1 only (set here, before any test imports it; inherited by pytester runs)
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REAL_CASSETTES = Path(__file__).resolve().parent / "fixtures" / "real-cassettes"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def exact_emulator() -> Iterator[GroqEmulator]:
    """An emulator with an exact schedule: no jitter, 5 ms queue, real time."""
    with GroqEmulator(jitter=0, queue_ms=5) as emu:
        yield emu


@pytest.fixture
def fast_emulator() -> Iterator[GroqEmulator]:
    """An emulator 20 times faster than Groq, exact schedule: for behaviour, not timing."""
    with GroqEmulator(jitter=0, queue_ms=5, time_scale=20) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _lean_inner_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester's inner runs (subprocesses) skip two plugins that other packages install and
    that cost seconds to import on every start: hypothesis' (no inner test uses it) and
    langsmith's (langchain-groq brings it in)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:langsmith_plugin")
