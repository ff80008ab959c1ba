"""pytest-llmlatency's pytest hooks and fixtures (the ``pytest11`` entry point).

Kept thin: measurement, the emulator and the reports load on first use.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .core.names import MARKERS, LLMLatencyWarning
from .settings import EMULATOR, Settings, add_options, load_settings

if TYPE_CHECKING:
    import groq

    from .budgets.view import LLMCalls
    from .capture.intercept import Interceptor, Recorder
    from .emulator import GroqEmulator

EMULATOR_KEY = "gsk_emulator_no_key_needed"
REPORT_ATTR = "llmlatency"

_plugin_key: pytest.StashKey[LLMLatencyPlugin] = pytest.StashKey()
_recorder_key: pytest.StashKey[Recorder] = pytest.StashKey()
_result_key: pytest.StashKey[dict[str, Any]] = pytest.StashKey()
_calling_key: pytest.StashKey[bool] = pytest.StashKey()
"""The test body of an unmeasured test is running: ``llm_calls`` asked for now measures at once."""
_late_key: pytest.StashKey[tuple[Interceptor, int]] = pytest.StashKey()
"""The patch ``llm_calls`` installed when asked for inside the test body, and when."""


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for description in MARKERS.values():
        config.addinivalue_line("markers", description)
    settings = load_settings(config)
    plugin = LLMLatencyPlugin(config, settings)
    config.stash[_plugin_key] = plugin
    config.pluginmanager.register(plugin, "llmlatency-session")
    from .capture.guard import FIX, Guard, GuardPlugin, lifted_by

    plugin.guard_lifted = lifted_by(settings.base_url, settings.live, settings.allow_hosts)
    if plugin.guard_lifted is None:
        # no silent live calls: tests that use the plugin cannot reach a real LLM host
        plugin.guard = GuardPlugin(Guard(settings.allow_hosts, fix=FIX), _guarded, is_worker=plugin.is_worker)
        config.pluginmanager.register(plugin.guard, "llmlatency-guard")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(_plugin_key, None)
    if plugin is not None:
        if plugin.guard is not None:
            config.pluginmanager.unregister(plugin.guard)
        config.pluginmanager.unregister(plugin)
        del config.stash[_plugin_key]


def _uses_plugin(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) is not None for name in MARKERS) or "llm_calls" in getattr(
        item, "fixturenames", ()
    )


FIXTURES = (
    "groq_env",
    "groq_openai_env",
    "groq_client",
    "async_groq_client",
    "groq_base_url",
    "groq_openai_base_url",
    "groq_emulator",
)


def _guarded(item: pytest.Item) -> bool:
    """The no-live-calls guard covers tests that use the plugin: a marker, ``llm_calls`` or
    one of the fixtures that point clients at the target."""
    names = getattr(item, "fixturenames", ())
    return _uses_plugin(item) or any(name in names for name in FIXTURES)


class LLMLatencyPlugin:
    """Session state: settings, per-test results gathered on the controller."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.results: list[dict[str, Any]] = []
        self.is_worker = hasattr(config, "workerinput")
        self.baseline: Any = None
        self.thresholds: list[Any] = []
        self._fits: dict[str, Any] | None = None
        self.written: list[str] = []
        self.emulator_urls: set[str] = set()
        """Base URLs of the emulators this process started (a call there is an emulator call)."""
        self.emulators: list[GroqEmulator] = []
        """The emulators this process started (to find requests the capture did not see)."""
        self.baseline_note: str | None = None
        self.guard: Any = None
        """The no-live-calls guard (``guard.GuardPlugin``), None when lifted."""
        self.guard_lifted: str | None = None
        if settings.save is not None:
            from .gate.baseline import BaselineError, check_save_name

            try:
                check_save_name(settings.save)  # before the run, not after it
            except BaselineError as err:
                raise pytest.UsageError(str(err)) from None
        if settings.compare is not None:
            from .gate.baseline import BaselineError, NothingSaved, load_baseline, parse_thresholds, resolve_compare

            try:
                self.thresholds = parse_thresholds(settings.compare_fail)
                self.baseline = load_baseline(resolve_compare(settings.storage, settings.compare or None))
            except NothingSaved as err:
                # the first run of a new setup: nothing to compare with yet (as pytest-benchmark does)
                self.baseline_note = str(err)
            except BaselineError as err:
                raise pytest.UsageError(str(err)) from None

    # -- llm_repeat -------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        recorder = pyfuncitem.stash.get(_recorder_key, None)
        if recorder is None or recorder.repeat is None or recorder.repeating:
            return (yield)
        repeat = recorder.repeat
        recorder.repeating = True
        try:
            runs = repeat.warmup + repeat.n
            for i in range(runs - 1):
                recorder.warmup = i < repeat.warmup
                recorder.iteration = i - repeat.warmup if i >= repeat.warmup else i
                pyfuncitem.ihook.pytest_pyfunc_call(pyfuncitem=pyfuncitem)
            recorder.warmup = runs - 1 < repeat.warmup
            recorder.iteration = repeat.n - 1
            return (yield)
        finally:
            recorder.repeating = False

    # -- budgets, in the call phase ---------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        recorder = item.stash.get(_recorder_key, None)
        if recorder is None:
            # not measured, unless the body asks for llm_calls (request.getfixturevalue):
            # the fixture then installs the patch itself, and it is undone and judged here
            item.stash[_calling_key] = True
            try:
                yield
            except BaseException:
                self._late(item, passed=False)
                raise
            finally:
                del item.stash[_calling_key]
            self._late(item, passed=True)
            return
        from .capture.intercept import Interceptor

        # installed after every fixture (pytest-recording's vcr included) is set up, so the
        # LLM calls of the test body reach this patch first; undone before any teardown
        interceptor = Interceptor(recorder)
        started = time.perf_counter_ns()
        interceptor.install()
        try:
            yield
        except BaseException:
            interceptor.uninstall()
            self._judge(item, recorder, passed=False, unseen=self._unseen(recorder, started))
            raise
        interceptor.uninstall()
        self._judge(item, recorder, passed=True, unseen=self._unseen(recorder, started))

    def _late(self, item: pytest.Item, passed: bool) -> None:
        """Undo and judge the patch ``llm_calls`` installed inside the test body, if it did."""
        late = item.stash.get(_late_key, None)
        if late is None:
            return
        del item.stash[_late_key]
        interceptor, started = late
        interceptor.uninstall()
        recorder = interceptor.recorder
        self._judge(item, recorder, passed=passed, unseen=self._unseen(recorder, started))

    def _unseen(self, recorder: Recorder, started: int) -> list[str]:
        """LLM requests this process's emulators served during the test that the capture did
        not see: a client not built on httpx (requests, urllib, raw aiohttp)."""
        from .core.endpoints import endpoint_for

        served = [
            r
            for emulator in self.emulators
            for r in emulator.requests_since(started)
            if endpoint_for("POST", r.path.split("?", 1)[0]) is not None
        ]
        if not served:
            return []
        calls = recorder.cleared + recorder.calls
        seen = [a for c in calls if not c.replayed for a in c.attempts if a.start_ns >= started]
        if len(served) <= len(seen):
            return []
        known = {a.request_id for a in seen if a.request_id}
        missed = [r for r in served if not r.request_id or r.request_id not in known]
        return [
            f"POST {r.path} (user-agent {r.headers.get('user-agent', 'unknown')!r})"
            for r in missed[: len(served) - len(seen)]
        ]

    def fits(self) -> dict[str, Any]:
        """The advisor's models, fitted once per process from every cassette under the rootdir."""
        if self._fits is None:
            from .advisor.model import cassette_observations, fit_models, observation_cache

            cached = cassette_observations(self.config.rootpath, cache=observation_cache(self.config))
            self._fits = fit_models(cached + self._baseline_observations())
        return self._fits

    def _baseline_observations(self) -> list[Any]:
        """The calls recorded in the baseline being compared with, for the advisor's model."""
        if self.baseline is None:
            return []
        from .advisor.model import observations

        return observations(c for test in self.baseline.tests.values() for c in test.calls)

    def _judge(self, item: pytest.Item, recorder: Recorder, *, passed: bool, unseen: Sequence[str] = ()) -> None:
        from .budgets.view import judge

        result, failures = judge(item.nodeid, recorder, recorder.budgets)
        if failures and recorder.unmeasured:  # no LLM call, but requests to endpoints not measured
            from .budgets.markers import NO_CALL_WHY
            from .capture.unmeasured import name_unmeasured

            failures = name_unmeasured(result, failures, recorder.unmeasured, NO_CALL_WHY)
        if unseen:
            note = (
                f"{len(unseen)} LLM request(s) reached the emulator without passing the plugin's capture, so "
                f"they were not measured or recorded: {'; '.join(unseen)}. The plugin sees clients built on "
                "httpx (groq, openai, litellm, pydantic-ai, instructor, langchain-groq); a client built on "
                "requests, urllib or raw aiohttp is not. Send the call through one of those clients."
            )
            result["unseen"] = list(unseen)
            if recorder.budgets:
                # the budgets were judged on part of the test's calls: not proven, so not green
                failures = [*failures, f"budgets not proven: {note}"]
                result["failures"] = failures
            else:
                item.warn(LLMLatencyWarning(f"{item.nodeid}: {note}"))
        tape = recorder.tape
        if tape is not None:
            # a cassette is written only when the test body completed: never from a run that
            # raised or was interrupted. Budget misses do not stop it: the recording is complete.
            notes = list(tape.unrecorded)
            if tape.predicted:
                notes.append(
                    f"{tape.predicted} call(s) answered from the closest recording with a predicted cost "
                    f"(--llm-predict={tape.predict_mode}); re-record to measure: pytest "
                    f"--llm-record-mode=rewrite {item.nodeid}"
                )
            if tape.recorded and not passed:
                notes.append("not written: the test did not complete")
            elif tape.recorded:
                try:
                    tape.commit()
                except OSError as err:
                    notes.append(f"not written: {err}")
            result["cassette"] = {
                "path": _relpath(tape.path, self.config.rootpath),
                "mode": tape.mode or "default",
                "existed": tape.existed,
                "replayed": tape.replayed,
                "recorded": tape.recorded,
                "saved": tape.saved,
                "shared": tape.shared,
                "notes": notes,
            }
        calls = result["calls"]
        live = [c for c in calls if not c["replayed"]]
        if calls and not live:
            result["source"] = "replay"
        elif (
            live
            and self.emulator_urls
            and all(any(str(c.get("url", "")).startswith(url) for url in self.emulator_urls) for c in live)
        ):
            result["source"] = "emulator"
        else:
            result["source"] = "live"
        regression = self._compare(item, recorder, result)
        if regression:
            failures = [*failures, regression]
            result["failures"] = failures
        item.stash[_result_key] = result
        for key, value in result["junit"].items():
            item.user_properties.append((key, value))
        if failures and passed:
            pytest.fail("\n".join(failures), pytrace=False)

    def _compare(self, item: pytest.Item, recorder: Recorder, result: dict[str, Any]) -> str | None:
        """Compare the test with the baseline; the regression message when the gate fails it."""
        options = recorder.baseline
        if options is not None:  # kept in the result: `llmlatency compare` judges merged files alike
            result["baseline_options"] = {"compare": options.compare, "tolerance": options.tolerance}
        if self.baseline is None:
            return None
        from .gate.baseline import gate_result

        comparison, message = gate_result(result, self.baseline, self.thresholds, method=self.settings.compare_method)
        if comparison is not None:
            result["comparison"] = comparison
        return message

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when == "teardown":
            # the test is over: its calls live on in its (JSON-safe) result; the recorder, its
            # cassette and the calls' bodies are not kept for the rest of the session
            if _recorder_key in item.stash:
                del item.stash[_recorder_key]
            if _result_key in item.stash:
                del item.stash[_result_key]
            return report
        result = item.stash.get(_result_key, None)
        if result is not None and report.when == "call":
            result = dict(result)
            result.pop("junit", None)
            result["verdict"] = _verdict(report, bool(result.get("failures")))
            report.__dict__[REPORT_ATTR] = result  # JSON-safe: travels to the xdist controller
        elif report.when == "setup" and report.failed and _uses_plugin(item):
            report.__dict__[REPORT_ATTR] = {
                "nodeid": item.nodeid,
                "verdict": "error",
                "verdicts": [],
                "calls": [],
                "summary": {"calls": 0},
            }
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = report.__dict__.get(REPORT_ATTR)
        if result is not None and not self.is_worker:
            self.results.append(result)

    # -- end of session -----------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.is_worker or not self.results or not self.settings.summary:
            return
        if config.get_verbosity() < -1:
            return
        from .report import render_table

        tr = terminalreporter
        tr.write_sep("=", "LLM latency")
        width = max(30, min(70, tr._tw.fullwidth // 3))
        for line in render_table(self.results, name_width=width):
            tr.write_line(line)
        for result in self.results:
            comparison = result.get("comparison") or {}
            if (
                not result.get("failures")
                and comparison.get("message")
                and comparison.get("shifts")
                and any(s["verdict"] in ("improved", "inconclusive") for s in comparison["shifts"])
            ):
                tr.write_line("")
                tr.write_line(f"baseline {result['nodeid']}")
                tr.write_line(f"  {comparison['message']}")
            for advice in result.get("advice") or []:
                tr.write_line("")
                tr.write_line(f"advice {result['nodeid']}")
                tr.write_line(f"  {advice}")
            for risk in result.get("risks") or []:
                tr.write_line("")
                tr.write_line(f"risk {result['nodeid']}", yellow=True)
                tr.write_line(f"  {risk}")
            if result.get("failures"):
                tr.write_line("")
                tr.write_line(
                    f"{result['verdict']} {result['nodeid']}",
                    red=result["verdict"] == "FAIL",
                    yellow=result["verdict"] != "FAIL",
                )
                for message in result["failures"]:
                    tr.write_line(f"  {message}")
        tr.write_line("")
        tapes = [r["cassette"] for r in self.results if r.get("cassette")]
        replayed = sum(t["replayed"] for t in tapes)
        recorded = sum(t["recorded"] for t in tapes)
        if replayed or recorded or any(t.get("notes") for t in tapes):
            written = sum(1 for t in tapes if t["saved"])
            tr.write_line(f"cassettes: {replayed} call(s) replayed, {recorded} recorded, {written} cassette(s) written")
            for t in tapes:
                for note in t.get("notes") or []:
                    tr.write_line(f"  {t['path']}: {note}", yellow=True)
        calls_all = [c for r in self.results for c in r.get("calls") or []]
        broken = sum(1 for c in calls_all if not c.get("ok") and not c.get("abandoned"))
        recovered = sum(1 for c in calls_all if c.get("ok") and c.get("retries"))
        if broken or recovered:
            retries = sum(c.get("retries") or 0 for c in calls_all)
            backoff = sum(c.get("backoff_ms") or 0.0 for c in calls_all)
            tr.write_line(
                f"faults: {broken} call(s) failed, {recovered} succeeded after retries; {retries} retr"
                f"{'y' if retries == 1 else 'ies'} in all, {backoff:,.0f} ms of backoff (not counted in e2e)"
            )
        from .capture.unmeasured import failure_counts

        calls = sum((r.get("summary") or {}).get("calls", 0) for r in self.results)
        tr.write_line(
            f"{len(self.results)} test(s), {calls} LLM call(s), {failure_counts(self.results)}; "
            f"reached: {self._reached()}"
        )
        blocked = self.guard.blocked if self.guard is not None else []
        if blocked:
            hosts = sorted({b["host"] for b in blocked})
            tests = len({b["nodeid"] for b in blocked})
            tr.write_line(
                f"blocked: {len(blocked)} live call(s) to {', '.join(hosts)} in {tests} test(s), before anything "
                "was sent (the target is the emulator or cassettes; see each test's failure for the fix)",
                red=True,
            )
        workers = getattr(config.option, "numprocesses", None)
        if workers and workers != 0 and hasattr(config, "workerinput") is False and _xdist_active(config):
            tr.write_line(
                "note: tests ran in parallel (pytest-xdist); concurrent calls contend for the LLM server, "
                "so latencies may be higher than in a serial run"
            )
        if self.baseline_note:
            tr.write_line(f"not compared: {self.baseline_note}", yellow=True)
        if self.baseline is not None:
            gate = ", ".join(str(t) for t in self.thresholds) or "report only (no --llm-compare-fail)"
            tr.write_line(f"compared with baseline {self.baseline.label}: {gate}")
        for line in self.written:
            tr.write_line(f"written ({line})")

    def _reached(self) -> str:
        """What this run's LLM calls really reached: the emulator, cassettes, live hosts."""
        from urllib.parse import urlparse

        emulator = replayed = 0
        hosts: dict[str, int] = {}
        for result in self.results:
            for call in result.get("calls") or []:
                url = str(call.get("url") or "")
                if call.get("replayed"):
                    replayed += 1
                elif call.get("status") is None:
                    continue  # no answer: never reached (blocked by the guard, refused, unresolved)
                elif any(url.startswith(u) for u in self.emulator_urls) or result.get("source") == "emulator":
                    emulator += 1
                else:
                    host = urlparse(url).netloc or url or "unknown host"
                    hosts[host] = hosts.get(host, 0) + 1
        parts = []
        if emulator:
            parts.append(f"the built-in Groq emulator ({emulator} call(s))")
        if replayed:
            parts.append(f"cassettes ({replayed} call(s) replayed)")
        parts += [f"live {host} ({n} call(s))" for host, n in sorted(hosts.items())]
        if parts:
            return ", ".join(parts)
        target = "the built-in Groq emulator" if self.settings.base_url == EMULATOR else self.settings.base_url
        return f"no LLM server (fixtures' target: {target})"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return  # an interrupted run writes nothing: reports and baselines stay as they were
        settings = self.settings
        failed = False
        # the advice and the fitted models show in the summary and the JSON and HTML reports:
        # a run that writes none of them does not fit them (nor read the suite's cassettes)
        shown = settings.summary or settings.report_json is not None or settings.report_html is not None
        fits = self._advise() if shown else {}
        if settings.report_json is not None:
            from .report import build_json

            failed |= not self._write(
                session,
                "--llm-report-json",
                settings.report_json,
                lambda: build_json(self.results, base_url=settings.base_url, fits=fits, settings=settings),
            )
        for option, path, kind in (
            ("--llm-report-bmf", settings.report_bmf, "bmf"),
            ("--llm-report-github-benchmark", settings.report_github_benchmark, "github"),
        ):
            if path is not None:
                from .report.export import render_export

                failed |= not self._write(session, option, path, lambda kind=kind: render_export(self.results, kind))
        if settings.report_html is not None:
            from .report.html import render_html

            failed |= not self._write(
                session,
                "--llm-report-html",
                settings.report_html,
                lambda: render_html(
                    self.results,
                    fits=fits,
                    advice={r["nodeid"]: r.get("advice") or [] for r in self.results},
                    baseline=None if self.baseline is None else self.baseline.label,
                ),
            )
        if settings.report_md is not None or (os.environ.get("GITHUB_STEP_SUMMARY") and self.results):
            from .report.markdown import render_markdown

            markdown = render_markdown(self.results, baseline=None if self.baseline is None else self.baseline.label)
            if settings.report_md is not None:
                failed |= not self._write(session, "--llm-report-md", settings.report_md, lambda: markdown)
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                try:
                    with open(summary, "a", encoding="utf-8") as fh:  # GitHub's file: append, as the docs ask
                        fh.write(markdown + "\n")
                except OSError as err:
                    self._error(session, f"cannot append to $GITHUB_STEP_SUMMARY {summary}: {err}")
        if (settings.save or settings.autosave) and self.results:
            from .gate.baseline import BaselineError, autosave_name, build_document, resolve_save

            try:
                target = resolve_save(settings.storage, settings.save or autosave_name())
            except BaselineError as err:
                self._error(session, str(err))
                failed = True
            else:
                failed |= not self._write(
                    session,
                    "--llm-save",
                    target,
                    lambda: json.dumps(build_document(self.results), indent=4) + "\n",
                )
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def _advise(self) -> dict[str, Any]:
        """Fit the latency model on this session's calls and the suite's cassettes, and attach
        each test's parameter advice to its result; the fitted models as JSON-safe dicts."""
        if not self.results:
            return {}
        from .advisor.model import cassette_observations, fit_models, lint, observation_cache, observations

        # replayed calls are read from their cassettes below: counting them here would count them twice
        obs = observations(c for r in self.results for c in r.get("calls") or [] if not c.get("replayed"))
        recorded = cassette_observations(self.config.rootpath, cache=observation_cache(self.config))
        fits = fit_models(obs + recorded + self._baseline_observations())
        for result in self.results:
            result["advice"] = lint(result, fits)
        return {model: fit.to_dict() for model, fit in fits.items()}

    def _write(self, session: pytest.Session, option: str, path: Path, render: Any) -> bool:
        from .core.atomic import atomic_write_text

        try:
            atomic_write_text(path, render())
        except OSError as err:
            self._error(session, f"cannot write {option} {path}: {err}")
            return False
        self.written.append(f"{option}: {_relpath(path, self.config.rootpath)}")
        return True

    def _error(self, session: pytest.Session, message: str) -> None:
        session.config.get_terminal_writer().line(f"pytest-llmlatency: {message}", red=True)


def _verdict(report: pytest.TestReport, over_budget: bool) -> str:
    if hasattr(report, "wasxfail"):
        return "xfail" if report.skipped else "XPASS"
    if report.passed:
        return "pass"
    if report.skipped:
        return "skip"
    return "FAIL" if over_budget else "FAIL (test)"


def _xdist_active(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("dsession")


# -- fixtures -------------------------------------------------------------------------------------


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


def _vcr_cassette(request: pytest.FixtureRequest) -> Any:
    """pytest-recording's cassette when the test is marked ``vcr`` (the same file as ours)."""
    item = request.node
    if item.get_closest_marker("vcr") is None or "vcr" not in getattr(item, "fixturenames", ()):
        return None
    cassette = request.getfixturevalue("vcr")
    return cassette if hasattr(cassette, "play_counts") and hasattr(cassette, "data") else None


def _tape_for(item: pytest.Item, plugin: LLMLatencyPlugin, secrets: Any, shared: Any = None) -> Any:
    from pathlib import Path

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
    )


def _relpath(path: Any, root: Any) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _plugin(config: pytest.Config) -> LLMLatencyPlugin:
    return config.stash[_plugin_key]


@pytest.fixture(scope="session")
def groq_emulator(request: pytest.FixtureRequest) -> Iterator[GroqEmulator]:
    """A Groq emulator on a free loopback port for the whole session.

    ``groq_emulator.base_url`` goes to ``groq.Groq(base_url=...)``; it needs no
    real key (any non-empty key is accepted). Stopped at the end of the session.
    """
    from .emulator import GroqEmulator

    emulator = GroqEmulator()
    emulator.start()
    plugin = request.config.stash.get(_plugin_key, None)
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
