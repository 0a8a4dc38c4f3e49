"""Per-model call limits shared by a cycle's model calls: at most ``concurrency`` calls of a model at
once, and at most ``rpm`` call starts a minute, spread evenly (one every 60/rpm seconds).

A model provider asks its :class:`ModelHub` for a *gate* (``share_gate``) and wraps every request in
``async with gate.slot(model, concurrency, rpm)``. :class:`LocalGate` keeps the limits in this process
(the local executor); on the procrastinate executor each job gets a gate whose slots and pacing live
in PostgreSQL, so the limits hold across every worker (``dreamcore.distributed.limits``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol


class Gate(Protocol):
    """Where a model call waits for its model's concurrency slot and its turn under the rpm limit."""

    def slot(self, model: str, concurrency: int, rpm: float) -> AsyncIterator[None]:
        """An async context manager held for the whole request."""


class _ModelLimit:
    """One model's slots and pacing, in this process."""

    def __init__(self, concurrency: int, rpm: float) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.interval = 60.0 / rpm if rpm > 0 else 0.0
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    async def pace(self) -> None:
        """Wait until this request may start under the rpm limit."""
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


class LocalGate:
    """Per-model limits kept in this process (one event loop)."""

    def __init__(self) -> None:
        self._limits: dict[str, _ModelLimit] = {}

    @asynccontextmanager
    async def slot(self, model: str, concurrency: int, rpm: float) -> AsyncIterator[None]:
        """Hold one of the model's ``concurrency`` slots, started no sooner than ``rpm`` allows."""
        if model not in self._limits:
            self._limits[model] = _ModelLimit(concurrency, rpm)
        limit = self._limits[model]
        async with limit.slots:
            await limit.pace()
            yield
