"""Point the application at the built-in Groq emulator (no key, no network).

To run this suite against the real Groq API instead, set GROQ_API_KEY and
LLM_LIVE_GROQ=1: the application then reads GROQ_API_KEY / GROQ_BASE_URL itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _groq_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.environ.get("LLM_LIVE_GROQ") != "1":
        emulator = request.getfixturevalue("groq_emulator")
        monkeypatch.setenv("GROQ_BASE_URL", emulator.base_url)
        monkeypatch.setenv("GROQ_API_KEY", "gsk_emulator_no_key_needed")
    return
