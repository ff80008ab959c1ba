"""The advisor's observations: one per successful call, from this run's calls, a baseline's
stored results, or every cassette under the project (read only when it changed, through an
in-process memo and a cache file in pytest's cache folder)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.calls import LLMCall
from ..core.records import CallRecord
from .params import default_effort

__all__ = [
    "OBSERVATION_CACHE",
    "Observation",
    "ScanStats",
    "cassette_observations",
    "dedupe",
    "observation_cache",
    "observations",
]


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
    def of(cls, call: LLMCall | CallRecord) -> Observation:
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


def observations(calls: Iterable[LLMCall | CallRecord]) -> list[Observation]:
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
