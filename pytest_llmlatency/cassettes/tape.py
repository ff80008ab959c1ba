"""Cassettes: vcrpy's format and ``Cassette`` for storage and playback order, plus timing.

A test's cassette lives where pytest-recording puts it,
``<test dir>/cassettes/<module>/<test>.yaml``, in vcrpy's YAML format, so vcrpy,
pytest-recording and a reviewer's diff read it. Each chat-completion interaction
recorded by this plugin carries an extra ``llmlatency`` key in its response:
TTFB, end-to-end time and the offset and size of every body chunk as the client
read it (:mod:`pytest_llmlatency.capture.timing`). Bodies are stored decoded (no gzip), so
they read as text. Files are read and written by :mod:`.fileformat` (libyaml, parsed once
per file version, a match key per recording).

vcrpy's HTTP patchers are not used (they read the whole body before the client
sees it); the interceptor asks a :class:`Tape` what to do with each request: replay a
recording, go live (and maybe record), answer a changed request from its closest recording
with a predicted cost (the predictor is given: ``advisor.predict.predict``, a layer above;
the answer is reshaped by :mod:`.stream_conversion`), or fail with :mod:`.mismatch`'s message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "RECORD_MODES",
    "CassetteError",
    "Decision",
    "Predictor",
    "ReplayMismatch",
    "Tape",
    "cassette_path",
    "normalized_body",
    "request_diff",
]

from ..capture.replay import ReplayMismatch, call_from_recording
from ..capture.secrets import Secrets
from ..core.calls import LLMCall
from ..core.endpoints import endpoint_for_uri, multipart_summary
from ..core.names import RECORD_MODES
from .fileformat import CassetteError, Loaded, match_key, normalized_body, read_cassette
from .fileformat import endpoint_name as _endpoint
from .mismatch import closest_recording_message, no_cassette_message, rerecord_hint
from .request_diff import request_diff
from .stream_conversion import convert_stream

# request headers that never reach a cassette (compared lower-case)
_DROP_REQUEST_HEADERS = {
    "authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "proxy-authorization",
    "openai-organization",
    "openai-project",
    "x-emulator-fault",
}
# response headers that never reach a cassette we write; the encodings go because bodies are
# stored decoded
_DROP_RESPONSE_HEADERS = {"set-cookie", "content-encoding", "content-length", "transfer-encoding"}


try:
    _MAX_NAME = os.pathconf(".", "PC_NAME_MAX")
except (AttributeError, ValueError, OSError):
    _MAX_NAME = 255


def cassette_path(test_file: Path, module_name: str, test_name: str, class_name: str | None = None) -> Path:
    """pytest-recording's default: ``<dir>/cassettes/<module>/<[Class.]test>.yaml``, with
    names too long for the file system shortened as pytest-recording does (an md5 suffix)."""
    name = f"{class_name}.{test_name}" if class_name else test_name
    for ch in "<>?%*:|\"'/\\":
        name = name.replace(ch, "-")
    suffix = ".yaml"
    if len(name) + len(suffix) > _MAX_NAME:
        digest = hashlib.md5(name.encode()).hexdigest()
        name = f"{name[: _MAX_NAME - len(suffix) - len(digest) - 3]}...{digest}"
    return test_file.parent / "cassettes" / module_name / f"{name}{suffix}"


def _is_chat(uri: str) -> bool:
    endpoint = endpoint_for_uri("POST", uri)
    return endpoint is not None and endpoint.name == "chat"


def _is_llm(uri: str) -> bool:
    return _endpoint(uri) is not None


def _path(uri: str) -> str:
    return re.sub(r"^[a-z]+://[^/]+", "", uri.split("?", 1)[0])


def _key(request: Any) -> str | None:
    """A (filtered) request's match key (:func:`.fileformat.match_key`)."""
    uri = str(request.uri)
    if _endpoint(uri) is None:
        return None
    return match_key(str(request.method), uri, normalized_body(request.body))


def llm_request(r1: Any, r2: Any) -> None:
    """vcrpy matcher: same method, same endpoint, same request meaning.

    LLM requests (chat completions, Responses API, audio) match on the JSON body (model,
    messages or input and every parameter; key order, whitespace, headers and host
    ignored), so a cassette recorded against api.groq.com replays against any base URL.
    Audio uploads match on their form fields and the sha256 of the audio (requests pass
    through ``Tape._filter_request``, which summarises multipart bodies)."""
    assert r1.method == r2.method, f"method {r2.method} -> {r1.method}"
    e1, e2 = _endpoint(r1.uri), _endpoint(r2.uri)
    if e1 is not None and e1 == e2:
        b1, b2 = normalized_body(r1.body), normalized_body(r2.body)
        if b1 != b2:
            raise AssertionError("; ".join(request_diff(b2, b1)) or "body differs")
        return
    assert _path(r1.uri) == _path(r2.uri), f"path {_path(r2.uri)} -> {_path(r1.uri)}"
    assert r1.body == r2.body, "body differs"


class _Persister:
    """vcrpy persister that names the file in every error and writes atomically."""

    @staticmethod
    def load_cassette(cassette_path: Any, serializer: Any) -> Any:
        from vcr.persisters.filesystem import CassetteNotFoundError

        loaded = read_cassette(Path(cassette_path))
        if loaded is None:
            raise CassetteNotFoundError()
        requests = [request for request, _ in loaded.interactions]
        responses = [response for _, response in loaded.interactions]
        return (requests, responses, loaded.metadata) if loaded.metadata else (requests, responses)

    @staticmethod
    def save_cassette(cassette_path: Any, cassette_dict: Any, serializer: Any) -> None:
        """Written with libyaml in vcrpy's format; timing in its current version (an old
        cassette migrates when it is written anyway, never just to migrate it)."""
        from ..core.atomic import atomic_write_text
        from .fileformat import dump_cassette

        atomic_write_text(Path(cassette_path), dump_cassette(cassette_dict))


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one request: replay ``response``, or go live (and maybe record)."""

    response: dict[str, Any] | None = None
    record: bool = False
    prediction: dict[str, Any] | None = None
    """Set when ``response`` is the closest recording of a request whose generation
    parameters changed: the advisor's prediction of what the new request costs."""

    @property
    def replay(self) -> bool:
        return self.response is not None


_LIVE, _LIVE_RECORDED = Decision(), Decision(record=True)  # made once: the live path's answers


class PredictionData(Protocol):
    """A predicted cost (``advisor.predict.Prediction``): what a :class:`Decision` carries."""

    def to_dict(self) -> dict[str, Any]: ...


Predictor = Callable[[LLMCall, dict[str, Any], dict[str, Any]], "PredictionData | None"]
"""``advisor.predict.predict``'s signature: ``(the closest recording's call, the new request's
normalized body, the fitted models by model name)``, None when it cannot tell."""


class Tape:
    """One test's cassette: decides replay or live per request, records, saves.

    Modes follow pytest-recording: ``none`` replays only; ``once`` records a
    cassette that does not exist yet and otherwise replays only; ``new_episodes``
    replays what matches and records the rest; ``all`` records every request
    (replacing the recordings it matches); ``rewrite`` records a fresh cassette
    that replaces the old one. ``mode=None`` (the default) replays when the
    cassette exists and otherwise calls live, recording only when ``record_missing``.
    With ``live``, requests go to the server even when recorded; what is recorded
    then replaces the recordings it matches.

    Recordings are held back until :meth:`commit`, which the plugin calls only when
    the test body completed, so a failed or interrupted run never changes a file.
    """

    path: Path
    existed: bool

    def __init__(
        self,
        path: Path,
        *,
        nodeid: str,
        mode: str | None = None,
        live: bool = False,
        record_missing: bool = False,
        pace: float | None = None,
        secrets: Secrets | None = None,
        shared: Any = None,
        predict: str = "off",
        fits: Any = None,
        predictor: Predictor | None = None,
    ) -> None:
        if mode is not None and mode not in RECORD_MODES:
            raise ValueError(f"unknown record mode {mode!r}; use one of {', '.join(RECORD_MODES)}")
        self.nodeid = nodeid
        self.mode = mode
        self.predict_mode = predict
        self._fits = fits
        """A callable giving the advisor's fitted models (computed on first use)."""
        self._predictor = predictor
        """What predicts a changed request's cost (``advisor.predict.predict``); None: no
        prediction, as with ``predict="off"``."""
        self.predicted = 0
        self.live = live
        self.pace = pace
        self.secrets = secrets if secrets is not None else Secrets()
        self.replayed = 0
        self.recorded = 0
        self.saved = False
        self.unrecorded: list[str] = []
        self._pending: list[tuple[Any, dict[str, Any]]] = []
        self._file: Loaded | None = None
        """The parsed file: its recordings (shared with the parse cache, never changed) with
        their match keys."""
        self.shared = shared is not None
        self.inert = False
        """The run neither replays this cassette nor records into it (live, and no record mode
        that writes; or no file and the default mode without recording): it has no vcrpy
        cassette, and its file is not read."""
        self.cassette: Any = None
        try:
            if shared is not None:
                self._share(shared)
            else:
                self._open(path, mode, live, record_missing)
        except OSError as err:
            raise CassetteError(f"cassette {path} cannot be used: {err}") from None
        # only recordings that came from the file replay; those made in this run do not
        self.loaded = 0 if self.cassette is None else len(self.cassette.data)
        self._index = self._make_index()
        self.may_record = self._may_record(mode, record_missing)
        self.replays = not live and mode not in ("all", "rewrite")
        # what a request that no recording answers does, decided once (``decide``)
        self._unanswered: Decision | None = (
            _LIVE_RECORDED if self.may_record else _LIVE if live or (mode is None and not self.existed) else None
        )

    def _share(self, shared: Any) -> None:
        """Use pytest-recording's cassette for this test (the same file): LLM interactions
        go into it at commit, and vcrpy saves it when the test ends. Its own recordings get
        our secret filter too."""
        self.cassette = shared
        self.path = Path(shared._path)
        self.existed = self.path.is_file()
        theirs = shared._before_record_request

        def filtered(request: Any) -> Any:
            request = theirs(request)
            return None if request is None else self._filter_request(request)

        shared._before_record_request = filtered

    def _open(self, path: Path, mode: str | None, live: bool, record_missing: bool) -> None:
        """Our own vcrpy cassette on ``path``, its file read, unless the run is inert."""
        self.path = path
        self.existed = path.is_file()
        # a live run that records nothing neither replays the file nor writes it: it is
        # not read (a large cassette's parse, and its memory while the test's calls
        # run, for nothing), and vcrpy is not imported for it
        self.inert = not self._may_record(mode, record_missing) and (live or (mode is None and not self.existed))
        if not self.inert:
            from vcr.cassette import Cassette
            from vcr.record_mode import RecordMode

            replace = mode in ("all", "rewrite") or live
            self.cassette = Cassette(
                path=str(path),
                record_mode=RecordMode.ALL if replace else RecordMode.NEW_EPISODES,
                match_on=(llm_request,),
                persister=_Persister,
                allow_playback_repeats=False,
                drop_unused_requests=False,
            )
        # a broken file raises CassetteError here, whatever the mode, and is never overwritten
        loaded = None if self.inert else read_cassette(path)
        if loaded is not None and mode != "rewrite":
            # a rewrite starts a fresh cassette: the old recordings neither replay nor
            # survive the commit
            self._file = loaded
            self._use(loaded)

    def _make_index(self) -> dict[str, list[int]]:
        """The positions of the loaded recordings by match key."""
        if self._file is not None:
            return self._file.index()
        index: dict[str, list[int]] = {}
        if self.cassette is not None:  # pytest-recording's cassette, loaded by vcrpy: keyed here
            for position, (stored, _) in enumerate(self.cassette.data[: self.loaded]):
                key = _key(stored)
                if key is not None:
                    index.setdefault(key, []).append(position)
        return index

    def _may_record(self, mode: str | None, record_missing: bool) -> bool:
        """Whether this run records what no recording answers (``existed`` known)."""
        return (
            mode in ("new_episodes", "all", "rewrite")
            or (mode == "once" and not self.existed)
            or (mode is None and not self.existed and record_missing)
        )

    def _use(self, loaded: Loaded) -> None:
        """Hand the parsed recordings to vcrpy's ``Cassette`` as its ``_load`` would, without
        its deep copy of every response (nothing here changes a loaded response)."""
        cassette = self.cassette
        cassette.data = list(loaded.interactions)
        cassette._old_interactions = list(loaded.interactions)
        cassette._loaded_count = len(loaded.interactions)
        cassette._metadata = dict(loaded.metadata)
        cassette.dirty = False
        cassette.rewound = True

    # -- filters ----------------------------------------------------------------------
    def _filter_request(self, request: Any) -> Any:
        import copy

        request = copy.copy(request)
        self.secrets.learn(request.headers, request.uri)
        request.headers = {
            k: self.secrets.text(str(v))
            for k, v in request.headers.items()
            if k.lower() not in _DROP_REQUEST_HEADERS and not k.lower().startswith("x-stainless-")
        }
        request.uri = self.secrets.text(request.uri)
        body = request.body
        content_type = next((str(v) for k, v in request.headers.items() if k.lower() == "content-type"), "")
        if isinstance(body, bytes) and "multipart/form-data" in content_type.lower():
            # audio uploads: the cassette keeps the form fields and the audio's sha256, size and
            # duration, not the audio itself (requests match on that summary)
            summary = multipart_summary(body, content_type)
            if summary is not None:
                body = json.dumps(summary, sort_keys=True).encode()
                request.headers = {
                    k: v for k, v in request.headers.items() if k.lower() not in ("content-type", "content-length")
                }
                request.headers["content-type"] = "application/json"
        if isinstance(body, bytes):
            request.body = self.secrets.data(body)
        elif isinstance(body, str):
            request.body = self.secrets.text(body)
        return request

    def _filter_response(self, response: dict[str, Any]) -> dict[str, Any]:
        headers = {}
        for key, values in (response.get("headers") or {}).items():
            if key.lower() in _DROP_RESPONSE_HEADERS:
                continue
            headers[key] = [self.secrets.text(str(v)) for v in values]
        response["headers"] = headers
        body = response.get("body", {}).get("string")
        if isinstance(body, bytes):
            response["body"]["string"] = self.secrets.data(body)
        elif isinstance(body, str):
            response["body"]["string"] = self.secrets.text(body)
        return response

    # -- decisions ----------------------------------------------------------------------
    def vcr_request(self, method: str, uri: str, body: bytes, headers: dict[str, str]) -> Any:
        from vcr.request import Request

        return Request(method, uri, body, headers)

    def decide(self, lazy: Any) -> Decision:
        """Replay a matching recording, or go live (``record`` says whether to keep it);
        raises :class:`ReplayMismatch` when neither is allowed. ``lazy.get()`` gives the
        request (vcrpy's), made only when a recording must be looked up."""
        if self.replays and self._index:  # something recorded to look the request up in
            request = lazy.get()
            index = self._find(request)
            if index is not None:
                self.cassette.play_counts[index] += 1
                self.replayed += 1
                stored, response = self.cassette.data[index]
                if self.shared and (stored, response) not in self.cassette._played_interactions:
                    # what vcrpy's drop_unused_requests keeps
                    self.cassette._played_interactions.append((stored, response))
                return Decision(response=response)
        unanswered = self._unanswered
        if unanswered is not None:
            return unanswered
        request = lazy.get()
        predicted = self._predicted(request)
        if predicted is not None:
            return predicted
        raise ReplayMismatch(self._mismatch_message(request))

    def _predicted(self, request: Any) -> Decision | None:
        """Answer a request whose generation parameters changed with its closest recording,
        carrying the predictor's prediction, when ``--llm-predict`` allows it."""
        if self.predict_mode == "off" or self._predictor is None or not _is_chat(request.uri):
            return None
        wanted = normalized_body(self._filter_request(request).body)
        if wanted is None:
            return None
        candidates: list[tuple[int, Any, dict[str, Any]]] = []
        for stored, response in self.cassette.data[: self.loaded]:
            old = normalized_body(stored.body)
            if not _is_chat(stored.uri) or old is None:
                continue
            if old.get("model") != wanted.get("model") or old.get("messages") != wanted.get("messages"):
                continue
            distance = len(request_diff(old, wanted))
            if distance == 0:
                return None  # recorded, only already played: "more identical calls than recorded"
            candidates.append((distance, stored, response))
        if not candidates:
            return None
        nearest = min(d for d, _, _ in candidates)
        # among the nearest, an answer that ended by itself says more than one cut at a cap
        recordings = [
            (stored, response, call_from_recording(stored, response))
            for d, stored, response in candidates
            if d == nearest
        ]
        stored, response, recorded = min(recordings, key=lambda r: r[2].finish_reason == "length")
        prediction = self._predictor(recorded, wanted, self._fits() if self._fits else {})
        if prediction is None:
            return None
        response = convert_stream(response, bool(wanted.get("stream")))
        if response is None:
            return None
        self.predicted += 1
        data = prediction.to_dict()
        data["mode"] = self.predict_mode
        data["diff"] = self.secrets.text("; ".join(request_diff(normalized_body(stored.body), wanted)))
        return Decision(response=response, prediction=data)

    def _find(self, request: Any) -> int | None:
        """The first recording of this request not yet played (identical requests are
        answered in recorded order): one lookup of the request's match key, which equals a
        recording's exactly when :func:`llm_request` matches them."""
        key = _key(self._filter_request(request))
        if key is None:
            return None
        play_counts = self.cassette.play_counts
        for index in self._index.get(key, ()):
            if not play_counts[index]:
                return index
        return None

    def record(self, request: Any, response: dict[str, Any]) -> None:
        """Keep a complete response, secrets scrubbed, until :meth:`commit`."""
        self._pending.append((self._filter_request(request), self._filter_response(response)))
        self.recorded += 1

    def note_unrecorded(self, reason: str) -> None:
        self.unrecorded.append(reason)

    def commit(self) -> bool:
        """Hand this run's recordings to the cassette and write it (atomically). Called only
        when the test body completed. A shared pytest-recording cassette is updated in
        memory and saved by vcrpy when the test ends."""
        if not self._pending:
            return False
        pending, self._pending = self._pending, []
        if self.shared:
            self._merge_shared(pending)
            return False
        for request, response in pending:
            self.cassette.data.append((request, response))
        self.cassette.dirty = True
        self.cassette._save()
        self.saved = True
        return True

    def _merge_shared(self, pending: list[tuple[Any, dict[str, Any]]]) -> None:
        """Rebuild the shared cassette's list once the test body is done (vcrpy's play
        bookkeeping no longer matters): its other traffic stays, LLM recordings follow
        the record mode."""
        data = self.cassette.data

        def replaced(stored: Any) -> bool:
            if self.mode == "rewrite":
                return True
            if self.mode == "all" or self.live:
                for new, _ in pending:
                    try:
                        llm_request(new, stored)
                    except AssertionError:
                        continue
                    return True
            return False

        kept = [(r, resp) for r, resp in data if not (_is_llm(r.uri) and replaced(r))]
        self.cassette.data = kept + pending
        self.cassette.dirty = True

    # -- messages ----------------------------------------------------------------------
    def rerecord_hint(self, mode: str = "rewrite") -> str:
        return rerecord_hint(self.nodeid, mode)

    def _mismatch_message(self, request: Any) -> str:
        if not self.existed:
            return no_cassette_message(self.path, self.mode, self.nodeid)
        # the diff is made from the filtered request: no secret reaches the message
        new = normalized_body(self._filter_request(request).body)
        recordings = self.cassette.data[: self.loaded]
        return closest_recording_message(
            request, new, recordings, self.cassette.play_counts, self.path, self.rerecord_hint(), self.secrets
        )


def ci_environment() -> bool:
    value = os.environ.get("CI", "")
    return value.strip().lower() not in ("", "0", "false", "no")
