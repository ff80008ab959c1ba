"""No silent live calls: while tests run against the emulator or a replay, a request to a
real LLM API host fails the test before any byte (or key) leaves the machine.

The guard sits at name resolution, the one step every client takes before it connects:
``socket.getaddrinfo`` (httpx's sync transports, requests/urllib3, urllib, http.client),
the asyncio event loop's ``getaddrinfo`` (httpx's async transports through anyio, aiohttp's
default resolver, httpx-aiohttp, litellm's aiohttp transport) and aiohttp's ``AsyncResolver``
(aiodns). A lookup of a well-known LLM host raises :class:`LiveCallBlocked` before the
original lookup runs: no DNS query, no connection, no request bytes. The exception is
pytest's own failure outcome (a ``BaseException``), so SDKs that catch ``Exception`` to
wrap and retry connection errors (the groq and openai SDKs retry twice) let it through at
once; and every blocked attempt is also recorded, so the test fails naming the host even
when a client swallows it.

Not seen: a lookup done outside Python's resolver (uvloop's loop, a C extension) and a
request tunnelled through an HTTP proxy (the proxy's name is looked up, not the API's).
"""

from __future__ import annotations

import functools
import socket
import sys
import threading
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import pytest
from _pytest.outcomes import Failed

__all__ = [
    "LLM_HOSTS",
    "BlockedAttempt",
    "Guard",
    "GuardPlugin",
    "FIX",
    "LiveCallBlocked",
    "is_llm_host",
    "lifted_by",
    "normalize_host",
]

LLM_HOSTS: tuple[str, ...] = (
    "api.groq.com",
    "api.openai.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "aiplatform.googleapis.com",
    "api.mistral.ai",
    "api.together.xyz",
    "api.together.ai",
    "api.fireworks.ai",
    "openrouter.ai",
    "api.cohere.com",
    "api.cohere.ai",
    "api.deepseek.com",
    "api.x.ai",
    "api.perplexity.ai",
    "api.cerebras.ai",
    "api.sambanova.ai",
    "api.deepinfra.com",
    "api.hyperbolic.xyz",
    "api.novita.ai",
    "api.moonshot.ai",
    "api.moonshot.cn",
    "dashscope.aliyuncs.com",
    "dashscope-intl.aliyuncs.com",
    "api-inference.huggingface.co",
    "router.huggingface.co",
    "api.replicate.com",
    "api.ai21.com",
    "api.voyageai.com",
    "api.elevenlabs.io",
    "api.deepgram.com",
    "api.assemblyai.com",
)
"""Hosts (and their subdomains) of well-known LLM APIs."""

_SUFFIXES: tuple[str, ...] = (
    ".openai.azure.com",  # Azure OpenAI resources
    ".services.ai.azure.com",  # Azure AI Foundry
    "-aiplatform.googleapis.com",  # Vertex AI regional endpoints
)

# top-level module -> the name a user knows; the first group are SDKs and frameworks, the
# second the HTTP libraries underneath (both shown, outermost first)
_SDKS: dict[str, str] = {
    "langchain_groq": "langchain-groq",
    "langchain_openai": "langchain-openai",
    "langchain_anthropic": "langchain-anthropic",
    "litellm": "litellm",
    "pydantic_ai": "pydantic-ai",
    "instructor": "instructor",
    "groq": "groq SDK",
    "openai": "openai SDK",
    "anthropic": "anthropic SDK",
    "mistralai": "mistralai SDK",
    "cohere": "cohere SDK",
    "google.genai": "google-genai SDK",
}
_HTTP: dict[str, str] = {
    "httpx_aiohttp": "httpx-aiohttp",
    "httpx": "httpx",
    "httpx2": "httpx2",
    "httpcore": "httpx",
    "aiohttp": "aiohttp",
    "requests": "requests",
    "urllib3": "urllib3",
    "urllib": "urllib",
    "http": "http.client",
}


def normalize_host(host: object) -> str | None:
    """A host name as text, lower-case, without a trailing dot; None for no host."""
    if host is None:
        return None
    if isinstance(host, bytes | bytearray):
        try:
            host = bytes(host).decode("idna")
        except UnicodeError:
            return None
    text = str(host).strip().lower().rstrip(".")
    return text or None


def is_llm_host(host: str) -> bool:
    """Whether ``host`` is a well-known LLM API host (or a subdomain of one)."""
    return any(host == known or host.endswith("." + known) for known in LLM_HOSTS) or any(
        host.endswith(suffix) for suffix in _SUFFIXES
    )


@dataclass(frozen=True)
class BlockedAttempt:
    """One lookup of an LLM host that the guard refused."""

    host: str
    port: int | None
    nodeid: str
    phase: str
    client: str
    caller: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "nodeid": self.nodeid,
            "phase": self.phase,
            "client": self.client,
            "caller": self.caller,
        }


class LiveCallBlocked(Failed):
    """Raised where a client looks up a real LLM host while the guard is on.

    It is pytest's failure outcome, so the test fails with the message alone, and
    ``except Exception`` in a client (retries, wrapping) does not catch it."""

    def __init__(self, message: str) -> None:
        super().__init__(msg=message, pytrace=False)


def _module_of(frame: FrameType) -> str:
    name = frame.f_globals.get("__name__")
    return name if isinstance(name, str) else ""


def _library(module: str) -> str | None:
    for table in (_SDKS, _HTTP):
        for prefix, label in table.items():
            if module == prefix or module.startswith(prefix + "."):
                return label
    return None


@functools.cache
def _library_paths() -> tuple[str, ...]:
    """Where the standard library and installed packages live (read when a call is blocked:
    ``sysconfig.get_paths`` costs every pytest run a few milliseconds at import)."""
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple({p for key in ("stdlib", "platstdlib", "purelib", "platlib") if (p := paths.get(key))})


def describe_client(frame: FrameType | None) -> tuple[str, str | None]:
    """The client libraries on the stack, outermost first (``"groq SDK -> httpx"``), and
    the innermost line of the test's own code that led there (``"tests/test_x.py:12"``)."""
    chain: list[str] = []
    caller: str | None = None
    here = __name__.split(".", 1)[0]  # the whole plugin, not only this subpackage
    while frame is not None:
        module = _module_of(frame)
        label = _library(module)
        if label is not None:
            if label not in chain:
                chain.append(label)
        elif caller is None and not module.startswith((here, "_pytest", "pluggy", "asyncio", "anyio", "concurrent")):
            filename = frame.f_code.co_filename
            if not filename.startswith(_library_paths()) and not filename.startswith("<"):
                caller = f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    chain.reverse()
    return (" -> ".join(chain) if chain else "unknown client (not httpx, aiohttp, requests or urllib)"), caller


class Guard:
    """Patches name resolution to refuse LLM hosts; records every refusal.

    ``install`` / ``uninstall`` nest (a counter), so phases and threads can share it."""

    def __init__(self, allow: Iterable[str] = (), *, fix: str = "") -> None:
        self.allow = frozenset(h for h in (normalize_host(a) for a in allow) if h)
        self.fix = fix
        self.attempts: list[BlockedAttempt] = []
        self.nodeid = ""
        self.phase = ""
        self._lock = threading.Lock()
        self._depth = 0
        self._undo: list[Callable[[], None]] = []

    # -- decision -------------------------------------------------------------------------
    def blocks(self, host: object) -> str | None:
        """The normalized host when a lookup of ``host`` must be refused, else None."""
        name = normalize_host(host)
        if name is None or name in self.allow or "*" in self.allow:
            return None
        if any(name == a or name.endswith("." + a) for a in self.allow):
            return None
        return name if is_llm_host(name) else None

    def refuse(self, host: str, port: object, frame: FrameType | None) -> LiveCallBlocked:
        client, caller = describe_client(frame)
        try:
            number = int(port) if port is not None else None  # type: ignore[call-overload]
        except (TypeError, ValueError):
            number = None
        attempt = BlockedAttempt(host, number, self.nodeid, self.phase, client, caller)
        with self._lock:
            self.attempts.append(attempt)
        return LiveCallBlocked(self.message([attempt]))

    def message(self, attempts: list[BlockedAttempt], *, then: str | None = None) -> str:
        first = attempts[0]
        hosts = sorted({a.host for a in attempts})
        tries = f" ({len(attempts)} attempts)" if len(attempts) > 1 else ""
        lines = [
            f"pytest-llmlatency blocked a live call to {', '.join(hosts)}{tries} in {first.nodeid or 'this test'} "
            f"({first.phase}): this run targets the built-in Groq emulator or cassettes, so no DNS lookup, "
            "connection or API key left this machine.",
            f"  client: {first.client}" + (f"; called from {first.caller}" if first.caller else ""),
        ]
        if self.fix:
            lines.append(self.fix)
        if then:
            lines.append(f"  (the test then raised {then})")
        return "\n".join(lines)

    # -- patches --------------------------------------------------------------------------
    def install(self) -> None:
        with self._lock:
            self._depth += 1
            if self._depth > 1:
                return
        self._patch_socket()
        self._patch_asyncio()
        self._patch_aiodns()

    def uninstall(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth > 0:
                return
            undo, self._undo = self._undo, []
        for step in reversed(undo):
            step()

    @property
    def installed(self) -> bool:
        return self._depth > 0

    def _patch_socket(self) -> None:
        original = socket.getaddrinfo
        guard = self

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = guard.blocks(host)
            if name is not None:
                raise guard.refuse(name, port, sys._getframe(1))
            return original(host, port, *args, **kwargs)

        socket.getaddrinfo = getaddrinfo

        def undo() -> None:
            socket.getaddrinfo = original

        self._undo.append(undo)

    def _patch_asyncio(self) -> None:
        from asyncio import base_events

        loop_cls: Any = base_events.BaseEventLoop
        original = loop_cls.getaddrinfo
        guard = self

        async def getaddrinfo(loop: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = guard.blocks(host)
            if name is not None:
                raise guard.refuse(name, port, sys._getframe(1))
            return await original(loop, host, port, *args, **kwargs)

        loop_cls.getaddrinfo = getaddrinfo

        def undo() -> None:
            loop_cls.getaddrinfo = original

        self._undo.append(undo)

    def _patch_aiodns(self) -> None:
        resolver = sys.modules.get("aiohttp.resolver")
        cls: Any = getattr(resolver, "AsyncResolver", None)
        if cls is None:
            return
        original = cls.resolve
        guard = self

        async def resolve(self: Any, host: Any, port: Any = 0, *args: Any, **kwargs: Any) -> Any:
            name = guard.blocks(host)
            if name is not None:
                raise guard.refuse(name, port, sys._getframe(1))
            return await original(self, host, port, *args, **kwargs)

        cls.resolve = resolve

        def undo() -> None:
            cls.resolve = original

        self._undo.append(undo)


FIX = (
    "  fix: point the client at the emulator: the groq_env fixture sets GROQ_BASE_URL, GROQ_API_BASE and "
    "GROQ_API_KEY for clients your code builds; groq_client / async_groq_client are ready-made; or pass "
    "base_url=groq_base_url (groq SDK root) / groq_openai_base_url (OpenAI-compatible clients, litellm's api_base).\n"
    "  to reach the real API on purpose: --llm-live, or --llm-base-url=https://api.groq.com (with a key), "
    "or allow the host: --llm-allow-host=HOST (ini: llm_allow_host)."
)


def lifted_by(base_url: str, live: bool, allow: Iterable[str]) -> str | None:
    """Why the guard is off for this run (``"--llm-live"``, the base URL, ``allow *``), or None
    when it is on: the target is the emulator, a loopback server or cassettes."""
    if live:
        return "--llm-live"
    if "*" in allow:
        return "--llm-allow-host=*"
    if base_url.startswith(("http://", "https://")):
        from urllib.parse import urlparse

        host = normalize_host(urlparse(base_url).hostname) or ""
        if not _loopback(host):
            return f"--llm-base-url={base_url}"
    return None


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class GuardPlugin:
    """Installs the guard around the setup, call and teardown of every test that uses
    pytest-llmlatency, fails a test that tried to reach an LLM host (even when its client
    swallowed the error), and collects the attempts for the summary (on the controller)."""

    REPORT_ATTR = "llmlatency_blocked"

    def __init__(self, guard: Guard, applies: Callable[[pytest.Item], bool], *, is_worker: bool) -> None:
        self.guard = guard
        self.applies = applies
        self.is_worker = is_worker
        self.blocked: list[dict[str, Any]] = []
        """Every blocked attempt of the session (on the controller: from all workers)."""

    def _phase(self, item: pytest.Item, phase: str) -> Generator[None, object, object]:
        if not self.applies(item):
            return (yield)
        guard = self.guard
        guard.nodeid, guard.phase = item.nodeid, phase
        start = len(guard.attempts)
        guard.install()
        try:
            outcome = yield
        except BaseException as exc:
            guard.uninstall()
            mine = [a for a in guard.attempts[start:] if a.nodeid == item.nodeid]
            if not mine or (isinstance(exc, LiveCallBlocked) and len(mine) == 1):
                raise
            raise LiveCallBlocked(
                guard.message(mine, then=None if isinstance(exc, LiveCallBlocked) else _describe(exc))
            ) from None
        guard.uninstall()
        mine = [a for a in guard.attempts[start:] if a.nodeid == item.nodeid]
        if mine:
            # the client caught the failure (or retried and gave up quietly): fail anyway
            raise LiveCallBlocked(guard.message(mine))
        return outcome

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from self._phase(item, "setup"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from self._phase(item, "call"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        return (yield from self._phase(item, "teardown"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        mine = [a.to_dict() for a in self.guard.attempts if a.nodeid == item.nodeid and a.phase == call.when]
        if mine:
            report.__dict__[self.REPORT_ATTR] = mine  # JSON-safe: travels to the xdist controller
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        blocked = report.__dict__.get(self.REPORT_ATTR)
        if blocked and not self.is_worker:
            self.blocked.extend(blocked)
