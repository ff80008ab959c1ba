"""API keys: learned from the environment and from every request, scrubbed from whatever we keep.

Whatever the plugin writes (cassettes, baselines, reports, JUnit properties,
failure messages) passes through :class:`Secrets` first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .headers import header_values, httpx_triples

__all__ = ["KEY_HEADERS", "REDACTED", "Secrets"]

REDACTED = "<REDACTED>"
KEY_HEADERS = ("authorization", "api-key", "x-api-key", "proxy-authorization", "x-goog-api-key")
_KEY_HEADER_BYTES = frozenset(name.encode() for name in KEY_HEADERS)
KEY_PARAMS = ("key", "api_key", "api-key", "apikey", "access_token", "token")
ENV_KEYS = ("GROQ_API_KEY", "OPENAI_API_KEY")
_MIN_LENGTH = 8  # shorter values would scrub ordinary words


class Secrets:
    """The secret values seen so far (thread-safe enough: a set only grows)."""

    def __init__(self, values: Iterable[str] = (), *, environment: bool = True) -> None:
        self.values: set[str] = set()
        self._learnt: set[bytes] = set()  # key header values already learnt, as sent
        for value in values:
            self.add(value)
        if environment:
            for name in ENV_KEYS:
                self.add(os.environ.get(name))

    def add(self, value: str | None) -> None:
        if value and len(value.strip()) >= _MIN_LENGTH:
            self.values.add(value.strip())

    def learn(self, headers: Any, url: str = "", wanted: frozenset[bytes] = frozenset()) -> dict[bytes, str]:
        """Remember the keys a request carries: key headers and key query parameters. Returns
        the values of the ``wanted`` (lower-case) header names, read in the same pass
        (as :func:`~.headers.header_values` reads them)."""
        triples = httpx_triples(headers)
        keys: list[Any]
        values: dict[bytes, str] = {}
        if triples is not None:
            # httpx.Headers: (raw name, lower-case name, value); the same key on every request
            # of a session is learnt once
            learnt, keys = self._learnt, []
            for _, name, raw_value in triples:
                if name in _KEY_HEADER_BYTES:
                    if raw_value not in learnt:
                        learnt.add(raw_value)
                        keys.append(raw_value.decode("latin-1"))
                elif name in wanted:
                    text = raw_value.decode("latin-1")
                    values[name] = f"{values[name]}, {text}" if name in values else text
        else:
            if wanted:
                values = header_values(headers, wanted)
            raw = getattr(headers, "raw", None)
            if isinstance(raw, list):  # one pass over the raw pairs
                keys = [v.decode("latin-1") for k, v in raw if k.lower() in _KEY_HEADER_BYTES]
            else:
                keys = [headers.get(name) for name in KEY_HEADERS] if headers is not None else []
        for key in keys:
            if not key:
                continue
            key = str(key)
            scheme, _, token = key.partition(" ")
            self.add(token if token and scheme.lower() in ("bearer", "basic", "token") else key)
        if url and "?" in url:
            for param, param_value in parse_qsl(urlsplit(url).query):
                if param.lower() in KEY_PARAMS:
                    self.add(param_value)
        return values

    def text(self, text: str) -> str:
        for secret in self.values:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def data(self, data: bytes) -> bytes:
        for secret in self.values:
            raw = secret.encode()
            if raw in data:
                data = data.replace(raw, REDACTED.encode())
        return data

    def obj(self, value: Any) -> Any:
        """A JSON-like value with every secret replaced in its strings (keys included)."""
        if not self.values:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.obj(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.obj(v) for v in value)
        if isinstance(value, dict):
            return {self.obj(k): self.obj(v) for k, v in value.items()}
        return value
