"""Payment charging with retry/backoff, idempotency-key caching and rate limiting."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class PaymentDeclined(Exception):
    """Raised when a processor refuses a charge in a way retries cannot fix."""


class TransientPaymentError(Exception):
    """Raised when a charge failed for a reason that may succeed on retry."""


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP status from the payment processor is worth retrying."""
    if status < 100 or status > 599:
        raise ValueError(f"invalid HTTP status: {status}")
    return status in RETRYABLE_STATUSES


def backoff_schedule(retries: int = 3, *, backoff: float = 0.5, factor: float = 2.0,
                     max_delay: float = 30.0) -> Iterator[float]:
    """Yield the exponential delay (seconds) to wait before each retry attempt."""
    delay = backoff
    for _ in range(retries):
        yield min(delay, max_delay)
        delay *= factor


def charge_with_retry(charge: Callable[..., dict[str, Any]], amount: int, *args: Any,
                      retries: int = 3, backoff: float = 0.5, **kwargs: Any) -> dict[str, Any]:
    """Call ``charge(amount, *args, **kwargs)``, retrying transient failures with backoff.

    Declines are never retried. The returned receipt records how many attempts ran.
    """
    if amount <= 0:
        raise ValueError("charge amount must be positive")
    attempts = 0
    for delay in [*backoff_schedule(retries, backoff=backoff), None]:
        try:
            receipt = dict(charge(amount, *args, **kwargs))
        except TransientPaymentError:
            if delay is None:
                raise
            time.sleep(delay)
            continue
        finally:
            attempts += 1
        receipt["attempts"] = attempts
        return receipt
    raise RuntimeError("unreachable")  # pragma: no cover


async def charge_with_retry_async(charge: Callable[[int], Awaitable[dict[str, Any]]], amount: int,
                                  *, retries: int = 3, backoff: float = 0.5,
                                  timeout: float = 30.0) -> dict[str, Any]:
    """Async variant of ``charge_with_retry`` with a per-attempt timeout."""
    if amount <= 0:
        raise ValueError("charge amount must be positive")
    delay = backoff
    for attempt in range(retries + 1):
        try:
            return await asyncio.wait_for(charge(amount), timeout=timeout)
        except (TimeoutError, TransientPaymentError):
            if attempt >= retries:
                raise
            await asyncio.sleep(delay)
            delay *= 2
    raise RuntimeError("unreachable")  # pragma: no cover


class IdempotencyCache:
    """Remembers responses by idempotency key so a replayed request is not charged twice."""

    def __init__(self, *, ttl: float = 86_400.0, max_entries: int = 1_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def make_key(customer_id: str, amount: int, reference: str) -> str:
        """Derive a stable idempotency key from the charge's identifying fields."""
        if not customer_id or not reference:
            raise ValueError("customer_id and reference are required")
        return f"{customer_id.strip().lower()}:{amount}:{reference.strip()}"

    def get(self, key: str, *, now: float | None = None) -> Any | None:
        """Return the cached response for ``key``, or None if absent or expired."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if now - stored_at > self.ttl:
                del self._entries[key]
                return None
            return value

    def put(self, key: str, value: Any, *, now: float | None = None) -> None:
        """Store ``value`` under ``key``, evicting the oldest entry when full."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    @property
    def utilization(self) -> float:
        """Fraction of ``max_entries`` in use (expired entries count until touched)."""
        with self._lock:
            used = len(self._entries)
        return round(used / self.max_entries, 4)


class RateLimiter:
    """Token-bucket limiter: ``rate`` tokens per second with bursts up to ``capacity``."""

    def __init__(self, rate: float = 5.0, capacity: int = 10) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self.rate = rate
        self.capacity = capacity
        self._tokens = float(capacity)
        self._updated: float | None = None

    def allow(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens at time ``now`` if available; report whether allowed."""
        if self._updated is not None:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens will be available, ignoring further refills."""
        if cost > self.capacity:
            raise ValueError(f"cost {cost} can never fit in capacity {self.capacity}")
        missing = cost - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate
