"""Prompt prefix caching, as Groq does it on the models that support it.

Groq reuses "computation from recent requests when they share a common prefix" and lets
cached data expire "after 2 hours without use" (console.groq.com/docs/prompt-caching).
The emulator keys its cache on *blocks* of the prompt: the request head (tool definitions,
a ``json_schema``, the template overhead) together with the first message, then one block
per further message. A request's cached tokens are the tokens of its longest run of leading
blocks seen before on the same model (within the time to live). Matching whole messages,
not single tokens, is the emulator's simplification; so is requiring the first message to
match (a head alone is never reported as cached).

Thread-safe; bounded (least recently used prefixes are dropped past ``max_entries``). The
clock is injectable so tests need not wait.

On real Groq a repeated prefix is not always found (the request may land on a server that has
not seen it): with a ``cache_hit_rate`` the emulator keeps each would-be hit with that
probability (:func:`keeps_hit`), drawn from its seed, the request and its occurrence.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from .model import _MESSAGE_OVERHEAD, _digest, _extra_prompt_tokens, _message_text, count_tokens

__all__ = ["PromptCache", "keeps_hit", "prompt_blocks"]


def _message_tokens(message: Any) -> int:
    n = _MESSAGE_OVERHEAD + count_tokens(_message_text(message))
    if isinstance(message, dict):
        n += _extra_prompt_tokens({}, [message])
    return n


def prompt_blocks(body: dict[str, Any], prompt_tokens: int) -> list[tuple[str, int]]:
    """The prompt as cacheable blocks: (digest of the prefix up to and including the block,
    tokens of the block). The tokens add up to ``prompt_tokens``."""
    messages = [m for m in body.get("messages") or []]
    if not messages:
        return []
    per_message = [_message_tokens(m) for m in messages]
    head_tokens = max(0, prompt_tokens - sum(per_message))
    head = {k: body.get(k) for k in ("model", "tools", "response_format") if body.get(k) is not None}
    digest = hashlib.sha256(json.dumps(head, sort_keys=True, default=str).encode())
    blocks: list[tuple[str, int]] = []
    for i, (message, tokens) in enumerate(zip(messages, per_message, strict=True)):
        digest.update(json.dumps(message, sort_keys=True, default=str).encode())
        blocks.append((digest.copy().hexdigest(), tokens + (head_tokens if i == 0 else 0)))
    return blocks


def keeps_hit(rate: float | None, *key: Any) -> bool:
    """Whether a request that would hit the cache does: always when ``rate`` is None, else with
    probability ``rate``, drawn from ``key`` (the same key, the same answer)."""
    if rate is None:
        return True
    return random.Random(_digest("cache hit", *key)).random() < rate


class PromptCache:
    """Prefix digests seen recently, with the time each was last used."""

    def __init__(
        self,
        *,
        ttl_s: float = 7200.0,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"cache_ttl_s must be positive, got {ttl_s!r}")
        if max_entries < 1:
            raise ValueError(f"cache max_entries must be at least 1, got {max_entries!r}")
        self.ttl_s = float(ttl_s)
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def lookup_and_store(self, blocks: Sequence[tuple[str, int]]) -> int:
        """Cached tokens of a prompt made of ``blocks``; then remember all its prefixes."""
        now = self._clock()
        cached = 0
        with self._lock:
            matching = True
            for digest, tokens in blocks:
                seen = self._entries.get(digest)
                if matching and seen is not None and now - seen <= self.ttl_s:
                    cached += tokens
                else:
                    matching = False
                self._entries[digest] = now
                self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return cached
