"""Writing a plan: every file atomically, a backup of each one replaced, and a rollback when a write fails."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .changes import Change
from .messages import Abort
from .targets import EXIT_HOME


def check_writable(changes: list[Change]) -> None:
    for change in changes:
        directory = _existing_parent(change.path)
        if (change.path.exists() and not os.access(change.path, os.W_OK)) or not os.access(directory, os.W_OK):
            raise Abort(EXIT_HOME, "not_writable", path=change.path if change.path.exists() else directory)


def _existing_parent(path: Path) -> Path:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def apply(changes: list[Change], stamp: str, locale: str) -> None:
    done: list[tuple[Change, bytes | None, int | None]] = []
    for change in changes:
        try:
            old = change.path.read_bytes() if change.path.exists() else None
            mode = stat.S_IMODE(change.path.stat().st_mode) if old is not None else None
            change.path.parent.mkdir(parents=True, exist_ok=True)
            if old is not None:
                change.backup = _backup(change.path, old, 0o600 if change.secret else mode, stamp)
            target_mode = 0o600 if change.secret else (mode if mode is not None else (0o755 if change.executable else 0o644))
            atomic_write(change.path, change.text.encode("utf-8"), target_mode)
            done.append((change, old, mode))
        except OSError as error:
            for written, previous, previous_mode in reversed(done):
                if previous is None:
                    written.path.unlink(missing_ok=True)
                else:
                    atomic_write(written.path, previous, previous_mode or 0o600)
                if written.backup:
                    written.backup.unlink(missing_ok=True)
            raise Abort(EXIT_HOME, "write_failed", path=change.path, detail=error.strerror or error) from None


def _backup(path: Path, content: bytes, mode: int | None, stamp: str) -> Path:
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    counter = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
        counter += 1
    atomic_write(backup, content, mode if mode is not None else 0o600)
    return backup


def atomic_write(path: Path, content: bytes, mode: int) -> None:
    handle, temporary = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
