"""The Groq emulator's HTTP server (standard library only).

A ``ThreadingHTTPServer`` on loopback: one thread per connection, HTTP/1.1
keep-alive, SSE sent with chunked transfer encoding, one event per token, each
written when its deadline comes (deadlines are absolute, so pauses never drift).
Every wait is on the server's stop event, so :meth:`GroqEmulator.stop` ends even
a stalled stream at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from ..core.sse import encode_event
from . import audio, responses, wire
from .cache import PromptCache, prompt_blocks
from .compound import CompoundPlan, plan_compound
from .faults import Fault, FaultError, parse_fault
from .model import APIError, Plan, plan_request, tool_call_tokens, with_cached_prefix
from .policy import ToolCall
from .profiles import DECOMMISSIONED, RETIRED, decommissioned_message, model_cards

__all__ = ["GroqEmulator", "ServedRequest"]

CHAT_PATHS = ("/openai/v1/chat/completions", "/v1/chat/completions")
MODELS_PATHS = ("/openai/v1/models", "/v1/models")
RESPONSES_PATHS = ("/openai/v1/responses", "/v1/responses")
TRANSCRIPTION_PATHS = ("/openai/v1/audio/transcriptions", "/v1/audio/transcriptions")
TRANSLATION_PATHS = ("/openai/v1/audio/translations", "/v1/audio/translations")
SPEECH_PATHS = ("/openai/v1/audio/speech", "/v1/audio/speech")
FAULT_HEADER = "x-emulator-fault"
X_GROQ_ERROR = "over_capacity"
"""The ``x_groq.error`` string the ``x_groq_error`` fault sends (a value public Groq clients check for)."""


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    emulator: GroqEmulator


class _Stopped(Exception):
    pass


class _Cut(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60  # idle keep-alive connections close by themselves

    def setup(self) -> None:
        super().setup()
        # one SSE event per write: without TCP_NODELAY, Nagle's algorithm and
        # delayed ACKs would hold small chunks back by up to 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.emulator._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    # -- routing ---------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if not self._authorized():
            return
        cards = model_cards(serve_retired=self.server.emulator.serve_retired)
        if path in MODELS_PATHS:
            self._send_json(200, {"object": "list", "data": cards})
            return
        for prefix in MODELS_PATHS:
            if path.startswith(prefix + "/"):
                model = urllib.parse.unquote(path[len(prefix) + 1 :])
                card = next((c for c in cards if c["id"] == model), None)
                if card is not None:
                    self._send_json(200, card)
                else:
                    self._send_error(
                        APIError(
                            404,
                            f"The model `{model}` does not exist or you do not have access to it.",
                            code="model_not_found",
                        )
                    )
                return
        self._unknown_url("GET")

    def do_POST(self) -> None:
        emu = self.server.emulator
        record = ServedRequest(path=self.path, t_received_ns=time.perf_counter_ns())
        record.headers = {k.lower(): v for k, v in self.headers.items()}
        raw = self._read_body()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in CHAT_PATHS:
            handler = self._chat
        elif path in RESPONSES_PATHS:
            handler = self._responses
        elif path in TRANSCRIPTION_PATHS:
            handler = self._transcription
        elif path in TRANSLATION_PATHS:
            handler = self._translation
        elif path in SPEECH_PATHS:
            handler = self._speech
        else:
            self._unknown_url("POST")
            return
        emu._log(record)
        try:
            if path in CHAT_PATHS and self._refuse_retired_json(record, raw):
                return
            handler(record, raw)
        except (BrokenPipeError, ConnectionResetError, _Stopped):
            self.close_connection = True
        finally:
            record.t_done_ns = record.t_done_ns or time.perf_counter_ns()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        auth = self.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        expected = self.server.emulator.api_key
        if not key or (expected is not None and key != expected):
            self._send_error(APIError(401, "Invalid API Key", code="invalid_api_key"))
            return False
        return True

    def _unknown_url(self, method: str) -> None:
        self._send_error(
            APIError(
                404,
                f"Unknown request URL: {method} {self.path}. Please check the URL for typos, "
                "or see the docs at https://console.groq.com/docs/",
                code="unknown_url",
            )
        )

    # -- chat completions -------------------------------------------------------
    def _chat(self, record: ServedRequest, raw: bytes) -> None:
        emu = self.server.emulator
        if not self._authorized():
            record.status = 401
            return
        try:
            fault = emu._fault_for(self.headers)
        except APIError as err:
            record.status = err.status
            self._send_error(err)
            return
        record.fault = str(fault) if fault else None
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        # service_tier "auto" uses on-demand limits, then falls back to flex when they are exceeded
        fallback = (
            fault is not None and fault.status == 429 and isinstance(body, dict) and body.get("service_tier") == "auto"
        )
        if fault is not None and fault.status is not None and not fallback:
            record.status = fault.status
            self._send_fault_status(fault)
            return
        if body is None and raw.strip() not in (b"", b"null"):
            record.status = 400
            self._send_error(APIError(400, "We could not parse the JSON body of your request."))
            return
        record.body = body if isinstance(body, dict) else None
        try:
            occurrence = emu._occurrence(body)
            plan = plan_request(
                body,
                seed=emu.seed,
                occurrence=occurrence,
                jitter=emu.jitter,
                queue_ms=emu.queue_ms,
                queue_profile=emu.queue_profile,
            )
        except APIError as err:
            record.status = err.status
            self._send_error(err)
            return
        if fallback:
            plan.service_tier = "flex"
            fault = None
        pressure = emu.capacity_pressure or (fault is not None and fault.name == "capacity_pressure")
        if pressure and plan.service_tier == "flex":
            # flex "will fail quickly with status 498 and error capacity_exceeded"
            record.model = plan.model
            record.status = 498
            self._send_fault_status(parse_fault("498"))
            return
        plan = emu._apply_prompt_cache(plan, body)
        record.model = plan.model
        record.stream = plan.stream
        record.status = 200
        record.finish_reason = plan.finish_reason
        if plan.profile.compound is not None:
            self._compound(plan, plan_compound(plan, body), record, fault)
        elif plan.stream:
            self._stream(plan, record, fault)
        else:
            self._complete(plan, record, fault)

    def _wait_until(self, deadline_ns: int) -> None:
        remaining = (deadline_ns - time.perf_counter_ns()) / 1e9
        if remaining > 0 and self.server.emulator._stop.wait(remaining):
            raise _Stopped
        if self.server.emulator._stop.is_set():
            raise _Stopped

    def _delay(self, fault: Fault | None, start_ns: int) -> int:
        """Apply a slow first byte; returns the time the queue starts."""
        if fault is not None and fault.name == "slow_first_byte":
            self._wait_until(start_ns + int(float(fault.get("seconds")) * 1e9))
        return start_ns

    def _complete(self, plan: Plan, record: ServedRequest, fault: Fault | None) -> None:
        scale = self.server.emulator.time_scale
        t0 = record.t_received_ns
        self._delay(fault, t0)
        t = plan.timing
        self._wait_until(t0 + int(t.queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        self._wait_until(t_admit + int(t.prompt_s / scale * 1e9))
        t_prefilled = time.perf_counter_ns()
        self._wait_until(t_prefilled + int(plan.completion_tokens * t.token_s / scale * 1e9))
        t_end = time.perf_counter_ns()
        if fault is not None and fault.name == "tool_use_failed":
            # the generation is checked against the tool's schema after it ends
            record.status = 400
            record.finish_reason = None
            record.t_last_token_ns = t_end
            self._send_error_body(400, wire.tool_use_failed_body(plan, streamed=False))
            record.t_done_ns = time.perf_counter_ns()
            return
        usage = wire.usage_body(
            plan,
            queue_s=(t_admit - t0) / 1e9,
            prompt_s=(t_prefilled - t_admit) / 1e9,
            completion_s=(t_end - t_prefilled) / 1e9,
        )
        completion_id, request_id = wire.new_ids()
        record.request_id = request_id
        record.usage = usage
        data = json.dumps(wire.completion_body(plan, completion_id, request_id, usage)).encode()
        gzipped = "gzip" in self.headers.get("accept-encoding", "")
        if gzipped:  # Groq compresses JSON bodies for clients that accept it
            data = gzip.compress(data, compresslevel=5)
        record.t_last_token_ns = t_end  # generation ended; the body is encoded and sent next
        record.t_headers_ns = record.t_first_token_ns = time.perf_counter_ns()
        if fault is not None and fault.name in ("cut", "stall"):
            # a non-streaming body cut or stalled half-way
            self._start(200, "application/json", request_id, plan, length=len(data), gzipped=gzipped)
            half = len(data) // 2
            self.wfile.write(data[:half])
            if fault.name == "stall":
                self._wait_until(time.perf_counter_ns() + int(float(fault.get("seconds")) * 1e9))
                self.wfile.write(data[half:])
            else:
                self._cut()
            return
        self._start(200, "application/json", request_id, plan, length=len(data), gzipped=gzipped)
        record.t_done_ns = time.perf_counter_ns()
        self.wfile.write(data)

    def _stream(self, plan: Plan, record: ServedRequest, fault: Fault | None) -> None:
        scale = self.server.emulator.time_scale
        t0 = record.t_received_ns
        self._delay(fault, t0)
        t = plan.timing
        completion_id, request_id = wire.new_ids()
        record.request_id = request_id
        created = int(time.time())
        self._wait_until(t0 + int(t.queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        record.t_headers_ns = t_admit
        self._start(200, "text/event-stream", request_id, plan)
        self._send_chunk(encode_event(wire.role_chunk(plan, completion_id, request_id, created)))
        t_prefilled_target = t_admit + int(t.prompt_s / scale * 1e9)
        self._wait_until(t_prefilled_target)
        t_prefilled = time.perf_counter_ns()
        gap_ns = t.token_s / scale * 1e9
        cut_after = stall_after = None
        deltas = list(self._deltas(plan))
        total = len(deltas)
        if fault is not None and fault.name in ("cut", "stall"):
            after = fault.get("after")
            point = int(after) if after is not None else total // 2
            if fault.name == "cut":
                cut_after = point
            else:
                stall_after = point
        failing = fault is not None and fault.name == "tool_use_failed"
        error_after = None
        if fault is not None and fault.name == "x_groq_error":
            after = fault.get("after")
            error_after = int(after) if after is not None else total // 2
        tokens = 0
        for i, delta in enumerate(deltas):
            if cut_after is not None and i >= cut_after:
                self._cut()
                return
            if error_after is not None and i >= error_after:
                self._stop_early(plan, record, completion_id, request_id, created)
                return
            if stall_after is not None and i == stall_after:
                self._wait_until(time.perf_counter_ns() + int(float(fault.get("seconds")) * 1e9))  # type: ignore[union-attr]
            if failing and delta.kind in ("tool", "content"):
                self._fail_tool_use(plan, record, t_prefilled + int(plan.completion_tokens * gap_ns))
                return
            tokens += delta.cost
            self._wait_until(t_prefilled + int(tokens * gap_ns))
            if delta.kind == "reasoning":
                event = wire.chunk(plan, completion_id, created, reasoning=delta.text)
            elif delta.kind == "tool" and delta.call is not None:
                event = wire.tool_call_chunk(plan, completion_id, created, delta.call, delta.position)
            else:
                event = wire.chunk(plan, completion_id, created, content=delta.text)
            now = time.perf_counter_ns()
            record.token_times_ns.append(now)
            if record.t_first_token_ns is None:
                record.t_first_token_ns = now
            self._send_chunk(encode_event(event))
        if failing:
            self._fail_tool_use(plan, record, t_prefilled + int(plan.completion_tokens * gap_ns))
            return
        if cut_after is not None and cut_after >= total:
            self._cut()
            return
        if error_after is not None:
            self._stop_early(plan, record, completion_id, request_id, created)
            return
        # tokens billed but not sent (the one holding a stop sequence) still take time
        self._wait_until(t_prefilled + int(plan.completion_tokens * gap_ns))
        t_end = time.perf_counter_ns()
        record.t_last_token_ns = record.token_times_ns[-1] if record.token_times_ns else t_end
        usage = wire.usage_body(
            plan,
            queue_s=(t_admit - t0) / 1e9,
            prompt_s=(t_prefilled - t_admit) / 1e9,
            completion_s=(t_end - t_prefilled) / 1e9,
        )
        record.usage = usage
        self._send_chunk(encode_event(wire.final_chunk(plan, completion_id, request_id, created, usage)))
        if plan.include_usage:
            self._send_chunk(encode_event(wire.usage_chunk(plan, completion_id, created, usage)))
        # stamped before the bytes go out (as documented): the client reads them after this
        record.t_done_ns = time.perf_counter_ns()
        self._send_chunk(encode_event("[DONE]"))
        self.wfile.write(b"0\r\n\r\n")

    def _stop_early(self, plan: Plan, record: ServedRequest, completion_id: str, request_id: str, created: int) -> None:
        """Stop a stream as Groq does with ``x_groq.error``: a chunk carrying the error string,
        then ``[DONE]``; no usage."""
        record.finish_reason = None
        record.t_last_token_ns = record.token_times_ns[-1] if record.token_times_ns else None
        event = wire.x_groq_error_chunk(plan, completion_id, request_id, created, X_GROQ_ERROR)
        self._send_chunk(encode_event(event))
        record.t_done_ns = time.perf_counter_ns()
        self._send_chunk(encode_event("[DONE]"))
        self.wfile.write(b"0\r\n\r\n")

    def _compound(self, plan: Plan, cplan: CompoundPlan, record: ServedRequest, fault: Fault | None) -> None:
        """Play a compound system's plan: queue, then each inner call (prompt time, then its
        tokens at the inner model's speed) and tool run in turn; streamed as the real recording
        shows, or as one body at the end."""
        scale = self.server.emulator.time_scale
        t0 = record.t_received_ns
        self._delay(fault, t0)
        created = int(time.time())
        completion_id, request_id = wire.new_ids()
        record.request_id = request_id
        self._wait_until(t0 + int(cplan.calls[0].queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        stream = plan.stream
        if stream:
            record.t_headers_ns = t_admit
            self._start(200, "text/event-stream", request_id, plan)
        cut_after = None
        if fault is not None and fault.name == "cut" and stream:
            after = fault.get("after")
            cut_after = int(after) if after is not None else None
        sent = 0
        clock = t_admit

        def send(delta: dict[str, Any], output: bool) -> None:
            nonlocal sent
            if cut_after is not None and sent >= cut_after:
                self._cut()
                raise _Cut
            now = time.perf_counter_ns()
            if output:
                record.token_times_ns.append(now)
                if record.t_first_token_ns is None:
                    record.t_first_token_ns = now
            if stream:
                self._send_chunk(encode_event(wire.compound_chunk(plan.model, created, delta)))
            sent += 1

        try:
            for seg in cplan.segments:
                if seg.kind == "call":
                    if seg.call is not None:
                        clock += int(seg.call.prompt_s / scale * 1e9)
                        self._wait_until(clock)
                    for piece in seg.pieces:
                        clock += int(seg.token_s / scale * 1e9)
                        self._wait_until(clock)
                        send({seg.channel: piece}, True)
                    if seg.call is not None and not seg.pieces:
                        clock += int(seg.call.completion_s / scale * 1e9)
                        self._wait_until(clock)
                elif seg.kind == "tool_run":
                    clock += int(seg.seconds / scale * 1e9)
                    self._wait_until(clock)
                elif seg.tool is not None:
                    entry = seg.tool.started() if seg.kind == "tool_start" else seg.tool.done()
                    send({"executed_tools": [entry]}, False)
                    for text in seg.inserted:
                        send({"reasoning": text}, True)
        except _Cut:
            return
        t_end = time.perf_counter_ns()
        record.t_last_token_ns = record.token_times_ns[-1] if record.token_times_ns else t_end
        queue_s = (t_admit - t0) / 1e9
        usage = cplan.usage(scale, queue_s)
        breakdown = cplan.usage_breakdown(scale, queue_s)
        record.usage = {**usage, "usage_breakdown": breakdown, "tool_seconds": [t.run_s / scale for t in cplan.tools]}
        if stream:
            final = wire.compound_final_chunk(plan.model, created, usage, breakdown, plan.finish_reason)
            self._send_chunk(encode_event(final))
            record.t_done_ns = time.perf_counter_ns()
            self._send_chunk(encode_event("[DONE]"))
            self.wfile.write(b"0\r\n\r\n")
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
        self._start(200, "application/json", request_id, plan, length=len(data))
        record.t_done_ns = time.perf_counter_ns()
        self.wfile.write(data)

    def _fail_tool_use(self, plan: Plan, record: ServedRequest, deadline_ns: int) -> None:
        """End a stream as Groq does when a generated tool call fails validation:
        an ``event: error`` in place of the call, then the end of the body (no [DONE])."""
        self._wait_until(deadline_ns)
        record.finish_reason = None
        record.t_last_token_ns = record.token_times_ns[-1] if record.token_times_ns else None
        data = json.dumps(wire.tool_use_failed_body(plan, streamed=True), separators=(",", ":"))
        self._send_chunk(b"event: error\ndata: " + data.encode() + b"\n\n")
        record.t_done_ns = time.perf_counter_ns()
        self.wfile.write(b"0\r\n\r\n")

    @staticmethod
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

    # -- retired models, shared prologue -------------------------------------------------
    def _retired(self, model: Any) -> bool:
        if not isinstance(model, str):
            return False
        return model in DECOMMISSIONED or (model in RETIRED and not self.server.emulator.serve_retired)

    def _refuse_model(self, record: ServedRequest, model: str) -> None:
        record.model = model
        record.status = 400
        self._send_error(APIError(400, decommissioned_message(model), code="model_decommissioned"))

    def _refuse_retired_json(self, record: ServedRequest, raw: bytes) -> bool:
        """Answer a request for a decommissioned model as Groq does (after the key check)."""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return False
        model = body.get("model") if isinstance(body, dict) else None
        if not self._retired(model):
            return False
        if not self._authorized():
            record.status = 401
            return True
        self._refuse_model(record, str(model))
        return True

    def _begin(self, record: ServedRequest) -> tuple[bool, Fault | None]:
        """Key check and fault choice; False when an answer was already sent."""
        if not self._authorized():
            record.status = 401
            return False, None
        try:
            fault = self.server.emulator._fault_for(self.headers)
        except APIError as err:
            record.status = err.status
            self._send_error(err)
            return False, None
        record.fault = str(fault) if fault else None
        if fault is not None and fault.status is not None:
            record.status = fault.status
            self._send_fault_status(fault)
            return False, None
        return True, fault

    def _begin_json(self, record: ServedRequest, raw: bytes) -> tuple[Any, Fault | None] | None:
        """Key, faults, the JSON body and a decommissioned model, in Groq's order: the body and
        the fault to apply, or None when an answer was already sent."""
        ok, fault = self._begin(record)
        if not ok:
            return None
        body = self._json_body(record, raw)
        if record.status:
            return None
        model = body.get("model") if isinstance(body, dict) else None
        if self._retired(model):
            self._refuse_model(record, str(model))
            return None
        return body, fault

    def _json_body(self, record: ServedRequest, raw: bytes) -> Any:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            record.status = 400
            self._send_error(APIError(400, "We could not parse the JSON body of your request."))
            return None
        record.body = body if isinstance(body, dict) else None
        return body

    # -- responses API ----------------------------------------------------------------
    def _responses(self, record: ServedRequest, raw: bytes) -> None:
        emu = self.server.emulator
        started = self._begin_json(record, raw)
        if started is None:
            return
        body, fault = started
        try:
            chat = responses.chat_body(body)
            plan = plan_request(
                chat,
                seed=emu.seed,
                occurrence=emu._occurrence(chat),
                jitter=emu.jitter,
                queue_ms=emu.queue_ms,
                queue_profile=emu.queue_profile,
            )
        except APIError as err:
            record.status = err.status
            self._send_error(err)
            return
        plan = emu._apply_prompt_cache(plan, chat)
        if plan.profile.compound is not None:
            # the Responses API bills a compound system's inner calls as chat does (no executed
            # tools or tool time here: the emulator plays those on chat completions only)
            usage = plan_compound(plan, chat).usage()
            plan = dataclasses.replace(
                plan, prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"]
            )
        record.model = plan.model
        record.stream = plan.stream
        record.status = 200
        record.finish_reason = plan.finish_reason
        if plan.stream:
            self._responses_stream(body, plan, record, fault)
        else:
            self._responses_complete(body, plan, record, fault)

    def _responses_complete(self, body: dict[str, Any], plan: Plan, record: ServedRequest, fault: Fault | None) -> None:
        scale = self.server.emulator.time_scale
        t0 = record.t_received_ns
        created = responses.now()
        self._delay(fault, t0)
        t = plan.timing
        self._wait_until(t0 + int(t.queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        self._wait_until(t_admit + int(t.prompt_s / scale * 1e9))
        t_prefilled = time.perf_counter_ns()
        self._wait_until(t_prefilled + int(plan.completion_tokens * t.token_s / scale * 1e9))
        t_end = time.perf_counter_ns()
        ids = responses.new_ids()
        record.request_id = ids.request
        usage = responses.usage_body(plan)
        record.usage = usage
        data = json.dumps(responses.response_object(body, plan, ids, created, done=True, usage=usage)).encode()
        record.t_last_token_ns = t_end
        record.t_headers_ns = record.t_first_token_ns = time.perf_counter_ns()
        self._start(200, "application/json", ids.request, plan, length=len(data))
        if fault is not None and fault.name in ("cut", "stall"):
            half = len(data) // 2
            self.wfile.write(data[:half])
            if fault.name == "cut":
                self._cut()
                return
            self._wait_until(time.perf_counter_ns() + int(float(fault.get("seconds")) * 1e9))
            data = data[half:]
        record.t_done_ns = time.perf_counter_ns()
        self.wfile.write(data)

    def _send_typed(self, kind: str, fields: dict[str, Any], seq: list[int]) -> None:
        payload = responses.event(kind, seq[0], **fields)
        seq[0] += 1
        self._send_chunk(b"event: " + kind.encode() + b"\n" + encode_event(payload))

    def _responses_stream(self, body: dict[str, Any], plan: Plan, record: ServedRequest, fault: Fault | None) -> None:
        scale = self.server.emulator.time_scale
        t0 = record.t_received_ns
        created = responses.now()
        self._delay(fault, t0)
        t = plan.timing
        ids = responses.new_ids()
        record.request_id = ids.request
        seq = [0]
        self._wait_until(t0 + int(t.queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        record.t_headers_ns = t_admit
        self._start(200, "text/event-stream", ids.request, plan)
        pending = responses.response_object(body, plan, ids, created, done=False)
        self._send_typed("response.created", {"response": pending}, seq)
        self._send_typed("response.in_progress", {"response": pending}, seq)
        self._wait_until(t_admit + int(t.prompt_s / scale * 1e9))
        t_prefilled = time.perf_counter_ns()
        gap_ns = t.token_s / scale * 1e9
        shown = responses.shows_reasoning(plan)
        emitted = len(plan.content) + (len(plan.reasoning) if shown else 0)
        cut_after = stall_after = None
        if fault is not None and fault.name in ("cut", "stall"):
            after = fault.get("after")
            point = int(after) if after is not None else emitted // 2
            cut_after, stall_after = (point, None) if fault.name == "cut" else (None, point)
        sent = 0
        index = 0  # tokens generated so far (hidden reasoning included)

        def token(kind: str, fields: dict[str, Any]) -> None:
            nonlocal sent, index
            if cut_after is not None and sent >= cut_after:
                raise _Cut
            if stall_after is not None and sent == stall_after:
                self._wait_until(time.perf_counter_ns() + int(float(fault.get("seconds")) * 1e9))  # type: ignore[union-attr]
            self._wait_until(t_prefilled + int((index + 1) * gap_ns))
            now = time.perf_counter_ns()
            record.token_times_ns.append(now)
            if record.t_first_token_ns is None:
                record.t_first_token_ns = now
            self._send_typed(kind, fields, seq)
            sent += 1
            index += 1

        try:
            out = 0
            if shown:
                item = {"item_id": ids.reasoning, "output_index": out}
                self._send_typed(
                    "response.output_item.added",
                    {"output_index": out, "item": responses.reasoning_item(plan, ids, done=False)},
                    seq,
                )
                part = {"type": "reasoning_text", "text": ""}
                self._send_typed("response.content_part.added", {**item, "content_index": 0, "part": part}, seq)
                for piece in plan.reasoning:
                    token("response.reasoning_text.delta", {**item, "content_index": 0, "delta": piece})
                text = "".join(plan.reasoning)
                self._send_typed("response.reasoning_text.done", {**item, "content_index": 0, "text": text}, seq)
                done_part = {"type": "reasoning_text", "text": text}
                self._send_typed("response.content_part.done", {**item, "content_index": 0, "part": done_part}, seq)
                self._send_typed(
                    "response.output_item.done",
                    {"output_index": out, "item": responses.reasoning_item(plan, ids, done=True)},
                    seq,
                )
                out += 1
            else:
                index += len(plan.reasoning)  # hidden reasoning still takes its time
            calls = responses.function_calls(plan)
            if plan.content or not calls:
                item = {"item_id": ids.message, "output_index": out}
                self._send_typed(
                    "response.output_item.added",
                    {"output_index": out, "item": responses.message_item(plan, ids, done=False)},
                    seq,
                )
                empty = responses.output_text(None)
                self._send_typed("response.content_part.added", {**item, "content_index": 0, "part": empty}, seq)
                for piece in plan.content:
                    token(
                        "response.output_text.delta",
                        {**item, "content_index": 0, "delta": piece, "logprobs": []},
                    )
                full = responses.output_text(plan)
                self._send_typed(
                    "response.output_text.done",
                    {**item, "content_index": 0, "text": full["text"], "logprobs": []},
                    seq,
                )
                self._send_typed("response.content_part.done", {**item, "content_index": 0, "part": full}, seq)
                self._send_typed(
                    "response.output_item.done",
                    {"output_index": out, "item": responses.message_item(plan, ids, done=True)},
                    seq,
                )
                out += 1
            if cut_after is not None and sent >= cut_after:
                raise _Cut
        except _Cut:
            self._cut()
            return
        # tokens billed but not sent (tool-call arguments, a stop sequence) still take time
        self._wait_until(t_prefilled + int(plan.completion_tokens * gap_ns))
        for i, call in enumerate(calls):
            item = {"item_id": ids.call(i), "output_index": out}
            self._send_typed(
                "response.output_item.added",
                {"output_index": out, "item": responses.call_item(ids, i, call, done=False)},
                seq,
            )
            now = time.perf_counter_ns()
            if record.t_first_token_ns is None:
                record.t_first_token_ns = now
            self._send_typed("response.function_call_arguments.delta", {**item, "delta": call[2]}, seq)
            self._send_typed(
                "response.function_call_arguments.done", {**item, "name": call[1], "arguments": call[2]}, seq
            )
            self._send_typed(
                "response.output_item.done",
                {"output_index": out, "item": responses.call_item(ids, i, call, done=True)},
                seq,
            )
            out += 1
        t_end = time.perf_counter_ns()
        record.t_last_token_ns = record.token_times_ns[-1] if record.token_times_ns else t_end
        usage = responses.usage_body(plan)
        record.usage = usage
        final = responses.response_object(body, plan, ids, created, done=True, usage=usage)
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        self._send_typed(kind, {"response": final}, seq)
        record.t_done_ns = time.perf_counter_ns()
        self.wfile.write(b"0\r\n\r\n")

    # -- audio ----------------------------------------------------------------------------
    def _transcription(self, record: ServedRequest, raw: bytes) -> None:
        self._audio(record, raw, "transcribe")

    def _translation(self, record: ServedRequest, raw: bytes) -> None:
        self._audio(record, raw, "translate")

    def _audio(self, record: ServedRequest, raw: bytes, task: str) -> None:
        emu = self.server.emulator
        ok, fault = self._begin(record)
        if not ok:
            return
        try:
            fields, files = audio.parse_multipart(self.headers.get("content-type", ""), raw)
        except audio.MultipartError as err:
            record.status = 400
            self._send_error(APIError(400, f"could not parse the multipart form: {err}"))
            return
        model = fields["model"][-1] if fields.get("model") else None
        upload = files.get("file")
        record.body = {k: v[-1] for k, v in fields.items()}
        if upload is not None:
            record.body["file"] = {"filename": upload.filename, "bytes": len(upload.data)}
        if self._retired(model):
            self._refuse_model(record, str(model))
            return
        try:
            plan = audio.plan_transcription(
                fields,
                files,
                task=task,
                hint=self.headers.get(audio.HINT_HEADER),
                seed=emu.seed,
                occurrence=emu._occurrence([task, record.body, upload.data.hex()[:64] if upload else None]),
                jitter=emu.jitter,
                queue_ms=emu.queue_ms,
            )
        except APIError as err:
            record.status = err.status
            self._send_error(err)
            return
        record.model = plan.model
        record.status = 200
        record.body["file"]["sha256"] = plan.audio_sha256
        scale = emu.time_scale
        t0 = record.t_received_ns
        self._delay(fault, t0)
        self._wait_until(t0 + int(plan.queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        self._wait_until(t_admit + int(plan.processing_s / scale * 1e9))
        t_end = time.perf_counter_ns()
        _, request_id = wire.new_ids()
        record.request_id = request_id
        record.usage = {
            "audio_seconds": plan.seconds,
            "audio_seconds_source": plan.seconds_source,
            "billed_seconds": plan.billed_seconds,
            "queue_time": (t_admit - t0) / 1e9,
            "processing_time": (t_end - t_admit) / 1e9,
        }
        content_type, data = audio.render_transcription(plan, request_id)
        record.t_last_token_ns = t_end
        record.t_headers_ns = record.t_first_token_ns = time.perf_counter_ns()
        self._start(200, content_type, request_id, None, length=len(data))
        if fault is not None and fault.name == "cut":
            self.wfile.write(data[: len(data) // 2])
            self._cut()
            return
        record.t_done_ns = time.perf_counter_ns()
        self.wfile.write(data)

    def _speech(self, record: ServedRequest, raw: bytes) -> None:
        emu = self.server.emulator
        started = self._begin_json(record, raw)
        if started is None:
            return
        body, fault = started
        try:
            plan, queue_s = audio.plan_speech(body, queue_ms=emu.queue_ms)
        except APIError as err:
            record.status = err.status
            self._send_error(err)
            return
        record.model = plan.model
        record.status = 200
        scale = emu.time_scale
        t0 = record.t_received_ns
        self._delay(fault, t0)
        self._wait_until(t0 + int((queue_s + plan.first_byte_s) / scale * 1e9))
        _, request_id = wire.new_ids()
        record.request_id = request_id
        t_first = time.perf_counter_ns()
        record.t_headers_ns = t_first
        self._start(200, "audio/wav", request_id, None)
        data = plan.audio
        pieces = 8
        size = -(-len(data) // pieces)
        for i in range(pieces):
            chunk = data[i * size : (i + 1) * size]
            if not chunk:
                break
            if i:
                # paced from the first audio bytes, so first-to-last is never shorter than generation
                start = record.token_times_ns[0]
                self._wait_until(start + int(i * plan.generation_s / (pieces - 1) / scale * 1e9))
            now = time.perf_counter_ns()
            record.token_times_ns.append(now)
            if record.t_first_token_ns is None:
                record.t_first_token_ns = now
            if fault is not None and fault.name == "cut" and i >= pieces // 2:
                self._cut()
                return
            self._send_chunk(chunk)
        record.t_last_token_ns = record.token_times_ns[-1]
        record.usage = {"characters": plan.characters, "audio_seconds": plan.seconds}
        record.t_done_ns = time.perf_counter_ns()
        self.wfile.write(b"0\r\n\r\n")

    # -- low-level writing ---------------------------------------------------------
    def _start(
        self,
        status: int,
        content_type: str,
        request_id: str | None,
        plan: Plan | None,
        *,
        length: int | None = None,
        extra: dict[str, str] | None = None,
        gzipped: bool = False,
    ) -> None:
        emu = self.server.emulator
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
        else:
            self.send_header("Content-Length", str(length))
        for key, value in emu._ratelimit_headers(plan).items():
            self.send_header(key, value)
        if request_id:
            self.send_header("x-request-id", request_id)
        self.send_header("x-groq-region", "emulator")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _cut(self) -> None:
        """Drop the connection mid-response, as a network failure would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_json(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self._start(status, "application/json", None, None, length=len(data), extra=extra)
        self.wfile.write(data)

    def _send_error_body(self, status: int, body: dict[str, Any]) -> None:
        _, request_id = wire.new_ids()
        self._send_json(status, body, {"x-request-id": request_id})

    def _send_error(self, err: APIError, extra: dict[str, str] | None = None) -> None:
        _, request_id = wire.new_ids()
        headers = {"x-request-id": request_id, **(extra or {})}
        self._send_json(err.status, err.body(), headers)

    def _send_fault_status(self, fault: Fault) -> None:
        status = fault.status
        extra: dict[str, str] = {}
        retry_after = fault.get("retry_after")
        if retry_after is not None:
            extra["retry-after"] = f"{float(retry_after):g}"
        if status == 429:
            err = APIError(
                429,
                "Rate limit reached for model in organization `org_emulator` service tier "
                "`on_demand` on requests per minute (RPM): Limit 30, Used 30, Requested 1. "
                f"Please try again in {float(retry_after or 0):g}s.",
                type="requests",
                code="rate_limit_exceeded",
            )
        elif status == 498:
            err = APIError(
                498,
                "Flex tier capacity exceeded. This is a temporary condition, please try again later.",
                type="capacity_exceeded",
                code="capacity_exceeded",
            )
        elif status == 503:
            err = APIError(503, "Service Unavailable", type="internal_server_error", code="service_unavailable")
        elif status == 502:
            err = APIError(502, "Bad Gateway", type="internal_server_error")
        else:
            err = APIError(500, "Internal Server Error", type="internal_server_error")
        self._send_error(err, extra)


class GroqEmulator:
    """A Groq-compatible server on ``127.0.0.1`` with Groq's latency behaviour.

    Use as a context manager or call :meth:`start` / :meth:`stop`::

        with GroqEmulator(time_scale=10) as emu:
            client = groq.Groq(base_url=emu.base_url, api_key="gsk_test")

    Parameters:
        port: 0 picks a free port.
        time_scale: run N times faster than Groq (all model time divided by N;
            fault durations are real seconds and are not scaled).
        seed: seeds timing jitter; the same seed gives the same timings.
        jitter: relative spread (standard deviation) of decode and prefill speed
            per request; 0 for an exact schedule.
        queue_ms: fixed queue time instead of the profile's distribution.
        queue_profile: ``"calm"`` (default: each model's narrow queue time) or ``"groq"``
            (the heavy-tailed queue time measured on real Groq, median 101 ms, p90 608 ms,
            and at least 7 % speed jitter per request); see ``profiles.QUEUE_PROFILES``.
        api_key: accept only this key (default: any non-empty key).
        faults: server-wide faults (``"500;times=2"``, see ``faults.py``).
        serve_retired: keep serving the models Groq has shut down recently
            (``profiles.RETIRED``); False answers them with Groq's
            ``model_decommissioned`` error, as Groq's free and developer tiers do.
        prompt_cache: cache prompt prefixes on the models Groq caches for
            (``ModelProfile.prompt_caching``): a repeated prefix is reported in
            ``usage.prompt_tokens_details.cached_tokens`` and prefilled faster.
        cache_ttl_s: how long an unused prefix stays cached (Groq: 2 hours).
        cache_max_entries: most prefixes remembered (least recently used dropped first).
        capacity_pressure: the flex tier is out of capacity: flex requests (and ``auto``
            ones falling back to flex) fail fast with 498 ``capacity_exceeded``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        seed: int = 0,
        jitter: float = 0.05,
        queue_ms: float | None = None,
        queue_profile: str = "calm",
        api_key: str | None = None,
        faults: Sequence[str] = (),
        verbose: bool = False,
        serve_retired: bool = True,
        prompt_cache: bool = True,
        cache_ttl_s: float = 7200.0,
        cache_max_entries: int = 4096,
        capacity_pressure: bool = False,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale!r}")
        if jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {jitter!r}")
        if queue_ms is not None and queue_ms < 0:
            raise ValueError(f"queue_ms must be >= 0, got {queue_ms!r}")
        self.host = host
        self.port = port
        self.time_scale = float(time_scale)
        self.seed = seed
        self.jitter = float(jitter)
        self.queue_ms = queue_ms
        from .profiles import QUEUE_PROFILES

        if queue_profile not in QUEUE_PROFILES:
            raise ValueError(f"queue_profile must be one of {', '.join(QUEUE_PROFILES)}, got {queue_profile!r}")
        self.queue_profile = queue_profile
        self.api_key = api_key
        self.verbose = verbose
        self.serve_retired = serve_retired
        self.prompt_cache = prompt_cache
        self._cache = PromptCache(ttl_s=cache_ttl_s, max_entries=cache_max_entries)
        self.capacity_pressure = capacity_pressure
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [Fault, remaining or None]
        for spec in faults:
            self.inject(spec)
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._requests: list[ServedRequest] = []
        self._occurrences: dict[str, int] = {}
        self._served = 0

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> GroqEmulator:
        if self._server is not None:
            return self
        self._stop.clear()
        server = _Server((self.host, self.port), _Handler)
        server.emulator = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"groq-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: ends streams in progress and closes every connection."""
        server = self._server
        if server is None:
            return
        self._stop.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> GroqEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        """Base URL for ``groq.Groq(base_url=...)`` (the SDK adds ``/openai/v1``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for ``openai.OpenAI(base_url=...)``."""
        return f"{self.base_url}/openai/v1"

    # -- faults and records -----------------------------------------------------------
    def inject(self, spec: str, times: int | None = None) -> None:
        """Apply a fault to the next ``times`` requests (or all, if None).

        ``times`` may also be given in the spec (``"500;times=2"``)."""
        fault = parse_fault(spec)
        count = times if times is not None else fault.times
        if count is not None and count < 1:
            raise FaultError(f"times must be a positive integer, got {count!r}")
        with self._lock:
            self._faults.append([fault, count])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[ServedRequest]:
        """Every request served so far (chat, responses, audio), oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_since(self, t_ns: int) -> list[ServedRequest]:
        """Requests received at or after ``t_ns`` (a ``perf_counter_ns`` value), oldest first."""
        out: list[ServedRequest] = []
        with self._lock:
            for record in reversed(self._requests):
                if record.t_received_ns < t_ns:
                    break
                out.append(record)
        out.reverse()
        return out

    def reset(self) -> None:
        """Forget served requests, occurrence counts, faults and the prompt cache."""
        with self._lock:
            self._requests.clear()
            self._occurrences.clear()
            self._faults.clear()
        self._cache.clear()

    def clear_prompt_cache(self) -> None:
        """Forget every cached prompt prefix: the next requests run cold."""
        self._cache.clear()

    def set_capacity_pressure(self, on: bool = True) -> None:
        """Switch flex-tier capacity pressure on or off (see ``capacity_pressure``)."""
        self.capacity_pressure = on

    def _apply_prompt_cache(self, plan: Plan, body: Any) -> Plan:
        if not self.prompt_cache or not plan.profile.prompt_caching or not isinstance(body, dict):
            return plan
        cached = self._cache.lookup_and_store(prompt_blocks(body, plan.prompt_tokens))
        return with_cached_prefix(plan, cached)

    def _log(self, record: ServedRequest) -> None:
        with self._lock:
            self._requests.append(record)
            self._served += 1

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _occurrence(self, body: Any) -> int:
        key = json.dumps(body, sort_keys=True, default=str)
        with self._lock:
            n = self._occurrences.get(key, 0)
            self._occurrences[key] = n + 1
        return n

    def _fault_for(self, headers: Any) -> Fault | None:
        spec = headers.get(FAULT_HEADER)
        if spec:
            try:
                fault = parse_fault(spec)
            except FaultError as err:
                raise APIError(400, f"{FAULT_HEADER}: {err}", param=FAULT_HEADER) from None
            attempt = int(headers.get("x-stainless-retry-count") or 0)
            if fault.times is not None and attempt >= fault.times:
                return None
            return fault
        with self._lock:
            for entry in self._faults:
                fault, remaining = entry
                if remaining is None:
                    return fault  # type: ignore[no-any-return]
                if remaining > 0:
                    entry[1] = remaining - 1
                    return fault  # type: ignore[no-any-return]
        return None

    def _ratelimit_headers(self, plan: Plan | None) -> dict[str, str]:
        with self._lock:
            served = self._served
        tokens = 0 if plan is None else plan.prompt_tokens + plan.completion_tokens
        return {
            "x-ratelimit-limit-requests": "14400",
            "x-ratelimit-limit-tokens": "250000",
            "x-ratelimit-remaining-requests": str(max(0, 14400 - served)),
            "x-ratelimit-remaining-tokens": str(max(0, 250000 - tokens)),
            "x-ratelimit-reset-requests": "6s",
            "x-ratelimit-reset-tokens": f"{tokens * 0.24:.0f}ms",
        }
