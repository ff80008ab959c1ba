"""The gate's statistics and threshold grammar."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmlatency.gate.errors import BaselineError
from pytest_llmlatency.gate.stats import mann_whitney_greater, median
from pytest_llmlatency.gate.thresholds import Threshold, parse_thresholds


def test_exact_p_values() -> None:
    # every new value beats every old one: only 1 of C(10, 5) = 252 arrangements does that
    result = mann_whitney_greater([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
    assert result.exact and result.u == 25
    assert result.p == pytest.approx(1 / 252)
    # the other way round: certain not to be greater
    assert mann_whitney_greater([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p == pytest.approx(1.0)
    # interleaved: about even
    assert 0.2 < mann_whitney_greater([2, 4, 6, 8, 10], [1, 3, 5, 7, 9]).p < 0.5


def test_normal_approximation_with_ties_agrees_in_direction() -> None:
    shifted = mann_whitney_greater([2.0] * 10 + [3.0] * 10, [1.0] * 10 + [2.0] * 10)
    assert not shifted.exact and shifted.p < 0.01
    same = mann_whitney_greater([1.0, 2.0] * 10, [1.0, 2.0] * 10)
    assert 0.3 < same.p < 0.7


@given(
    st.lists(st.floats(0, 1000), min_size=1, max_size=12),
    st.lists(st.floats(0, 1000), min_size=1, max_size=12),
)
def test_p_is_a_probability(new: list[float], old: list[float]) -> None:
    p = mann_whitney_greater(new, old).p
    assert 0.0 <= p <= 1.0 + 1e-12


def test_false_alarm_rate_of_the_exact_test_is_at_most_alpha() -> None:
    rng = random.Random(7)
    alarms = sum(
        mann_whitney_greater([rng.gauss(0, 1) for _ in range(8)], [rng.gauss(0, 1) for _ in range(8)]).p < 0.05
        for _ in range(2000)
    )
    assert alarms / 2000 < 0.065


def test_median() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 2, 3]) == 2.5
    with pytest.raises(ValueError, match="no values"):
        median([])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("e2e:10%", [Threshold("e2e", percent=10)]),
        ("ttft:20%,server:5ms", [Threshold("ttft", percent=20), Threshold("server", absolute=5)]),
        ("e2e:0.05", [Threshold("e2e", absolute=50)]),
        ("e2e:0.05s", [Threshold("e2e", absolute=50)]),
        ("completion_tokens:0", [Threshold("completion_tokens", absolute=0)]),
        ("reasoning_tokens:10%", [Threshold("reasoning_tokens", percent=10)]),
    ],
)
def test_threshold_grammar(spec: str, expected: list[Threshold]) -> None:
    assert parse_thresholds(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("e2e", "cannot parse 'e2e'"),
        ("p99:10%", "unknown metric 'p99'"),
        ("e2e:-5%", "cannot parse"),
        ("completion_tokens:5ms", "count metrics take a count or a percentage"),
        ("e2e:ten%", "cannot parse"),
    ],
)
def test_threshold_errors(spec: str, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        parse_thresholds(spec)


def test_threshold_semantics() -> None:
    ten = Threshold("e2e", percent=10)
    assert ten.exceeded(200, 230) and not ten.exceeded(200, 215)
    assert ten.improved(200, 150) and not ten.improved(200, 190)
    assert not ten.exceeded(10, 11.9), "below the 2 ms floor a time shift never counts"
    tokens = Threshold("completion_tokens", absolute=0)
    assert tokens.exceeded(50, 51) and not tokens.exceeded(50, 50)
    assert str(Threshold("server", absolute=5)) == "server:5ms" and str(ten) == "e2e:10%"
    assert math.isclose(parse_thresholds(str(Threshold("e2e", absolute=12.5)))[0].absolute or 0, 12.5)
