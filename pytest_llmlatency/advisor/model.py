"""The latency advisor: a latency model fitted from recorded calls, what-if predictions
for changed generation parameters, and parameter lint grounded in those recordings.

Everything here is pure arithmetic on observations; ``docs/advisor.md`` states the
model, its assumptions and where it is wrong.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.calls import LLMCall, percentile

__all__ = ["ModelFit", "Observation", "Prediction", "fit_models", "lint", "observations", "predict"]

EFFORT_ORDER = ("none", "low", "medium", "default", "high")
_EFFORT_RANK = {"none": 0, "low": 1, "medium": 2, "default": 2, "high": 3}
DEFAULT_EFFORT = {"openai/gpt-oss": "medium", "qwen/qwen3": "default"}
PRIOR_STEP = (2.0, 8.0)
"""Reasoning tokens per effort step when no recording has both levels (a wide prior)."""
NO_EFFECT = {
    "temperature",
    "top_p",
    "seed",
    "user",
    "stream_options",
    "logprobs",
    "top_logprobs",
    "metadata",
    "store",
    "parallel_tool_calls",
}


def default_effort(model: str) -> str | None:
    for prefix, effort in DEFAULT_EFFORT.items():
        if model.startswith(prefix):
            return effort
    return None


@dataclass
class Observation:
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    effort: str | None
    streamed: bool
    ttft_ms: float | None
    e2e_ms: float | None
    decode_tps: float | None
    """Client-side decode speed of a timed stream: (tokens - 1) / (e2e - TTFT)."""
    server_tps: float | None
    """Groq's: completion_tokens / completion_time."""
    finish_reason: str | None
    params: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    """Identity of the call: its request id, else Groq's own timings and tokens. The same call seen
    twice (live in a recording run, and in the cassette just written) is counted once."""

    @classmethod
    def of(cls, call: LLMCall | dict[str, Any]) -> Observation:
        def get(key: str) -> Any:
            return call.get(key) if isinstance(call, dict) else getattr(call, key, None)

        params = get("params") or {}
        model = str(get("model") or "")
        effort = params.get("reasoning_effort") if isinstance(params, dict) else None
        completion, completion_ms = get("completion_tokens"), get("completion_ms")
        server = completion / completion_ms * 1000 if completion and completion_ms else None
        return cls(
            model=model,
            prompt_tokens=get("prompt_tokens"),
            completion_tokens=completion,
            reasoning_tokens=get("reasoning_tokens"),
            effort=effort or default_effort(model),
            streamed=bool(get("streamed")),
            ttft_ms=get("ttft_ms"),
            e2e_ms=get("e2e_ms"),
            decode_tps=get("output_tokens_per_s") if get("streamed") else None,
            server_tps=server,
            finish_reason=get("finish_reason"),
            params=dict(params) if isinstance(params, dict) else {},
            key=_identity(get),
        )


def _identity(get: Any) -> str:
    request_id = get("request_id")
    if request_id:
        return f"id:{request_id}"
    usage = [get(k) for k in ("model", "prompt_tokens", "completion_tokens", "queue_ms", "completion_ms")]
    if usage[3] is None:  # no Groq timing: the client's, to a tenth of a millisecond
        e2e, ttft = get("e2e_ms"), get("ttft_ms")
        usage += [None if e2e is None else round(float(e2e), 1), None if ttft is None else round(float(ttft), 1)]
    return json.dumps(usage, default=str)


def dedupe(obs: Iterable[Observation]) -> list[Observation]:
    """Each call once (first seen wins)."""
    seen: set[str] = set()
    out = []
    for o in obs:
        if o.key and o.key in seen:
            continue
        seen.add(o.key)
        out.append(o)
    return out


def observations(calls: Iterable[LLMCall | dict[str, Any]]) -> list[Observation]:
    out = []
    for call in calls:
        ok = call.get("ok") if isinstance(call, dict) else call.ok
        if ok:
            out.append(Observation.of(call))
    return out


_SKIP_DIRS = {"node_modules", "site-packages", "__pycache__", "venv", "build", "dist"}


def _cassette_files(root: Path) -> list[Path]:
    """``**/cassettes/**/*.yaml`` without descending into hidden folders, virtualenvs or builds."""
    import os

    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        if "cassettes" in Path(folder).relative_to(root).parts:
            found += [Path(folder, f) for f in sorted(files) if f.endswith(".yaml")]
    return found


OBSERVATION_CACHE = "cassette-observations.json"
"""The file, in pytest's cache folder, where the advisor keeps what it read from each cassette."""
_CACHE_FORMAT = 1


@dataclass
class ScanStats:
    """What :func:`cassette_observations` did: cassette files seen, parsed, and taken from
    its cache because they had not changed."""

    files: int = 0
    parsed: int = 0
    cached: int = 0


_memo: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
"""In-process: absolute path -> (stamp, observations) of the cassettes read in this process."""


def observation_cache(config: Any) -> Path | None:
    """The advisor's cache file in pytest's cache folder (``.pytest_cache/d/llmlatency/``), or
    None when the cacheprovider is off or the folder cannot be made."""
    cache = getattr(config, "cache", None)
    if cache is None:
        return None
    try:
        return Path(cache.mkdir("llmlatency")) / OBSERVATION_CACHE
    except OSError:
        return None


def _cache_tag() -> str:
    """Changes when what an observation holds, or how it is computed, may have changed."""
    from .. import __version__
    from ..capture.timing import TIMING_VERSION

    fields = ",".join(Observation.__dataclass_fields__)
    return f"{_CACHE_FORMAT}/{__version__}/{TIMING_VERSION}/{fields}"


def _read_cache(cache: Path | None) -> dict[str, Any]:
    if cache is None:
        return {}
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("tag") != _cache_tag() or not isinstance(data.get("files"), dict):
        return {}
    files: dict[str, Any] = data["files"]
    return files


def _write_cache(cache: Path, files: dict[str, Any]) -> None:
    from ..core.atomic import atomic_write_text

    # only a cache: when it cannot be written, the next run reads the cassettes again
    with contextlib.suppress(OSError, TypeError, ValueError):
        atomic_write_text(cache, json.dumps({"tag": _cache_tag(), "files": files}, separators=(",", ":")))


def _file_observations(path: Path) -> list[dict[str, Any]]:
    """The observations of one cassette's successful chat calls, as dicts; none from a file
    that cannot be read (a broken cassette errors its own test; the advisor skips it)."""
    from dataclasses import asdict

    from ..capture.replay import call_from_recording
    from ..cassettes.fileformat import CassetteError, read_cassette

    try:
        loaded = read_cassette(path)
    except CassetteError:
        return []
    if loaded is None:
        return []
    out = []
    for request, response in loaded.interactions:
        if not str(request.uri).split("?")[0].rstrip("/").endswith("/chat/completions"):
            continue
        try:
            call = call_from_recording(request, response)
        except Exception:
            continue
        if call.ok:
            out.append(asdict(Observation.of(call)))
    return out


def cassette_observations(
    root: Path, limit: int = 5000, *, cache: Path | None = None, stats: ScanStats | None = None
) -> list[Observation]:
    """Observations from every cassette under ``root`` (``**/cassettes/**/*.yaml``), at most
    ``limit``.

    A cassette is read only when it changed (its modification time, size or inode) since it
    was last read: in this process, or in an earlier run when ``cache`` names the cache file
    (:func:`observation_cache`), which is then brought up to date."""
    import os

    stats = stats if stats is not None else ScanStats()
    known = _read_cache(cache)
    files: dict[str, Any] = {}
    out: list[Observation] = []
    for path in _cassette_files(root):
        if len(out) >= limit:
            break
        try:
            st = path.stat()
        except OSError:
            continue
        stats.files += 1
        stamp = [st.st_mtime_ns, st.st_size, st.st_ino]
        name = str(path.relative_to(root))
        absolute = os.path.abspath(path)
        entry = known.get(name)
        memo = _memo.get(absolute)
        if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("obs"), list):
            found = entry["obs"]
            stats.cached += 1
        elif memo is not None and memo[0] == stamp:
            found = memo[1]
            stats.cached += 1
        else:
            found = _file_observations(path)
            stats.parsed += 1
        _memo[absolute] = (stamp, found)
        files[name] = {"stamp": stamp, "obs": found}
        for item in found:
            try:
                out.append(Observation(**item))
            except TypeError:  # a cache entry of another shape
                continue
            if len(out) >= limit:
                break
    if cache is not None and files != known:
        _write_cache(cache, files)
    return out


MIN_FIT_CALLS = 5
"""Fewer streamed calls than this: TTFT is given as a median, not fitted."""
MIN_FIT_SPREAD = 2.0
"""The prompt sizes must span a factor of 2 (p90 / p10) for a slope to mean anything."""
MIN_FIT_R2 = 0.5
"""A fit explaining less of the TTFT variance than this is not shown as a model."""


def _linear(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float] | None:
    """Least squares y = a + b x with a >= 0 and b >= 0 (a time cannot be negative, nor can a
    longer prompt be faster to read), and R^2; None without two distinct x or without a
    non-negative slope."""
    n = len(xs)
    if n < 2 or len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    b = sxy / sxx
    a = my - b * mx
    if b < 0:
        return None
    if a < 0:  # the best line through the origin instead
        a, b = 0.0, sum(x * y for x, y in zip(xs, ys, strict=True)) / sum(x * x for x in xs)
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return a, b, (1 - ss_res / ss_tot) if ss_tot > 0 else 1.0


def _ttft_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[tuple[float, float, float] | None, str | None]:
    """The TTFT line when the data support one, else None and why (the median is used then)."""
    if len(xs) < MIN_FIT_CALLS:
        return None, f"fewer than {MIN_FIT_CALLS} streamed calls to fit TTFT against prompt tokens"
    lo, hi = percentile(list(xs), 10), percentile(list(xs), 90)
    if lo <= 0 or hi / lo < MIN_FIT_SPREAD:
        return None, (
            f"prompt sizes {lo:,.0f}-{hi:,.0f} tokens (p10-p90) span less than x{MIN_FIT_SPREAD:g}: too narrow "
            "to fit TTFT against prompt tokens"
        )
    fit = _linear(xs, ys)
    if fit is None:
        return None, "TTFT does not grow with prompt tokens in these calls"
    if fit[2] < MIN_FIT_R2:
        return None, f"a line explains too little (R^2 {fit[2]:.2f} < {MIN_FIT_R2:g})"
    return fit, None


@dataclass
class ModelFit:
    model: str
    n: int
    decode_tps: float | None = None
    decode_p10: float | None = None
    decode_p90: float | None = None
    decode_n: int = 0
    decode_source: str = "client"
    ttft_fit: tuple[float, float, float] | None = None
    """(intercept ms, ms per prompt token, R^2) of TTFT against prompt tokens."""
    ttft_median: float | None = None
    ttft_p10: float | None = None
    ttft_p90: float | None = None
    ttft_n: int = 0
    ttft_note: str | None = None
    """Why TTFT is given as its median and range rather than fitted (None when fitted)."""
    prompt_range: tuple[float, float] | None = None
    """Prompt tokens of the streamed calls (p10, p90): where the TTFT fit holds."""
    reasoning: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Median reasoning tokens and the number of calls, per reasoning_effort."""

    def ttft(self, prompt_tokens: int | None) -> float | None:
        if self.ttft_fit is not None and prompt_tokens is not None:
            a, b, _ = self.ttft_fit
            return max(0.0, a + b * prompt_tokens)
        return self.ttft_median

    def describe(self) -> str:
        parts = [f"{self.model}: {self.n} call(s)"]
        if self.decode_tps:
            parts.append(
                f"decode {self.decode_tps:,.0f} tok/s (p10 {self.decode_p10:,.0f}, p90 "
                f"{self.decode_p90:,.0f}; {self.decode_source}, {self.decode_n} calls)"
            )
        if self.ttft_fit is not None:
            a, b, r2 = self.ttft_fit
            where = (
                f", prompts {self.prompt_range[0]:,.0f}-{self.prompt_range[1]:,.0f} tokens" if self.prompt_range else ""
            )
            parts.append(
                f"TTFT = {a:,.1f} ms + {b * 1000:,.2f} ms per 1k prompt tokens (R^2 {r2:.2f}, {self.ttft_n} "
                f"calls{where})"
            )
        elif self.ttft_median is not None:
            spread = (
                f"p10 {self.ttft_p10:,.1f}, p90 {self.ttft_p90:,.1f} ms; "
                if self.ttft_p10 is not None and self.ttft_p90 is not None
                else ""
            )
            parts.append(
                f"TTFT median {self.ttft_median:,.1f} ms ({spread}{self.ttft_n} calls"
                + (f"; not fitted: {self.ttft_note}" if self.ttft_note else "")
                + ")"
            )
        if self.reasoning:
            parts.append(
                "reasoning tokens "
                + ", ".join(
                    f"{e} {m:,.0f} ({n} calls)"
                    for e, (m, n) in sorted(self.reasoning.items(), key=lambda kv: _EFFORT_RANK.get(kv[0], 9))
                )
            )
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n": self.n,
            "decode_tps": self.decode_tps,
            "decode_p10": self.decode_p10,
            "decode_p90": self.decode_p90,
            "decode_n": self.decode_n,
            "decode_source": self.decode_source,
            "ttft_fit": self.ttft_fit,
            "ttft_median": self.ttft_median,
            "ttft_p10": self.ttft_p10,
            "ttft_p90": self.ttft_p90,
            "ttft_n": self.ttft_n,
            "ttft_note": self.ttft_note,
            "prompt_range": None if self.prompt_range is None else list(self.prompt_range),
            "reasoning": {k: list(v) for k, v in self.reasoning.items()},
            "summary": self.describe(),
        }


def fit_models(obs: Iterable[Observation]) -> dict[str, ModelFit]:
    """Per model: decode speed with its spread, TTFT against prompt tokens (or its median when the
    data cannot carry a line), reasoning per effort. Each call counts once (:func:`dedupe`)."""
    by_model: dict[str, list[Observation]] = {}
    for o in dedupe(obs):
        by_model.setdefault(o.model, []).append(o)
    fits = {}
    for model, items in by_model.items():
        f = ModelFit(model, len(items))
        client = [o.decode_tps for o in items if o.decode_tps]
        server = [o.server_tps for o in items if o.server_tps]
        speeds, f.decode_source = (client, "client") if len(client) >= 2 or not server else (server, "server")
        if speeds:
            f.decode_tps = percentile(speeds, 50)
            f.decode_p10, f.decode_p90 = percentile(speeds, 10), percentile(speeds, 90)
            f.decode_n = len(speeds)
        timed = [o for o in items if o.streamed and o.ttft_ms is not None and o.prompt_tokens is not None]
        if timed:
            f.ttft_n = len(timed)
            ttfts = [o.ttft_ms or 0.0 for o in timed]
            f.ttft_median = percentile(ttfts, 50)
            f.ttft_p10, f.ttft_p90 = percentile(ttfts, 10), percentile(ttfts, 90)
            xs = [float(o.prompt_tokens or 0) for o in timed]
            f.prompt_range = (percentile(xs, 10), percentile(xs, 90))
            f.ttft_fit, f.ttft_note = _ttft_fit(xs, ttfts)
        efforts: dict[str, list[float]] = {}
        for o in items:
            if o.effort and o.reasoning_tokens is not None and o.finish_reason == "stop":
                efforts.setdefault(o.effort, []).append(float(o.reasoning_tokens))
        f.reasoning = {e: (percentile(v, 50), len(v)) for e, v in efforts.items()}
        fits[model] = f
    return fits


# -- what-if ----------------------------------------------------------------------------------


CAP_PARAMS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
"""The output cap: chat completions' (and its older name), the Responses API's."""


def _cap(params: dict[str, Any]) -> int | None:
    for key in CAP_PARAMS:
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
    return None


def _cap_name(params: dict[str, Any], endpoint: str | None = None) -> str:
    """The name the request used for its cap (``max_output_tokens`` on the Responses API)."""
    for key in CAP_PARAMS:
        if key in params:
            return key
    return "max_output_tokens" if endpoint == "responses" else "max_completion_tokens"


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
    model_fit = fits.get(recorded.model)
    reasons: list[str] = []
    content = c - r
    truncated = recorded.finish_reason == "length"
    # reasoning tokens under the new effort
    r_lo = r_hi = float(r)
    e_old = old.get("reasoning_effort") or default_effort(recorded.model)
    e_new = new.get("reasoning_effort") or default_effort(recorded.model)
    if "reasoning_effort" in changed and e_old != e_new:
        if e_new == "none":
            r_lo = r_hi = 0.0
            reasons.append("reasoning_effort none: no reasoning tokens")
        elif model_fit and e_old in model_fit.reasoning and e_new in model_fit.reasoning and r > 0:
            ratio = model_fit.reasoning[e_new][0] / max(1.0, model_fit.reasoning[e_old][0])
            r_lo, r_hi = r * ratio * 0.75, r * ratio * 1.33
            reasons.append(
                f"reasoning_effort {e_old} -> {e_new}: reasoning tokens x{ratio:.1f} (fitted medians "
                f"{model_fit.reasoning[e_old][0]:,.0f} -> {model_fit.reasoning[e_new][0]:,.0f})"
            )
        else:
            steps = _EFFORT_RANK.get(str(e_new), 2) - _EFFORT_RANK.get(str(e_old), 2)
            base = max(r, 8)
            lo_f, hi_f = (
                (PRIOR_STEP[0] ** steps, PRIOR_STEP[1] ** steps)
                if steps >= 0
                else (PRIOR_STEP[1] ** steps, PRIOR_STEP[0] ** steps)
            )
            r_lo, r_hi = base * lo_f, base * hi_f
            reasons.append(
                f"reasoning_effort {e_old} -> {e_new}: reasoning tokens x{lo_f:g}-x{hi_f:g} per the prior "
                "(no recording of this model at both levels)"
            )
    # content tokens: the natural answer, as far as the recording shows it
    k_lo, k_hi = float(content), float(content)
    if truncated:
        k_hi = math.inf
        reasons.append(
            f"the recorded answer was cut at max_completion_tokens={_cap(old)} "
            "(finish_reason=length): its natural length is unknown"
        )
    if "stop" in changed:
        old_stop, new_stop = old.get("stop"), new.get("stop")
        if not new_stop and old_stop and recorded.finish_reason == "stop":
            k_hi = math.inf
            reasons.append("the stop sequence was dropped: the answer may run on")
        elif new_stop and not old_stop:
            k_lo = 1.0
            reasons.append("a stop sequence was added: the answer may end earlier")
        else:
            k_lo, k_hi = 1.0, math.inf
            reasons.append("the stop sequences changed: the answer may end anywhere")
    unknown = [k for k in changed if k not in NO_EFFECT | {*CAP_PARAMS, "reasoning_effort", "stop", "stream"}]
    if unknown:
        k_lo, k_hi = 1.0, math.inf
        reasons.append(f"{', '.join(unknown)} changed: no model of its effect, so any length")
    new_cap = _cap(new)
    cap = float(new_cap) if new_cap is not None else math.inf
    lo = min(r_lo + k_lo, cap)
    hi = min(r_hi + k_hi, cap)
    if any(k in changed for k in CAP_PARAMS):
        old_cap = _cap(old)
        if new_cap is not None and new_cap < c:
            reasons.append(f"max_completion_tokens {old_cap} -> {new_cap} truncates the recorded {c} tokens")
        elif truncated:
            reasons.append(f"max_completion_tokens {old_cap} -> {new_cap}: the answer may now grow up to the cap")
        else:
            reasons.append(
                f"max_completion_tokens {old_cap} -> {new_cap}: above the recorded {c} tokens "
                f"(finish_reason=stop), so no change"
            )
    # time: the recording's own decode speed, spread by the fitted one
    e2e, ttft = recorded.e2e_ms, recorded.ttft_ms
    per_token = None
    if recorded.streamed and recorded.tpot_ms:
        per_token = recorded.tpot_ms
    elif model_fit and model_fit.decode_tps:
        per_token = 1000.0 / model_fit.decode_tps
    elif recorded.completion_ms and c:
        per_token = recorded.completion_ms / c
    if e2e is None or per_token is None:
        if recorded.server_ms is None or not c:
            return None
        e2e = (recorded.queue_ms or 0.0) + recorded.server_ms  # Groq's own timing: no client view recorded
        per_token = (recorded.completion_ms or recorded.server_ms) / c
    spread = (1.0, 1.0)
    if model_fit and model_fit.decode_tps and model_fit.decode_p10 and model_fit.decode_p90:
        spread = (model_fit.decode_tps / model_fit.decode_p90, model_fit.decode_tps / model_fit.decode_p10)
    e_lo = e2e + (lo - c) * per_token * (spread[0] if lo >= c else spread[1])
    e_hi = math.inf if math.isinf(hi) else e2e + (hi - c) * per_token * (spread[1] if hi >= c else spread[0])
    ttft_range: tuple[float, float] | None = None
    old_stream, new_stream = bool(old.get("stream")), bool(new.get("stream"))
    if new_stream and not old_stream:
        guess = model_fit.ttft(recorded.prompt_tokens) if model_fit else None
        if guess is not None and model_fit is not None:
            lo_t = min(guess, model_fit.ttft_p10 or guess)
            hi_t = max(guess, model_fit.ttft_p90 or guess)
            ttft_range = (lo_t, hi_t)
            reasons.append(
                f"stream on: the first token arrives after about {guess:,.0f} ms (fitted from "
                f"{model_fit.ttft_n} streamed call(s), p10-p90 {lo_t:,.0f}-{hi_t:,.0f} ms)"
            )
        else:
            reasons.append("stream on: no streamed recording of this model to predict the TTFT from")
    elif old_stream and not new_stream:
        ttft_range = (e_lo, e_hi)
        reasons.append("stream off: the first token comes with the whole answer, TTFT = e2e")
    elif ttft is not None:
        ttft_range = (ttft, ttft)
    if not reasons:
        reasons.append(f"{', '.join(changed) or 'nothing'} changed: the text may differ, not the length or the speed")
    basis = f"decode {1000 / per_token:,.0f} tok/s" + (
        f", fitted from {model_fit.decode_n} call(s)" if model_fit and model_fit.decode_n else " (this recording)"
    )
    return Prediction(
        completion=(lo, hi),
        reasoning=(min(r_lo, cap), min(r_hi, cap)),
        e2e_ms=(max(0.0, e_lo), e_hi),
        ttft_ms=ttft_range,
        reasons=reasons,
        changes=changed,
        basis=basis,
    )


# -- lint -----------------------------------------------------------------------------------------


def _applies(budget: dict[str, Any], index: int, call: dict[str, Any], total: int) -> bool:
    selector = budget.get("call")
    if selector is None:
        return True
    if isinstance(selector, int):
        return index == range(total)[selector] if -total <= selector < total else False
    return bool(call.get("model") == selector)


def lint(result: dict[str, Any], fits: dict[str, ModelFit]) -> list[str]:
    """Advice for one test, each item grounded in measurements and saying which. Each budget
    is checked against the calls it judges (``call=``), once per distinct request."""
    all_calls = [c for c in result.get("calls") or [] if not c.get("warmup")]
    # a scope="test" budget covers the whole agent run, not one call: judged by _agent_advice
    latency = [
        b for b in result.get("budgets") or [] if b.get("kind") == "latency" and b.get("scope", "call") == "call"
    ]
    advice: list[str] = _agent_advice(result, all_calls)
    seen: set[str] = set()
    for index, call in enumerate(all_calls):
        if not call.get("ok") or call.get("prediction"):
            continue
        budgets = [b for b in latency if _applies(b, index, call, len(all_calls))]
        key = json.dumps(
            [call.get("model"), call.get("params"), [b.get("label") for b in budgets]], sort_keys=True, default=str
        )
        if not budgets or key in seen:
            continue
        seen.add(key)
        same = [
            c
            for c in all_calls
            if c.get("ok") and c.get("model") == call.get("model") and c.get("params") == call.get("params")
        ]
        for item in _lint_call(call, same, budgets, fits):
            if item not in advice:
                advice.append(item)
    return advice


def _agent_advice(result: dict[str, Any], calls: list[dict[str, Any]]) -> list[str]:
    """Where an agent's time goes (a ``scope="test"`` budget), and what a change in its number
    of LLM calls since the baseline cost."""
    advice: list[str] = []
    measured = [c for c in calls if not c.get("prediction")]
    runs: dict[int, list[dict[str, Any]]] = {}
    for c in measured:
        runs.setdefault(int(c.get("iteration") or 0), []).append(c)
    e2es = [float(c["e2e_ms"]) for c in measured if isinstance(c.get("e2e_ms"), (int, float))]
    step_ms = sorted(e2es)[len(e2es) // 2] if e2es else None
    budgets = [b for b in result.get("budgets") or [] if b.get("kind") == "latency" and b.get("scope") == "test"]
    first = runs[min(runs)] if runs else []
    ends = [float(c["agent_end_ms"]) for c in first if isinstance(c.get("agent_end_ms"), (int, float))]
    if budgets and first and len(ends) == len(first):
        run = first
        wall = max(ends)
        llm = sum(float(c.get("wall_ms") or c.get("e2e_ms") or 0) for c in run)
        own = max(0.0, wall - llm)
        limit = float(budgets[0]["ms"])
        text = (
            f"{budgets[0]['label']}: the agent's {len(run)} LLM call(s) took {llm:,.0f} ms of its {wall:,.0f} ms "
            f"wall time; {own:,.0f} ms ({own / wall * 100 if wall else 0:.0f}%) was the application's own time "
            "between calls (tool execution, parsing)"
        )
        if step_ms:
            text += (
                f"; at the median {step_ms:,.0f} ms per call, {max(0, int((limit - own) // step_ms))} call(s) fit "
                f"the {limit:g} ms budget"
            )
        advice.append(text)
    comparison = result.get("comparison") or {}
    shift = next((s for s in comparison.get("shifts") or [] if s.get("metric") == "calls"), None)
    if shift and shift.get("old") != shift.get("new") and measured:
        steps = float(shift["new"]) - float(shift["old"])
        text = (
            f"{shift['old']:g} -> {shift['new']:g} LLM calls per run since the baseline: the agent took "
            f"{abs(steps):g} {'more' if steps > 0 else 'fewer'} step(s)"
        )
        if step_ms:
            text += f", about {abs(steps) * step_ms:,.0f} ms at this run's median {step_ms:,.0f} ms per call"
        tools = sorted({str(n) for c in measured for n in c.get("tool_names") or []})
        if tools:
            text += f" (tools called now: {', '.join(tools)})"
        advice.append(text)
    return advice


def _lint_call(
    first: dict[str, Any], calls: list[dict[str, Any]], latency: list[dict[str, Any]], fits: dict[str, ModelFit]
) -> list[str]:
    advice: list[str] = []
    model = str(first.get("model"))
    f = fits.get(model)
    params = first.get("params") or {}
    e2e_limits = [b["ms"] for b in latency if b.get("metric", "e2e") == "e2e"]
    ttft_budget = [b for b in latency if b.get("metric") == "ttft"]
    if ttft_budget and not first.get("streamed"):
        guess = f.ttft(first.get("prompt_tokens")) if f else None
        advice.append(
            f"{ttft_budget[0]['label']} on a call without stream=True: without streaming the first token comes "
            f"with the whole answer (measured TTFT = e2e = {first.get('e2e_ms') or 0:,.0f} ms)"
            + (
                f"; streamed, TTFT would be about {guess:,.0f} ms (fitted from {f.ttft_n} streamed call(s) of {model})"
                if guess is not None and f
                else ""
            )
        )
    observed = max(int(c.get("completion_tokens") or 0) for c in calls)
    cap = _cap(params)
    if e2e_limits and f and f.decode_tps and observed:
        budget_ms = min(e2e_limits)
        ms_per_token = 1000.0 / f.decode_tps
        if cap is None:
            advice.append(
                f"{_cap_name(params, first.get('endpoint'))} is unset on a test with a {budget_ms:g} ms budget: "
                "a runaway answer is "
                f"bounded only by the model's limit; this test used at most {observed:,} tokens, and "
                f"{budget_ms / ms_per_token:,.0f} tokens fit the budget at {f.decode_tps:,.0f} tok/s (fitted from "
                f"{f.decode_n} call(s) of {model})"
            )
        elif cap > 4 * observed and cap * ms_per_token > budget_ms:
            advice.append(
                f"{_cap_name(params, first.get('endpoint'))}={cap} is {cap / observed:.0f}x the {observed:,} "
                "tokens this test used, and "
                f"{cap:,} tokens take about {cap * ms_per_token:,.0f} ms at {f.decode_tps:,.0f} tok/s (fitted from "
                f"{f.decode_n} calls), beyond the {budget_ms:g} ms budget"
            )
    effort = params.get("reasoning_effort") or default_effort(model)
    if e2e_limits and f and f.decode_tps and effort in f.reasoning:
        reasoning_ms = f.reasoning[effort][0] * 1000.0 / f.decode_tps
        budget_ms = min(e2e_limits)
        if reasoning_ms > 0.8 * budget_ms:
            cheaper = [
                e
                for e, (m, _) in f.reasoning.items()
                if _EFFORT_RANK.get(e, 9) < _EFFORT_RANK.get(str(effort), 0)
                and m * 1000 / f.decode_tps < 0.5 * budget_ms
            ]
            advice.append(
                f"reasoning_effort={effort!r} spends about {f.reasoning[effort][0]:,.0f} reasoning tokens "
                f"({reasoning_ms:,.0f} ms at {f.decode_tps:,.0f} tok/s) of a {budget_ms:g} ms budget (fitted from "
                f"{f.reasoning[effort][1]} call(s) of {model})"
                + (f"; {', '.join(cheaper)} would fit" if cheaper else "")
            )
    return advice
