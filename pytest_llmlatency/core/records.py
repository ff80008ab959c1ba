"""The declared shapes of the JSON-safe records that travel between the plugin's parts.

A measured test becomes a :class:`ResultRecord` (its calls are :class:`CallRecord` s): it rides on
the xdist report to the controller, fills ``--llm-report-json`` (a :class:`ReportDocument`),
shards and merged files, and is what the gate, every report, ``merge``, ``export`` and the
advisor read. One declaration here, used by every writer and reader, so a key one side renames
is a type error on the other side, not a silent ``None``.

A file read from disk is checked for its schema and version when it is loaded
(``report/jsonfile.read_report``, ``gate/store.load_baseline``); the fields inside are
used as declared here.
"""

from __future__ import annotations

import sys
from typing import Any, TypedDict

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover - groq depends on typing_extensions
    from typing_extensions import NotRequired

__all__ = [
    "AttemptRecord",
    "BudgetRecord",
    "CallRecord",
    "CassetteRecord",
    "ReportDocument",
    "SummaryRecord",
    "ResultRecord",
    "VerdictRecord",
]


class AttemptRecord(TypedDict):
    """One HTTP attempt of a call (retries are further attempts)."""

    ms: float | None
    status: int | None
    error: str | None
    request_id: str | None


class CallRecord(TypedDict):
    """``LLMCall.to_dict()``: one logical LLM call, retries included; times in ms."""

    model: str
    url: str
    endpoint: str
    params: dict[str, Any]
    streamed: bool
    replayed: bool
    client_timing: bool
    prediction: dict[str, Any] | None
    status: int | None
    ok: bool
    abandoned: bool
    error: str | None
    capture_error: str | None
    iteration: int
    warmup: bool
    attempts: list[AttemptRecord]
    retries: int
    backoff_ms: float
    wall_ms: float | None
    e2e_ms: float | None
    ttfb_ms: float | None
    ttft_ms: float | None
    client_ttft_ms: float | None
    client_stall_ms: float | None
    headers_to_first_read_ms: float | None
    client_late_events: int
    tpot_ms: float | None
    itl_ms: list[float]
    output_tokens_per_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    total_tokens: int | None
    cached_tokens: int | None
    cached_share: float | None
    service_tier: str | None
    requested_tier: str | None
    cost_usd: float | None
    cost_note: str | None
    hardware_cache: dict[str, int] | None
    inner_usage: dict[str, float] | None
    inner_models: dict[str, dict[str, float]] | None
    executed_tools: list[dict[str, Any]]
    tool_run_ms: float | None
    queue_ms: float | None
    prompt_ms: float | None
    completion_ms: float | None
    server_ms: float | None
    finish_reason: str | None
    first_output: str | None
    tool_calls: list[dict[str, Any]]
    tool_names: list[str]
    response_format: str | None
    answer_kind: str | None
    audio_seconds: float | None
    output_audio_seconds: float | None
    realtime_factor: float | None
    request_id: str | None
    prompt_chars: int
    agent_start_ms: NotRequired[float | None]
    """Where the call started on its run's agent clock (from the run's first call), set by judging."""
    agent_end_ms: NotRequired[float | None]


class SummaryRecord(TypedDict, total=False):
    """A test's calls summed up (the terminal table's row). A test whose setup failed has
    ``calls`` only."""

    calls: int
    runs: int
    tool_calls: int
    tool_names: list[str]
    agent_ms: float | None
    failed: int
    abandoned: int
    predicted: int
    retries: int
    models: list[str]
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    ttft_p50: float | None
    e2e_p50: float | None
    e2e_p95: float | None
    e2e_max: float | None
    server_p50: float | None
    tokens_per_s_p50: float | None


class BudgetRecord(TypedDict, total=False):
    """A budget as the reports show it: its kind, its label and its non-None arguments."""

    kind: str
    label: str
    ms: float
    metric: str
    percentile: float
    call: int | str
    scope: str
    exclude: list[str] | str


class VerdictRecord(TypedDict):
    budget: str
    passed: bool
    message: str
    observed: float | None
    limit: float | None


class CassetteRecord(TypedDict):
    """What happened to the test's cassette: the path relative to the rootdir."""

    path: str
    mode: str
    existed: bool
    replayed: int
    recorded: int
    saved: bool
    shared: bool
    notes: list[str]
    missing: NotRequired[bool]
    """The test had no cassette and made its calls for real without recording them (not --llm-live)."""


class ResultRecord(TypedDict):
    """One measured test's result: what ``--llm-report-json`` holds per test."""

    nodeid: str
    verdicts: list[VerdictRecord]
    calls: list[CallRecord]
    summary: SummaryRecord
    verdict: NotRequired[str]
    """``pass``, ``FAIL``, ``error``, ...: the pytest outcome with the budgets' (set on the report)."""
    budgets: NotRequired[list[BudgetRecord]]
    failures: NotRequired[list[str]]
    risks: NotRequired[list[str]]
    junit: NotRequired[dict[str, Any]]
    unseen: NotRequired[list[str]]
    """LLM requests an emulator of this process served that the capture did not see."""
    unmeasured: NotRequired[list[dict[str, Any]]]
    """Requests to endpoints not measured: ``{"method", "host", "path", "status", "count"}``."""
    cassette: NotRequired[CassetteRecord]
    source: NotRequired[str]
    """``replay``, ``emulator`` or ``live``."""
    baseline_options: NotRequired[dict[str, Any]]
    comparison: NotRequired[dict[str, Any]]
    advice: NotRequired[list[str]]


class ReportDocument(TypedDict):
    """A whole result file (``--llm-report-json``, a shard, a merged file)."""

    schema: str
    version: int
    plugin_version: str
    datetime: str
    python: str
    target: str | None
    settings: dict[str, Any]
    parts: list[dict[str, Any]]
    models: dict[str, Any]
    tests: list[ResultRecord]
