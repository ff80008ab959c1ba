"""The plugin installs beside the ecosystem: its groq requirement admits the groq 0.x that
every langchain-groq release requires. (CI also proves it with ``pip install --dry-run``,
which needs the network: see ``.ci/run``.)"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _groq_requirement(requirements: list[str]) -> str:
    packaging_requirements = pytest.importorskip("packaging.requirements")
    for line in requirements:
        req = packaging_requirements.Requirement(line)
        if req.name == "groq" and not req.marker:
            return str(req.specifier)
    raise AssertionError(f"no groq requirement in {requirements}")


def _our_requirements() -> list[str]:
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"])


def test_groq_floor_admits_groq_0x() -> None:
    specifiers = pytest.importorskip("packaging.specifiers")
    ours = specifiers.SpecifierSet(_groq_requirement(_our_requirements()))
    assert "0.35.0" in ours and "0.37.1" in ours and "1.7.0" in ours
    assert "0.34.1" not in ours  # the floor is the oldest release the tests pass on, not lower


def test_installed_groq_satisfies_the_plugin_and_langchain_groq() -> None:
    specifiers = pytest.importorskip("packaging.specifiers")
    import groq

    ours = specifiers.SpecifierSet(_groq_requirement(_our_requirements()))
    assert groq.__version__ in ours
    try:
        theirs = specifiers.SpecifierSet(_groq_requirement(metadata.requires("langchain-groq") or []))
    except metadata.PackageNotFoundError:
        pytest.skip("langchain-groq is not installed (CI's groq 0.x job installs it)")
    assert groq.__version__ in theirs
    # some groq release satisfies both requirements: the one installed here
    assert (ours & theirs).contains(groq.__version__)
