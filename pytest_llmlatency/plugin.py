"""pytest-llmlatency's pytest hooks (the ``pytest11`` entry point).

Kept thin: measurement, the emulator and the reports load on first use. The fixtures live in
``fixtures.py``; importing them here is what makes pytest find them (it collects the fixtures
of a plugin module from the module's names). The terminal summary and the files a session
writes are ``report.summary`` and ``report.writers``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from .core.names import MARKERS, LLMLatencyWarning

# the fixtures: pytest finds a plugin module's fixtures among its names
from .fixtures import (  # noqa: F401
    _calling_key,
    _late_key,
    _llmlatency_markers,
    _plugin_key,
    _recorder_key,
    async_groq_client,
    groq_base_url,
    groq_client,
    groq_emulator,
    groq_env,
    groq_openai_base_url,
    groq_openai_env,
    llm_calls,
)
from .settings import EMULATOR, Settings, add_options, load_settings, settings_dict

if TYPE_CHECKING:
    from .capture.intercept import Recorder
    from .cassettes.tape import Tape
    from .core.records import CallRecord, CassetteRecord, ResultRecord
    from .emulator import GroqEmulator

REPORT_ATTR = "llmlatency"

_result_key: pytest.StashKey[ResultRecord] = pytest.StashKey()
"""The test's result (JSON-safe), from its judging to its report."""


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
        self.results: list[ResultRecord] = []
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
            from .gate.errors import BaselineError
            from .gate.store import check_save_name

            try:
                check_save_name(settings.save)  # before the run, not after it
            except BaselineError as err:
                raise pytest.UsageError(str(err)) from None
        if settings.compare is not None:
            from .gate.errors import BaselineError, NothingSaved
            from .gate.store import load_baseline, resolve_compare
            from .gate.thresholds import parse_thresholds

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
            from .advisor.fit import fit_models
            from .advisor.scan import cassette_observations, observation_cache

            cached = cassette_observations(self.config.rootpath, cache=observation_cache(self.config))
            self._fits = fit_models(cached + self._baseline_observations())
        return self._fits

    def _baseline_observations(self) -> list[Any]:
        """The calls recorded in the baseline being compared with, for the advisor's model."""
        if self.baseline is None:
            return []
        from .advisor.scan import observations

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
        if recorder.tape is not None:
            result["cassette"] = _cassette_result(recorder.tape, item.nodeid, self.config.rootpath, passed=passed)
        result["source"] = _source(result["calls"], self.emulator_urls)
        missing = _missing_cassette(result, live=self.settings.live)
        if missing and not self.settings.require_cassettes:
            from .cassettes.tape import ci_environment

            missing = missing if ci_environment() else None  # in CI it should have replayed: say so
        if missing and "cassette" in result:
            result["cassette"]["missing"] = True
        if missing and self.settings.require_cassettes:
            failures = [
                *failures,
                f"no cassette at {missing}: the test ran against the {_target(result)} instead of replaying "
                f"(--llm-require-cassettes). Record it with: pytest --llm-record-mode=once {item.nodeid}",
            ]
            result["failures"] = failures
        regression = self._compare(item, recorder, result)
        if regression:
            failures = [*failures, regression]
            result["failures"] = failures
        item.stash[_result_key] = result
        for key, value in result["junit"].items():
            item.user_properties.append((key, value))
        if failures and passed:
            pytest.fail("\n".join(failures), pytrace=False)

    def _compare(self, item: pytest.Item, recorder: Recorder, result: ResultRecord) -> str | None:
        """Compare the test with the baseline; the regression message when the gate fails it."""
        options = recorder.baseline
        if options is not None:  # kept in the result: `llmlatency compare` judges merged files alike
            result["baseline_options"] = {"compare": options.compare, "tolerance": options.tolerance}
        if self.baseline is None:
            return None
        from .gate.compare import gate_result

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
            result = cast("ResultRecord", dict(result))
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
    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
    ) -> None:
        if self.is_worker or not self.results or not self.settings.summary:
            return
        if config.get_verbosity() < -1:
            return
        from .report.summary import write_summary

        workers = getattr(config.option, "numprocesses", None)
        write_summary(
            terminalreporter,
            self.results,
            emulator_urls=self.emulator_urls,
            target="the built-in Groq emulator" if self.settings.base_url == EMULATOR else self.settings.base_url,
            blocked=self.guard.blocked if self.guard is not None else [],
            parallel=bool(
                workers and workers != 0 and hasattr(config, "workerinput") is False and _xdist_active(config)
            ),
            baseline_note=self.baseline_note,
            baseline=None if self.baseline is None else self.baseline.label,
            thresholds=self.thresholds,
            written=self.written,
        )

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return  # an interrupted run writes nothing: reports and baselines stay as they were
        settings = self.settings
        files = {
            "--llm-report-json": settings.report_json,
            "--llm-report-bmf": settings.report_bmf,
            "--llm-report-github-benchmark": settings.report_github_benchmark,
            "--llm-report-html": settings.report_html,
            "--llm-report-md": settings.report_md,
        }
        if not self.results and all(path is None for path in files.values()):
            return  # nothing to write: a session that measured nothing loads no report code
        from .report.writers import ReportWriter, write_reports

        # the advice and the fitted models show in the summary and the JSON and HTML reports:
        # a run that writes none of them does not fit them (nor read the suite's cassettes)
        shown = settings.summary or settings.report_json is not None or settings.report_html is not None
        fits = self._advise() if shown else {}
        writer = ReportWriter(lambda message: self._error(session, message))
        ok = write_reports(
            writer,
            self.results,
            files,
            base_url=settings.base_url,
            fits=fits,
            settings=settings_dict(settings) if settings.report_json is not None else None,
            baseline=None if self.baseline is None else self.baseline.label,
            save=settings.save,
            autosave=settings.autosave,
            storage=settings.storage,
        )
        self.written += [f"{option}: {_relpath(path, self.config.rootpath)}" for option, path in writer.written]
        if not ok and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def _advise(self) -> dict[str, Any]:
        """Fit the latency model on this session's calls and the suite's cassettes, and attach
        each test's parameter advice to its result; the fitted models as JSON-safe dicts."""
        if not self.results:
            return {}
        from .advisor.fit import fit_models
        from .advisor.lint import lint
        from .advisor.scan import cassette_observations, observation_cache, observations

        # replayed calls are read from their cassettes below: counting them here would count them twice
        obs = observations(c for r in self.results for c in r.get("calls") or [] if not c.get("replayed"))
        recorded = cassette_observations(self.config.rootpath, cache=observation_cache(self.config))
        fits = fit_models(obs + recorded + self._baseline_observations())
        for result in self.results:
            result["advice"] = lint(result, fits)
        return {model: fit.to_dict() for model, fit in fits.items()}

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


def _relpath(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _missing_cassette(result: ResultRecord, *, live: bool) -> str | None:
    """The path of the cassette a test would have replayed, when it had none and made its calls
    for real without recording them (not under --llm-live, which asks for live calls)."""
    cassette = result.get("cassette")
    if live or cassette is None or cassette["existed"] or cassette["recorded"] or not result["calls"]:
        return None
    return cassette["path"]


def _target(result: ResultRecord) -> str:
    return "emulator" if result.get("source") == "emulator" else "server"


def _cassette_result(tape: Tape, nodeid: str, rootpath: Path, *, passed: bool) -> CassetteRecord:
    """Write the test's cassette when it recorded calls and completed; what the result says of it.

    A cassette is written only when the test body completed: never from a run that raised or
    was interrupted. Budget misses do not stop it: the recording is complete."""
    notes = list(tape.unrecorded)
    if tape.predicted:
        notes.append(
            f"{tape.predicted} call(s) answered from the closest recording with a predicted cost "
            f"(--llm-predict={tape.predict_mode}); re-record to measure: pytest "
            f"--llm-record-mode=rewrite {nodeid}"
        )
    if tape.recorded and not passed:
        notes.append("not written: the test did not complete")
    elif tape.recorded:
        try:
            tape.commit()
        except OSError as err:
            notes.append(f"not written: {err}")
    return {
        "path": _relpath(tape.path, rootpath),
        "mode": tape.mode or "default",
        "existed": tape.existed,
        "replayed": tape.replayed,
        "recorded": tape.recorded,
        "saved": tape.saved,
        "shared": tape.shared,
        "notes": notes,
    }


def _source(calls: Sequence[CallRecord], emulator_urls: Collection[str]) -> str:
    """Where the test's calls went: ``replay`` (all replayed), ``emulator`` (every live call to
    an emulator this process started) or ``live``."""
    live = [c for c in calls if not c["replayed"]]
    if calls and not live:
        return "replay"
    if (
        live
        and emulator_urls
        and all(any(str(c.get("url", "")).startswith(url) for url in emulator_urls) for c in live)
    ):
        return "emulator"
    return "live"
