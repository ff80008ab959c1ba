"""pytest-llmlatency's pytest fixtures: ``llm_calls``, the Groq emulator and the clients and
environment variables that point at the target.

``plugin.py`` (the ``pytest11`` entry point) imports them, which is how pytest finds them.
Kept light to import: groq, vcrpy, the emulator and the measurement load on first use. The
stash keys the plugin and the fixtures share are defined here, below the plugin.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .core.names import MARKERS
from .settings import EMULATOR

if TYPE_CHECKING:
    import groq

    from .advisor.predict import Prediction
    from .budgets.view import LLMCalls
    from .capture.intercept import Interceptor, Recorder
    from .cassettes.tape import Tape
    from .core.calls import LLMCall
    from .emulator import GroqEmulator
    from .plugin import LLMLatencyPlugin

__all__ = [
    "EMULATOR_KEY",
    "_llmlatency_markers",
    "async_groq_client",
    "groq_base_url",
    "groq_client",
    "groq_emulator",
    "groq_env",
    "groq_openai_base_url",
    "groq_openai_env",
    "llm_calls",
]

EMULATOR_KEY = "gsk_emulator_no_key_needed"

_plugin_key: pytest.StashKey[LLMLatencyPlugin] = pytest.StashKey()
_recorder_key: pytest.StashKey[Recorder] = pytest.StashKey()
_calling_key: pytest.StashKey[bool] = pytest.StashKey()
"""The test body of an unmeasured test is running: ``llm_calls`` asked for now measures at once."""
_late_key: pytest.StashKey[tuple[Interceptor, int]] = pytest.StashKey()
"""The patch ``llm_calls`` installed when asked for inside the test body, and when."""


def _plugin(config: pytest.Config) -> LLMLatencyPlugin:
    return config.stash[_plugin_key]


def _api_key(request: pytest.FixtureRequest) -> str:
    key = os.environ.get("GROQ_API_KEY")
    if key:
        return key
    if _plugin(request.config).settings.base_url == EMULATOR:
        return EMULATOR_KEY
    pytest.fail(
        "GROQ_API_KEY is not set: it is needed for live calls to "
        f"{_plugin(request.config).settings.base_url}. "
        "Set it, or leave --llm-base-url / GROQ_BASE_URL unset to use the built-in emulator.",
        pytrace=False,
    )


def _vcr_cassette(request: pytest.FixtureRequest) -> Any:
    """pytest-recording's cassette when the test is marked ``vcr`` (the same file as ours)."""
    item = request.node
    if item.get_closest_marker("vcr") is None or "vcr" not in getattr(item, "fixturenames", ()):
        return None
    cassette = request.getfixturevalue("vcr")
    return cassette if hasattr(cassette, "play_counts") and hasattr(cassette, "data") else None


def _tape_for(item: pytest.Item, plugin: LLMLatencyPlugin, secrets: Any, shared: Any = None) -> Tape:
    """The test's cassette, read or recorded as the session's options say."""
    from .cassettes.tape import Tape, cassette_path, ci_environment

    settings = plugin.settings
    test_file = Path(str(item.path))
    cls = getattr(item, "cls", None)
    path = cassette_path(test_file, test_file.stem, item.name, cls.__name__ if cls else None)
    return Tape(
        path,
        nodeid=item.nodeid,
        mode=settings.record_mode,
        live=settings.live,
        # implicit recording: live calls to a real server, outside CI
        record_missing=settings.base_url != EMULATOR and not ci_environment(),
        pace=settings.replay_pace,
        secrets=secrets,
        shared=shared,
        predict=settings.predict,
        fits=plugin.fits,
        predictor=_predict,
    )


def _predict(recorded: LLMCall, new_body: dict[str, Any], fits: dict[str, Any]) -> Prediction | None:
    """The advisor's ``predict``, imported only when a changed request needs a prediction
    (cassettes sit below the advisor: the tape is handed this function, never imports it)."""
    from .advisor.predict import predict

    return predict(recorded, new_body, fits)


@pytest.fixture(autouse=True)
def _llmlatency_markers(request: pytest.FixtureRequest) -> None:
    """Tests with a latency marker are measured as if they asked for ``llm_calls``."""
    item = request.node
    if isinstance(item, pytest.Item) and any(item.get_closest_marker(name) is not None for name in MARKERS):
        request.getfixturevalue("llm_calls")


@pytest.fixture
def llm_calls(request: pytest.FixtureRequest) -> Iterator[LLMCalls]:
    """The LLM calls the test has made so far (``.last``, iteration, summaries, asserts).

    Asking for it switches measurement on for the test: every chat-completions
    request made through httpx while the test runs is recorded.
    """
    from .budgets.view import LLMCalls, setup_recorder
    from .cassettes.tape import CassetteError

    item = request.node
    try:
        recorder = setup_recorder(item)
        recorder.tape = _tape_for(item, _plugin(request.config), recorder.secrets, _vcr_cassette(request))
    except (ValueError, CassetteError) as err:
        pytest.fail(f"{item.nodeid}: {err}", pytrace=False)
    item.stash[_recorder_key] = recorder
    recorder.price_table = _plugin(request.config).settings.prices  # costs
    if item.stash.get(_calling_key, False):
        # asked for inside the test body: its calls are measured from now on
        from .capture.intercept import Interceptor

        interceptor = Interceptor(recorder)
        item.stash[_late_key] = (interceptor, time.perf_counter_ns())
        interceptor.install()
    try:
        yield LLMCalls(recorder)
    finally:
        recorder.finish_open()


@pytest.fixture(scope="session")
def groq_emulator(request: pytest.FixtureRequest) -> Iterator[GroqEmulator]:
    """A Groq emulator on a free loopback port for the whole session.

    ``groq_emulator.base_url`` goes to ``groq.Groq(base_url=...)``; it needs no
    real key (any non-empty key is accepted). Stopped at the end of the session.
    ``--llm-emulator-sampling``, ``--llm-queue-profile`` and ``--llm-cache-hit-rate``
    (or their ini twins) set its ``sampling``, ``queue_profile`` and ``cache_hit_rate``.
    """
    from .emulator import GroqEmulator

    plugin = request.config.stash.get(_plugin_key, None)
    settings = plugin.settings if plugin is not None else None
    emulator = GroqEmulator(
        sampling=settings.emulator_sampling if settings else False,
        queue_profile=settings.queue_profile if settings else "calm",
        cache_hit_rate=settings.cache_hit_rate if settings else None,
    )
    emulator.start()
    if plugin is not None:
        plugin.emulator_urls.add(emulator.base_url)
        plugin.emulators.append(emulator)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def groq_base_url(request: pytest.FixtureRequest) -> str:
    """The base URL the ``groq_client`` fixtures use: the emulator's unless
    ``--llm-base-url`` / ``llm_base_url`` / ``$GROQ_BASE_URL`` names a server."""
    base = _plugin(request.config).settings.base_url
    if base == EMULATOR:
        emulator: GroqEmulator = request.getfixturevalue("groq_emulator")
        return emulator.base_url
    return base


@pytest.fixture
def groq_client(request: pytest.FixtureRequest, groq_base_url: str) -> Iterator[groq.Groq]:
    """A ``groq.Groq`` client for the configured target (the emulator by default)."""
    import groq

    client = groq.Groq(base_url=groq_base_url, api_key=_api_key(request))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def async_groq_client(request: pytest.FixtureRequest, groq_base_url: str) -> groq.AsyncGroq:
    """A ``groq.AsyncGroq`` client for the configured target (the emulator by default).

    It closes itself on the event loop the test used when that loop shuts down, so
    no connection outlives the test's loop (anyio, pytest-asyncio or ``asyncio.run``)."""
    from .budgets.view import async_client

    client: groq.AsyncGroq = async_client(groq_base_url, _api_key(request))
    return client


@pytest.fixture(scope="session")
def groq_openai_base_url(groq_base_url: str) -> str:
    """The OpenAI-compatible root of the target (``<groq_base_url>/openai/v1``): the
    ``base_url`` of ``openai.OpenAI`` / ``AsyncOpenAI``, litellm's ``api_base``, and any
    client that posts to ``{base}/chat/completions`` itself."""
    return f"{groq_base_url}/openai/v1"


@pytest.fixture
def groq_env(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, groq_base_url: str, groq_openai_base_url: str
) -> str:
    """Points the Groq clients your code builds itself at the target (the emulator by
    default), for the test; returns the base URL (the groq SDK root).

    Sets ``GROQ_API_KEY`` and ``GROQ_BASE_URL`` (the groq SDK, so also instructor and
    pydantic-ai's ``GroqProvider``) and ``GROQ_API_BASE`` as litellm reads it: the
    OpenAI-compatible root ``.../openai/v1``. langchain-groq's ``ChatGroq`` reads
    ``GROQ_API_BASE`` too, as the groq SDK root, so give it ``base_url=groq_base_url``
    (or ``monkeypatch.delenv("GROQ_API_BASE")``, after which it uses ``GROQ_BASE_URL``).
    ``OPENAI_*`` variables are left alone: see ``groq_openai_env``."""
    monkeypatch.setenv("GROQ_BASE_URL", groq_base_url)
    monkeypatch.setenv("GROQ_API_BASE", groq_openai_base_url)
    monkeypatch.setenv("GROQ_API_KEY", _api_key(request))
    return groq_base_url


@pytest.fixture
def groq_openai_env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, groq_openai_base_url: str) -> str:
    """For code that reaches Groq through the openai SDK configured by environment: sets
    ``OPENAI_BASE_URL`` / ``OPENAI_API_BASE`` to the target's OpenAI-compatible root and
    ``OPENAI_API_KEY`` to the Groq key (the emulator's by default), for the test; returns
    that root. Opt-in, because it also redirects openai clients meant for OpenAI itself."""
    monkeypatch.setenv("OPENAI_BASE_URL", groq_openai_base_url)
    monkeypatch.setenv("OPENAI_API_BASE", groq_openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", _api_key(request))
    return groq_openai_base_url
