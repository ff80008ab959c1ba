"""No silent live calls: a request to a real LLM host fails the test before anything is sent.

Every inner run has a conftest that replaces ``socket.getaddrinfo`` with a spy *before* the
plugin's guard is installed: the spy records every name looked up and refuses any name that
is not loopback, so nothing can leave the machine even if the guard failed; and a lookup of
an LLM host reaching the spy proves the guard let it through.
"""

from __future__ import annotations

import pytest

SPY = """
import json, os, socket
SEEN = []
_original = socket.getaddrinfo

def spy(host, port, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else str(host)
    SEEN.append(name)
    if name not in ("127.0.0.1", "localhost", "::1"):
        raise socket.gaierror(socket.EAI_NONAME, "test sandbox: no DNS for " + name)
    return _original(host, port, *args, **kwargs)

socket.getaddrinfo = spy
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

def pytest_sessionfinish(session):
    with open("seen.json", "w") as fh:
        json.dump(SEEN, fh)
"""

MSG = '[{"role": "user", "content": "hi"}]'


def _seen(pytester: pytest.Pytester) -> list[str]:
    import json

    seen: list[str] = json.loads((pytester.path / "seen.json").read_text())
    return seen


def test_groq_sdk_without_groq_env_fails_fast_naming_the_host(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SPY)
    pytester.makepyfile(
        test_app=f"""
        import groq, pytest

        @pytest.mark.max_latency(ms=1000)
        def test_app():
            client = groq.Groq(api_key="gsk_not_a_key")  # the real API: nobody pointed it at the emulator
            client.chat.completions.create(model="llama-3.1-8b-instant", messages={MSG})
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-llmlatency blocked a live call to api.groq.com in test_app.py::test_app (call):*"
            "no DNS lookup, connection or API key left this machine.",
            "  client: groq SDK -> httpx; called from */test_app.py:6",
            "  fix: point the client at the emulator: the groq_env fixture*",
            "  to reach the real API on purpose: --llm-live, or --llm-base-url=https://api.groq.com*",
            "blocked: 1 live call(s) to api.groq.com in 1 test(s), before anything was sent*",
        ]
    )
    out = result.stdout.str()
    # at once: the SDK's retries (it catches Exception) never ran, and no DNS query was made
    assert "APIConnectionError" not in out and "(3 attempts)" not in out
    assert "api.groq.com" not in _seen(pytester)
    assert "reached: no LLM server" in out


def test_async_clients_and_other_libraries_are_blocked(pytester: pytest.Pytester) -> None:
    pytest.importorskip("aiohttp")
    pytest.importorskip("requests")
    pytester.makeconftest(SPY)
    pytester.makepyfile(
        test_app=f"""
        import asyncio, groq, pytest

        def test_async_groq(llm_calls):
            async def main():
                async with groq.AsyncGroq(api_key="gsk_not_a_key") as client:
                    await client.chat.completions.create(model="llama-3.1-8b-instant", messages={MSG})
            asyncio.run(main())

        def test_raw_aiohttp(groq_env):
            import aiohttp

            async def main():
                async with aiohttp.ClientSession() as session:
                    await session.post("https://api.openai.com/v1/chat/completions", json={{}})
            asyncio.run(main())

        def test_requests_swallowed(groq_env):
            import requests

            try:  # an application that hides every error still fails the test
                requests.post("https://api.anthropic.com/v1/messages", json={{}})
            except BaseException:
                pass

        def test_urllib_in_a_thread(groq_client):
            import concurrent.futures, urllib.request

            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pool.submit(urllib.request.urlopen, "https://openrouter.ai/api/v1/models")

        @pytest.fixture
        def warmed_up():
            groq.Groq(api_key="gsk_not_a_key", base_url="https://api.groq.com", max_retries=0).models.list()

        def test_in_setup(groq_env, warmed_up):
            pass

        def test_not_using_the_plugin():
            import socket
            with pytest.raises(socket.gaierror, match="test sandbox"):
                socket.getaddrinfo("api.groq.com", 443)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=4, passed=1, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "*blocked a live call to api.groq.com in test_app.py::test_async_groq (call)*",
            "  client: groq SDK -> httpx; called from */test_app.py:*",
            "*blocked a live call to api.openai.com in test_app.py::test_raw_aiohttp (call)*",
            "  client: aiohttp*",
            "*blocked a live call to api.anthropic.com in test_app.py::test_requests_swallowed (call)*",
            "  client: requests -> urllib3; called from */test_app.py:*",
            "*blocked a live call to openrouter.ai in test_app.py::test_urllib_in_a_thread (call)*",
            "  client: urllib -> http.client*",
            "*blocked a live call to api.groq.com in test_app.py::test_in_setup (setup)*",
            "blocked: 5 live call(s) to api.anthropic.com, api.groq.com, api.openai.com, openrouter.ai in 5 test(s)*",
        ]
    )
    # only the test that does not use the plugin looked the name up (the spy refused it)
    assert _seen(pytester).count("api.groq.com") == 1
    assert not {"api.openai.com", "api.anthropic.com", "openrouter.ai"} & set(_seen(pytester))


def test_httpx_aiohttp_transport_is_blocked(pytester: pytest.Pytester) -> None:
    pytest.importorskip("httpx_aiohttp")
    pytester.makeconftest(SPY)
    pytester.makepyfile(
        test_app=f"""
        import asyncio, groq

        def test_app(llm_calls):
            async def main():
                http = groq.DefaultAioHttpClient()
                async with groq.AsyncGroq(api_key="gsk_not_a_key", http_client=http) as client:
                    await client.chat.completions.create(model="llama-3.1-8b-instant", messages={MSG})
            asyncio.run(main())
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*blocked a live call to api.groq.com in test_app.py::test_app (call)*"])
    assert "api.groq.com" not in _seen(pytester)


GUARD_STATE = """
import socket
import conftest

def test_state(groq_env):
    installed = socket.getaddrinfo is not conftest.spy
    print("GUARD", "on" if installed else "off")
    if not installed:
        return
    # the guard is on: an LLM host is refused, loopback is not
    socket.getaddrinfo("127.0.0.1", 80)
    try:
        socket.getaddrinfo("api.groq.com", 443)
    except BaseException:
        pass
"""


@pytest.mark.parametrize(
    ("args", "state"),
    [
        ([], "on"),
        (["--llm-live"], "off"),
        (["--llm-base-url=https://api.groq.com"], "off"),
        (["--llm-base-url=http://127.0.0.1:9"], "on"),  # another local server: still nothing real
        (["--llm-allow-host=*"], "off"),
    ],
)
def test_live_and_base_url_lift_the_guard(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], state: str
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk_not_a_key")  # groq_env asks for one when the target is a URL
    pytester.makeconftest(SPY)
    pytester.makepyfile(test_state=GUARD_STATE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", *args, "--llm-no-summary")
    result.stdout.fnmatch_lines([f"*GUARD {state}*"])
    if state == "on":
        result.assert_outcomes(failed=1)  # the swallowed attempt still fails the test
        assert "api.groq.com" not in _seen(pytester)
    else:
        result.assert_outcomes(passed=1)


def test_allow_host_lets_one_host_through(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SPY)
    pytester.makeini("[pytest]\nllm_allow_host = api.groq.com\n")
    pytester.makepyfile(
        test_app="""
        import socket, pytest

        def test_allowed(groq_env):
            with pytest.raises(socket.gaierror, match="test sandbox"):  # reached the resolver (the spy)
                socket.getaddrinfo("api.groq.com", 443)

        def test_other_host_still_blocked(groq_env):
            socket.getaddrinfo("api.mistral.ai", 443)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*blocked a live call to api.mistral.ai in test_app.py::test_other_host_still_blocked*"]
    )
    assert _seen(pytester) == ["api.groq.com"]


def test_bad_allow_host_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-allow-host=https://api.groq.com")
    result.stderr.fnmatch_lines(["*--llm-allow-host: expected a host name such as api.groq.com*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_summary_says_what_was_reached(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SPY)
    pytester.makepyfile(
        test_app=f"""
        import groq

        def test_emulator(groq_client, llm_calls):
            groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages={MSG})

        def test_live_by_mistake(llm_calls):
            groq.Groq(api_key="gsk_not_a_key").chat.completions.create(model="llama-3.1-8b-instant", messages={MSG})
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "2 test(s), 2 LLM call(s), 0 over budget or regressed; reached: the built-in Groq emulator (1 call(s))",
            "blocked: 1 live call(s) to api.groq.com in 1 test(s)*",
        ]
    )


def test_help_documents_the_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines_random(
        ["*--llm-allow-host=HOST*", "*--llm-compare-fail=EXPR*", "*METRIC:AMOUNT[[]%|ms|s]*"]
    )
