"""The response bodies a captured client reads: the tee around a live body, which timestamps
each chunk as the client reads it and keeps it for its :class:`~.attempt.Capture` (parsed when
the test reads its calls), and the stream that replays a recorded body at its recorded offsets.

The methods are written once, in mixins; :func:`stream_classes` joins them with an httpx
flavour's byte stream bases (httpx and httpx2 each have their own).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

from .attempt import Capture
from .replay import RecordedResponse

__all__ = ["stream_classes"]


class _Tee:
    """What both tees hold: the client's stream and the capture its reads go to."""

    def __init__(self, inner: Any, capture: Capture) -> None:
        self._inner = inner
        self._capture = capture


# The two tees' loops are the same lines, one ``for``, one ``async for``: the hot path, kept
# inline in each (a shared helper would cost a call per chunk).


class _SyncTee(_Tee):
    def __iter__(self) -> Iterator[bytes]:
        # the hot path: two clock reads and three appends to one list per chunk, no object
        # the garbage collector tracks (a tuple per read made it collect every ~700 reads);
        # parsing comes later
        capture = self._capture
        log = capture.log.append
        clock = time.perf_counter_ns
        asked = clock()
        try:
            for chunk in self._inner:
                if chunk:
                    log(asked)
                    log(clock())
                    log(chunk)
                yield chunk
                asked = clock()
        except GeneratorExit:
            raise
        except BaseException as exc:
            capture.stream_error(exc)
            raise
        capture.eof(clock(), asked)

    def close(self) -> None:
        self._capture.close()
        self._inner.close()


class _AsyncTee(_Tee):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        capture = self._capture
        log = capture.log.append
        clock = time.perf_counter_ns
        asked = clock()
        try:
            async for chunk in self._inner:
                if chunk:
                    log(asked)
                    log(clock())
                    log(chunk)
                yield chunk
                asked = clock()
        except GeneratorExit:
            raise
        except BaseException as exc:
            capture.stream_error(exc)
            raise
        capture.eof(clock(), asked)

    async def aclose(self) -> None:
        self._capture.close()
        await self._inner.aclose()


class _Replay:
    """A recorded body, read by a sync or an async client: unpaced, the capture reads the
    recorded chunks at their offsets and the client gets the body in one piece; paced, each
    chunk comes at its recorded offset."""

    def __init__(self, replay: RecordedResponse, capture: Capture) -> None:
        self._replay = replay
        self._capture = capture

    def __iter__(self) -> Iterator[bytes]:
        replay = self._replay
        if not replay.pace:
            # virtual time: the capture reads the recorded chunks at their offsets, and the
            # client gets the body in one piece (as vcrpy gives it): nothing waits, so the
            # chunking is invisible to it, and one piece costs it far less than ninety
            yield from self._whole()
            return
        for offset, chunk in replay.chunks:
            wait = replay.delay(offset)
            if wait:
                time.sleep(wait)
            yield self._fed(offset, chunk)
        self._ended()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import anyio

        replay = self._replay
        if not replay.pace:
            for piece in self._whole():
                yield piece
            return
        for offset, chunk in replay.chunks:
            wait = replay.delay(offset)
            if wait:
                await anyio.sleep(wait)
            yield self._fed(offset, chunk)
        self._ended()

    def _whole(self) -> Iterator[bytes]:
        replay, capture = self._replay, self._capture
        for offset, chunk in replay.chunks:
            capture.feed(chunk, at=replay.start_ns + offset)
        capture.eof(at=replay.start_ns + replay.end_ns)
        body = b"".join(chunk for _, chunk in replay.chunks)
        if body:
            yield body

    def _fed(self, offset: int, chunk: bytes) -> bytes:
        """``chunk``, once the capture has read it at its recorded ``offset`` (paced: a call
        per chunk costs nothing next to the wait)."""
        self._capture.feed(chunk, at=self._replay.start_ns + offset)
        return chunk

    def _ended(self) -> None:
        replay = self._replay
        self._capture.eof(at=replay.start_ns + replay.end_ns)

    def close(self) -> None:
        self._capture.close()

    async def aclose(self) -> None:
        self._capture.close()


def stream_classes(mod: ModuleType) -> tuple[type, type, type]:
    """The sync tee, the async tee and the replay stream, deriving from this httpx flavour's
    byte stream bases."""

    class TeeSyncStream(_SyncTee, mod.SyncByteStream):  # type: ignore[name-defined,misc]
        pass

    class TeeAsyncStream(_AsyncTee, mod.AsyncByteStream):  # type: ignore[name-defined,misc]
        pass

    class ReplayStream(_Replay, mod.SyncByteStream, mod.AsyncByteStream):  # type: ignore[name-defined,misc]
        pass

    return TeeSyncStream, TeeAsyncStream, ReplayStream
