"""The Responses API (``POST /openai/v1/responses``) as Groq serves it: pure functions.

Groq serves OpenAI's Responses API without state: every request carries the whole
conversation in ``input``; ``previous_response_id`` is refused. The emulator turns a
Responses request into the equivalent chat-completions body, plans it with the same
answer and latency model as chat (:func:`.model.plan_request`), and renders the plan
as a Response object or as the documented stream of typed events, timed exactly as
chat is (:func:`serve_responses`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from ..core.sse import encode_event
from .compound import plan_compound
from .connection import Connection
from .faults import Fault
from .model import Plan
from .profiles import PROFILES
from .streaming import (
    Cut,
    ServedRequest,
    begin_json,
    end_body,
    fault_at,
    generate,
    last_token_at,
    plan_chat,
    send_half,
    slow_first_byte,
    stall,
    stamp_token,
)
from .validation import invalid, require_object

__all__ = [
    "ResponseIds",
    "chat_body",
    "event",
    "function_calls",
    "new_ids",
    "output_items",
    "response_object",
    "serve_responses",
    "usage_body",
]

_ROLES = ("user", "system", "developer", "assistant")


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict):
                raise invalid(f"'{where}.content.{i}' : value must be an object", f"{where}.content.{i}")
            if isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    raise invalid(f"'{where}.content' : value must be a string or an array", f"{where}.content")


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise invalid("'instructions' : value must be a string", "instructions")
        messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if items is None:
        raise invalid("'input' : property 'input' is missing", "input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    if not isinstance(items, list) or not items:
        raise invalid("'input' : value must be a string or a non-empty array of input items", "input")
    for i, item in enumerate(items):
        where = f"input.{i}"
        if not isinstance(item, dict):
            raise invalid(f"'{where}' : value must be an object", where)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise invalid(f"'{where}.role' : value must be one of: {', '.join(_ROLES)}", f"{where}.role")
            messages.append({"role": role, "content": _text_of(item.get("content"), where)})
        elif kind == "function_call":
            call = {
                "id": str(item.get("call_id") or item.get("id") or f"call_{i}"),
                "type": "function",
                "function": {"name": str(item.get("name", "")), "arguments": str(item.get("arguments", ""))},
            }
            if messages and messages[-1]["role"] == "assistant" and "tool_calls" in messages[-1]:
                messages[-1]["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": str(item.get("call_id", "")),
                    "content": output if isinstance(output, str) else _text_of(output, where),
                }
            )
        elif kind == "reasoning":
            continue  # earlier reasoning is context the model does not re-read on Groq
        else:
            raise invalid(f"'{where}.type' : input item type `{kind}` is not supported", f"{where}.type")
    if not any(m["role"] in ("user", "tool") for m in messages):
        raise invalid("'input' : at least one user message is required", "input")
    return messages


def _tools(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise invalid("'tools' : value must be an array", "tools")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("name"), str):
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise invalid(f"'tools.{i}' : tool type `{kind}` is not supported; use function tools", f"tools.{i}")
        function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any) -> Any:
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    raise invalid("'tool_choice' : value must be none, auto, required or a function", "tool_choice")


def _response_format(text: Any) -> dict[str, Any] | None:
    if text is None:
        return None
    if not isinstance(text, dict):
        raise invalid("'text' : value must be an object", "text")
    fmt = text.get("format")
    if fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text"):
        return None
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "description", "schema", "strict") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise invalid("'text.format.type' : value must be one of: text, json_object, json_schema", "text.format.type")


def chat_body(body: Any) -> dict[str, Any]:
    """The chat-completions body equivalent to a Responses request.

    Raises :class:`APIError` with Groq's status for what Groq refuses (no state:
    ``previous_response_id``), and for malformed input items."""
    body = require_object(body)
    if body.get("previous_response_id") is not None:
        raise invalid(
            "previous_response_id is not supported: the Responses API on Groq is not stateful yet; "
            "send the whole conversation in `input`",
            "previous_response_id",
        )
    model = body.get("model")
    chat: dict[str, Any] = {"model": model, "messages": _messages(body)}
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p", "seed", "service_tier", "parallel_tool_calls"):
        if body.get(name) is not None:
            chat[name] = body[name]
    reasoning = body.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            raise invalid("'reasoning' : value must be an object", "reasoning")
        if reasoning.get("effort") is not None:
            chat["reasoning_effort"] = reasoning["effort"]
    profile = PROFILES.get(model) if isinstance(model, str) else None
    if profile is not None and profile.reasoning == "qwen3":
        chat["reasoning_format"] = "parsed"  # reasoning goes to its own output item
    tools = _tools(body)
    if tools:
        chat["tools"] = tools
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    fmt = _response_format(body.get("text"))
    if fmt is not None:
        chat["response_format"] = fmt
    if body.get("stream"):
        chat["stream"] = True
    return chat


class ResponseIds:
    """The ids of one response and its output items."""

    def __init__(self) -> None:
        self.response = "resp_" + _token()
        self.reasoning = "rs_" + _token()
        self.message = "msg_" + _token()
        self.request = "req_01" + _token()

    def call(self, index: int) -> str:
        return f"fc_{self.response[5:]}{index}"


_B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def _token() -> str:
    return "".join(_B32[b % 32] for b in secrets.token_bytes(26))


def new_ids() -> ResponseIds:
    return ResponseIds()


def usage_body(plan: Plan) -> dict[str, Any]:
    """OpenAI's Responses ``usage``: the same token counts chat would bill."""
    return {
        "input_tokens": plan.prompt_tokens,
        "input_tokens_details": {"cached_tokens": plan.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": plan.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
    }


def function_calls(plan: Plan) -> list[tuple[str, str, str]]:
    """The plan's tool calls as (call id, name, arguments)."""
    return [(c.id, c.name, c.arguments) for c in plan.tool_calls]


def shows_reasoning(plan: Plan) -> bool:
    return plan.show_reasoning == "field" and bool(plan.reasoning)


def reasoning_item(plan: Plan, ids: ResponseIds, *, done: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": ids.reasoning, "type": "reasoning", "summary": []}
    item["content"] = [{"type": "reasoning_text", "text": "".join(plan.reasoning)}] if done else []
    item["status"] = "completed" if done else "in_progress"
    return item


def message_item(plan: Plan, ids: ResponseIds, *, done: bool) -> dict[str, Any]:
    status = "in_progress"
    if done:
        status = "incomplete" if plan.finish_reason == "length" else "completed"
    return {
        "id": ids.message,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [output_text(plan)] if done else [],
    }


def output_text(plan: Plan | None) -> dict[str, Any]:
    return {"type": "output_text", "text": "".join(plan.content) if plan else "", "annotations": [], "logprobs": []}


def call_item(ids: ResponseIds, index: int, call: tuple[str, str, str], *, done: bool) -> dict[str, Any]:
    call_id, name, arguments = call
    return {
        "id": ids.call(index),
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments if done else "",
        "status": "completed" if done else "in_progress",
    }


def output_items(plan: Plan, ids: ResponseIds) -> list[dict[str, Any]]:
    """The finished ``output`` list: reasoning (when shown), the message, tool calls."""
    items: list[dict[str, Any]] = []
    if shows_reasoning(plan):
        items.append(reasoning_item(plan, ids, done=True))
    calls = function_calls(plan)
    if plan.content or not calls:
        items.append(message_item(plan, ids, done=True))
    items.extend(call_item(ids, i, c, done=True) for i, c in enumerate(calls))
    return items


def response_object(
    body: dict[str, Any],
    plan: Plan,
    ids: ResponseIds,
    created_at: int,
    *,
    done: bool,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Response object: in progress (no output yet) or finished."""
    status = "in_progress"
    incomplete = None
    if done:
        status = "incomplete" if plan.finish_reason == "length" else "completed"
        if status == "incomplete":
            incomplete = {"reason": "max_output_tokens"}
    raw_reasoning = body.get("reasoning")
    reasoning: dict[str, Any] = raw_reasoning if isinstance(raw_reasoning, dict) else {}
    raw_text = body.get("text")
    text: dict[str, Any] = raw_text if isinstance(raw_text, dict) else {}
    fmt = text.get("format") if isinstance(text.get("format"), dict) else {"type": "text"}
    return {
        "id": ids.response,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": plan.model,
        "output": output_items(plan, ids) if done else [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": None},
        # the SDK's type knows OpenAI's tier names only: Groq's on_demand is OpenAI's default
        "service_tier": "flex" if plan.service_tier == "flex" else "default",
        "temperature": body.get("temperature", 1.0),
        "text": {"format": fmt},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage if done else None,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def event(kind: str, sequence: int, **fields: Any) -> dict[str, Any]:
    """One stream event: ``type``, ``sequence_number`` and its fields."""
    return {"type": kind, "sequence_number": sequence, **fields}


def now() -> int:
    return int(time.time())


# -- serving -------------------------------------------------------------------------------


def serve_responses(conn: Connection, record: ServedRequest, raw: bytes) -> None:
    """Answer one Responses API request (refusals raise :class:`APIError`)."""
    emu = conn.emulator
    body, fault = begin_json(conn, record, raw)
    chat = chat_body(body)
    plan = plan_chat(emu, chat)
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
        _Stream(conn, body, plan, record, fault).play()
    else:
        _complete(conn, body, plan, record, fault)


def _complete(conn: Connection, body: dict[str, Any], plan: Plan, record: ServedRequest, fault: Fault | None) -> None:
    """The finished Response object in one body once the model time has passed."""
    scale = conn.emulator.time_scale
    t0 = record.t_received_ns
    created = now()
    _, _, t_end = generate(conn, plan, t0, fault, scale)
    ids = new_ids()
    record.request_id = ids.request
    usage = usage_body(plan)
    record.usage = usage
    data = json.dumps(response_object(body, plan, ids, created, done=True, usage=usage)).encode()
    record.t_last_token_ns = t_end
    record.t_headers_ns = record.t_first_token_ns = time.perf_counter_ns()
    conn.begin_response(200, "application/json", ids.request, plan, length=len(data))
    if fault is not None and fault.name in ("cut", "stall"):
        rest = send_half(conn, data, fault)
        if rest is None:
            return
        data = rest
    record.t_done_ns = time.perf_counter_ns()
    conn.wfile.write(data)


class _Stream:
    """One streamed Response, played in real time: ``response.created`` and
    ``response.in_progress`` at admission; the reasoning item (when shown) and the message
    item, one delta per token at the decode pace; the function calls, whole, once every
    token's time has passed; then ``response.completed`` (or ``response.incomplete``)."""

    def __init__(
        self, conn: Connection, body: dict[str, Any], plan: Plan, record: ServedRequest, fault: Fault | None
    ) -> None:
        self.conn = conn
        self.body = body
        self.plan = plan
        self.record = record
        self.fault = fault
        self.ids = new_ids()
        self.seq = 0
        self.t_prefilled = 0
        self.gap_ns = 0.0
        self.cut_after: int | None = None
        self.stall_after: int | None = None
        self.sent = 0
        self.index = 0  # tokens generated so far (hidden reasoning included)

    def send(self, kind: str, fields: dict[str, Any]) -> None:
        """One typed event, numbered in order."""
        payload = event(kind, self.seq, **fields)
        self.seq += 1
        self.conn.send_chunk(b"event: " + kind.encode() + b"\n" + encode_event(payload))

    def play(self) -> None:
        conn, plan, record = self.conn, self.plan, self.record
        scale = conn.emulator.time_scale
        t0 = record.t_received_ns
        created = now()
        slow_first_byte(conn, self.fault, t0)
        t = plan.timing
        record.request_id = self.ids.request
        conn.wait_until(t0 + int(t.queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        record.t_headers_ns = t_admit
        conn.begin_response(200, "text/event-stream", self.ids.request, plan)
        pending = response_object(self.body, plan, self.ids, created, done=False)
        self.send("response.created", {"response": pending})
        self.send("response.in_progress", {"response": pending})
        conn.wait_until(t_admit + int(t.prompt_s / scale * 1e9))
        self.t_prefilled = time.perf_counter_ns()
        self.gap_ns = t.token_s / scale * 1e9
        shown = shows_reasoning(plan)
        emitted = len(plan.content) + (len(plan.reasoning) if shown else 0)
        self.cut_after = fault_at(self.fault, "cut", emitted // 2)
        self.stall_after = fault_at(self.fault, "stall", emitted // 2)
        try:
            out = self._text_items(shown)
        except Cut:
            conn.cut()
            return
        # tokens billed but not sent (tool-call arguments, a stop sequence) still take time
        conn.wait_until(self.t_prefilled + int(plan.completion_tokens * self.gap_ns))
        self._calls(out)
        record.t_last_token_ns = last_token_at(record, time.perf_counter_ns())
        usage = usage_body(plan)
        record.usage = usage
        final = response_object(self.body, plan, self.ids, created, done=True, usage=usage)
        self.send(
            "response.incomplete" if final["status"] == "incomplete" else "response.completed", {"response": final}
        )
        end_body(conn, record)

    def _token(self, kind: str, fields: dict[str, Any]) -> None:
        """A delta event at its token's time (:class:`Cut` when a ``cut`` fault strikes)."""
        if self.cut_after is not None and self.sent >= self.cut_after:
            raise Cut
        if self.stall_after is not None and self.sent == self.stall_after:
            stall(self.conn, self.fault)  # type: ignore[arg-type]
        self.conn.wait_until(self.t_prefilled + int((self.index + 1) * self.gap_ns))
        stamp_token(self.record)
        self.send(kind, fields)
        self.sent += 1
        self.index += 1

    def _text_items(self, shown: bool) -> int:
        """The reasoning item (when shown) and the message item; the next output index."""
        plan, ids = self.plan, self.ids
        out = 0
        if shown:
            text = "".join(plan.reasoning)
            self._text_item(
                out,
                ids.reasoning,
                functools.partial(reasoning_item, plan, ids),
                {"type": "reasoning_text", "text": ""},
                {"type": "reasoning_text", "text": text},
                "response.reasoning_text",
                plan.reasoning,
                {},
            )
            out += 1
        else:
            self.index += len(plan.reasoning)  # hidden reasoning still takes its time
        if plan.content or not function_calls(plan):
            item = functools.partial(message_item, plan, ids)
            text_item = (output_text(None), output_text(plan))
            self._text_item(out, ids.message, item, *text_item, "response.output_text", plan.content, {"logprobs": []})
            out += 1
        if self.cut_after is not None and self.sent >= self.cut_after:
            raise Cut
        return out

    def _text_item(
        self,
        out: int,
        item_id: str,
        item: Callable[..., dict[str, Any]],
        empty: dict[str, Any],
        full: dict[str, Any],
        kind: str,
        pieces: list[str],
        extra: dict[str, Any],
    ) -> None:
        """An output item holding text: added, its content part, one delta per token, done."""
        ref = {"item_id": item_id, "output_index": out}
        self.send("response.output_item.added", {"output_index": out, "item": item(done=False)})
        self.send("response.content_part.added", {**ref, "content_index": 0, "part": empty})
        for piece in pieces:
            self._token(f"{kind}.delta", {**ref, "content_index": 0, "delta": piece, **extra})
        self.send(f"{kind}.done", {**ref, "content_index": 0, "text": full["text"], **extra})
        self.send("response.content_part.done", {**ref, "content_index": 0, "part": full})
        self.send("response.output_item.done", {"output_index": out, "item": item(done=True)})

    def _calls(self, out: int) -> None:
        """Each function call, whole: added, its arguments in one delta, done."""
        ids, record = self.ids, self.record
        for i, call in enumerate(function_calls(self.plan)):
            ref = {"item_id": ids.call(i), "output_index": out}
            self.send("response.output_item.added", {"output_index": out, "item": call_item(ids, i, call, done=False)})
            if record.t_first_token_ns is None:
                record.t_first_token_ns = time.perf_counter_ns()
            self.send("response.function_call_arguments.delta", {**ref, "delta": call[2]})
            self.send("response.function_call_arguments.done", {**ref, "name": call[1], "arguments": call[2]})
            self.send("response.output_item.done", {"output_index": out, "item": call_item(ids, i, call, done=True)})
            out += 1
