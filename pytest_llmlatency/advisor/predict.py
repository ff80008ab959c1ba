"""What-if: the tokens and times of a request that changes only the generation parameters of a
recorded one, as ranges with the reasons (the recording's own speed, spread by the fitted
model)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..core.calls import LLMCall
from .fit import ModelFit
from .params import CAP_PARAMS, EFFORT_RANK, NO_EFFECT, default_effort, output_cap

__all__ = ["PRIOR_STEP", "Prediction", "predict"]

PRIOR_STEP = (2.0, 8.0)
"""Reasoning tokens per effort step when no recording has both levels (a wide prior)."""
PRIOR_MIN_REASONING = 8
"""The prior scales at least this many reasoning tokens (from a recording that reasoned little)."""
FITTED_RATIO_SPREAD = (0.75, 1.33)
"""A reasoning ratio from fitted medians is taken as right to within a third either way
(x0.75 to x1.33, about 1 / 0.75)."""


@dataclass
class Prediction:
    """The predicted tokens and times of a changed request, as ranges, with the reasoning."""

    completion: tuple[float, float]
    reasoning: tuple[float, float]
    e2e_ms: tuple[float, float]
    ttft_ms: tuple[float, float] | None
    reasons: list[str]
    changes: list[str]
    basis: str
    answer: tuple[float, float] = (1.0, math.inf)
    """Output tokens left for the answer once reasoning has taken its share of the cap."""
    breaks_answer: str | None = None
    """Why the answer itself would break (empty, or a JSON object cut), when it certainly would."""

    def judge(self, kind: str, limit: float) -> str:
        """``breaks`` (even the best case exceeds), ``risks`` (the worst case does) or ``holds``."""
        ranges = {
            "e2e": self.e2e_ms,
            "ttft": self.ttft_ms,
            "completion": self.completion,
            "reasoning": self.reasoning,
        }
        lo_hi = ranges.get(kind)
        if lo_hi is None:
            return "unknown"
        lo, hi = lo_hi
        return "breaks" if lo > limit else "risks" if hi > limit else "holds"

    def describe(self) -> str:
        def rng(lo: float, hi: float, unit: str = "") -> str:
            if math.isinf(hi):
                return f"{_n(lo)}{unit} or more"
            return f"{_n(lo)}{unit}" if round(lo) == round(hi) else f"{_n(lo)}-{_n(hi)}{unit}"

        text = f"predicted: completion tokens {rng(*self.completion)}, e2e {rng(*self.e2e_ms, ' ms')}" + (
            f", TTFT {rng(*self.ttft_ms, ' ms')}" if self.ttft_ms else ""
        )
        return f"{text} ({'; '.join(self.reasons)}; {self.basis})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: an unbounded upper end is None."""

        def pair(values: tuple[float, float] | None) -> list[float | None] | None:
            return None if values is None else [values[0], None if math.isinf(values[1]) else values[1]]

        return {
            "completion": pair(self.completion),
            "reasoning": pair(self.reasoning),
            "e2e_ms": pair(self.e2e_ms),
            "ttft_ms": pair(self.ttft_ms),
            "reasons": self.reasons,
            "changes": self.changes,
            "basis": self.basis,
            "answer": pair(self.answer),
            "breaks_answer": self.breaks_answer,
            "text": self.describe(),
        }


def _n(value: float) -> str:
    return f"{value:,.0f}"


def predict(recorded: LLMCall, new_body: dict[str, Any], fits: dict[str, ModelFit]) -> Prediction | None:
    """What a request that differs from ``recorded`` only in generation parameters will cost.

    None when the model or the messages differ (that is a different request, not a
    parameter change) or the recording lacks token counts."""
    if str(new_body.get("model")) != recorded.model or list(new_body.get("messages") or []) != recorded.messages:
        return None
    c, r = recorded.completion_tokens, recorded.reasoning_tokens or 0
    if c is None:
        return None
    old = recorded.params
    new = {k: v for k, v in new_body.items() if k not in ("model", "messages")}
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    change = _Change(recorded, old, new, changed, fits.get(recorded.model))
    # reasoning tokens under the new effort
    r_lo, r_hi = _reasoning_range(change, r)
    # content tokens: the natural answer, as far as the recording shows it
    k_lo, k_hi = _content_range(change, c - r)
    # the new cap bounds both
    new_cap = output_cap(new)
    cap = float(new_cap) if new_cap is not None else math.inf
    lo = min(r_lo + k_lo, cap)
    hi = min(r_hi + k_hi, cap)
    if any(k in changed for k in CAP_PARAMS):
        change.reasons.append(_cap_reason(change, c, new_cap))
    # time: the recording's own decode speed, spread by the fitted one
    timing = _decode_timing(recorded, change.fit, c)
    if timing is None:
        return None
    e2e, per_token = timing
    e_lo, e_hi = _e2e_range(change.fit, e2e, per_token, c, (lo, hi))
    ttft_range = _ttft_range(change, (e_lo, e_hi))
    reasons = change.reasons
    if not reasons:
        reasons.append(f"{', '.join(changed) or 'nothing'} changed: the text may differ, not the length or the speed")
    fit = change.fit
    basis = f"decode {1000 / per_token:,.0f} tok/s" + (
        f", fitted from {fit.decode_n} call(s)" if fit and fit.decode_n else " (this recording)"
    )
    answer = (max(0.0, min(cap - r_hi, k_lo)), max(0.0, min(cap - r_lo, k_hi)))
    return Prediction(
        completion=(lo, hi),
        reasoning=(min(r_lo, cap), min(r_hi, cap)),
        e2e_ms=(max(0.0, e_lo), e_hi),
        ttft_ms=ttft_range,
        reasons=reasons,
        changes=changed,
        basis=basis,
        answer=answer,
        breaks_answer=_broken_answer(change, answer, (r_lo, r_hi), new_cap, c - r),
    )


def _broken_answer(
    change: _Change, answer: tuple[float, float], reasoning: tuple[float, float], cap: int | None, content: int
) -> str | None:
    """Why the predicted answer is certainly broken: the cap leaves it no tokens (reasoning takes
    them all), or it cuts a JSON answer the recording completed. None when it may well be whole."""
    if cap is None:
        return None
    effort = change.new.get("reasoning_effort") or default_effort(change.recorded.model)
    if answer[1] <= 0:
        return (
            f"the cap leaves no tokens for the answer: ~{_n(reasoning[0])}-{_n(reasoning[1])} reasoning tokens "
            f"at effort {effort} fill max_completion_tokens={cap}; the application gets an empty answer"
        )
    fmt = change.new.get("response_format")
    json_answer = isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")
    if json_answer and change.recorded.finish_reason == "stop" and answer[1] < content:
        return (
            f"the cap cuts the JSON answer: at most {_n(answer[1])} of the recorded {content} answer tokens fit "
            f"beside ~{_n(reasoning[0])} reasoning tokens at effort {effort} (max_completion_tokens={cap})"
        )
    return None


@dataclass
class _Change:
    """A recorded call and the parameters of the request that changes it: what each step of
    :func:`predict` reads; each step adds its reasons, in order."""

    recorded: LLMCall
    old: dict[str, Any]
    new: dict[str, Any]
    changed: list[str]
    fit: ModelFit | None
    reasons: list[str] = field(default_factory=list)


def _reasoning_range(change: _Change, r: int) -> tuple[float, float]:
    """Reasoning tokens under the new ``reasoning_effort``: the recorded ``r`` scaled by the
    fitted medians of both efforts, else by the prior per effort step."""
    model, fit = change.recorded.model, change.fit
    e_old = change.old.get("reasoning_effort") or default_effort(model)
    e_new = change.new.get("reasoning_effort") or default_effort(model)
    if "reasoning_effort" not in change.changed or e_old == e_new:
        return float(r), float(r)
    if e_new == "none":
        change.reasons.append("reasoning_effort none: no reasoning tokens")
        return 0.0, 0.0
    if fit and e_old in fit.reasoning and e_new in fit.reasoning and r > 0:
        ratio = fit.reasoning[e_new][0] / max(1.0, fit.reasoning[e_old][0])
        change.reasons.append(
            f"reasoning_effort {e_old} -> {e_new}: reasoning tokens x{ratio:.1f} (fitted medians "
            f"{fit.reasoning[e_old][0]:,.0f} -> {fit.reasoning[e_new][0]:,.0f})"
        )
        return r * ratio * FITTED_RATIO_SPREAD[0], r * ratio * FITTED_RATIO_SPREAD[1]
    steps = EFFORT_RANK.get(str(e_new), 2) - EFFORT_RANK.get(str(e_old), 2)
    base = max(r, PRIOR_MIN_REASONING)
    lo_f, hi_f = (
        (PRIOR_STEP[0] ** steps, PRIOR_STEP[1] ** steps)
        if steps >= 0
        else (PRIOR_STEP[1] ** steps, PRIOR_STEP[0] ** steps)
    )
    change.reasons.append(
        f"reasoning_effort {e_old} -> {e_new}: reasoning tokens x{lo_f:g}-x{hi_f:g} per the prior "
        "(no recording of this model at both levels)"
    )
    return base * lo_f, base * hi_f


def _content_range(change: _Change, content: int) -> tuple[float, float]:
    """Content tokens: the recorded answer's ``content``, left open where the recording was cut
    or the change (a stop sequence, a parameter without a model) may end it elsewhere."""
    old, new = change.old, change.new
    k_lo, k_hi = float(content), float(content)
    if change.recorded.finish_reason == "length":
        k_hi = math.inf
        change.reasons.append(
            f"the recorded answer was cut at max_completion_tokens={output_cap(old)} "
            "(finish_reason=length): its natural length is unknown"
        )
    if "stop" in change.changed:
        old_stop, new_stop = old.get("stop"), new.get("stop")
        if not new_stop and old_stop and change.recorded.finish_reason == "stop":
            k_hi = math.inf
            change.reasons.append("the stop sequence was dropped: the answer may run on")
        elif new_stop and not old_stop:
            k_lo = 1.0
            change.reasons.append("a stop sequence was added: the answer may end earlier")
        else:
            k_lo, k_hi = 1.0, math.inf
            change.reasons.append("the stop sequences changed: the answer may end anywhere")
    unknown = [k for k in change.changed if k not in NO_EFFECT | {*CAP_PARAMS, "reasoning_effort", "stop", "stream"}]
    if unknown:
        k_lo, k_hi = 1.0, math.inf
        change.reasons.append(f"{', '.join(unknown)} changed: no model of its effect, so any length")
    return k_lo, k_hi


def _cap_reason(change: _Change, c: int, new_cap: int | None) -> str:
    """What the changed output cap does to the ``c`` recorded completion tokens."""
    old_cap = output_cap(change.old)
    if new_cap is not None and new_cap < c:
        return f"max_completion_tokens {old_cap} -> {new_cap} truncates the recorded {c} tokens"
    if change.recorded.finish_reason == "length":
        return f"max_completion_tokens {old_cap} -> {new_cap}: the answer may now grow up to the cap"
    return (
        f"max_completion_tokens {old_cap} -> {new_cap}: above the recorded {c} tokens "
        f"(finish_reason=stop), so no change"
    )


def _decode_timing(recorded: LLMCall, fit: ModelFit | None, c: int) -> tuple[float, float] | None:
    """(e2e ms, ms per token) to scale from: the recording's client timing and its own decode
    speed (else the fitted one, else Groq's); Groq's own timing when the client's is missing;
    None without either."""
    per_token = None
    if recorded.streamed and recorded.tpot_ms:
        per_token = recorded.tpot_ms
    elif fit and fit.decode_tps:
        per_token = 1000.0 / fit.decode_tps
    elif recorded.completion_ms and c:
        per_token = recorded.completion_ms / c
    e2e = recorded.e2e_ms
    if e2e is not None and per_token is not None:
        return e2e, per_token
    if recorded.server_ms is None or not c:
        return None
    e2e = (recorded.queue_ms or 0.0) + recorded.server_ms  # Groq's own timing: no client view recorded
    return e2e, (recorded.completion_ms or recorded.server_ms) / c


def _e2e_range(
    fit: ModelFit | None, e2e: float, per_token: float, c: int, tokens: tuple[float, float]
) -> tuple[float, float]:
    """The recorded ``e2e`` moved by the change from ``c`` to ``tokens`` completion tokens at
    ``per_token`` ms each, spread by the fitted decode speeds (median over p90 and over p10)."""
    lo, hi = tokens
    spread = (1.0, 1.0)
    if fit and fit.decode_tps and fit.decode_p10 and fit.decode_p90:
        spread = (fit.decode_tps / fit.decode_p90, fit.decode_tps / fit.decode_p10)
    e_lo = e2e + (lo - c) * per_token * (spread[0] if lo >= c else spread[1])
    e_hi = math.inf if math.isinf(hi) else e2e + (hi - c) * per_token * (spread[1] if hi >= c else spread[0])
    return e_lo, e_hi


def _ttft_range(change: _Change, e2e_range: tuple[float, float]) -> tuple[float, float] | None:
    """TTFT: the fitted one when the change turns streaming on, e2e when it turns it off, else
    the recorded one."""
    fit = change.fit
    old_stream, new_stream = bool(change.old.get("stream")), bool(change.new.get("stream"))
    if new_stream and not old_stream:
        guess = fit.ttft(change.recorded.prompt_tokens) if fit else None
        if guess is None or fit is None:
            change.reasons.append("stream on: no streamed recording of this model to predict the TTFT from")
            return None
        lo_t = min(guess, fit.ttft_p10 or guess)
        hi_t = max(guess, fit.ttft_p90 or guess)
        change.reasons.append(
            f"stream on: the first token arrives after about {guess:,.0f} ms (fitted from "
            f"{fit.ttft_n} streamed call(s), p10-p90 {lo_t:,.0f}-{hi_t:,.0f} ms)"
        )
        return lo_t, hi_t
    if old_stream and not new_stream:
        change.reasons.append("stream off: the first token comes with the whole answer, TTFT = e2e")
        return e2e_range
    ttft = change.recorded.ttft_ms
    return None if ttft is None else (ttft, ttft)
