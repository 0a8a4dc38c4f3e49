"""Opening a database from a store URL, and turning database failures into one-line StoreErrors."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import peewee as pw
from playhouse import db_url

from dreamcore.errors import StoreError
from dreamcore.store.tables import database

if TYPE_CHECKING:
    from dreamcore.store.dream_store import DreamStore


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _explain(exc: Exception, where: str, busy_timeout: float) -> StoreError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "database is locked" in message or "database table is locked" in message:
        return StoreError(f"store: {where} is locked by another process (waited {busy_timeout:g} s)")
    if "file is not a database" in message or "malformed" in message:
        return StoreError(f"store: {where} is not a readable SQLite database ({message})")
    if "unable to open database file" in message:
        return StoreError(f"store: cannot open {where} (missing folder or no permission)")
    if isinstance(exc, pw.IntegrityError):
        return StoreError(f"store: {where}: rejected by the database ({message})")
    if isinstance(exc, (pw.OperationalError, pw.InterfaceError)) and "connection" in message.lower():
        return StoreError(f"store: cannot connect to {where} ({message})")
    return StoreError(f"store: {where}: {type(exc).__name__}: {message}")


def guarded(method: Callable) -> Callable:
    """Bind this store's database and turn database failures into one-line StoreErrors."""

    @functools.wraps(method)
    def wrapper(self: DreamStore, *args: Any, **kwargs: Any) -> Any:
        if database.obj is not self.db:
            database.initialize(self.db)
        try:
            return method(self, *args, **kwargs)
        except pw.PeeweeException as exc:
            raise _explain(exc.__cause__ or exc, self.where, self.busy_timeout) from None
        except (sqlite3.Error, OSError) as exc:
            raise _explain(exc, self.where, self.busy_timeout) from None

    return wrapper


def connect(url: str, base_dir: Path | None, busy_timeout: float) -> tuple[pw.Database, str]:
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "sqlite":
        raw = unquote(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else ""
        if raw in ("", ":memory:"):
            path = ":memory:"
        else:
            file = Path(raw)
            if not file.is_absolute() and base_dir is not None:
                file = base_dir / file
            file.parent.mkdir(parents=True, exist_ok=True)
            path = str(file)
        db = pw.SqliteDatabase(
            path,
            pragmas={
                "page_size": 16384,  # new files only: dream rows are ~1.5 KB, more fit a page
                "journal_mode": "wal",
                "foreign_keys": 1,
                "synchronous": "normal",
                "busy_timeout": int(busy_timeout * 1000),
                "cache_size": -16000,
            },
            timeout=busy_timeout,
        )
        return db, path
    if scheme in ("postgresql", "postgres"):
        db = db_url.connect(url, unquote_password=True, unquote_user=True, connect_timeout=max(1, int(busy_timeout)))
        host = parts.hostname or "localhost"
        return db, f"PostgreSQL {host}:{parts.port or 5432}/{parts.path.lstrip('/')}"
    raise StoreError(f"store: unknown scheme {scheme or url!r} (expected sqlite, postgresql)")
