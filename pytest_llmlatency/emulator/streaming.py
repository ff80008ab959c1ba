"""What the emulator's endpoints share when they serve: the record of a served request, the
request prologue, and the timing of an answer in real time.

Every endpoint plays model time the same way: the queue from the request's arrival, then
the prompt (prefill), then the tokens, each divided by the emulator's ``time_scale``.
Deadlines are absolute (taken from the last phase's start), so pauses never drift. Faults
are real seconds, not scaled: ``slow_first_byte`` holds the start, ``stall`` holds a body
or stream half-way, ``cut`` drops the connection; their ``after`` is the number of chunks
sent first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..core.sse import encode_event
from .connection import Connection, Host
from .faults import Fault, status_error
from .model import Plan, plan_request
from .validation import check_key, decommissioned, json_body, retired

__all__ = [
    "Cut",
    "ServedRequest",
    "begin",
    "begin_json",
    "choose_fault",
    "end_body",
    "end_sse",
    "fault_at",
    "generate",
    "last_token_at",
    "plan_chat",
    "require_key",
    "send_half",
    "slow_first_byte",
    "stall",
    "stamp_token",
]


@dataclass
class ServedRequest:
    """What the server did for one request, with its own timestamps.

    Timestamps are ``time.perf_counter_ns()`` values (a system-wide monotonic
    clock), taken just before the bytes were written to the socket.
    """

    path: str
    status: int = 0
    model: str | None = None
    stream: bool = False
    fault: str | None = None
    request_id: str | None = None
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    t_received_ns: int = 0
    t_headers_ns: int | None = None
    t_first_token_ns: int | None = None
    t_last_token_ns: int | None = None
    t_done_ns: int | None = None
    token_times_ns: list[int] = field(default_factory=list)
    """When each reasoning, content or tool-call chunk was written."""
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None


class Cut(Exception):
    """A ``cut`` fault struck: the stream ends here."""


# -- the prologue --------------------------------------------------------------------------


def require_key(conn: Connection) -> None:
    check_key(conn.headers.get("authorization", ""), conn.emulator.api_key)


def choose_fault(conn: Connection, record: ServedRequest) -> Fault | None:
    """The fault for this request (its header, else the server's); a bad header is refused."""
    fault = conn.emulator._fault_for(conn.headers)
    record.fault = str(fault) if fault else None
    return fault


def begin(conn: Connection, record: ServedRequest) -> Fault | None:
    """The key, then the fault to apply: a fault with a status is answered at once."""
    require_key(conn)
    fault = choose_fault(conn, record)
    if fault is not None and fault.status is not None:
        raise status_error(fault)
    return fault


def begin_json(conn: Connection, record: ServedRequest, raw: bytes) -> tuple[Any, Fault | None]:
    """The key, faults, the JSON body and a decommissioned model, in Groq's order: the body
    and the fault to apply."""
    fault = begin(conn, record)
    body = json_body(raw)
    record.body = body if isinstance(body, dict) else None
    model = body.get("model") if isinstance(body, dict) else None
    if retired(model, conn.emulator.serve_retired):
        record.model = str(model)
        raise decommissioned(str(model))
    return body, fault


def plan_chat(host: Host, body: Any) -> Plan:
    """Plan a chat body with the emulator's seed, jitter, queue and sampling settings (this is
    one more occurrence of the body)."""
    return plan_request(
        body,
        seed=host.seed,
        occurrence=host._occurrence(body),
        jitter=host.jitter,
        queue_ms=host.queue_ms,
        queue_profile=host.queue_profile,
        sampling=host.sampling,
    )


# -- timing ----------------------------------------------------------------------------


def slow_first_byte(conn: Connection, fault: Fault | None, start_ns: int) -> None:
    """Hold the start of the answer for a ``slow_first_byte`` fault's seconds."""
    if fault is not None and fault.name == "slow_first_byte":
        conn.wait_until(start_ns + int(float(fault.get("seconds")) * 1e9))


def stall(conn: Connection, fault: Fault) -> None:
    """Hold the answer for a ``stall`` fault's seconds."""
    conn.wait_until(time.perf_counter_ns() + int(float(fault.get("seconds")) * 1e9))


def fault_at(fault: Fault | None, name: str, default: int | None) -> int | None:
    """The chunk a fault called ``name`` strikes at: its ``after``, else ``default``; None
    for another fault or none."""
    if fault is None or fault.name != name:
        return None
    after = fault.get("after")
    return int(after) if after is not None else default


def generate(conn: Connection, plan: Plan, t0: int, fault: Fault | None, scale: float) -> tuple[int, int, int]:
    """Wait out an answer sent in one piece: a slow first byte, the queue, the prompt, every
    completion token. Returns when the prompt started, when it was done and when the answer was."""
    slow_first_byte(conn, fault, t0)
    t = plan.timing
    conn.wait_until(t0 + int(t.queue_s / scale * 1e9))
    t_admit = time.perf_counter_ns()
    conn.wait_until(t_admit + int(t.prompt_s / scale * 1e9))
    t_prefilled = time.perf_counter_ns()
    conn.wait_until(t_prefilled + int(plan.completion_tokens * t.token_s / scale * 1e9))
    return t_admit, t_prefilled, time.perf_counter_ns()


def stamp_token(record: ServedRequest) -> None:
    """Note that an output chunk is being written now."""
    now = time.perf_counter_ns()
    record.token_times_ns.append(now)
    if record.t_first_token_ns is None:
        record.t_first_token_ns = now


def last_token_at(record: ServedRequest, default: int | None) -> int | None:
    """When the last output chunk was written (``default`` when none was)."""
    return record.token_times_ns[-1] if record.token_times_ns else default


# -- the end of a body -------------------------------------------------------------------


def send_half(conn: Connection, data: bytes, fault: Fault) -> bytes | None:
    """Write the first half of a body under a ``cut`` or ``stall`` fault: a cut drops the
    connection (None); a stall waits and returns the rest to write."""
    half = len(data) // 2
    conn.wfile.write(data[:half])
    if fault.name == "cut":
        conn.cut()
        return None
    stall(conn, fault)
    return data[half:]


def end_body(conn: Connection, record: ServedRequest) -> None:
    """End a chunked body (the end is stamped before the bytes go out)."""
    record.t_done_ns = time.perf_counter_ns()
    conn.end_chunks()


def end_sse(conn: Connection, record: ServedRequest) -> None:
    """End an event stream as Groq does: ``data: [DONE]``, then the end of the body."""
    record.t_done_ns = time.perf_counter_ns()
    conn.send_chunk(encode_event("[DONE]"))
    conn.end_chunks()
