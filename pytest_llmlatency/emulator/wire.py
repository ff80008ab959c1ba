"""Groq's wire format: response bodies, stream chunks, headers and error bodies.

Key order and nesting follow the real responses in ``shared/real-cassettes``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any

from .model import Plan
from .policy import ToolCall

__all__ = [
    "chunk",
    "completion_body",
    "compound_body",
    "compound_chunk",
    "compound_final_chunk",
    "final_chunk",
    "new_ids",
    "role_chunk",
    "tool_call_chunk",
    "tool_use_failed_body",
    "usage_body",
    "usage_chunk",
    "x_groq_error_chunk",
]

_B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def new_ids() -> tuple[str, str]:
    """A completion id (``chatcmpl-<uuid>``) and a Groq request id (``req_01...``)."""
    rand = secrets.token_bytes(24)
    req = "req_01" + "".join(_B32[b % 32] for b in rand)
    return f"chatcmpl-{uuid.uuid4()}", req


def fingerprint(model: str) -> str:
    return "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]


def usage_body(plan: Plan, *, queue_s: float, prompt_s: float, completion_s: float) -> dict[str, Any]:
    """Groq's ``usage``: total_time is prompt_time + completion_time (queue excluded),
    as in every real cassette."""
    usage: dict[str, Any] = {
        "queue_time": round(queue_s, 9),
        "prompt_tokens": plan.prompt_tokens,
        "prompt_time": round(prompt_s, 9),
        "completion_tokens": plan.completion_tokens,
        "completion_time": round(completion_s, 9),
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        "total_time": round(prompt_s + completion_s, 9),
        "completion_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
    }
    if plan.cached_tokens:
        # only when something was cached: the real cold gpt-oss-120b body has no prompt_tokens_details
        usage["prompt_tokens_details"] = {"cached_tokens": plan.cached_tokens}
    return usage


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _message(plan: Plan) -> dict[str, Any]:
    reasoning = "".join(plan.reasoning)
    content = "".join(plan.content)
    message: dict[str, Any] = {"role": "assistant"}
    if plan.tool_calls:
        # Groq leaves ``content`` out of a tool-call message (real cassette: tool_choice_matrix)
        if plan.show_reasoning == "field" and plan.reasoning:
            message["reasoning"] = reasoning
        message["tool_calls"] = [_tool_call(c) for c in plan.tool_calls]
        return message
    if plan.show_reasoning == "raw" and plan.reasoning:
        content = f"<think>\n{reasoning}\n</think>\n\n{content}"
    message["content"] = content
    if plan.show_reasoning == "field" and plan.reasoning:
        message["reasoning"] = reasoning
    return message


def _completion(
    plan: Plan,
    completion_id: str,
    message: dict[str, Any],
    usage: dict[str, Any],
    breakdown: dict[str, Any] | None,
    system_fingerprint: str | None,
    x_groq: dict[str, Any],
) -> dict[str, Any]:
    """A non-streamed chat completion, keys in Groq's order."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": plan.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": plan.finish_reason}],
        "usage": usage,
        "usage_breakdown": breakdown,
        "system_fingerprint": system_fingerprint,
        "x_groq": x_groq,
        "service_tier": plan.service_tier,
    }


def completion_body(plan: Plan, completion_id: str, request_id: str, usage: dict[str, Any]) -> dict[str, Any]:
    return _completion(
        plan, completion_id, _message(plan), usage, None, fingerprint(plan.model), _x_groq(plan, request_id)
    )


def _x_groq(plan: Plan, request_id: str) -> dict[str, Any]:
    x_groq: dict[str, Any] = {"id": request_id, "seed": plan.seed}
    if plan.cached_tokens:
        # groq SDK ``XGroqUsage``: hardware cache statistics of a non-streamed response. Groq does
        # not document the split; the emulator reports every cached token as DRAM-cached.
        x_groq["usage"] = {"dram_cached_tokens": plan.cached_tokens, "sram_cached_tokens": 0}
    return x_groq


def x_groq_error_chunk(plan: Plan, completion_id: str, request_id: str, created: int, error: str) -> dict[str, Any]:
    """A chunk that stops the stream early: ``x_groq.error`` (a string, groq SDK
    ``ChatCompletionChunk.x_groq.error``) with an empty delta and no finish reason."""
    body = _chunk_base(plan, completion_id, created)
    body["choices"] = [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": None}]
    body["x_groq"] = {"id": request_id, "error": error}
    return body


def compound_chunk(model: str, created: int, delta: dict[str, Any]) -> dict[str, Any]:
    """A compound-system chunk as in the real recording: each chunk its own id, no fingerprint."""
    return {
        "id": f"chatcmpl-{uuid.uuid4()}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}],
    }


def compound_final_chunk(
    model: str, created: int, usage: dict[str, Any], breakdown: dict[str, Any], finish_reason: str
) -> dict[str, Any]:
    """The last compound chunk, as recorded: id ``stub``, ``x_groq`` with ``usage`` and
    ``usage_breakdown`` (no ``x_groq.id``, no top-level ``usage``)."""
    return {
        "id": "stub",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason}],
        "x_groq": {"usage": usage, "usage_breakdown": breakdown},
    }


def compound_body(
    plan: Plan,
    completion_id: str,
    request_id: str,
    *,
    content: str,
    reasoning: str,
    executed_tools: list[dict[str, Any]],
    usage: dict[str, Any],
    breakdown: dict[str, Any],
) -> dict[str, Any]:
    """A non-streamed compound answer: the message carries ``reasoning`` and ``executed_tools``;
    ``usage`` sums the inner calls, ``usage_breakdown`` lists them."""
    message = {"role": "assistant", "content": content, "reasoning": reasoning, "executed_tools": executed_tools}
    return _completion(plan, completion_id, message, usage, breakdown, None, {"id": request_id})


def _chunk_base(plan: Plan, completion_id: str, created: int) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": plan.model,
        "system_fingerprint": fingerprint(plan.model),
    }


def role_chunk(plan: Plan, completion_id: str, request_id: str, created: int) -> dict[str, Any]:
    """The first chunk: role only, empty content, carrying ``x_groq.id``."""
    body = _chunk_base(plan, completion_id, created)
    body["choices"] = [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    body["x_groq"] = {"id": request_id, "seed": plan.seed}
    return body


def chunk(
    plan: Plan,
    completion_id: str,
    created: int,
    *,
    content: str | None = None,
    reasoning: str | None = None,
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if reasoning is not None:
        delta["reasoning"] = reasoning
        if plan.profile.reasoning == "gpt-oss":
            delta["channel"] = "analysis"  # gpt-oss reasoning deltas name their harmony channel
    if content is not None:
        delta["content"] = content
    body = _chunk_base(plan, completion_id, created)
    body["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]
    return body


def tool_call_chunk(plan: Plan, completion_id: str, created: int, call: ToolCall, index: int) -> dict[str, Any]:
    """One tool call, complete, in one delta: Groq does not stream argument fragments."""
    body = _chunk_base(plan, completion_id, created)
    delta = {"tool_calls": [{**_tool_call(call), "index": index}]}
    body["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]
    return body


def tool_use_failed_body(plan: Plan, *, streamed: bool) -> dict[str, Any]:
    """Groq's ``tool_use_failed`` error: the generation did not fit the tool's schema.

    Streamed, it arrives as an ``event: error`` whose data carries ``status_code``;
    non-streamed, as the body of a 400 (``test_tool_use_failed_error_streaming.yaml``)."""
    if plan.tool_calls:
        call = plan.tool_calls[0]
        message = (
            "Tool call validation failed: tool call validation failed: parameters for tool "
            f"{call.name} did not match schema: errors: [additionalProperties 'invalid_param' not allowed]"
        )
        failed = f'{{"name": "{call.name}", "arguments": {{\n  "invalid_param": "value"\n}}}}'
    else:
        message = "Failed to call a function. Please adjust your prompt. See 'failed_generation' for more details."
        failed = "".join(plan.content)
    err: dict[str, Any] = {
        "message": message,
        "type": "invalid_request_error",
        "code": "tool_use_failed",
        "failed_generation": failed,
    }
    if streamed:
        err["status_code"] = 400
    return {"error": err}


def final_chunk(plan: Plan, completion_id: str, request_id: str, created: int, usage: dict[str, Any]) -> dict[str, Any]:
    """Empty delta with ``finish_reason``, ``x_groq.usage`` and top-level ``usage``."""
    body = _chunk_base(plan, completion_id, created)
    body["choices"] = [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": plan.finish_reason}]
    body["x_groq"] = {"id": request_id, "usage": usage}
    body["usage"] = usage
    return body


def usage_chunk(plan: Plan, completion_id: str, created: int, usage: dict[str, Any]) -> dict[str, Any]:
    """The extra chunk sent with ``stream_options.include_usage``: no choices, usage."""
    body = _chunk_base(plan, completion_id, created)
    body["choices"] = []
    body["usage"] = usage
    return body
