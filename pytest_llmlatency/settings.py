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
        "--llm-record-mode",
        "llm_record_mode",
        "cassette record mode, as pytest-recording's: none (replay only), once (record a missing "
        "cassette), new_episodes (record requests not in the cassette), all (record everything), "
        "rewrite (record a fresh cassette). Default: replay a cassette that exists, call live "
        "otherwise (recording live calls to a real server unless $CI is set).",
    ),
    (
        "--llm-replay-pace",
        "llm_replay_pace",
        "replay cassettes in real time, sleeping the recorded gaps multiplied by FACTOR (1 = as "
        "recorded, 0.5 = twice as fast). Default: replay at once.",
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
        "--llm-live",
        dest="llm_live",
        action="store_true",
        default=None,
        help="call the server even when a cassette exists, to re-measure (ini: llm_live).",
    )
    parser.addini("llm_live", "call the server even when a cassette exists", type="bool", default=False)
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
    record_mode: str | None = None
    live: bool = False
    replay_pace: float | None = None


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
    mode, source = _value(config, "llm_record_mode")
    if mode is not None:
        mode = str(mode).strip()
        from .markerdefs import RECORD_MODES

        if mode not in RECORD_MODES:
            raise pytest.UsageError(f"{source}: expected one of {', '.join(RECORD_MODES)}, got {mode!r}")
    pace_raw, source = _value(config, "llm_replay_pace")
    pace = None
    if pace_raw is not None:
        try:
            pace = float(pace_raw)
        except ValueError:
            raise pytest.UsageError(f"{source}: expected a positive number, got {pace_raw!r}") from None
        if not pace > 0 or pace == float("inf"):
            raise pytest.UsageError(f"{source}: expected a positive number, got {pace_raw!r}")
    live = config.getoption("llm_live")
    if live is None:
        live = bool(config.getini("llm_live"))
    return Settings(
        base_url=base,
        report_json=report_path,
        summary=not config.getoption("llm_no_summary"),
        record_mode=mode,
        live=bool(live),
        replay_pace=pace,
    )
