"""Shared fixtures: stores on SQLite and on a real PostgreSQL server, and test plugins.

PostgreSQL: $DREAMCORE_TEST_POSTGRES_URL if set, else a throwaway server started from the
machine's PostgreSQL binaries for this test session. Without either, PostgreSQL tests skip —
except under CI=true, where they fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Only dreamcore's own plugins load under test; third-party plugins on the machine stay out.
sys._called_from_test = True  # type: ignore[attr-defined]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bindir() -> Path | None:
    initdb = shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[::-1]), None)
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """A PostgreSQL server in a temporary folder, on a loopback port, trusting local users."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.datadir = Path(tempfile.mkdtemp(prefix="dreamcore-pg-"))
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.datadir, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-k {self.datadir} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", options, "-l",
                  str(self.datadir / "log"), "-w", "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.datadir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a real PostgreSQL database (started for the session when needed)."""
    url = os.environ.get("DREAMCORE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    bindir = _postgres_bindir()
    if bindir is None:
        message = "PostgreSQL is not installed (initdb not found) and DREAMCORE_TEST_POSTGRES_URL is not set"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bindir)
    try:
        yield server.start()
    finally:
        server.stop()


def _reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def pg(postgres_url):
    """The URL of an empty PostgreSQL database."""
    _reset_postgres(postgres_url)
    return postgres_url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """A URL for an empty database, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dreams.db'}"
    url = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def store(store_url):
    """An empty DreamStore on each backend."""
    from dreamcore.store.dream_store import DreamStore

    with DreamStore(store_url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(tmp_path):
    """An empty DreamStore on SQLite only."""
    from dreamcore.store.dream_store import DreamStore

    with DreamStore(f"sqlite:///{tmp_path / 'dreams.db'}") as opened:
        yield opened
