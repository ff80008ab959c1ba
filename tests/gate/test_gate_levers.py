"""Issue 14 item 2: the gate on Groq's other latency levers. Saved runs keep the prompt cache
share, the served tier and the cost; ``--llm-compare-fail`` takes ``cached_share`` and ``cost``;
the comparison is keyed on the served tier; attribution names a cold cache or a tier change.

Unit cases build call records with known numbers (what ``LLMCall.to_dict`` gives); the user's
view runs pytest against the emulator (a new emulator per inner run, so its prompt cache starts
cold). No assertion depends on wall-clock timing: the verdicts rest on Groq's reported cached
tokens, tiers, prices and prompt times, with margins of hundreds of ms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmlatency.gate.compare import compare_test
from pytest_llmlatency.gate.errors import BaselineError
from pytest_llmlatency.gate.store import TestBaseline as Saved
from pytest_llmlatency.gate.store import build_document, load_baseline
from pytest_llmlatency.gate.thresholds import Threshold, parse_thresholds

from .records import groq_call

# -- the grammar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("cached_share:20%", [Threshold("cached_share", absolute=20)]),
        ("cached_share:0.2", [Threshold("cached_share", absolute=20)]),
        ("cached_share:0", [Threshold("cached_share", absolute=0)]),
        ("cost:10%", [Threshold("cost", percent=10)]),
        ("cost:0.001", [Threshold("cost", absolute=0.001)]),
        (
            "e2e:10%,cached_share:25%,cost:5%",
            [Threshold("e2e", percent=10), Threshold("cached_share", absolute=25), Threshold("cost", percent=5)],
        ),
    ],
)
def test_lever_grammar(spec: str, expected: list[Threshold]) -> None:
    assert parse_thresholds(spec) == expected
    assert parse_thresholds([str(t) for t in expected]) == expected, "str() round-trips"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "cached_share:120%",
            "--llm-compare-fail: 'cached_share:120%': cached_share takes a drop in percentage points",
        ),
        ("cached_share:20", "'cached_share:20': cached_share takes a drop in percentage points .* or as a fraction"),
        ("cached_share:5ms", "'cached_share:5ms': cached_share takes"),
        ("cost:5ms", "--llm-compare-fail: 'cost:5ms': cost takes a percentage .* or US dollars per run"),
        ("cost:1s", "'cost:1s': cost takes"),
        ("cache:10%", "unknown metric 'cache' in 'cache:10%'; use one of .*cached_share, cost"),
    ],
)
def test_lever_grammar_errors_name_the_option_and_the_value(spec: str, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        parse_thresholds(spec)


def test_cached_share_is_higher_is_better_in_points() -> None:
    twenty = Threshold("cached_share", absolute=20)
    assert twenty.exceeded(80, 59) and not twenty.exceeded(80, 60), "a drop of more than 20 points"
    assert not twenty.exceeded(50, 100), "a warmer cache is no regression"
    assert twenty.improved(10, 40) and not twenty.improved(40, 10)
    assert Threshold("cached_share", absolute=0).exceeded(100, 99)
    cost = Threshold("cost", percent=10)
    assert cost.exceeded(0.001, 0.00111) and not cost.exceeded(0.001, 0.00109)


def test_the_session_option_reports_a_bad_lever_threshold(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-compare", "--llm-compare-fail=cached_share:2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-compare-fail: 'cached_share:2': cached_share takes a drop in percentage*"])


# -- unit: call records with known numbers ---------------------------------------------------------


def call(
    *,
    cached: float = 0.0,
    prompt_tokens: int = 3000,
    prompt_ms: float | None = None,
    tokens: int = 40,
    queue: float = 20.0,
    tier: str | None = "on_demand",
    requested: str | None = None,
    cost: float | None = None,
    i: int = 0,
) -> dict[str, Any]:
    """A gpt-oss-20b call: 3,000 prompt tokens prefilled at 12,000 tok/s, cached ones 10x faster."""
    if prompt_ms is None:
        prompt_ms = prompt_tokens * (1 - cached) / 12.0 + prompt_tokens * cached / 120.0
    if cost is None:
        cost = (prompt_tokens * (1 - cached) * 0.075 + prompt_tokens * cached * 0.0375 + tokens * 0.30) / 1e6
    return groq_call(
        model="openai/gpt-oss-20b",
        params={"max_completion_tokens": 64} | ({"service_tier": requested} if requested else {}),
        prompt_chars=12000,
        i=i,
        queue=queue,
        prompt_ms=prompt_ms,
        completion_ms=tokens * 1.0,
        path=5.0,
        prompt_tokens=prompt_tokens,
        tokens=tokens,
    ) | {
        "cached_tokens": round(prompt_tokens * cached) or None,
        "cached_share": cached,
        "service_tier": tier,
        "requested_tier": requested,
        "cost_usd": cost,
    }


def saved(calls: list[dict[str, Any]], source: str = "live", tmp: Path | None = None) -> Saved:
    """The baseline as it comes back from a saved file (build_document -> load_baseline)."""
    assert tmp is not None
    doc = build_document([{"nodeid": "t.py::t", "source": source, "calls": calls}])
    path = tmp / "base.json"
    path.write_text(json.dumps(doc))
    return load_baseline(path).tests["t.py::t"]


def test_saved_runs_carry_cache_share_tier_and_cost(tmp_path: Path) -> None:
    calls = [call(cached=0.8, i=0), call(cached=0.6, prompt_tokens=1000, i=0), call(cached=0.0, i=1, cost=None)]
    calls[2]["cost_usd"] = None  # a model missing from the price table
    doc = build_document([{"nodeid": "t.py::t", "source": "live", "calls": calls}])
    extra = doc["benchmarks"][0]["extra_info"]
    assert extra["cached_share"] == pytest.approx((0.8 * 3000 + 0.6 * 1000) / 7000)
    assert extra["service_tiers"] == ["on_demand"]
    run0 = calls[0]["cost_usd"] + calls[1]["cost_usd"]
    assert extra["cost_usd"] == {"total": None, "per_run": pytest.approx(run0), "unknown_calls": 1}
    record = extra["calls"][0]
    assert {k: record[k] for k in ("cached_tokens", "cached_share", "service_tier", "requested_tier")} == {
        "cached_tokens": 2400,
        "cached_share": 0.8,
        "service_tier": "on_demand",
        "requested_tier": None,
    }
    assert record["cost_usd"] == pytest.approx(calls[0]["cost_usd"])
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    base = load_baseline(path).tests["t.py::t"]
    assert base.samples["cached_share"] == pytest.approx([75.0, 0.0]), "per run, weighted by prompt tokens"
    assert base.samples["cost"] == pytest.approx([run0]), "a run with an unknown cost is left out"


def test_an_old_baseline_without_the_levers_still_loads_and_compares(tmp_path: Path) -> None:
    old = call(cached=0.8)
    for key in ("cached_tokens", "cached_share", "service_tier", "requested_tier", "cost_usd"):
        del old[key]
    base = saved([old], tmp=tmp_path)
    assert base.samples["cached_share"] == [] and base.samples["cost"] == []
    comparison = compare_test(
        "t.py::t", [call(cached=0.0, tier="flex")], "live", base, parse_thresholds("e2e:10%,cached_share:0,cost:0%")
    )
    assert {s.metric for s in comparison.shifts} == {"e2e", "completion_tokens"}, "levers unknown: not compared"
    assert comparison.tiers is None, "an unknown tier never keys the comparison"


def test_a_cold_cache_with_the_same_request_is_named_and_left_out(tmp_path: Path) -> None:
    """The same request, prompt 80 % cached -> 0 %: Groq's cache state, like its queue, is said
    beside the verdict and left out of it (min_cache_share judges the cache)."""
    base = saved([call(cached=0.8)], tmp=tmp_path)
    comparison = compare_test("t.py::t", [call(cached=0.0)], "live", base, parse_thresholds("e2e:10%"))
    assert not comparison.regressions
    (e2e,) = [s for s in comparison.shifts if s.metric == "e2e"]
    assert e2e.verdict == "unchanged"
    # Groq's prompt_time: 3000 * 0.2 / 12 + 3000 * 0.8 / 120 = 70 ms warm, 250 ms cold
    assert "prompt cache 80% -> 0% cached with the same prompt (+180 ms prompt time: Groq's cache state, left out)" in (
        e2e.detail or ""
    )


def test_a_changed_prefix_is_named_with_the_request_change(tmp_path: Path) -> None:
    base = saved([call(cached=0.9)], tmp=tmp_path)
    new = call(cached=0.0)
    new["params"] = {**new["params"], "messages": [{"role": "system", "content": "Today is 2026-11-30. ..."}]}
    comparison = compare_test("t.py::t", [new], "live", base, parse_thresholds("e2e:10%"))
    message = comparison.message()
    assert "Request changed: messages (none) -> " in message
    assert "Prompt 90% cached -> 0%: a cold cache" in message
    assert "the changed request no longer starts with the cached prefix" in message


def test_cached_share_and_cost_thresholds(tmp_path: Path) -> None:
    base = saved([call(cached=0.8, i=k) for k in range(3)], tmp=tmp_path)
    new = [call(cached=0.5, i=k) for k in range(3)]
    comparison = compare_test("t.py::t", new, "live", base, parse_thresholds("cached_share:20%,cost:10%"))
    shifts = {s.metric: s for s in comparison.shifts}
    share, cost = shifts["cached_share"], shifts["cost"]
    assert share.verdict == "regressed" and share.old == pytest.approx(80) and share.new == pytest.approx(50)
    assert share.percent is None, "a share moves in points"
    assert share.describe() == "cached_share 80% -> 50% (-30 pts, limit 20 pts)"
    # input 3000 tokens: 600 at $0.075 + 2400 at $0.0375 -> 1500 + 1500; output 40 at $0.30 per million
    assert cost.old == pytest.approx((600 * 0.075 + 2400 * 0.0375 + 12) / 1e6)
    assert cost.new == pytest.approx((1500 * 0.075 + 1500 * 0.0375 + 12) / 1e6)
    assert cost.verdict == "regressed"
    assert cost.describe() == "cost $0.000147 -> $0.000181 per run (+23%, limit 10%)"
    assert comparison.to_dict()["shifts"][0]["threshold"] == "cached_share:20%"
    loose = compare_test("t.py::t", new, "live", base, parse_thresholds("cached_share:30%,cost:0.0001"))
    assert not loose.regressions, "30 points is not more than 30; $0.000034 is not more than $0.0001"
    warmer = compare_test("t.py::t", [call(cached=1.0)], "live", base, parse_thresholds("cached_share:10%"))
    assert [s.verdict for s in warmer.shifts if s.metric == "cached_share"] == ["improved"]


def test_cost_per_run_sums_an_agents_calls(tmp_path: Path) -> None:
    """Cost is per run: an agent that takes two more steps costs more even at the same per-call price."""
    base = saved([call(i=0), call(i=0)], tmp=tmp_path)
    comparison = compare_test(
        "t.py::t", [call(i=0), call(i=0), call(i=0), call(i=0)], "live", base, parse_thresholds("cost:50%")
    )
    (cost,) = [s for s in comparison.shifts if s.metric == "cost"]
    assert cost.verdict == "regressed" and cost.new == pytest.approx(2 * cost.old)


def test_a_tier_change_is_not_compared_as_equal(tmp_path: Path) -> None:
    """auto served by on_demand in the baseline, by flex now: the latency is not judged, and the
    message says why; the token counts are still judged."""
    base = saved([call(tier="on_demand", requested="auto")], tmp=tmp_path)
    slower = call(tier="flex", requested="auto", queue=900.0, tokens=80)
    comparison = compare_test("t.py::t", [slower], "live", base, parse_thresholds("e2e:10%,completion_tokens:0"))
    shifts = {s.metric: s for s in comparison.shifts}
    assert shifts["e2e"].verdict == "inconclusive" and shifts["e2e"].cause == "tier"
    assert shifts["completion_tokens"].verdict == "regressed"
    assert comparison.tiers == {"baseline": ["on_demand"], "new": ["flex"], "compared": []}
    message = comparison.message()
    assert "t: not compared, tier changed on_demand -> flex: a run served by another tier is not judged" in message
    assert "e2e " in message and "not compared: served by flex, the baseline by on_demand" in message
    assert (
        "Tier changed on_demand -> flex (the requests asked for 'auto' both times: Groq served them on another "
        "tier); time metrics not compared." in message
    )
    assert comparison.to_dict()["tiers"]["new"] == ["flex"]


def test_a_tier_change_without_thresholds_is_still_said(tmp_path: Path) -> None:
    base = saved([call(tier="on_demand")], tmp=tmp_path)
    comparison = compare_test("t.py::t", [call(tier="flex", requested="flex")], "live", base, [])
    assert "tier changed on_demand -> flex" in comparison.message()
    assert "Request changed: service_tier (none) -> 'flex'." in comparison.message()


def test_mixed_tiers_compare_the_shared_tier_only(tmp_path: Path) -> None:
    """auto over 5 runs: all on_demand in the baseline; 2 on_demand and 3 slow flex now. The flex
    calls are left out of the time metrics, so no regression is invented from them."""
    base = saved([call(tier="on_demand", requested="auto", i=k) for k in range(5)], tmp=tmp_path)
    new = [call(tier="on_demand", requested="auto", i=k) for k in range(2)]
    new += [call(tier="flex", requested="auto", i=k, prompt_ms=2000.0) for k in range(2, 5)]
    comparison = compare_test("t.py::t", new, "live", base, parse_thresholds("e2e:10%,server:10%"))
    assert not comparison.regressions and not comparison.inconclusive
    assert comparison.tiers == {"baseline": ["on_demand"], "new": ["on_demand", "flex"], "compared": ["on_demand"]}
    everything = compare_test("t.py::t", new, "live", base, parse_thresholds("server:10%"), method="deterministic")
    assert not everything.regressions
    (e2e,) = [s for s in everything.shifts if s.metric == "e2e"]
    assert e2e.old == e2e.new and e2e.threshold is None, "the headline e2e is the shared tier's too"
    assert comparison.to_dict()["tiers"]["compared"] == ["on_demand"] and comparison.message() == ""
    longer = [{**c, "completion_tokens": 400, "completion_ms": 400.0, "e2e_ms": c["e2e_ms"] + 360} for c in new]
    grew = compare_test("t.py::t", longer, "live", base, parse_thresholds("e2e:10%"))
    assert (
        "Tier changed on_demand -> on_demand, flex (the requests asked for 'auto' both times: Groq served them on "
        "another tier); time metrics compared on the calls served by on_demand only (0 baseline and 3 new call(s) "
        "left out)." in grew.message()
    )
    # the same calls without tiers (unknown on both sides) are compared as one: the flex calls count
    plain = [{k: v for k, v in c.items() if k not in ("service_tier", "requested_tier")} for c in new]
    blind = compare_test("t.py::t", plain, "live", base, parse_thresholds("server:10%"), method="deterministic")
    assert blind.regressions and blind.tiers is None


def test_same_tier_same_cache_is_silent(tmp_path: Path) -> None:
    base = saved([call(cached=0.8, tier="flex", requested="flex")], tmp=tmp_path)
    comparison = compare_test(
        "t.py::t",
        [call(cached=0.82, tier="flex", requested="flex")],
        "live",
        base,
        parse_thresholds("e2e:10%,cached_share:10%,cost:10%"),
    )
    assert not comparison.regressions and not comparison.inconclusive and comparison.tiers is None
    assert comparison.message() == ""


# -- the user's view: pytest against the emulator ---------------------------------------------------

CACHE_SUITE = """
import os, pytest

SYSTEM = os.environ.get("PREFIX", "") + "You are a support agent for a bicycle shop. " + "Be brief. " * 900

@pytest.mark.llm_repeat(n=1, warmup=int(os.environ.get("WARMUP", "1")))
def test_support(groq_client, llm_calls):
    groq_client.chat.completions.create(model="openai/gpt-oss-20b", max_completion_tokens=16,
        reasoning_effort="low",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Open on Sundays?"}])
"""


def test_a_warm_baseline_against_a_cold_run_names_the_cold_cache(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saved warm (llm_repeat warm-up sends the prompt first), run cold (no warm-up, and each run
    has its own emulator, whose cache starts empty): the gate fails on e2e, on the cache share and
    on the cost, and names the cold cache with Groq's prompt time."""
    pytester.makepyfile(test_cache=CACHE_SUITE)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    run = ["-p", "no:cacheprovider"]
    pytester.runpytest(*run, "--llm-save=warm").assert_outcomes(passed=1)
    (path,) = (pytester.path / ".benchmarks" / "llmlatency").glob("*/0001_warm.json")
    extra = json.loads(path.read_text())["benchmarks"][0]["extra_info"]
    assert extra["cached_share"] == 1.0 and extra["service_tiers"] == ["on_demand"]
    assert extra["cost_usd"]["total"] > 0 and extra["calls"][0]["cached_tokens"] == extra["calls"][0]["prompt_tokens"]
    monkeypatch.setenv("WARMUP", "0")
    result = pytester.runpytest(
        *run, "--llm-compare", "--llm-compare-fail=e2e:10%,cached_share:20%,cost:10%", "--llm-report-json=r.json"
    )
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [
            r".*test_support regressed against 0001_warm\.json: e2e [\d,]+ ms -> [\d,]+ ms \(\+\d+%, limit 10%; "
            r"without queue .*prompt cache 100% -> 0% cached \(\+[\d,]+ ms prompt time\).*deterministic\); "
            r"cached_share 100% -> 0% \(-100 pts, limit 20 pts\); cost \$[\d.]+ -> \$[\d.]+ per run \(\+\d+%, "
            r"limit 10%\)\. The request is unchanged\. Prompt 100% cached -> 0%: a cold cache, \+[\d,]+ ms prompt "
            r"time \(Groq's prompt_time [\d.,]+ -> [\d.,]+ ms\) with the same request: the prefix was not in Groq's "
            r"cache.*",
        ]
    )
    (test,) = json.loads((pytester.path / "r.json").read_text())["tests"]
    verdicts = {s["metric"]: s["verdict"] for s in test["comparison"]["shifts"]}
    assert verdicts == {
        "e2e": "regressed",
        "cached_share": "regressed",
        "cost": "regressed",
        "completion_tokens": "unchanged",
    }


TIER_SUITE = """
import os, pytest

@pytest.mark.max_latency(ms=60000)
def test_tiered(groq_client):
    # service_tier="auto": on-demand limits first; the emulator's 429 fault makes Groq fall back to flex
    headers = {"x-emulator-fault": "429"} if os.environ.get("BUSY") else None
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", max_completion_tokens=30,
        service_tier="auto", extra_headers=headers,
        messages=[{"role": "user", "content": "Describe queues in about 200 words."}])
"""


def test_a_flex_run_against_an_on_demand_baseline_says_tier_changed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_tier=TIER_SUITE)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    run = ["-p", "no:cacheprovider"]
    pytester.runpytest(*run, "--llm-save=od").assert_outcomes(passed=1)
    monkeypatch.setenv("BUSY", "1")
    result = pytester.runpytest(*run, "--llm-compare", "--llm-compare-fail=e2e:10%", "--llm-report-json=r.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "baseline test_tier.py::test_tiered",
            "*test_tiered: not compared, tier changed on_demand -> flex: a run served by another tier is not judged "
            "against this baseline (save one on flex with --llm-save): e2e * ms -> * ms (*not compared: served by "
            "flex, the baseline by on_demand)*Tier changed on_demand -> flex (the requests asked for 'auto' both "
            "times: Groq served them on another tier); time metrics not compared.*The request is unchanged.*",
        ]
    )
    assert "Same tokens: the server" not in result.stdout.str(), "the tier explains it"
    (test,) = json.loads((pytester.path / "r.json").read_text())["tests"]
    assert test["comparison"]["tiers"] == {"baseline": ["on_demand"], "new": ["flex"], "compared": []}
    assert test["calls"][0]["service_tier"] == "flex"
