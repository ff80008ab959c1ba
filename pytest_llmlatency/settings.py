"""Options: command line > ini > environment > default, validated once (:func:`load_settings`,
one step per option); :func:`settings_dict`, the options a ``--llm-report-json`` file records."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from .core.names import RECORD_MODES

__all__ = ["EMULATOR", "Settings", "add_options", "load_settings", "settings_dict"]

EMULATOR = "emulator"
COMPARE_METHODS = ("auto", "deterministic", "rank")
PREDICT_MODES = ("fail", "warn", "off")
DEFAULT_STORAGE = ".benchmarks/llmlatency"

# (flag, ini name, metavar, help); every option has an ini twin
_OPTIONS: list[tuple[str, str, str, str]] = [
    (
        "--llm-base-url",
        "llm_base_url",
        "URL",
        "where groq_client / async_groq_client / groq_env send calls: 'emulator' (the built-in Groq "
        "emulator) or a Groq-compatible base URL such as https://api.groq.com. "
        "Default: $GROQ_BASE_URL, else 'emulator'.",
    ),
    (
        "--llm-record-mode",
        "llm_record_mode",
        "MODE",
        "cassette record mode, as pytest-recording's: none (replay only), once (record a missing "
        "cassette), new_episodes (record requests not in the cassette), all (record everything), "
        "rewrite (record a fresh cassette). Default: replay a cassette that exists, call live "
        "otherwise (recording live calls to a real server unless $CI is set).",
    ),
    (
        "--llm-replay-pace",
        "llm_replay_pace",
        "FACTOR",
        "replay cassettes in real time, sleeping the recorded gaps multiplied by FACTOR (1 = as "
        "recorded, 0.5 = twice as fast). Default: replay at once.",
    ),
    (
        "--llm-storage",
        "llm_storage",
        "PATH",
        f"folder of saved runs (pytest-benchmark's layout: PATH/<machine id>/NNNN_name.json), relative "
        f"to the rootdir. Default: {DEFAULT_STORAGE}.",
    ),
    (
        "--llm-save",
        "llm_save",
        "NAME",
        "save this run's measurements as a baseline: NAME gives <storage>/<machine>/NNNN_NAME.json; a "
        "path (with a folder or ending in .json) is written as it is, e.g. a baseline committed with "
        "the tests.",
    ),
    (
        "--llm-compare-fail",
        "llm_compare_fail",
        "EXPR",
        "fail a test that regressed against the baseline: METRIC:AMOUNT[%|ms|s], comma-separated or "
        "repeated, e.g. e2e:10%,ttft:20%,server:5ms,completion_tokens:0.",
    ),
    (
        "--llm-compare-method",
        "llm_compare_method",
        "METHOD",
        "auto (replayed and emulator runs compared deterministically, live runs with a rank test), "
        "deterministic or rank. Default: auto.",
    ),
    (
        "--llm-predict",
        "llm_predict",
        "MODE",
        "when a replayed request changed only in generation parameters (max_completion_tokens, "
        "reasoning_effort, stop, stream, temperature...): fail (answer from the closest recording and "
        "fail the test if its predicted cost certainly breaks a budget, report a possible breach as a risk), "
        "warn (report both) or off (fail as a cassette mismatch). Default: fail.",
    ),
    (
        "--llm-report-json",
        "llm_report_json",
        "PATH",
        "write every measured call, verdict and comparison to this JSON file at the end of the session.",
    ),
    (
        "--llm-report-bmf",
        "llm_report_bmf",
        "PATH",
        "write Bencher Metric Format JSON (per test: e2e, TTFT, ITL, tokens, throughput; p50 with p5/p95 as "
        "lower/upper values) to this file, for `bencher run --adapter json`.",
    ),
    (
        "--llm-report-github-benchmark",
        "llm_report_github_benchmark",
        "PATH",
        "write github-action-benchmark's customSmallerIsBetter JSON (per test: e2e p50/p95, TTFT p50, ITL p50, "
        "completion tokens) to this file.",
    ),
    (
        "--llm-report-html",
        "llm_report_html",
        "PATH",
        "write a self-contained HTML report (budget bars, latency against output tokens with the fitted "
        "line per model, TTFT distributions, baseline deltas, advice) to this file.",
    ),
    (
        "--llm-report-md",
        "llm_report_md",
        "PATH",
        "write a Markdown summary (tests, budgets, baseline deltas, verdicts) to this file; it is also "
        "appended to $GITHUB_STEP_SUMMARY when that is set.",
    ),
    (
        "--llm-prices",
        "llm_prices",
        "PATH",
        "a JSON file of negotiated prices per model ({model: {input, cached_input, output: USD per 1M tokens, "
        "audio_hour, chars_million, source, as_of}}) over Groq's published prices (docs/levers.md).",
    ),
    (
        "--llm-queue-profile",
        "llm_queue_profile",
        "PROFILE",
        "the in-run emulator's queue time: calm (each model's own narrow one) or groq (the heavy tail "
        "measured on real Groq: median 101 ms, p90 608 ms, at least 7% speed jitter). Default: calm.",
    ),
    (
        "--llm-cache-hit-rate",
        "llm_cache_hit_rate",
        "RATE",
        "the in-run emulator finds a cached prompt prefix with this probability (0 to 1), so cached shares "
        "vary between identical requests as on real Groq. Default: always (the deterministic prefix cache).",
    ),
]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmlatency", "LLM latency budgets (pytest-llmlatency)")
    for flag, ini, metavar, help_text in _OPTIONS:
        kwargs: dict[str, Any] = {"action": "append"} if ini == "llm_compare_fail" else {}
        group.addoption(
            flag,
            dest=ini,
            default=None,
            metavar=metavar,
            help=help_text.replace("%", "%%") + f" (ini: {ini})",
            **kwargs,
        )
        parser.addini(ini, help_text, default=None)
    group.addoption(
        "--llm-compare",
        dest="llm_compare",
        nargs="?",
        const="",
        default=None,
        metavar="ID|PATH",
        help="compare with a saved run: the latest one (no value), one by number or name prefix (0001, "
        "0001_main), or a baseline file (ini: llm_compare).",
    )
    parser.addini("llm_compare", "baseline to compare with (saved run id or file path)", default=None)
    for flag, ini, help_text in (
        ("--llm-autosave", "llm_autosave", "save this run as NNNN_<commit>_<date>.json in the storage"),
        ("--llm-live", "llm_live", "call the server even when a cassette exists, to re-measure"),
        (
            "--llm-require-cassettes",
            "llm_require_cassettes",
            "fail a measured test that has no cassette and ran against the emulator or a server instead of "
            "replaying (for CI: a new test whose recording was not committed)",
        ),
        (
            "--llm-emulator-sampling",
            "llm_emulator_sampling",
            "the in-run emulator samples as Groq does: a request without temperature runs at Groq's "
            "default 1, so answer lengths vary between identical requests (a temperature > 0 always does)",
        ),
    ):
        group.addoption(flag, dest=ini, action="store_true", default=None, help=f"{help_text} (ini: {ini}).")
        parser.addini(ini, help_text, type="bool", default=False)
    group.addoption(
        "--llm-allow-host",
        dest="llm_allow_host",
        action="append",
        default=None,
        metavar="HOST",
        help="let tests reach this LLM API host although the target is the emulator or cassettes "
        "(comma-separated or repeated; '*' allows every host). By default a request to api.groq.com "
        "or another well-known LLM API fails the test before anything is sent (ini: llm_allow_host).",
    )
    parser.addini("llm_allow_host", "LLM API hosts tests may reach while the target is the emulator", type="args")
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
    storage: Path = Path(DEFAULT_STORAGE)
    save: str | None = None
    autosave: bool = False
    compare: str | None = None
    """None: no comparison; "": the latest saved run; else an id or a path."""
    compare_fail: tuple[str, ...] = field(default_factory=tuple)
    compare_method: str = "auto"
    report_md: Path | None = None
    predict: str = "fail"
    report_html: Path | None = None
    allow_hosts: tuple[str, ...] = ()
    """LLM API hosts the no-live-calls guard lets through (``"*"``: all)."""
    report_bmf: Path | None = None
    report_github_benchmark: Path | None = None
    prices: Any = None
    """The ``prices.PriceTable`` costs are computed with (the built-in table with --llm-prices over it)."""
    require_cassettes: bool = False
    """Fail a measured test that had no cassette to replay and made its calls for real."""
    emulator_sampling: bool = False
    """The in-run emulator samples requests without ``temperature`` at Groq's default 1."""
    queue_profile: str = "calm"
    """The in-run emulator's queue-time profile (``emulator.profiles.QUEUE_PROFILES``)."""
    cache_hit_rate: float | None = None
    """The probability the in-run emulator finds a cached prefix (None: always)."""


def _value(config: pytest.Config, ini: str) -> Any:
    cli = config.getoption(ini, default=None)
    if cli is not None:
        return cli, f"--{ini.replace('_', '-')}"
    value = config.getini(ini)
    return (value or None), f"ini option {ini}"


def _bool(config: pytest.Config, name: str) -> bool:
    value = config.getoption(name)
    return bool(config.getini(name)) if value is None else bool(value)


def _path(config: pytest.Config, ini: str) -> Path | None:
    raw, source = _value(config, ini)
    if not raw:
        return None
    path = Path(str(raw)).expanduser()
    if path.is_dir():
        raise pytest.UsageError(f"{source}: {path} is a directory; give a file path")
    return path if path.is_absolute() else Path(config.invocation_params.dir, path)


def _anchor(config: pytest.Config, value: str, *, from_ini: bool) -> str:
    """A baseline path as an absolute path: relative to the ini file's folder when it came
    from the ini file, to the directory pytest was started in when it came from the command
    line. Names (``0001``, ``main``) stay as they are."""
    if not (value.endswith(".json") or "/" in value or "\\" in value) or Path(value).is_absolute():
        return value
    base = (config.inipath.parent if config.inipath else config.rootpath) if from_ini else config.invocation_params.dir
    return str(Path(base, value))


def load_settings(config: pytest.Config) -> Settings:
    """The session's options, each validated in turn (``pytest.UsageError`` names the first bad one)."""
    base_url = _base_url(config)
    record_mode = _record_mode(config)
    replay_pace = _replay_pace(config)
    storage = _storage(config)
    save = _save(config)
    compare = _compare(config)
    compare_fail = _compare_fail(config, compare)
    compare_method = _choice(config, "llm_compare_method", COMPARE_METHODS)
    predict = _choice(config, "llm_predict", PREDICT_MODES)
    allow_hosts = _allow_hosts(config)
    return Settings(
        base_url=base_url,
        report_json=_path(config, "llm_report_json"),
        summary=not config.getoption("llm_no_summary"),
        record_mode=record_mode,
        live=_bool(config, "llm_live"),
        require_cassettes=_bool(config, "llm_require_cassettes"),
        replay_pace=replay_pace,
        storage=storage,
        save=save,
        autosave=_bool(config, "llm_autosave"),
        compare=compare,
        compare_fail=compare_fail,
        compare_method=compare_method,
        report_md=_path(config, "llm_report_md"),
        predict=predict,
        report_html=_path(config, "llm_report_html"),
        allow_hosts=allow_hosts,
        report_bmf=_path(config, "llm_report_bmf"),
        report_github_benchmark=_path(config, "llm_report_github_benchmark"),
        prices=_prices(config),
        emulator_sampling=_bool(config, "llm_emulator_sampling"),
        queue_profile=_queue_profile(config),
        cache_hit_rate=_cache_hit_rate(config),
    )


def _base_url(config: pytest.Config) -> str:
    """``"emulator"`` or an http(s) URL without its trailing slash."""
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
    return base


def _text(config: pytest.Config, ini: str) -> tuple[str | None, str]:
    """The option's value stripped (None when not given), and where it came from."""
    raw, source = _value(config, ini)
    return (None if raw is None else str(raw).strip()), source


def _record_mode(config: pytest.Config) -> str | None:
    mode, source = _text(config, "llm_record_mode")
    if mode is not None and mode not in RECORD_MODES:
        raise pytest.UsageError(f"{source}: expected one of {', '.join(RECORD_MODES)}, got {mode!r}")
    return mode


def _replay_pace(config: pytest.Config) -> float | None:
    pace_raw, source = _value(config, "llm_replay_pace")
    if pace_raw is None:
        return None
    try:
        pace = float(pace_raw)
    except ValueError:
        raise pytest.UsageError(f"{source}: expected a positive number, got {pace_raw!r}") from None
    if not pace > 0 or pace == float("inf"):
        raise pytest.UsageError(f"{source}: expected a positive number, got {pace_raw!r}")
    return pace


def _queue_profile(config: pytest.Config) -> str:
    """The emulator's queue profile ("calm" when not given; the emulator loads only to check one given)."""
    profile, source = _text(config, "llm_queue_profile")
    if profile is None:
        return "calm"
    from .emulator.profiles import QUEUE_PROFILES

    if profile not in QUEUE_PROFILES:
        raise pytest.UsageError(f"{source}: expected one of {', '.join(QUEUE_PROFILES)}, got {profile!r}")
    return profile


def _cache_hit_rate(config: pytest.Config) -> float | None:
    rate_raw, source = _value(config, "llm_cache_hit_rate")
    if rate_raw is None:
        return None
    try:
        rate = float(rate_raw)
    except ValueError:
        raise pytest.UsageError(f"{source}: expected a number from 0 to 1, got {rate_raw!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise pytest.UsageError(f"{source}: expected a number from 0 to 1, got {rate_raw!r}")
    return rate


def _storage(config: pytest.Config) -> Path:
    storage_raw, _ = _value(config, "llm_storage")
    storage = Path(str(storage_raw or DEFAULT_STORAGE)).expanduser()
    if not storage.is_absolute():
        storage = config.rootpath / storage
    return storage


def _save(config: pytest.Config) -> str | None:
    save, source = _text(config, "llm_save")
    if save is None:
        return None
    if not save:
        raise pytest.UsageError(f"{source}: give a name or a file path")
    return _anchor(config, save, from_ini=source.startswith("ini"))


def _compare(config: pytest.Config) -> str | None:
    """None: no comparison; "": the latest saved run; else an id or an absolute path."""
    compare = config.getoption("llm_compare")
    if compare is None and config.getini("llm_compare"):
        compare = _anchor(config, str(config.getini("llm_compare")).strip(), from_ini=True)
    elif compare:
        compare = _anchor(config, str(compare).strip(), from_ini=False)
    return None if compare is None else str(compare).strip()


def _compare_fail(config: pytest.Config, compare: str | None) -> tuple[str, ...]:
    """The gate's thresholds as given (checked here, parsed again when the session starts)."""
    fail_cli = config.getoption("llm_compare_fail")
    fail_raw = (
        tuple(fail_cli)
        if fail_cli
        else ((config.getini("llm_compare_fail"),) if config.getini("llm_compare_fail") else ())
    )
    if fail_raw:
        from .gate.errors import BaselineError
        from .gate.thresholds import parse_thresholds

        try:
            parse_thresholds(fail_raw, source="--llm-compare-fail" if fail_cli else "ini option llm_compare_fail")
        except BaselineError as err:
            raise pytest.UsageError(str(err)) from None
        if compare is None and fail_cli:
            raise pytest.UsageError(
                "--llm-compare-fail needs a baseline: add --llm-compare (the latest saved run), "
                "--llm-compare=ID or --llm-compare=path/to/baseline.json"
            )
    return fail_raw


def _choice(config: pytest.Config, ini: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``; the first when the option is not given."""
    value, source = _value(config, ini)
    value = str(value or choices[0]).strip()
    if value not in choices:
        raise pytest.UsageError(f"{source}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _allow_hosts(config: pytest.Config) -> tuple[str, ...]:
    allow_cli = config.getoption("llm_allow_host")
    allow_raw = list(allow_cli) if allow_cli else list(config.getini("llm_allow_host") or ())
    allow: list[str] = []
    for raw in allow_raw:
        for host in str(raw).split(","):
            host = host.strip().lower().rstrip(".")
            if not host:
                continue
            if "://" in host or "/" in host:
                source = "--llm-allow-host" if allow_cli else "ini option llm_allow_host"
                raise pytest.UsageError(f"{source}: expected a host name such as api.groq.com, got {host!r}")
            allow.append(host)
    return tuple(allow)


def _prices(config: pytest.Config) -> Any:
    from .core.prices import PriceError, load_prices

    try:
        return load_prices(_path(config, "llm_prices"))
    except PriceError as err:
        raise pytest.UsageError(str(err)) from None


def settings_dict(settings: Settings) -> dict[str, Any]:
    """The options that change what a run measures or how it judges it, as the JSON report
    records them. Shards merged into one gate must agree on every one of them (report paths and
    the storage folder may differ)."""
    from .gate.errors import BaselineError
    from .gate.thresholds import parse_thresholds

    compare = settings.compare
    if compare and (compare.endswith(".json") or "/" in compare or "\\" in compare):
        compare = Path(compare).name  # the checkout's folder differs between machines, the file does not
    try:
        thresholds = [str(t) for t in parse_thresholds(settings.compare_fail)]
    except BaselineError:  # pragma: no cover - validated when the session started
        thresholds = list(settings.compare_fail)
    return {
        "target": settings.base_url,
        "record_mode": settings.record_mode,
        "live": settings.live,
        "replay_pace": settings.replay_pace,
        "predict": settings.predict,
        "compare": compare,
        "compare_fail": thresholds,
        "compare_method": settings.compare_method,
        "emulator_sampling": settings.emulator_sampling,
        "queue_profile": settings.queue_profile,
        "cache_hit_rate": settings.cache_hit_rate,
    }
