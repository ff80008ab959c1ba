"""Issue 15: shards merged into one gate.

One recorded suite of 60 tests (recorded once against the emulator, then replayed with no
server) runs on one "machine" and in 4 pytest-split shards of 15; merging the shards gives the
same results, `llmlatency compare` gives byte-identical verdicts and `llmlatency save`
equivalent baselines. 60 is the least count with every kind of test in every shard in equal
numbers: streamed or not (i % 2), three models (i % 3), over budget or not (i % 5), split 4 ways.
Inner pytest runs, in this process: 1 record + 1 single replay + 4 shard replays, in one
module-scoped fixture. The refusal cases work on copies of those files (no further inner runs)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmlatency.cli import main
from pytest_llmlatency.emulator import GroqEmulator
from pytest_llmlatency.report.jsonfile import dump_doc

pytest.importorskip("pytest_split")

N_TESTS = 60
DEAD = "http://127.0.0.1:9"

SUITE = f"""
import os

import groq
import pytest

MODELS = ["llama-3.1-8b-instant", "openai/gpt-oss-20b", "llama-3.3-70b-versatile"]

@pytest.fixture(scope="session")
def client(groq_base_url):  # one client for the suite: building one costs ~0.1 s (TLS context)
    with groq.Groq(base_url=groq_base_url, api_key=os.environ["GROQ_API_KEY"]) as c:
        yield c

@pytest.mark.max_tokens(completion=28)
@pytest.mark.parametrize("i", range({N_TESTS}))
def test_answer(client, llm_calls, i):
    answer = client.chat.completions.create(
        model=MODELS[i % 3],
        messages=[{{"role": "user", "content": f"Question number {{i}}: say something about queues."}}],
        max_completion_tokens=8 + (i % 5) * 6,  # i % 5 == 4 asks for 32 tokens: over the budget of 28
        stream=i % 2 == 0,
    )
    if i % 2 == 0:
        for _ in answer:
            pass
"""


@pytest.fixture(scope="module")
def _built() -> dict[str, Path]:
    """Where the first test of the module to ask for ``suite`` built it."""
    return {}


@pytest.fixture
def suite(_built: dict[str, Path], pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The suite recorded once, replayed on one machine and in 4 shards, every run in this
    process. Built by the first test that asks, with its ``pytester`` (function-scoped, so this
    cannot be a module-scoped fixture itself); the module's other tests read the same files."""
    if "root" not in _built:
        _built["root"] = _build(pytester, monkeypatch)
    return _built["root"]


def _build(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = pytester.path
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    for name in ("CI", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, key: str) -> pytest.RunResult:
        monkeypatch.setenv("GROQ_API_KEY", key)
        return pytester.runpytest("-p", "no:cacheprovider", "--llm-no-summary", "-p", "no:randomly", *args)

    with GroqEmulator(time_scale=50, jitter=0.05, seed=7) as emu:
        rec = run(f"--llm-base-url={emu.base_url}", "--llm-record-mode=once", key="gsk_recording_key")
    rec.assert_outcomes(passed=48, failed=12)  # i % 5 == 4 asks for more tokens than the budget
    assert len(list((root / "cassettes").rglob("*.yaml"))) == N_TESTS
    replay = (f"--llm-base-url={DEAD}",)
    exports = ("--llm-report-bmf=single.bmf.json", "--llm-report-github-benchmark=single.gh.json")
    single = run(*replay, "--llm-report-json=single.json", *exports, key="gsk_replay")
    single.assert_outcomes(passed=48, failed=12)
    for group in range(1, 5):
        shard = run(*replay, "--splits=4", f"--group={group}", f"--llm-report-json=shard{group}.json", key="gsk_replay")
        shard.assert_outcomes(passed=12, failed=3, deselected=45)
    return root


def _doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


def _shards(root: Path) -> list[Path]:
    return [root / f"shard{g}.json" for g in range(1, 5)]


def test_merged_shards_equal_the_single_machine_run(suite: Path, tmp_path: Path) -> None:
    shards = _shards(suite)
    sizes = [len(_doc(s)["tests"]) for s in shards]
    assert sum(sizes) == N_TESTS and all(s > 0 for s in sizes)  # pytest-split really split it
    assert _cli("merge", *shards, "-o", tmp_path / "merged.json") == 0
    merged, single = _doc(tmp_path / "merged.json"), _doc(suite / "single.json")
    assert merged["version"] == 2 and merged["settings"] == single["settings"]
    assert len(merged["parts"]) == 4 and sum(p["tests"] for p in merged["parts"]) == N_TESTS
    by_id = {t["nodeid"]: t for t in single["tests"]}
    assert [t["nodeid"] for t in merged["tests"]] == sorted(by_id)
    for test in merged["tests"]:
        other = by_id[test["nodeid"]]
        for key in ("verdict", "verdicts", "failures", "summary", "source", "budgets"):
            assert test[key] == other[key], (test["nodeid"], key)
        assert [c["e2e_ms"] for c in test["calls"]] == [c["e2e_ms"] for c in other["calls"]]
    assert sum(1 for t in merged["tests"] if t["verdict"] == "FAIL") == 12


def test_merge_is_order_independent_and_idempotent(suite: Path, tmp_path: Path) -> None:
    shards = _shards(suite)
    assert _cli("merge", *shards, "-o", tmp_path / "a.json") == 0
    assert _cli("merge", *reversed(shards), "-o", tmp_path / "b.json") == 0
    assert _cli("merge", shards[2], shards[0], shards[3], shards[1], "-o", tmp_path / "c.json") == 0
    assert _cli("merge", tmp_path / "a.json", "-o", tmp_path / "d.json") == 0  # a merged file alone
    # merging in two steps gives the same file as in one
    assert _cli("merge", *shards[:2], "-o", tmp_path / "half1.json") == 0
    assert _cli("merge", *shards[2:], "-o", tmp_path / "half2.json") == 0
    assert _cli("merge", tmp_path / "half2.json", tmp_path / "half1.json", "-o", tmp_path / "e.json") == 0
    text = (tmp_path / "a.json").read_bytes()
    for name in "bcde":
        assert (tmp_path / f"{name}.json").read_bytes() == text, name


def test_sharded_and_single_runs_give_identical_verdicts_and_baselines(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    storage = tmp_path / "storage"
    assert _cli("merge", *_shards(suite), "-o", tmp_path / "merged.json") == 0
    # one baseline from each side; equivalent: the same entries with the same data
    assert _cli("save", suite / "single.json", "--name", "single", "--storage", storage) == 0
    assert _cli("save", tmp_path / "merged.json", "--name", "merged", "--storage", storage) == 0
    (machine,) = storage.iterdir()
    saved = sorted(machine.iterdir())
    assert [p.name for p in saved] == ["0001_single.json", "0002_merged.json"]
    benches = [{b["fullname"]: b for b in _doc(p)["benchmarks"]} for p in saved]
    assert benches[0].keys() == benches[1].keys() and len(benches[0]) >= 3 * N_TESTS
    for name, bench in benches[0].items():
        assert bench["stats"] == benches[1][name]["stats"], name
        assert bench["extra_info"] == benches[1][name]["extra_info"], name
    # a baseline where every 7th test was faster: those regress, on both sides, with the same words
    doc = _doc(saved[0])
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        if int(info["nodeid"].split("[")[1].rstrip("]")) % 7 == 0:
            bench["stats"]["data"] = [x / 2 for x in bench["stats"]["data"]]
            for call in info["calls"]:
                for key in ("e2e_ms", "ttft_ms", "server_ms", "completion_ms"):
                    if call.get(key) is not None:
                        call[key] = call[key] / 2
    faster = tmp_path / "faster.json"
    faster.write_text(json.dumps(doc))
    capsys.readouterr()
    outputs = []
    for results in (suite / "single.json", tmp_path / "merged.json"):
        md = tmp_path / f"{results.stem}.md"
        code = _cli("compare", results, "--against", faster, "--fail", "e2e:10%", "--md", md, "--storage", storage)
        assert code == 1
        out, err = capsys.readouterr()
        assert "9 test(s) regressed" in err  # i % 7 == 0
        assert out == md.read_text()
        outputs.append(md.read_bytes())
    assert outputs[0] == outputs[1]
    assert "regressed against faster.json" in outputs[0].decode()
    # against the equivalent baseline: nothing regresses, exit 0
    assert _cli("compare", tmp_path / "merged.json", "--against", saved[0], "--fail", "e2e:10%") == 0


def test_compare_appends_to_the_step_summary(
    suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    baseline = tmp_path / "base.json"
    assert _cli("save", suite / "shard1.json", "--name", baseline) == 0
    assert _cli("compare", suite / "shard1.json", "--against", baseline, "--fail", "e2e:10%,ttft:20%") == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n## LLM latency")
    assert "Gate: e2e:10%, ttft:20%; 0 regression(s)." in text


# -- refusals ----------------------------------------------------------------------------------------


def _refused(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    capsys.readouterr()
    assert _cli("merge", *args) == 2
    err: str = capsys.readouterr().err
    return err


def test_merge_refuses_a_test_in_two_shards(suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s1, s2 = _shards(suite)[:2]
    out = tmp_path / "m.json"
    err = _refused(capsys, s1, s2, s1, "-o", out)
    assert f"is in both {s1} and {s1}" in err or f"is in {s1} twice" in err
    overlap = _doc(s2)
    overlap["tests"].append(copy.deepcopy(_doc(s1)["tests"][0]))
    (tmp_path / "overlap.json").write_text(dump_doc(overlap))
    nodeid = _doc(s1)["tests"][0]["nodeid"]
    err = _refused(capsys, s1, tmp_path / "overlap.json", "-o", out)
    assert f"test {nodeid} is in both {s1} and {tmp_path / 'overlap.json'}" in err
    assert not out.exists()


def test_merge_refuses_other_versions_settings_and_broken_files(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s1, s2 = _shards(suite)[:2]
    out = tmp_path / "m.json"
    doc = _doc(s2)
    (tmp_path / "newer.json").write_text(dump_doc({**doc, "plugin_version": "9.9.9"}))
    err = _refused(capsys, s1, tmp_path / "newer.json", "-o", out)
    assert "different pytest-llmlatency versions" in err and "9.9.9: " + str(tmp_path / "newer.json") in err
    other = {**doc, "settings": {**doc["settings"], "compare_method": "rank"}}
    (tmp_path / "rank.json").write_text(dump_doc(other))
    err = _refused(capsys, s1, tmp_path / "rank.json", "-o", out)
    assert f"compare_method is 'auto' in {s1} but 'rank' in {tmp_path / 'rank.json'}" in err
    text = s2.read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    err = _refused(capsys, s1, tmp_path / "cut.json", "-o", out)
    assert f"{tmp_path / 'cut.json'} is not valid JSON" in err and "truncated" in err
    (tmp_path / "empty.json").write_text("")
    assert f"{tmp_path / 'empty.json'} is empty" in _refused(capsys, s1, tmp_path / "empty.json", "-o", out)
    (tmp_path / "other.json").write_text('{"benchmarks": []}')
    assert "is not a --llm-report-json file" in _refused(capsys, s1, tmp_path / "other.json", "-o", out)
    assert f"cannot read {tmp_path / 'missing.json'}" in _refused(capsys, s1, tmp_path / "missing.json", "-o", out)
    v1 = {k: v for k, v in doc.items() if k not in ("settings", "parts")}
    (tmp_path / "v1.json").write_text(dump_doc({**v1, "version": 1}))
    err = _refused(capsys, s1, tmp_path / "v1.json", "-o", out)
    assert f"{tmp_path / 'v1.json'}: report version 1" in err
    (tmp_path / "v3.json").write_text(dump_doc({**doc, "version": 3}))
    assert "has report version 3" in _refused(capsys, s1, tmp_path / "v3.json", "-o", out)
    assert not out.exists()
    # version 1 files are still read by the other commands
    assert _cli("save", tmp_path / "v1.json", "--name", tmp_path / "from-v1.json") == 0


def test_pytest_writes_the_service_exports_and_the_cli_writes_the_same_from_merged_files(
    suite: Path, tmp_path: Path
) -> None:
    from tests.report.test_export import check_action, check_bmf

    bmf = check_bmf((suite / "single.bmf.json").read_text())
    action = check_action((suite / "single.gh.json").read_text())
    assert len(bmf) == N_TESTS and len(action) >= 3 * N_TESTS
    streamed = bmf["test_suite.py::test_answer[0]"]
    assert set(streamed) >= {"llm-e2e-ms", "llm-ttft-ms", "llm-completion-tokens", "llm-throughput-tokens-per-s"}
    assert _cli("merge", *_shards(suite), "-o", tmp_path / "merged.json") == 0
    args = ("--bmf", tmp_path / "m.bmf.json", "--github-benchmark", tmp_path / "m.gh.json")
    assert _cli("export", tmp_path / "merged.json", *args) == 0
    assert (tmp_path / "m.bmf.json").read_bytes() == (suite / "single.bmf.json").read_bytes()
    assert (tmp_path / "m.gh.json").read_bytes() == (suite / "single.gh.json").read_bytes()


def test_the_cli_defaults_are_the_plugins() -> None:
    from pytest_llmlatency import cli, settings

    assert cli.COMPARE_METHODS == settings.COMPARE_METHODS
    assert cli.DEFAULT_STORAGE == settings.DEFAULT_STORAGE


def test_compare_reports_bad_arguments_naming_them(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = suite / "shard1.json"
    assert _cli("compare", shard, "--against", "main", "--storage", tmp_path / "empty") == 2
    assert "--against: no saved run matching 'main'" in capsys.readouterr().err
    assert _cli("save", shard, "--name", tmp_path / "b.json") == 0
    assert _cli("compare", shard, "--against", tmp_path / "b.json", "--fail", "e2e:lots") == 2
    assert "llmlatency compare --fail: cannot parse 'e2e:lots'" in capsys.readouterr().err


def test_the_gate_on_json_results_keeps_the_markers_options() -> None:
    """`gate_result` (shared by the in-run gate and `llmlatency compare`) reads what the run kept
    of @pytest.mark.llm_baseline and of agent budgets from the result itself."""
    from pytest_llmlatency.gate.compare import gate_result
    from pytest_llmlatency.gate.store import Baseline, TestBaseline
    from pytest_llmlatency.gate.thresholds import parse_thresholds

    def calls(ms: float) -> list[dict[str, Any]]:
        return [{"ok": True, "model": "m", "e2e_ms": ms, "completion_tokens": 10, "iteration": 0}]

    base = Baseline(Path("b.json"), {"t::a": TestBaseline("t::a", "replay", {"e2e": [100.0]}, calls(100.0))}, "b.json")
    gate = parse_thresholds("e2e:10%")
    result: dict[str, Any] = {"nodeid": "t::a", "source": "replay", "calls": calls(150.0)}
    comparison, message = gate_result(result, base, gate)
    assert comparison is not None and comparison["regressed"] and message and "a regressed against b.json" in message
    assert gate_result({**result, "baseline_options": {"compare": False, "tolerance": None}}, base, gate) == (
        None,
        None,
    )
    loose = {**result, "baseline_options": {"compare": True, "tolerance": ["e2e:80%"]}}
    comparison, message = gate_result(loose, base, gate)
    assert comparison is not None and not comparison["regressed"] and message is None
    comparison, _ = gate_result({**result, "nodeid": "t::new"}, base, gate)
    assert comparison == {
        "baseline": "b.json",
        "new": True,
        "shifts": [],
        "regressed": False,
        "message": "no baseline for this test yet",
    }
