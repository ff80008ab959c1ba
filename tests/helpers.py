"""What several test files share: the fixtures' paths, an inner pytest run (and the anyio
conftest some write for it), a cassette's interactions, the key paths of a JSON value, a raw
POST to the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pytest_llmlatency.emulator import GroqEmulator

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_CASSETTES = FIXTURES / "real-cassettes"
# pydantic-ai's recordings, in its own cassette format (bodies decoded under ``parsed_body``)
PYDANTIC_AI_CASSETTES = REAL_CASSETTES / "pydantic__pydantic-ai"

# an inner run's conftest for ``@pytest.mark.anyio`` tests: asyncio only, not trio too
ANYIO_CONFTEST = """
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"
"""


def run_suite(
    pytester: pytest.Pytester, *args: str, files: dict[str, str] | None = None, conftest: str | None = None
) -> pytest.RunResult:
    """Writes ``conftest`` and ``files`` (module name: source), when given, into the pytester
    directory, then runs pytest there with ``args`` and without the cache provider."""
    if conftest is not None:
        pytester.makeconftest(conftest)
    if files:
        pytester.makepyfile(**files)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def cassette_interactions(path: Path) -> list[dict[str, Any]]:
    """The interactions of the vcrpy cassette at ``path``."""
    return list(yaml.safe_load(path.read_text())["interactions"])


def json_paths(obj: Any, prefix: str = "") -> set[str]:
    """Key paths of a JSON value (list items merged under ``[]``)."""
    paths: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= json_paths(value, path)
    elif isinstance(obj, list):
        for item in obj:
            paths |= json_paths(item, prefix + "[]")
    return paths


def post_chat(emu: GroqEmulator, body: dict[str, Any], **headers: str) -> httpx.Response:
    """POSTs ``body`` to the emulator's chat completions endpoint as it is, past any SDK."""
    with httpx.Client(timeout=30) as client:
        return client.post(
            f"{emu.base_url}/openai/v1/chat/completions",
            json=body,
            headers={"authorization": "Bearer gsk_test", **headers},
        )
