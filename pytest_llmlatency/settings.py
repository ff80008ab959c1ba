"""Options: command line > ini > environment > default, validated once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

__all__ = ["Settings", "add_options", "load_settings", "EMULATOR"]

EMULATOR = "emulator"

# (flag, ini name, help); every option has an ini twin
_OPTIONS: list[tuple[str, str, str]] = [
    (
        "--llm-base-url",
        "llm_base_url",
        "where groq_client / async_groq_client / groq_env send calls: 'emulator' (the built-in Groq "
        "emulator) or a Groq-compatible base URL such as https://api.groq.com. "
        "Default: $GROQ_BASE_URL, else 'emulator'.",
    ),
    (
        "--llm-report-json",
        "llm_report_json",
        "write every measured call and verdict to this JSON file at the end of the session.",
    ),
]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmlatency", "LLM latency budgets (pytest-llmlatency)")
    for flag, ini, help_text in _OPTIONS:
        group.addoption(
            flag,
            dest=ini,
            default=None,
            metavar="VALUE" if "url" in flag else "PATH",
            help=help_text + f" (ini: {ini})",
        )
        parser.addini(ini, help_text, default=None)
    group.addoption(
        "--llm-no-summary",
        dest="llm_no_summary",
        action="store_true",
        default=False,
        help="do not print the LLM latency table at the end of the session.",
    )


@dataclass(frozen=True)
class Settings:
    base_url: str
    """``"emulator"`` or a URL."""
    report_json: Path | None
    summary: bool


def _value(config: pytest.Config, ini: str) -> Any:
    cli = config.getoption(ini, default=None)
    if cli is not None:
        return cli, f"--{ini.replace('_', '-')}"
    value = config.getini(ini)
    return (value or None), f"ini option {ini}"


def load_settings(config: pytest.Config) -> Settings:
    base, source = _value(config, "llm_base_url")
    if base is None:
        base, source = os.environ.get("GROQ_BASE_URL") or EMULATOR, "GROQ_BASE_URL"
    base = str(base).strip()
    if base != EMULATOR:
        parsed = urlparse(base)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise pytest.UsageError(
                f"{source}: expected 'emulator' or an http(s) URL such as https://api.groq.com, got {base!r}"
            )
        base = base.rstrip("/")
    report, source = _value(config, "llm_report_json")
    report_path = None
    if report:
        report_path = Path(str(report)).expanduser()
        if report_path.is_dir():
            raise pytest.UsageError(f"{source}: {report_path} is a directory; give a file path")
        report_path = (
            report_path if report_path.is_absolute() else Path(config.invocation_params.dir, report_path)
        )
    return Settings(base_url=base, report_json=report_path, summary=not config.getoption("llm_no_summary"))
