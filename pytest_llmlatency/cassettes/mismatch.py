"""What a test is told when its cassette holds no recording that answers a request and the
record mode forbids a live call (the message of :class:`~pytest_llmlatency.capture.replay.ReplayMismatch`):
which file, how the request differs from the closest recording, how to re-record."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..capture.secrets import Secrets
from ..core.endpoints import BY_NAME
from .fileformat import endpoint_name, normalized_body
from .request_diff import request_diff

__all__ = ["closest_recording_message", "no_cassette_message", "rerecord_hint"]


def rerecord_hint(nodeid: str, mode: str = "rewrite") -> str:
    return (
        f"Re-record with: pytest --llm-record-mode={mode} {nodeid} "
        "(needs GROQ_API_KEY, or --llm-base-url for another server)"
    )


def no_cassette_message(path: Path, mode: str | None, nodeid: str) -> str:
    return (
        f"no cassette for this test: {path} does not exist, and record mode "
        f"'{mode}' does not record. Record it with: pytest --llm-record-mode=once "
        f"{nodeid} (needs GROQ_API_KEY, or --llm-base-url for another server)"
    )


def closest_recording_message(
    request: Any,
    new: Any,
    recordings: Sequence[tuple[Any, Any]],
    play_counts: Any,
    path: Path,
    hint: str,
    secrets: Secrets,
) -> str:
    """The cassette at ``path`` holds ``recordings`` (vcrpy's, as loaded; ``play_counts`` by
    position) and none answers ``request`` (vcrpy's; ``new``: its filtered, normalized body):
    how it differs from the closest one of the same endpoint and method, or that they were
    all replayed already. Secrets are scrubbed from the diff."""
    wanted_endpoint = endpoint_name(request.uri)
    candidates = []
    for index, (stored, _) in enumerate(recordings):
        if not (endpoint_name(stored.uri) == wanted_endpoint and stored.method == request.method):
            continue
        old = normalized_body(stored.body)
        diff = request_diff(old, new)
        played = play_counts[index] > 0
        candidates.append((len(diff), played, index, diff))
    total = len(recordings)
    where = f"the cassette {path} holds no recording of this request"
    if not candidates:
        kind = BY_NAME[wanted_endpoint].label if wanted_endpoint else "LLM call"
        return f"{where} (it holds {total} interaction(s), none a {kind}). {hint}"
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    n_diff, played, index, diff = candidates[0]
    if n_diff == 0:
        same = sum(1 for c in candidates if c[0] == 0)
        return (
            f"{where} that has not been replayed already: the cassette has {same} recording(s) of it "
            f"and the test made more identical calls than when it was recorded. {hint}"
        )
    return secrets.text(
        f"{where}; request changed since recording: {'; '.join(diff)} "
        f"(closest: interaction {index + 1} of {total}). {hint}"
    )
