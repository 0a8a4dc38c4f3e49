"""One cycle at a time per store: a lock held for the whole run, released when the process ends.

SQLite stores are locked with ``flock`` on a file beside the database; PostgreSQL stores with a
session advisory lock on a connection of the lock's own, so runs on different machines that share
the store exclude each other too. The operating system or the server drops either lock when the
holder dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dreamcore.errors import DreamcoreError

if TYPE_CHECKING:
    from dreamcore.store.dream_store import DreamStore

ADVISORY_KEY = 0x647265616D  # "dream": the advisory lock number every dreamcore run takes


class RunLocked(DreamcoreError):
    """Another run holds the lock (exit code 3)."""

    exit_code = 3


class RunOnWorkers(RunLocked):
    """The unfinished run's work went to workers (procrastinate executor): a local run leaves it to
    them (exit code 3)."""


@contextmanager
def run_lock(store: DreamStore) -> Iterator[None]:
    """Hold the store's run lock for the duration of the block, or raise RunLocked at once."""
    if store.is_postgres:
        with _advisory_lock(store):
            yield
    elif store.where == ":memory:":
        yield  # nobody else can see an in-memory store
    else:
        with _file_lock(store.where + ".lock", store.where):
            yield


@contextmanager
def _file_lock(path: str, where: str) -> Iterator[None]:
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 64, 0).decode(errors="replace").strip() or "another process"
            raise RunLocked(f"another dreamcore run ({holder}) is using {where}; try again when it ends") from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(handle)  # closing drops the flock


@contextmanager
def _advisory_lock(store: DreamStore) -> Iterator[None]:
    with store.session_lock(ADVISORY_KEY, "run lock") as locked:
        if not locked:
            raise RunLocked(f"another dreamcore run is using {store.where}; try again when it ends")
        yield
