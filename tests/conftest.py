from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.metadata
import os
import pkgutil
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_llmlatency.emulator import GroqEmulator

pytest_plugins = ["pytester"]

# litellm fetches its model price list from the network when imported unless told not to;
# tests reach 127.0.0.1 only (set here, before any test imports it; inherited by pytester runs)
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# and, counting a streamed Llama answer's tokens, downloads a tokenizer from the Hugging Face hub
# (23 s of retries without a network; it then falls back to its bundled tiktoken)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def exact_emulator() -> Iterator[GroqEmulator]:
    """An emulator with an exact schedule: no jitter, 5 ms queue, real time."""
    with GroqEmulator(jitter=0, queue_ms=5) as emu:
        yield emu


@pytest.fixture
def fast_emulator() -> Iterator[GroqEmulator]:
    """An emulator 20 times faster than Groq, exact schedule: for behaviour, not timing."""
    with GroqEmulator(jitter=0, queue_ms=5, time_scale=20) as emu:
        yield emu


# For every pytester inner run: skip two plugins that other packages install and no inner run
# uses, hypothesis' and langsmith's (langchain-groq brings it in; seconds to import under load),
# and set pytest-asyncio's loop scope, whose absence warns in every inner run.
LEAN_INNER_RUNS = "-p no:hypothesispytest -p no:langsmith_plugin -o asyncio_default_fixture_loop_scope=function"


@pytest.fixture(scope="session")
def _inner_run_modules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Imports, once per process and before pytester snapshots ``sys.modules``, every module of
    the plugin and the clients inner runs use, and keeps what inner runs import loaded (see
    ``_keep_libraries``)."""
    import pytest_llmlatency

    for info in pkgutil.walk_packages(pytest_llmlatency.__path__, "pytest_llmlatency."):
        importlib.import_module(info.name)
    for name in ("yaml", "vcr", "httpx", "groq", "openai", "pytest_recording.plugin"):
        importlib.import_module(name)
    # what importlib.metadata imports on first use (pytest reads plugin versions with it)
    importlib.metadata.version("pluggy")
    importlib.metadata.entry_points(group="pytest11")
    # The importlib_metadata backport (litellm imports it) installs its distribution finder on
    # sys.meta_path when first imported, and deletes the standard library's (PathFinder's
    # find_distributions). Imported for the first time inside a test that uses pytester, its
    # finder is then dropped when pytester restores its sys.meta_path snapshot, while the
    # standard one stays deleted: importlib.metadata finds no package at all for the rest of
    # the process (every later inner run failed with PackageNotFoundError: pluggy). Imported
    # here, before any snapshot, its finder is in every snapshot.
    with contextlib.suppress(ImportError):
        importlib.import_module("importlib_metadata")
    _collect_and_freeze()
    with pytest.MonkeyPatch.context() as mp:
        _keep_libraries(mp, tmp_path_factory.getbasetemp())
        yield
    # what was frozen alive and has died since (a client litellm cached, then dropped) is
    # collected here, its ResourceWarning ignored as in ``pytester``, not at interpreter exit
    gc.unfreeze()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
def pytester(
    _inner_run_modules: None, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[pytest.Pytester]:
    """pytester, ready for inner runs in this process (``--runpytest=inprocess``, pytest's
    default, which pyproject keeps): an inner run then costs milliseconds instead of
    a new interpreter importing pytest, groq, openai, vcrpy and the plugins (about a second
    each, several under load). The plugin's patches are per test and undone, its state lives
    in the inner run's config. A test that needs a fresh interpreter (a KeyboardInterrupt in
    the inner run, import-time behaviour, a module-level cache it counts) is marked
    ``@pytest.mark.subprocess``, or calls ``pytester.runpytest_subprocess`` itself.

    Set here rather than in an autouse fixture: pytester itself clears ``PYTEST_ADDOPTS``.

    Afterwards, what the inner runs' own tests left open (a client an inner test does not
    close, an abandoned stream's connection) is collected here, its ResourceWarning ignored:
    in this process the garbage collector would otherwise find it during whichever later test
    happens to run, and fail that one (filterwarnings=error)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", LEAN_INNER_RUNS)
    if request.node.get_closest_marker("subprocess") is not None:
        monkeypatch.setattr(pytester, "runpytest", pytester.runpytest_subprocess)
    yield pytester
    _collect_and_freeze()


def _collect_and_freeze() -> None:
    """Collects what inner runs left (see ``pytester``), then moves every object still alive
    to the collector's permanent generation (``gc.freeze``): the libraries kept loaded
    (litellm, pydantic-ai, openai: some 400,000 objects) are then not traversed again by every
    later collection, here or automatic. A full collection took 0.26 s with them, 1 ms frozen;
    the suite runs some 450 inner runs. What an inner run creates is young again, and
    collected as before."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    gc.freeze()


def _keep_libraries(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """After an in-process run pytester forgets every module the run imported, so the next
    run imports them again: seconds for litellm or pydantic-ai, and a library imported twice
    in one process breaks (importlib.metadata found no packages after litellm was dropped).
    Keep them: forget only the inner runs' own modules (their tests and conftests, under the
    session's temporary directory), which is what stops two runs' same-named test modules
    clashing. pytester offers no public way to say this; its snapshot takes a ``preserve``
    predicate, and this wraps it."""
    from _pytest import pytester as _pytester

    snapshot = _pytester.SysModulesSnapshot
    original = snapshot.__init__
    inner = str(root)

    def library(name: str) -> bool:
        module = sys.modules.get(name)
        where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", None) or ()), None)
        return not str(where or "").startswith(inner)

    def init(self: object, preserve: Callable[[str], bool] | None = None) -> None:
        original(self, lambda name: library(name) or (preserve is not None and preserve(name)))  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot, "__init__", init)


# Test files whose module- or session-scoped fixture is expensive (it starts inner pytest runs
# or fits a model): under xdist's default scheduling their tests spread over the workers and
# each worker pays the fixture again (test_shards_merge's suite took 49 s on both workers).
# They are sent to one worker as a whole; every other test is scheduled one by one as before.
ONE_WORKER_FILES = frozenset(
    {
        "tests/report/test_merge.py",
        "tests/advisor/test_advisor.py",
        "tests/capture/test_measurement.py",
        "tests/cassettes/test_replay_perf_format.py",
    }
)


# Tests that import litellm (3.3 s, the slowest library any test imports; kept loaded for the
# session, see ``_keep_libraries``) go to one worker together, which then pays the import once.
ONE_WORKER_GROUPS = {
    "litellm": ("tests/capture/test_paths.py::test_litellm_", "tests/test_wiring.py::test_litellm_"),
}


# The scopes that take seconds (the slowest first, as measured with ``--durations``): handed out
# before all others, so that a run ends with short tests on both workers instead of one worker
# finishing a long test (or a pinned file) while the other has nothing left to do. A name that
# no longer matches anything is ignored.
SLOW_FIRST = (
    # test_advisor's fixture fits a model to real-time calls: beside it at the start, the import
    # of litellm takes the other core (not the interpreters an xdist inner run starts)
    "tests/advisor/test_advisor.py",
    "litellm",
    "tests/report/test_reporting.py::test_xdist",
    "tests/gate/test_baseline.py::test_xdist_writes_one_complete_baseline",
    "tests/capture/test_guard.py::test_summary_says_what_was_reached",
    "tests/report/test_merge.py",
    "tests/test_reliability.py::test_fault_catalogue",
    "tests/gate/test_baseline.py::test_interrupted_run_leaves_the_baseline_intact",
    "tests/report/test_reporting.py::test_interrupted_run_keeps_the_old_report",
    "tests/capture/test_measurement.py",
    "tests/gate/test_stats.py::test_false_alarm_rate_of_the_exact_test_is_at_most_alpha",
    "tests/cassettes/test_replay_perf_format.py",
    "tests/test_reliability.py::test_two_hundred_concurrent_streams_are_all_measured",
    "tests/cassettes/test_replay_safety.py::test_shared_cassette_keeps_failed_runs_out_and_no_key",
    "tests/test_fixture.py::test_groq_emulator_fixture",
    "tests/report/test_history.py::test_history_page_renders_in_headless_chromium",
    "tests/gate/test_gate.py::test_aa_with_groq_queue_noise_passes_at_every_n",
    "tests/gate/test_baseline.py::test_marker_tolerance_and_opt_out",
    "tests/cassettes/test_replay.py::test_paced_replay_takes_the_recorded_time",
    "tests/capture/test_stall_capture.py::test_replayed_calls_have_no_client_split",
    "tests/emulator/test_latency.py::test_serves_many_concurrent_streams",
    "tests/capture/test_capture.py::test_retries_make_one_call_with_attempts",
    "tests/cassettes/test_replay.py::test_default_mode_replays_and_never_records_implicitly_in_ci",
    "tests/test_robustness.py::test_marker_edge_cases",
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``-n auto`` with xdist's default ``--dist load``: the same, except that the files of
    ``ONE_WORKER_FILES`` and the tests of each group of ``ONE_WORKER_GROUPS`` each go to a
    single worker, and the scopes of ``SLOW_FIRST`` are handed out first."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class Scheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if path in ONE_WORKER_FILES:
                return path
            for group, prefixes in ONE_WORKER_GROUPS.items():
                if nodeid.startswith(prefixes):
                    return group
            return nodeid

        def _assign_work_unit(self, node: object) -> None:
            for scope in SLOW_FIRST:
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
                    break
            super()._assign_work_unit(node)

    return Scheduling(config, log)
