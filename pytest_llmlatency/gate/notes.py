"""The notes under a comparison: what changed since the baseline, in words (the requests call by
call, the agent's steps, the tokens, the finish reasons, the served tier, the prompt cache)."""

from __future__ import annotations

from collections.abc import Sequence

from ..advisor.params import output_cap
from ..cassettes.request_diff import request_diff
from ..core.records import CallRecord
from .metrics import TOKEN_METRICS
from .samples import cache_change, call_counts, measured_values, runs_of
from .stats import median
from .store import TestBaseline
from .tiers import TierKey, call_tier
from .verdicts import num, signed

__all__ = ["attribution"]


def _tools_of(runs: Sequence[Sequence[CallRecord]]) -> str:
    """``get_weather x2, search`` over the first run."""
    names: dict[str, int] = {}
    for c in runs[0] if runs else []:
        for name in c.get("tool_names") or []:
            names[str(name)] = names.get(str(name), 0) + 1
    return ", ".join(f"{n} x{k}" if k > 1 else n for n, k in names.items()) or "none"


def _steps_note(old_calls: Sequence[CallRecord], new_calls: Sequence[CallRecord]) -> str | None:
    """``3 -> 5 LLM calls: the agent took 2 more steps (tool calls get_weather -> get_weather x3)``."""
    old_runs, new_runs = runs_of(old_calls), runs_of(new_calls)
    a, b = call_counts(old_calls), call_counts(new_calls)
    if not a or not b or median(a) == median(b):
        return None
    n_old, n_new = median(a), median(b)
    steps = n_new - n_old
    text = (
        f"{num(n_old)} -> {num(n_new)} LLM calls per run: the agent took {num(abs(steps))} "
        f"{'more' if steps > 0 else 'fewer'} step{'' if abs(steps) == 1 else 's'}"
    )
    tools_old, tools_new = _tools_of(old_runs), _tools_of(new_runs)
    if tools_old != tools_new:
        text += f" (tool calls {tools_old} -> {tools_new})"
    old_e2e = sum(float(c.get("e2e_ms") or 0) for c in old_runs[0]) if old_runs else 0.0
    new_e2e = sum(float(c.get("e2e_ms") or 0) for c in new_runs[0]) if new_runs else 0.0
    if old_e2e and new_e2e:
        text += f"; time in LLM calls {num(old_e2e)} -> {num(new_e2e)} ms"
    return text + "."


def _call_changes(old: CallRecord, new: CallRecord) -> list[str]:
    changes = []
    if old.get("model") != new.get("model"):
        changes.append(f"model {old.get('model')!r} -> {new.get('model')!r}")
    changes += request_diff(old.get("params") or {}, new.get("params") or {})
    if old.get("prompt_chars") != new.get("prompt_chars"):
        changes.append(f"prompt length {old.get('prompt_chars')} -> {new.get('prompt_chars')} chars")
    return changes


def _finish_change(old: CallRecord, new: CallRecord) -> str | None:
    finish_old, finish_new = old.get("finish_reason"), new.get("finish_reason")
    if finish_old == finish_new or not finish_old or not finish_new:
        return None
    if output_cap(old.get("params") or {}) != output_cap(new.get("params") or {}):
        why = {
            ("length", "stop"): ": the old cap truncated the answer",
            ("stop", "length"): ": the new cap truncates the answer",
        }.get((finish_old, finish_new), "")
    else:  # the cap is the same: only say what happened
        why = {
            ("length", "stop"): ": the answer now ends before the cap",
            ("stop", "length"): ": the answer now reaches the cap",
        }.get((finish_old, finish_new), "")
    return f"finish_reason {finish_old} -> {finish_new}{why}"


def _tier_note(tiers: TierKey, old_calls: Sequence[CallRecord], new_calls: Sequence[CallRecord]) -> str:
    """``Tier changed on_demand -> flex (the request asked for 'auto' both times)``, and what
    the time metrics were compared on."""
    asked_old = list(dict.fromkeys(str(c.get("requested_tier")) for c in old_calls if c.get("ok")))
    asked_new = list(dict.fromkeys(str(c.get("requested_tier")) for c in new_calls if c.get("ok")))
    text = f"Tier changed {tiers.change}"
    if asked_old == asked_new and len(asked_new) == 1:
        asked = "no tier (on_demand)" if asked_new[0] == "None" else repr(asked_new[0])
        text += f" (the requests asked for {asked} both times: Groq served them on another tier)"
    if tiers.common:
        left = sum(1 for c in new_calls if c.get("ok") and call_tier(c) not in tiers.common)
        left_old = sum(1 for c in old_calls if c.get("ok") and call_tier(c) not in tiers.common)
        text += (
            f"; time metrics compared on the calls served by {', '.join(tiers.common)} only "
            f"({left_old} baseline and {left} new call(s) left out)"
        )
    else:
        text += "; time metrics not compared"
    return text + "."


def _prompt_ms(calls: Sequence[CallRecord]) -> float | None:
    values = measured_values(calls, "prompt_ms")
    return median(values) if values else None


def _cache_note(old_calls: Sequence[CallRecord], new_calls: Sequence[CallRecord], same_request: bool) -> str | None:
    """``Prompt 80% cached -> 0%: a cold cache, +42 ms prompt time``, from Groq's prompt_time."""
    change = cache_change(old_calls, new_calls)
    if change is None:
        return None
    a, b = change
    text = f"Prompt {a:.0f}% cached -> {b:.0f}%: a {'cold' if b < a else 'warmer'} cache"
    pa, pb = _prompt_ms(old_calls), _prompt_ms(new_calls)
    if pa is not None and pb is not None:
        text += f", {signed(pb - pa)} ms prompt time (Groq's prompt_time {num(pa)} -> {num(pb)} ms)"
    if b < a:
        text += (
            " with the same request: the prefix was not in Groq's cache (it keeps one for about 2 hours, best "
            "effort; warm it with @pytest.mark.llm_repeat(warmup=1))"
            if same_request
            else ": the changed request no longer starts with the cached prefix"
        )
    return text + "."


def attribution(
    base: TestBaseline, calls: Sequence[CallRecord], shown: set[str], tiers: TierKey | None = None
) -> list[str]:
    """What changed in the requests since the baseline (call by call, in order), and what that
    did to tokens (token metrics already reported as shifts are not repeated); a change of the
    service tier that served the calls, or of the share of the prompt Groq's cache served."""
    notes = []
    old_calls, new_calls = base.calls, [c for c in calls if not c.get("warmup") and not c.get("prediction")]
    if tiers is not None:
        notes.append(_tier_note(tiers, old_calls, new_calls))
    steps = _steps_note(old_calls, new_calls)
    if steps:
        notes.append(steps)
    elif len(old_calls) != len(new_calls):
        notes.append(f"Calls per run {len(old_calls)} -> {len(new_calls)}.")
    pairs = list(zip(old_calls, new_calls, strict=False))
    if not pairs:
        return notes
    per_call = [_call_changes(old, new) for old, new in pairs]
    distinct = list(dict.fromkeys(tuple(c) for c in per_call if c))
    notes.append(_request_note(per_call, distinct))
    tokens = _token_changes(old_calls, new_calls, shown)
    tokens += list(dict.fromkeys(f for f in (_finish_change(o, n) for o, n in pairs) if f))
    cache = _cache_note(old_calls, new_calls, same_request=not distinct)
    if tokens:
        notes.append("; ".join(tokens) + ".")
    if cache:
        notes.append(cache)
    elif not tokens and not distinct and not (shown & set(TOKEN_METRICS)) and not (tiers and not tiers.common):
        server = _server_note(old_calls, new_calls)
        if server:
            notes.append(server)
    return notes


def _request_note(per_call: Sequence[list[str]], distinct: Sequence[tuple[str, ...]]) -> str:
    """``The request is unchanged.``, one change for every call, or the changes call by call."""
    if not distinct:
        return "The request is unchanged."
    if len(distinct) == 1 and all(per_call):
        return "Request changed: " + "; ".join(distinct[0]) + "."
    return "Requests changed: " + "; ".join(f"call {i + 1}: " + ", ".join(c) for i, c in enumerate(per_call) if c) + "."


def _token_changes(old_calls: Sequence[CallRecord], new_calls: Sequence[CallRecord], shown: set[str]) -> list[str]:
    """``completion_tokens 40 -> 90`` for each token count that moved and is not a shift already."""
    tokens = []
    for key in ("completion_tokens", "reasoning_tokens", "prompt_tokens"):
        if key in shown:
            continue
        a, b = measured_values(old_calls, key), measured_values(new_calls, key)
        if a and b and median(a) != median(b):
            tokens.append(f"{key} {num(median(a))} -> {num(median(b))}")
    return tokens


def _server_note(old_calls: Sequence[CallRecord], new_calls: Sequence[CallRecord]) -> str | None:
    """With the same request and tokens: Groq's queue and completion times on both sides."""
    server = []
    for key, label in (("queue_ms", "queue"), ("completion_ms", "completion")):
        a, b = measured_values(old_calls, key), measured_values(new_calls, key)
        if a and b:
            server.append(f"Groq {label} {num(median(a))} -> {num(median(b))} ms")
    if not server:
        return None
    return "Same tokens: the server or the network got slower or faster (" + ", ".join(server) + ")."
