"""Chat completions (``POST /openai/v1/chat/completions``) served in real time.

Groq's order of answers: a decommissioned model first (after the key), then the key, the
fault, a fault's status (a 429 on ``service_tier: "auto"`` falls back to flex instead), the
JSON body, the plan (``model.py``, which checks the body), flex capacity. A compound
system's plan is played by ``compound.py``; any other plan is sent whole after its model
time, or streamed: the role chunk at admission, then one chunk per reasoning or content
token (a tool call is one chunk) at the decode pace, then the final chunk with ``usage``
(and a usage chunk with ``stream_options.include_usage``) and ``[DONE]``.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from ..core.sse import encode_event
from . import wire
from .compound import plan_compound, serve_compound
from .connection import Connection
from .faults import Fault, parse_fault, status_error
from .model import Plan, tool_call_tokens
from .policy import ToolCall
from .streaming import (
    ServedRequest,
    choose_fault,
    end_body,
    end_sse,
    fault_at,
    generate,
    last_token_at,
    plan_chat,
    require_key,
    send_half,
    slow_first_byte,
    stall,
    stamp_token,
)
from .validation import APIError, decommissioned, json_body, retired

__all__ = ["X_GROQ_ERROR", "serve_chat"]

X_GROQ_ERROR = "over_capacity"
"""The ``x_groq.error`` string the ``x_groq_error`` fault sends (a value public Groq clients check for)."""


def serve_chat(conn: Connection, record: ServedRequest, raw: bytes) -> None:
    """Answer one chat-completions request (refusals raise :class:`APIError`)."""
    emu = conn.emulator
    _refuse_decommissioned(conn, record, raw)
    require_key(conn)
    fault = choose_fault(conn, record)
    try:
        body = json_body(raw)
        bad_json = None
    except APIError as err:
        body, bad_json = None, err
    # service_tier "auto" uses on-demand limits, then falls back to flex when they are exceeded
    fallback = (
        fault is not None and fault.status == 429 and isinstance(body, dict) and body.get("service_tier") == "auto"
    )
    if fault is not None and fault.status is not None and not fallback:
        raise status_error(fault)
    if bad_json is not None and raw.strip() not in (b"", b"null"):
        raise bad_json
    record.body = body if isinstance(body, dict) else None
    plan = plan_chat(emu, body)
    if fallback:
        plan.service_tier = "flex"
        fault = None
    pressure = emu.capacity_pressure or (fault is not None and fault.name == "capacity_pressure")
    if pressure and plan.service_tier == "flex":
        # flex "will fail quickly with status 498 and error capacity_exceeded"
        record.model = plan.model
        raise status_error(parse_fault("498"))
    plan = emu._apply_prompt_cache(plan, body)
    record.model = plan.model
    record.stream = plan.stream
    record.status = 200
    record.finish_reason = plan.finish_reason
    if plan.profile.compound is not None:
        serve_compound(conn, plan, plan_compound(plan, body), record, fault)
    elif plan.stream:
        _Stream(conn, plan, record, fault).play()
    else:
        _complete(conn, plan, record, fault)


def _refuse_decommissioned(conn: Connection, record: ServedRequest, raw: bytes) -> None:
    """A decommissioned model is refused before anything but the key (a body that is not
    JSON is left to the later checks)."""
    try:
        body = json_body(raw)
    except APIError:
        return
    model = body.get("model") if isinstance(body, dict) else None
    if retired(model, conn.emulator.serve_retired):
        require_key(conn)
        record.model = str(model)
        raise decommissioned(str(model))


def _usage(plan: Plan, t0: int, t_admit: int, t_prefilled: int, t_end: int) -> dict[str, Any]:
    return wire.usage_body(
        plan,
        queue_s=(t_admit - t0) / 1e9,
        prompt_s=(t_prefilled - t_admit) / 1e9,
        completion_s=(t_end - t_prefilled) / 1e9,
    )


def _complete(conn: Connection, plan: Plan, record: ServedRequest, fault: Fault | None) -> None:
    """The whole answer in one body once its model time has passed (gzipped when accepted)."""
    scale = conn.emulator.time_scale
    t0 = record.t_received_ns
    t_admit, t_prefilled, t_end = generate(conn, plan, t0, fault, scale)
    if fault is not None and fault.name == "tool_use_failed":
        # the generation is checked against the tool's schema after it ends
        record.status = 400
        record.finish_reason = None
        record.t_last_token_ns = t_end
        conn.send_error_body(400, wire.tool_use_failed_body(plan, streamed=False))
        record.t_done_ns = time.perf_counter_ns()
        return
    usage = _usage(plan, t0, t_admit, t_prefilled, t_end)
    completion_id, request_id = wire.new_ids()
    record.request_id = request_id
    record.usage = usage
    data = json.dumps(wire.completion_body(plan, completion_id, request_id, usage)).encode()
    gzipped = "gzip" in conn.headers.get("accept-encoding", "")
    if gzipped:  # Groq compresses JSON bodies for clients that accept it
        data = gzip.compress(data, compresslevel=5)
    record.t_last_token_ns = t_end  # generation ended; the body is encoded and sent next
    record.t_headers_ns = record.t_first_token_ns = time.perf_counter_ns()
    conn.begin_response(200, "application/json", request_id, plan, length=len(data), gzipped=gzipped)
    if fault is not None and fault.name in ("cut", "stall"):
        # a non-streaming body cut or stalled half-way
        rest = send_half(conn, data, fault)
        if rest is not None:
            conn.wfile.write(rest)
        return
    record.t_done_ns = time.perf_counter_ns()
    conn.wfile.write(data)


class _Delta(NamedTuple):
    """One stream event of an answer: a reasoning or content token, or a whole tool call."""

    kind: str
    """``"reasoning"``, ``"content"``, ``"hidden"`` (reasoning not shown) or ``"tool"``."""
    text: str
    cost: int = 1
    """Completion tokens decoded before the event is sent."""
    call: ToolCall | None = None
    position: int = 0
    """The tool call's index in the message."""


def _deltas(plan: Plan) -> Iterator[_Delta]:
    """The stream's output events in order, each with the tokens it costs."""
    if plan.show_reasoning == "raw" and plan.reasoning:
        last = len(plan.reasoning) - 1
        for i, piece in enumerate(plan.reasoning):
            text = ("<think>\n" if i == 0 else "") + piece + ("\n</think>\n\n" if i == last else "")
            yield _Delta("content", text)
    elif plan.show_reasoning == "field":
        for piece in plan.reasoning:
            yield _Delta("reasoning", piece)
    else:
        for _ in plan.reasoning:
            yield _Delta("hidden", "")
    for piece in plan.content:
        yield _Delta("content", piece)
    for index, call in enumerate(plan.tool_calls):
        yield _Delta("tool", "", tool_call_tokens(call), call, index)


class _Stream:
    """One streamed chat completion, played in real time."""

    def __init__(self, conn: Connection, plan: Plan, record: ServedRequest, fault: Fault | None) -> None:
        self.conn = conn
        self.plan = plan
        self.record = record
        self.fault = fault
        self.completion_id = self.request_id = ""
        self.created = 0
        self.t_prefilled = 0
        self.gap_ns = 0.0

    def play(self) -> None:
        conn, plan, record = self.conn, self.plan, self.record
        scale = conn.emulator.time_scale
        t0 = record.t_received_ns
        slow_first_byte(conn, self.fault, t0)
        t = plan.timing
        self.completion_id, self.request_id = wire.new_ids()
        record.request_id = self.request_id
        self.created = int(time.time())
        conn.wait_until(t0 + int(t.queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        record.t_headers_ns = t_admit
        conn.begin_response(200, "text/event-stream", self.request_id, plan)
        conn.send_chunk(encode_event(wire.role_chunk(plan, self.completion_id, self.request_id, self.created)))
        conn.wait_until(t_admit + int(t.prompt_s / scale * 1e9))
        self.t_prefilled = time.perf_counter_ns()
        self.gap_ns = t.token_s / scale * 1e9
        if not self._send_deltas():
            return
        # tokens billed but not sent (the one holding a stop sequence) still take time
        conn.wait_until(self.t_prefilled + int(plan.completion_tokens * self.gap_ns))
        t_end = time.perf_counter_ns()
        record.t_last_token_ns = last_token_at(record, t_end)
        usage = _usage(plan, t0, t_admit, self.t_prefilled, t_end)
        record.usage = usage
        final = wire.final_chunk(plan, self.completion_id, self.request_id, self.created, usage)
        conn.send_chunk(encode_event(final))
        if plan.include_usage:
            conn.send_chunk(encode_event(wire.usage_chunk(plan, self.completion_id, self.created, usage)))
        # stamped before the bytes go out (as documented): the client reads them after this
        end_sse(conn, record)

    def _send_deltas(self) -> bool:
        """Every output event at its time; False when a fault ended the stream."""
        conn, plan, fault = self.conn, self.plan, self.fault
        deltas = list(_deltas(plan))
        total = len(deltas)
        cut_after = fault_at(fault, "cut", total // 2)
        stall_after = fault_at(fault, "stall", total // 2)
        error_after = fault_at(fault, "x_groq_error", total // 2)
        failing = fault is not None and fault.name == "tool_use_failed"
        tokens = 0
        for i, delta in enumerate(deltas):
            if cut_after is not None and i >= cut_after:
                conn.cut()
                return False
            if error_after is not None and i >= error_after:
                self._stop_early()
                return False
            if stall_after is not None and i == stall_after:
                stall(conn, fault)  # type: ignore[arg-type]
            if failing and delta.kind in ("tool", "content"):
                self._fail_tool_use()
                return False
            tokens += delta.cost
            conn.wait_until(self.t_prefilled + int(tokens * self.gap_ns))
            event = self._event(delta)
            stamp_token(self.record)
            conn.send_chunk(encode_event(event))
        if failing:
            self._fail_tool_use()
            return False
        if cut_after is not None and cut_after >= total:
            conn.cut()
            return False
        if error_after is not None:
            self._stop_early()
            return False
        return True

    def _event(self, delta: _Delta) -> dict[str, Any]:
        plan, completion_id, created = self.plan, self.completion_id, self.created
        if delta.kind == "reasoning":
            return wire.chunk(plan, completion_id, created, reasoning=delta.text)
        if delta.kind == "tool" and delta.call is not None:
            return wire.tool_call_chunk(plan, completion_id, created, delta.call, delta.position)
        return wire.chunk(plan, completion_id, created, content=delta.text)

    def _stop_early(self) -> None:
        """Stop as Groq does with ``x_groq.error``: a chunk carrying the error string, then
        ``[DONE]``; no usage."""
        record = self.record
        record.finish_reason = None
        record.t_last_token_ns = last_token_at(record, None)
        event = wire.x_groq_error_chunk(self.plan, self.completion_id, self.request_id, self.created, X_GROQ_ERROR)
        self.conn.send_chunk(encode_event(event))
        end_sse(self.conn, record)

    def _fail_tool_use(self) -> None:
        """End as Groq does when a generated tool call fails validation: an ``event: error``
        in place of the call, once the whole generation's time has passed, then the end of
        the body (no ``[DONE]``)."""
        record = self.record
        self.conn.wait_until(self.t_prefilled + int(self.plan.completion_tokens * self.gap_ns))
        record.finish_reason = None
        record.t_last_token_ns = last_token_at(record, None)
        data = json.dumps(wire.tool_use_failed_body(self.plan, streamed=True), separators=(",", ":"))
        self.conn.send_chunk(b"event: error\ndata: " + data.encode() + b"\n\n")
        end_body(self.conn, record)
