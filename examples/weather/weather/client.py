"""Observation fetching with retries and timeouts, a TTL cache, and page iteration."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

FetchFn = Callable[[str, float], tuple[int, Any]]


class FetchFailed(RuntimeError):
    """Raised when every attempt to fetch observations has failed."""


def retry_delay(attempt: int, *, backoff: float = 0.5, step: float = 0.5,
                ceiling: float = 8.0) -> float:
    """Linear backoff: wait ``backoff + step * attempt`` seconds, capped at ``ceiling``."""
    if attempt < 0:
        raise ValueError("attempt must be non-negative")
    return min(ceiling, backoff + step * attempt)


def fetch_observations(url: str, *, fetch: FetchFn, retries: int = 3, backoff: float = 0.5,
                       timeout: float = 30.0) -> Any:
    """Fetch ``url`` through the injected ``fetch(url, timeout)`` callable.

    Retries on 5xx statuses and TimeoutError; 4xx statuses fail immediately.
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    last_problem = "no attempts made"
    for attempt in range(retries + 1):
        try:
            status, payload = fetch(url, timeout)
        except TimeoutError:
            last_problem = f"timed out after {timeout}s"
        else:
            if 200 <= status < 300:
                return payload
            if 400 <= status < 500:
                raise FetchFailed(f"{url} rejected with status {status}")
            last_problem = f"server error {status}"
        if attempt < retries:
            time.sleep(retry_delay(attempt, backoff=backoff, step=backoff))
    raise FetchFailed(f"{url}: {last_problem} after {retries + 1} attempts")


async def fetch_observations_async(url: str, *, fetch: Callable[[str], Awaitable[Any]],
                                   retries: int = 3, backoff: float = 0.5,
                                   timeout: float = 30.0) -> Any:
    """Await ``fetch(url)`` with a timeout per attempt, retrying with linear backoff."""
    for attempt in range(retries + 1):
        try:
            return await asyncio.wait_for(fetch(url), timeout=timeout)
        except (TimeoutError, ConnectionError) as exc:
            if attempt == retries:
                raise FetchFailed(f"{url}: {exc!r}") from exc
            await asyncio.sleep(retry_delay(attempt, backoff=backoff, step=backoff))
    raise FetchFailed(url)  # pragma: no cover


async def fetch_many(urls: list[str], *, fetch: Callable[[str], Awaitable[Any]],
                     concurrency: int = 4, **options: Any) -> dict[str, Any]:
    """Fetch several stations concurrently, returning results or exceptions by URL."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    gate = asyncio.Semaphore(concurrency)

    async def guarded(url: str) -> Any:
        """Fetch one URL while holding a concurrency slot."""
        async with gate:
            return await fetch_observations_async(
                url, fetch=fetch, **options)

    results = await asyncio.gather(*(guarded(u) for u in urls), return_exceptions=True)
    return dict(zip(urls, results))


class ObservationCache:
    """A time-to-live cache for observation payloads keyed by station code."""

    def __init__(self, ttl: float = 300.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.ttl = ttl
        self._clock = clock
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.RLock()
        self.hits = 0
        self.misses = 0

    def lookup(self, station: str) -> Any | None:
        """Return a fresh cached value for ``station`` or None, counting hits and misses."""
        with self._lock:
            entry = self._data.get(station.upper())
            if entry is not None and self._clock() < entry[0]:
                self.hits += 1
                return entry[1]
            self.misses += 1
            self._data.pop(station.upper(), None)
            return None

    def store(self, station: str, payload: Any) -> None:
        """Cache ``payload`` for ``station`` until ``ttl`` seconds from now."""
        if payload is None:
            raise ValueError("cannot cache None: lookup uses it to signal a miss")
        with self._lock:
            self._data[station.upper()] = (self._clock() + self.ttl, payload)

    def purge_expired(self) -> int:
        """Drop stale entries and return how many were removed."""
        with self._lock:
            now = self._clock()
            stale = [key for key, (expires, _) in self._data.items() if expires <= now]
            for key in stale:
                del self._data[key]
            return len(stale)

    @property
    def hit_ratio(self) -> float:
        """Fraction of lookups served from cache (0.0 when nothing was looked up)."""
        total = self.hits + self.misses
        if total == 0:
            return 0.0
        return round(self.hits / total, 4)


def ttl_memoize(ttl: float = 60.0, *, clock: Callable[[], float] = time.monotonic):
    """Decorator caching a function's result per argument tuple for ``ttl`` seconds."""
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        memo: dict[tuple[Any, ...], tuple[float, Any]] = {}

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = (args, tuple(sorted(kwargs.items())))
            hit = memo.get(key)
            if hit is not None and clock() - hit[0] < ttl:
                return hit[1]
            result = func(*args, **kwargs)
            memo[key] = (clock(), result)
            return result
        return wrapper
    return decorate


def iter_observation_pages(get_page: Callable[[int, int], list[Any]], *, page_size: int = 50,
                           max_pages: int = 20) -> Iterator[Any]:
    """Yield observations from 1-based numbered pages until a short or empty page."""
    if page_size <= 0:
        raise ValueError("page_size must be positive")
    for page in range(1, max_pages + 1):
        batch = get_page(page, page_size)
        yield from batch
        if len(batch) < page_size:
            return


def slice_page(items: list[Any], page: int, *, page_size: int = 50) -> dict[str, Any]:
    """Return one 1-based page of ``items`` with navigation metadata."""
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size must be positive")
    last_page = max(1, (len(items) + page_size - 1) // page_size)
    start = (page - 1) * page_size
    return {"items": items[start:start + page_size], "page": page,
            "last_page": last_page, "next": page + 1 if page < last_page else None}


def collect_observations(get_page: Callable[[int, int], list[Any]], *, page_size: int = 50,
                         max_pages: int = 20, limit: int = 1_000) -> dict[str, Any]:
    """Gather up to ``limit`` observations; a failed page stops early with partial results."""
    pages = iter_observation_pages(get_page, page_size=page_size, max_pages=max_pages)
    items: list[Any] = []
    error: str | None = None
    try:
        for observation in pages:
            items.append(observation)
            if len(items) >= limit:
                break
    except FetchFailed as exc:
        error = str(exc)
    finally:
        pages.close()
    return {"items": items, "truncated": len(items) >= limit, "error": error}
