"""Groq's compound systems (``groq/compound``, ``groq/compound-mini``): a deterministic plan
of inner model calls and server-side tool runs (pure: no I/O, no clock).

Shaped on the real recording ``tests/fixtures/real-cassettes/pydantic__pydantic-ai/
test_groq_model_web_search_tool_stream.yaml``: the main model reasons (streamed as
``delta.reasoning``) and calls a tool; a helper model runs before the tool (query planning)
and after it (reading the results); the tool's start and its result arrive as two
``delta.executed_tools`` chunks; the main model then reasons over the output and answers.
The usage breakdown lists main, helper, helper, main for one tool, as in the recording.

Which tools run depends on the last user message only: a question about something current
(today, latest, news, weather, price, ...) runs a web search (``type: "search"``); one asking
to calculate, compute or run code runs code execution (``type: "python"``). ``groq/compound``
may run both (search first), ``groq/compound-mini`` at most one (Groq: "up to 1 tool call").
Tool run times are the emulator's assumptions (see ``TOOL_SECONDS``); the model calls take
the inner models' own prefill and decode speeds.

:func:`serve_compound` plays the plan in real time: the queue, then each inner call (its
prompt time, then its tokens at the inner model's speed) and each tool run in turn,
streamed as the real recording shows (``delta.reasoning``, ``delta.executed_tools``, then
``delta.content``) or sent as one body at the end.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ..core.sse import encode_event
from . import wire
from .connection import Connection
from .faults import Fault
from .model import Plan, _message_text, _prose, count_tokens
from .profiles import PROFILES
from .streaming import Cut, ServedRequest, end_sse, fault_at, last_token_at, slow_first_byte, stamp_token

__all__ = ["TOOL_SECONDS", "CompoundPlan", "InnerCall", "Segment", "ToolRun", "plan_compound", "serve_compound"]

TOOL_SECONDS = {"search": 2.5, "python": 0.8}
"""Seconds a tool runs (model time, divided by ``time_scale`` like the rest). Web search: the
real recording shows about 3 s between the tool's start and its result chunk, helper calls
included. Code execution: not published; 0.8 s assumed."""
SYSTEM_PROMPT_TOKENS = 350
"""Prompt tokens the compound system adds to the main model's first call (its instructions and
tool definitions; assumed)."""

_SEARCH = re.compile(
    r"\b(today|tonight|current(?:ly)?|latest|news|weather|price|prices|now|recent(?:ly)?|search|"
    r"look up|who won|score|stock|this week|this year)\b"
)
_CODE = re.compile(
    r"\b(calculate|compute|python|code|run|execute|evaluate|sqrt|factorial|sum of|product of)\b"
    r"|\d\s*[*/^]\s*\d"
)


@dataclass
class InnerCall:
    model: str
    prompt_tokens: int
    completion_tokens: int
    queue_s: float
    prompt_s: float
    completion_s: float

    def usage(self, scale: float = 1.0, queue_s: float | None = None) -> dict[str, Any]:
        """Groq's usage of this call; times divided by the emulator's ``time_scale``."""
        queue = self.queue_s / scale if queue_s is None else queue_s
        return {
            "queue_time": round(queue, 9),
            "prompt_tokens": self.prompt_tokens,
            "prompt_time": round(self.prompt_s / scale, 9),
            "completion_tokens": self.completion_tokens,
            "completion_time": round(self.completion_s / scale, 9),
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "total_time": round((self.prompt_s + self.completion_s) / scale, 9),
        }


@dataclass
class ToolRun:
    index: int
    type: str
    """``"search"`` (web search, as in the real recording) or ``"python"`` (code execution)."""
    arguments: str
    output: str
    run_s: float
    results: list[dict[str, Any]] = field(default_factory=list)

    def started(self) -> dict[str, Any]:
        """The entry as the tool starts (real recording: no output, empty results)."""
        entry: dict[str, Any] = {"index": self.index, "type": self.type, "arguments": self.arguments}
        if self.type == "search":
            entry["search_results"] = {"results": []}
        return entry

    def done(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "index": self.index,
            "type": self.type,
            "arguments": self.arguments,
            "output": self.output,
        }
        if self.type == "search":
            entry["search_results"] = {"results": self.results}
        else:
            entry["code_results"] = [{"text": self.output}]
        return entry


@dataclass
class Segment:
    """One step of the answer as the server plays it.

    ``kind``: ``"call"`` (an inner model call: wait its prompt time, then send ``pieces`` as
    ``delta.<channel>``, one per decoded token, ``token_s`` apart), ``"tool_start"``,
    ``"tool_run"`` (wait ``seconds``) or ``"tool_done"``."""

    kind: str
    call: InnerCall | None = None
    pieces: list[str] = field(default_factory=list)
    channel: str = "reasoning"
    token_s: float = 0.0
    tool: ToolRun | None = None
    seconds: float = 0.0
    inserted: list[str] = field(default_factory=list)
    """Text sent before the call's decoded tokens without decode time (a tool's output echoed
    into the reasoning, as the real stream does)."""


@dataclass
class CompoundPlan:
    model: str
    segments: list[Segment]
    calls: list[InnerCall]
    tools: list[ToolRun]
    reasoning: str
    content: str

    def usage(self, scale: float = 1.0, queue_s: float | None = None) -> dict[str, Any]:
        """The whole request's usage: the inner calls summed (queue: the one admission wait,
        ``queue_s`` when given, as measured); times divided by ``scale``."""
        prompt = sum(c.prompt_tokens for c in self.calls)
        completion = sum(c.completion_tokens for c in self.calls)
        prompt_s = sum(c.prompt_s for c in self.calls) / scale
        completion_s = sum(c.completion_s for c in self.calls) / scale
        queue = self.calls[0].queue_s / scale if queue_s is None else queue_s
        return {
            "queue_time": round(queue, 9),
            "prompt_tokens": prompt,
            "prompt_time": round(prompt_s, 9),
            "completion_tokens": completion,
            "completion_time": round(completion_s, 9),
            "total_tokens": prompt + completion,
            "total_time": round(prompt_s + completion_s, 9),
        }

    def usage_breakdown(self, scale: float = 1.0, queue_s: float | None = None) -> dict[str, Any]:
        """``usage_breakdown``: one entry per inner call, in order (a model may appear twice)."""
        models = []
        for i, c in enumerate(self.calls):
            models.append({"model": c.model, "usage": c.usage(scale, queue_s if i == 0 else None)})
        return {"models": models}

    @property
    def duration_s(self) -> float:
        """Model time of the whole request: queue, every inner call and every tool run."""
        total = self.calls[0].queue_s
        for s in self.segments:
            if s.kind == "call" and s.call is not None:
                total += s.call.prompt_s + s.call.completion_s
            elif s.kind == "tool_run":
                total += s.seconds
        return total


def _digest(*parts: Any) -> int:
    raw = json.dumps(parts, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(raw.encode()).digest()[:8], "big")


def _split(text: str) -> list[str]:
    """Text as stream pieces of about one token each."""
    return re.findall(r"\s*\S+|\s+", text) or [text]


def choose_tools(prompt: str, max_tools: int) -> list[str]:
    lowered = prompt.lower()
    tools = []
    if _SEARCH.search(lowered):
        tools.append("search")
    if _CODE.search(lowered):
        tools.append("python")
    return tools[:max_tools]


def _search_run(index: int, query: str, rng: random.Random) -> ToolRun:
    results = []
    lines = []
    slug = re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-")[:40] or "query"
    for i in range(5):
        title = f"{query.rstrip('?')} - source {i + 1}"
        url = f"https://example.com/{slug}/{i + 1}"
        content = "".join(_prose(rng, 40)).strip()
        score = round(0.95 - 0.07 * i, 4)
        results.append({"title": title, "url": url, "content": content, "score": score})
        lines.append(f"Title: {title}\nURL: {url}\nContent: {content}\nScore: {score:.4f}\n\n")
    return ToolRun(
        index,
        "search",
        json.dumps({"query": query}),
        "".join(lines),
        TOOL_SECONDS["search"],
        results,
    )


def _code_run(index: int, prompt: str, rng: random.Random) -> ToolRun:
    a, b = rng.randint(12, 999), rng.randint(12, 999)
    code = f"result = {a} * {b}\nprint(result)"
    return ToolRun(index, "python", json.dumps({"code": code}), f"{a * b}\n", TOOL_SECONDS["python"])


def plan_compound(plan: Plan, body: dict[str, Any]) -> CompoundPlan:
    """The inner calls and tool runs of a compound request whose final answer is ``plan``."""
    profile = plan.profile
    assert profile.compound is not None
    main_id, helper_id = profile.compound
    main, helper = PROFILES[main_id], PROFILES[helper_id]
    rate = 1.0 / (plan.timing.token_s * profile.decode_tps)  # the request's speed jitter
    messages = body.get("messages") or []
    user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    prompt = _message_text(user[-1]).strip() if user else ""
    rng = random.Random(_digest("compound", plan.model, messages))
    tools: list[ToolRun] = []
    for kind in choose_tools(prompt, profile.max_tool_calls):
        run = _search_run(len(tools), prompt, rng) if kind == "search" else _code_run(len(tools), prompt, rng)
        tools.append(run)

    def call(model_id: str, prompt_n: int, completion_n: int, queue_s: float = 0.0) -> InnerCall:
        p = PROFILES[model_id]
        return InnerCall(
            model_id,
            prompt_n,
            completion_n,
            queue_s,
            prompt_n / (p.prefill_tps * rate),
            completion_n / (p.decode_tps * rate),
        )

    segments: list[Segment] = []
    calls: list[InnerCall] = []
    reasoning_text = ""
    intro = "".join(_prose(rng, 18)).strip()
    opening = f"<think>\n{intro}\n\n" if tools else f"<think>\n{intro}\n</think>\n\n"
    context = plan.prompt_tokens + SYSTEM_PROMPT_TOKENS
    pieces = _split(opening)
    first = tools[0] if tools else None
    if first is not None:
        pieces += _split(f"<tool>\n{first.type}({json.loads(first.arguments).get('query', 'code')})\n\n")
    queue = plan.timing.queue_s
    for i, tool in enumerate(tools):
        head = call(main_id, context, len(pieces), queue if i == 0 else 0.0)
        calls.append(head)
        segments.append(Segment("call", head, pieces, "reasoning", 1.0 / (main.decode_tps * rate)))
        reasoning_text += "".join(pieces)
        planner = call(helper_id, 120 + count_tokens(prompt), 20)
        calls.append(planner)
        segments.append(Segment("call", planner, [], "reasoning", 1.0 / (helper.decode_tps * rate)))
        segments.append(Segment("tool_start", tool=tool))
        segments.append(Segment("tool_run", tool=tool, seconds=tool.run_s))
        reader = call(helper_id, count_tokens(tool.output) + 80, 60)
        calls.append(reader)
        segments.append(Segment("call", reader, [], "reasoning", 1.0 / (helper.decode_tps * rate)))
        segments.append(Segment("tool_done", tool=tool))
        context += len(pieces) + count_tokens(tool.output)
        nxt = tools[i + 1] if i + 1 < len(tools) else None
        echoed = f"</tool>\n<output>{tool.output}</output>\n"
        reasoning_text += echoed
        pieces = _split("".join(_prose(rng, 12)).strip() + "\n\n")
        if nxt is not None:
            pieces += _split(f"<tool>\n{nxt.type}(code)\n\n")
        else:
            pieces = _split("</think>\n\n") + pieces
        segments[-1].inserted = [echoed]
    final_pieces = pieces + [p for p in plan.content]
    last = call(main_id, context, len(final_pieces), queue if not tools else 0.0)
    calls.append(last)
    step = 1.0 / (main.decode_tps * rate)
    segments.append(Segment("call", last, pieces, "reasoning", step))
    segments.append(Segment("call", None, list(plan.content), "content", step))
    reasoning_text += "".join(pieces)
    return CompoundPlan(plan.model, segments, calls, tools, reasoning_text, "".join(plan.content))


def serve_compound(
    conn: Connection, plan: Plan, cplan: CompoundPlan, record: ServedRequest, fault: Fault | None
) -> None:
    """Play a compound system's plan for a chat completion whose answer is ``plan``."""
    scale = conn.emulator.time_scale
    t0 = record.t_received_ns
    slow_first_byte(conn, fault, t0)
    created = int(time.time())
    completion_id, request_id = wire.new_ids()
    record.request_id = request_id
    conn.wait_until(t0 + int(cplan.calls[0].queue_s / scale * 1e9))
    t_admit = time.perf_counter_ns()
    if plan.stream:
        record.t_headers_ns = t_admit
        conn.begin_response(200, "text/event-stream", request_id, plan)
    player = _Player(conn, plan, record, created, fault_at(fault, "cut", None) if plan.stream else None)
    try:
        player.play(cplan.segments, t_admit, scale)
    except Cut:
        return
    t_end = time.perf_counter_ns()
    record.t_last_token_ns = last_token_at(record, t_end)
    queue_s = (t_admit - t0) / 1e9
    usage = cplan.usage(scale, queue_s)
    breakdown = cplan.usage_breakdown(scale, queue_s)
    record.usage = {**usage, "usage_breakdown": breakdown, "tool_seconds": [t.run_s / scale for t in cplan.tools]}
    if plan.stream:
        final = wire.compound_final_chunk(plan.model, created, usage, breakdown, plan.finish_reason)
        conn.send_chunk(encode_event(final))
        end_sse(conn, record)
        return
    body = wire.compound_body(
        plan,
        completion_id,
        request_id,
        content=cplan.content,
        reasoning=cplan.reasoning,
        executed_tools=[t.done() for t in cplan.tools],
        usage=usage,
        breakdown=breakdown,
    )
    data = json.dumps(body).encode()
    record.t_headers_ns = record.t_first_token_ns = time.perf_counter_ns()
    conn.begin_response(200, "application/json", request_id, plan, length=len(data))
    record.t_done_ns = time.perf_counter_ns()
    conn.wfile.write(data)


@dataclass
class _Player:
    """Waits out the segments of a compound plan and sends their chunks (when streaming)."""

    conn: Connection
    plan: Plan
    record: ServedRequest
    created: int
    cut_after: int | None
    """Chunks sent before a ``cut`` fault drops the connection (None: no cut)."""
    sent: int = 0

    def play(self, segments: list[Segment], t_admit: int, scale: float) -> None:
        """Each inner call's prompt time and tokens and each tool run, in turn (:class:`Cut`
        when a ``cut`` fault strikes)."""
        clock = t_admit
        for seg in segments:
            if seg.kind == "call":
                if seg.call is not None:
                    clock += int(seg.call.prompt_s / scale * 1e9)
                    self.conn.wait_until(clock)
                for piece in seg.pieces:
                    clock += int(seg.token_s / scale * 1e9)
                    self.conn.wait_until(clock)
                    self.send({seg.channel: piece}, True)
                if seg.call is not None and not seg.pieces:
                    clock += int(seg.call.completion_s / scale * 1e9)
                    self.conn.wait_until(clock)
            elif seg.kind == "tool_run":
                clock += int(seg.seconds / scale * 1e9)
                self.conn.wait_until(clock)
            elif seg.tool is not None:
                entry = seg.tool.started() if seg.kind == "tool_start" else seg.tool.done()
                self.send({"executed_tools": [entry]}, False)
                for text in seg.inserted:
                    self.send({"reasoning": text}, True)

    def send(self, delta: dict[str, Any], output: bool) -> None:
        """One chunk; ``output`` chunks (reasoning, content) count as tokens."""
        if self.cut_after is not None and self.sent >= self.cut_after:
            self.conn.cut()
            raise Cut
        if output:
            stamp_token(self.record)
        if self.plan.stream:
            self.conn.send_chunk(encode_event(wire.compound_chunk(self.plan.model, self.created, delta)))
        self.sent += 1
