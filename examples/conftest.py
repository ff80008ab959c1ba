"""The example suite runs against whatever ``--llm-base-url`` names: by default the
built-in Groq emulator (no key, no network). ``groq_env`` points the application's
own ``groq.Groq()`` clients there through GROQ_BASE_URL / GROQ_API_KEY.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# litellm downloads its model cost map at import unless told to use its bundled copy
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _app_env(groq_env: str) -> None:
    """Every example test talks to the configured target."""
