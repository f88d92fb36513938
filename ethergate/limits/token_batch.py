"""Token use this process recorded but has not written to Redis yet.

Usage is known only after the answer, so writing it a fraction of a second later changes little: the
limiter's upkeep writes each key's sum in one round trip every ~0.2 s (sooner when many keys wait), and
this process's own unwritten use still counts in its token checks. What other processes cannot see for
that long is the batching's only cost to the tokens-per-minute check.
"""
from __future__ import annotations

import os
import threading
import weakref

FULL_AT_KEYS = 1000


class TokenBatch:
    def __init__(self):
        self._pending: dict[str, int] = {}
        self._writing: dict[str, int] = {}
        self._lock = threading.Lock()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (batch := ref()) is not None and batch.forget())

    def add(self, key_id: str, tokens: int) -> bool:
        """Adds a request's tokens; True when enough keys wait that they should be written now."""
        with self._lock:
            self._pending[key_id] = self._pending.get(key_id, 0) + tokens
            return len(self._pending) >= FULL_AT_KEYS

    def unrecorded(self, key_id: str) -> int:
        """This key's tokens not in Redis yet, counting those being written right now."""
        with self._lock:
            return self._pending.get(key_id, 0) + self._writing.get(key_id, 0)

    def take(self) -> dict[str, int]:
        """The tokens to write now; they still count as unrecorded until `written()`."""
        with self._lock:
            taken, self._pending = self._pending, {}
            for key_id, tokens in taken.items():
                self._writing[key_id] = self._writing.get(key_id, 0) + tokens
            return taken

    def written(self, taken: dict[str, int]) -> None:
        with self._lock:
            for key_id, tokens in taken.items():
                left = self._writing.get(key_id, 0) - tokens
                if left > 0:
                    self._writing[key_id] = left
                else:
                    self._writing.pop(key_id, None)

    def waiting(self) -> bool:
        with self._lock:
            return bool(self._pending or self._writing)

    def forget(self) -> None:
        """In a forked child: the parent writes what it recorded."""
        self._lock = threading.Lock()
        self._pending, self._writing = {}, {}
