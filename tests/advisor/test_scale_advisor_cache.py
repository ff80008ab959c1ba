"""The advisor reads a cassette only when it changed: an unchanged tree comes from its cache
(in pytest's cache folder across runs), a changed, added or removed file is noticed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_llmlatency.advisor.fit import fit_models
from pytest_llmlatency.advisor.scan import (
    OBSERVATION_CACHE,
    Observation,
    ScanStats,
    _memo,
    cassette_observations,
)

from ..helpers import REAL_CASSETTES


def _tree(root: Path) -> list[Path]:
    """Real Groq cassettes (streamed and not) under ``root/tests/cassettes/<module>/``."""
    paths = []
    for source in sorted(REAL_CASSETTES.glob("*/*.yaml")):
        target = root / "tests" / "cassettes" / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        paths.append(target)
    return paths


def _scan(root: Path, cache: Path | None) -> tuple[list[Observation], ScanStats]:
    _memo.clear()  # as a new pytest process: only the cache file carries over
    stats = ScanStats()
    return list(cassette_observations(root, cache=cache, stats=stats)), stats


def test_unchanged_tree_is_not_parsed_again_and_a_changed_file_is(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    cache = tmp_path / ".pytest_cache" / "d" / "llmlatency" / OBSERVATION_CACHE
    first, stats = _scan(tmp_path, cache)
    assert stats.files == len(paths) and stats.parsed == len(paths) and stats.cached == 0
    assert first and cache.is_file()
    written = cache.stat().st_mtime_ns

    again, stats = _scan(tmp_path, cache)
    assert (stats.parsed, stats.cached) == (0, len(paths))
    assert again == first
    assert cache.stat().st_mtime_ns == written, "nothing changed: the cache is not rewritten"
    assert fit_models(again).keys() == fit_models(first).keys()

    # one file changes (a comment: the same recordings, another size): only it is read again
    changed = paths[0]
    changed.write_text(changed.read_text() + "# reviewed\n")
    again, stats = _scan(tmp_path, cache)
    assert (stats.parsed, stats.cached) == (1, len(paths) - 1)
    assert again == first

    # a removed file leaves the cache; a broken one is skipped (its own test reports it)
    removed = paths[1]
    removed.unlink()
    paths[2].write_text("interactions: [not, a, cassette\n")
    after, stats = _scan(tmp_path, cache)
    assert (stats.files, stats.parsed) == (len(paths) - 1, 1)
    files = json.loads(cache.read_text())["files"]
    assert str(removed.relative_to(tmp_path)) not in files
    assert len(after) < len(first)


def test_without_a_cache_file_each_process_reads_once(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    _, stats = _scan(tmp_path, None)
    assert stats.parsed == len(paths)
    stats = ScanStats()
    cassette_observations(tmp_path, stats=stats)  # the same process: its memo
    assert (stats.parsed, stats.cached) == (0, len(paths))


def test_a_cache_of_another_version_is_ignored(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    cache = tmp_path / OBSERVATION_CACHE
    first, _ = _scan(tmp_path, cache)
    doc = json.loads(cache.read_text())
    doc["tag"] = "0/old"
    cache.write_text(json.dumps(doc))
    again, stats = _scan(tmp_path, cache)
    assert stats.parsed == len(paths) and again == first
    cache.write_text("{not json")
    again, stats = _scan(tmp_path, cache)
    assert stats.parsed == len(paths) and again == first


def test_the_plugin_keeps_the_cache_in_pytests_cache_folder(pytester: pytest.Pytester) -> None:
    cassettes = pytester.path / "cassettes" / "recorded"
    cassettes.mkdir(parents=True)
    shutil.copy(REAL_CASSETTES / "wandb__weave" / "test_groq_quickstart.yaml", cassettes / "test_q.yaml")
    pytester.makepyfile("def test_x(llm_calls):\n    pass\n")
    report = pytester.path / "report.json"
    pytester.runpytest(f"--llm-report-json={report}").assert_outcomes(passed=1)
    cache = pytester.path / ".pytest_cache" / "d" / "llmlatency" / OBSERVATION_CACHE
    files = json.loads(cache.read_text())["files"]
    assert list(files) == [str(Path("cassettes", "recorded", "test_q.yaml"))]
    assert files[str(Path("cassettes", "recorded", "test_q.yaml"))]["obs"]
    assert json.loads(report.read_text())["models"], "the advisor fitted the recorded calls"


@pytest.mark.parametrize(
    ("args", "fitted"),
    [((), True), (("--llm-no-summary",), False), (("--llm-no-summary", "--llm-report-html=r.html"), True)],
    ids=["summary", "no output", "html report"],
)
def test_the_advisor_runs_only_when_its_advice_is_shown(
    pytester: pytest.Pytester, args: tuple[str, ...], fitted: bool
) -> None:
    """The advice and the fitted models show in the summary and the JSON and HTML reports: a
    run with none of them (``--llm-no-summary``, as a CI job that only gates) does not read the
    suite's cassettes for them at the end of the session."""
    cassettes = pytester.path / "cassettes" / "recorded"
    cassettes.mkdir(parents=True)
    shutil.copy(REAL_CASSETTES / "wandb__weave" / "test_groq_quickstart.yaml", cassettes / "test_q.yaml")
    pytester.makepyfile("def test_x(llm_calls):\n    pass\n")
    pytester.runpytest(*args).assert_outcomes(passed=1)
    cache = pytester.path / ".pytest_cache" / "d" / "llmlatency" / OBSERVATION_CACHE
    assert cache.is_file() == fitted
