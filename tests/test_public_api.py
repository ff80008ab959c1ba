"""The public types import from the package itself, and lazily: importing ``pytest_llmlatency``
alone loads neither the emulator, groq, vcrpy nor the measurement."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import pytest_llmlatency
from pytest_llmlatency.budgets.markers import MarkerError as MarkerErrorHome
from pytest_llmlatency.budgets.view import LLMCalls as LLMCallsHome
from pytest_llmlatency.core.calls import LLMCall as LLMCallHome
from pytest_llmlatency.emulator import GroqEmulator as GroqEmulatorHome

HEAVY = ("groq", "vcr", "pytest_llmlatency.emulator", "pytest_llmlatency.core.calls")


def test_the_public_types_import_from_the_package() -> None:
    from pytest_llmlatency import GroqEmulator, LLMCall, LLMCalls, MarkerError

    assert GroqEmulator is GroqEmulatorHome
    assert LLMCall is LLMCallHome
    assert LLMCalls is LLMCallsHome
    assert MarkerError is MarkerErrorHome
    assert {"GroqEmulator", "LLMCall", "LLMCalls", "MarkerError"} <= set(pytest_llmlatency.__all__)
    assert {"GroqEmulator", "LLMCall", "LLMCalls", "MarkerError"} <= set(dir(pytest_llmlatency))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        pytest_llmlatency.Nothing  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError):
        from pytest_llmlatency import Nothing  # type: ignore[attr-defined]  # noqa: F401


def _loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    modules = json.loads(out.splitlines()[-1])
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_package_loads_nothing_heavy() -> None:
    assert _loaded_after("import pytest_llmlatency") == []
    assert _loaded_after("import pytest_llmlatency; pytest_llmlatency.__version__") == []


def test_a_public_type_loads_its_module_on_first_use() -> None:
    assert "pytest_llmlatency.core.calls" in _loaded_after("from pytest_llmlatency import LLMCall")
