"""Cassette files: vcrpy's YAML format read and written with libyaml, parsed once per
file version, and indexed for matching.

Reading goes through libyaml's C parser (``yaml.CSafeLoader``, or the pure-Python safe
loader where PyYAML was built without libyaml) with the few extra tags vcrpy's own loader
accepts; writing through ``yaml.CSafeDumper`` (or ``SafeDumper``), with the timing
lists in flow style (one line of numbers rather than a line per number). The result is
plain vcrpy YAML: vcrpy and pytest-recording read it as they read their own.

A parsed file is kept in a small in-process cache keyed by its path, modification time,
size and inode, so the cassette a test replays is not parsed again by the advisor in the
same run. Each LLM interaction gets a match key when it is loaded (method, endpoint and
the request's JSON body in canonical form), so a request finds its recording by one
dictionary lookup instead of parsing every recorded body.

This module sits under both :mod:`.tape` and ``advisor`` (neither imports the
other's loading code).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..capture.timing import TIMING_KEY, upgrade_timing
from ..core.endpoints import endpoint_for_uri

__all__ = [
    "CassetteError",
    "Loaded",
    "dump_cassette",
    "load_text",
    "match_key",
    "normalized_body",
    "read_cassette",
]

CACHE_BYTES = 8 * 1024 * 1024
"""The parse cache holds files up to this many bytes of YAML in all, least recently used going
first (parsed, a typical 27 kB cassette of a 90-chunk stream takes about 37 kB: some 300
cassettes, about 11 MB, whatever the size of the suite)."""


class CassetteError(Exception):
    """A cassette file that cannot be used; the message names the file."""


# -- YAML -----------------------------------------------------------------------------------------


class _Flow(list):  # type: ignore[type-arg]
    """A list written in YAML flow style (``[1, 2, 3]``); loads back as a plain list."""


@functools.cache
def yaml_loader() -> type:
    """libyaml's safe loader (the pure-Python one without libyaml), plus the tags vcrpy's
    loader accepts in old cassettes (``!!python/str``, ``!!python/tuple``...)."""
    import yaml

    try:  # vcrpy's own safe loader (vcrpy >= 9.4): the same tags, on libyaml when present
        from vcr.serializers.yamlserializer import _CassetteLoader as base
    except ImportError:  # pragma: no cover - depends on the vcrpy version
        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc]
        pass

    def python_str(loader: Any, node: Any) -> Any:
        return loader.construct_scalar(node)

    def python_tuple(loader: Any, node: Any) -> Any:
        return tuple(loader.construct_sequence(node))

    for tag in ("python/str", "python/unicode"):
        if f"tag:yaml.org,2002:{tag}" not in Loader.yaml_constructors:
            Loader.add_constructor(f"tag:yaml.org,2002:{tag}", python_str)
    if "tag:yaml.org,2002:python/tuple" not in Loader.yaml_constructors:
        Loader.add_constructor("tag:yaml.org,2002:python/tuple", python_tuple)
    return Loader


@functools.cache
def yaml_dumper() -> type:
    """libyaml's safe dumper (the pure-Python one without libyaml): plain data only, so
    whatever it writes any safe loader reads back."""
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc,valid-type]
        pass

    def flow(dumper: Any, data: Any) -> Any:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)

    def sequence(dumper: Any, data: Any) -> Any:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", list(data))

    Dumper.add_representer(_Flow, flow)
    Dumper.add_representer(tuple, sequence)
    return Dumper


def load_text(text: str) -> tuple[list[Any], list[dict[str, Any]], dict[str, Any]]:
    """(requests, responses, metadata) of a cassette's YAML text, as vcrpy's ``deserialize``
    gives them (response bodies as bytes). Raises ``ValueError`` on anything else."""
    import yaml
    from vcr.request import Request

    try:
        data = yaml.load(text, Loader=yaml_loader())  # a safe loader
    except yaml.YAMLError as err:
        raise ValueError(f"{type(err).__name__}: {err}") from None
    if isinstance(data, list) and data and isinstance(data[0], dict) and "request" in data[0]:
        raise ValueError("a cassette in vcrpy's pre-1.0 format; delete it and re-record")
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise ValueError("no 'interactions' list")
    requests, responses = [], []
    for interaction in data["interactions"]:
        request = Request._from_dict(interaction["request"])
        response = interaction["response"]
        body = response.get("body") if isinstance(response, dict) else None
        if isinstance(body, dict) and isinstance(body.get("string"), str):
            with contextlib.suppress(UnicodeEncodeError):
                body["string"] = body["string"].encode("utf-8")
        requests.append(request)
        responses.append(response)
    metadata = data.get("metadata")
    return requests, responses, metadata if isinstance(metadata, dict) else {}


def _text(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value)  # binary (speech audio): written as !!binary
    return value


def _response_for_yaml(response: dict[str, Any]) -> dict[str, Any]:
    """A copy of a response ready to dump (the original is not changed): the body as text
    when it is UTF-8, the timing in version 2 with its lists on one line each."""
    out = dict(response)
    body = out.get("body")
    if isinstance(body, dict) and "string" in body:
        out["body"] = {**body, "string": _text(body["string"])}
    meta = out.get(TIMING_KEY)
    if isinstance(meta, dict):
        meta = dict(upgrade_timing(meta))
        for key in ("offsets_ms", "sizes", "chunks"):
            if isinstance(meta.get(key), list):
                meta[key] = _Flow(meta[key])
        out[TIMING_KEY] = meta
    return out


def dump_cassette(cassette_dict: dict[str, Any]) -> str:
    """vcrpy's cassette YAML (format version 1) for ``{"requests": [...], "responses": [...]}``."""
    import yaml

    interactions = []
    for request, response in zip(cassette_dict["requests"], cassette_dict["responses"], strict=False):
        req = request._to_dict()
        req["body"] = _text(req.get("body"))
        interactions.append({"request": req, "response": _response_for_yaml(response)})
    data: dict[str, Any] = {"interactions": interactions, "version": 1}
    if cassette_dict.get("metadata"):
        data["metadata"] = cassette_dict["metadata"]
    return str(yaml.dump(data, Dumper=yaml_dumper()))


# -- matching -------------------------------------------------------------------------------------


def _decode(body: Any) -> Any:
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(body, str):
        try:
            return json.loads(body) if body.strip() else None
        except ValueError:
            return body
    return body


def normalized_body(body: Any) -> dict[str, Any] | None:
    """A request body as a dict (JSON parsed, key order irrelevant), or None."""
    data = _decode(body)
    return data if isinstance(data, dict) else None


def _canonical(value: Any) -> Any:
    """Values equal under Python's ``==`` made identical (``True``, ``1`` and ``1.0`` all
    become ``1``), so canonical JSON is equal exactly when the parsed bodies are."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def endpoint_name(uri: str) -> str | None:
    """The LLM endpoint's name a recorded URI goes to (chat, responses, audio...), or None."""
    endpoint = endpoint_for_uri("POST", uri)
    return None if endpoint is None else endpoint.name


def match_key(method: str, uri: str, body: dict[str, Any] | None) -> str | None:
    """The key two LLM requests share exactly when ``cassettes.llm_request`` matches them:
    same method, same endpoint, equal JSON bodies (``body`` normalized). None for a request
    to no LLM endpoint."""
    endpoint = endpoint_name(uri)
    if endpoint is None:
        return None
    try:
        canonical = json.dumps(_canonical(body), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN, which equals nothing: no key, so only a scan could match it
        return None
    return f"{method} {endpoint} {canonical}"


# -- loading with a cache -------------------------------------------------------------------------


@dataclass
class Loaded:
    """One cassette file as parsed: its interactions (shared, treat as read-only), metadata,
    and per interaction its normalized request body and match key (None if not an LLM one)."""

    interactions: list[tuple[Any, dict[str, Any]]]
    metadata: dict[str, Any]
    bodies: list[dict[str, Any] | None] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    size: int = 0

    def index(self) -> dict[str, list[int]]:
        """Match key -> the positions of the interactions with that key, in recorded order."""
        out: dict[str, list[int]] = {}
        for position, key in enumerate(self.keys):
            if key is not None:
                out.setdefault(key, []).append(position)
        return out


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


_cache: OrderedDict[str, tuple[tuple[int, int, int], Loaded]] = OrderedDict()
_cache_lock = threading.Lock()
_cache_bytes = [0]
stats = {"parsed": 0, "cached": 0}
"""How many files :func:`read_cassette` parsed and how many it served from its cache."""


def _parse(path: Path, text: str, size: int) -> Loaded:
    try:
        requests, responses, metadata = load_text(text)
    except Exception as err:  # yaml errors, missing keys, old formats
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CassetteError(
            f"cassette {path} is not a valid vcrpy cassette ({type(err).__name__}: {first}); it was left untouched"
        ) from None
    loaded = Loaded(list(zip(requests, responses, strict=True)), metadata, size=size)
    for request, _ in loaded.interactions:
        endpoint = endpoint_name(str(request.uri))
        body = normalized_body(request.body) if endpoint is not None else None
        loaded.bodies.append(body)
        loaded.keys.append(None if endpoint is None else match_key(str(request.method), str(request.uri), body))
    return loaded


def read_cassette(path: Path) -> Loaded | None:
    """The parsed cassette at ``path``, None when there is no such file. A file parsed
    before in this process and unchanged since (same modification time, size and inode)
    is not parsed again. Raises :class:`CassetteError` naming the file when it cannot be
    read or is not a vcrpy cassette."""
    key = os.path.abspath(path)
    try:
        st = os.stat(key)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise CassetteError(f"cassette {path} cannot be read: {err}") from None
    if not os.path.isfile(key):
        return None
    stamp = _stamp(st)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            _cache.move_to_end(key)
            stats["cached"] += 1
            return hit[1]
    try:
        with open(key, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as err:
        raise CassetteError(f"cassette {path} cannot be read: {err}") from None
    if not text.strip():
        raise CassetteError(f"cassette {path} is empty; delete it or re-record it")
    loaded = _parse(path, text, len(text))
    with _cache_lock:
        stats["parsed"] += 1
        old = _cache.pop(key, None)
        if old is not None:
            _cache_bytes[0] -= old[1].size
        if loaded.size <= CACHE_BYTES // 4:
            _cache[key] = (stamp, loaded)
            _cache_bytes[0] += loaded.size
            while _cache_bytes[0] > CACHE_BYTES and _cache:
                _, (_, dropped) = _cache.popitem(last=False)
                _cache_bytes[0] -= dropped.size
    return loaded


def clear_cache() -> None:
    """Forget every parsed file (tests and benchmarks)."""
    with _cache_lock:
        _cache.clear()
        _cache_bytes[0] = 0
