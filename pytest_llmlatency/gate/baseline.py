"""The gate's names where code imported them before the gate was split by concern; import them
from their modules instead: ``errors`` (BaselineError, NothingSaved), ``metrics`` (METRICS,
TOKEN_METRICS), ``thresholds`` (Threshold, parse_thresholds), ``store`` (saved runs: Baseline,
TestBaseline, build_document, load_baseline, check_save_name, resolve_compare, resolve_save,
autosave_name), ``verdicts`` (Comparison) and ``compare`` (compare_test, gate_result)."""

from __future__ import annotations

from .compare import _judge_shift as _judge_shift
from .compare import compare_test, gate_result
from .errors import BaselineError, NothingSaved
from .metrics import METRICS, TOKEN_METRICS
from .store import (
    Baseline,
    TestBaseline,
    autosave_name,
    build_document,
    check_save_name,
    load_baseline,
    resolve_compare,
    resolve_save,
)
from .thresholds import Threshold, parse_thresholds
from .verdicts import Comparison

__all__ = [
    "METRICS",
    "TOKEN_METRICS",
    "Baseline",
    "BaselineError",
    "NothingSaved",
    "Comparison",
    "TestBaseline",
    "Threshold",
    "autosave_name",
    "build_document",
    "check_save_name",
    "compare_test",
    "gate_result",
    "load_baseline",
    "parse_thresholds",
    "resolve_compare",
    "resolve_save",
]
