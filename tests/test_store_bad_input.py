"""Bad databases and bad store URLs: one clear line (a DreamcoreError), and nothing lost.

Each case is checked through the library (``DreamStore`` raises a one-line ``StoreError`` or
``ConfigError``) and, where it applies, through the command line: ``dreamcore --config X stats``
run as a subprocess exits 2 with exactly one stderr line starting ``error:`` and no traceback.
Afterwards the database file is unchanged, or its data is intact and usable.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dreamcore import config as config_module
from dreamcore.errors import ConfigError, DreamcoreError, StoreError
from dreamcore.models import DreamStatus
from dreamcore.store.dream_store import DreamStore
from tests.factories import dream, procedure

DREAMCORE = Path(sys.executable).with_name("dreamcore")
TINY_WAIT = 0.05  # busy_timeout in seconds for the lock tests


# -- helpers ----------------------------------------------------------------------------------
def write_config(
    folder: Path, url: str, *, busy_timeout: float | None = None, name: str = "dreams.toml"
) -> Path:
    lines = ["[store]", f"url = {json.dumps(url)}"]
    if busy_timeout is not None:
        lines.append(f"busy_timeout = {busy_timeout}")
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(config: Path | str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [
        str(DREAMCORE) if DREAMCORE.exists() else shutil.which("dreamcore"),
        "--config",
        str(config),
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DREAMCORE_", "PG"))}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def assert_cli_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2, exactly one stderr line starting with ``error:``, no traceback; returns the line."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_one_line(exc: pytest.ExceptionInfo, *fragments: str) -> str:
    message = str(exc.value)
    assert isinstance(exc.value, DreamcoreError)
    assert message and "\n" not in message and "Traceback" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fill(url: str, count: int = 5) -> list[int]:
    with DreamStore(url) as store:
        base_id = store.upsert_procedure(procedure())
        return store.store_dreams_batch([dream(base_id, n) for n in range(count)])


def snapshot(url: str) -> list[tuple]:
    with DreamStore(url) as store:
        return [(d.id, d.status, d.code, d.generated_description) for d in store.find_dreams(limit=None)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a file that is not an SQLite database ----------------------------------------------------
def _text(path: Path) -> None:
    path.write_text("these are my notes, not a database\n" * 200, encoding="utf-8")


def _random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(1234).randbytes(64 * 1024))


def _tiny(path: Path) -> None:
    path.write_bytes(b"abc")


def _truncated_database(path: Path) -> None:
    url = f"sqlite:///{path}"
    with DreamStore(url) as store:
        base_id = store.upsert_procedure(procedure())
        store.store_dreams_batch([dream(base_id, n, code="x = 1\n" * 40 + f"# {n}") for n in range(400)])
        store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        side.unlink(missing_ok=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPT = {
    "text": _text,
    "random-bytes": _random_bytes,
    "three-bytes": _tiny,
    "truncated": _truncated_database,
}


@pytest.mark.parametrize("make", CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_file_is_a_clear_error_and_left_unchanged(tmp_path, make):
    path = tmp_path / "dreams.db"
    make(path)
    before = digest(path)
    with pytest.raises(StoreError) as exc, DreamStore(f"sqlite:///{path}") as store:
        store.get_statistics()
    assert_one_line(exc, "not a readable SQLite database", str(path))
    assert digest(path) == before


@pytest.mark.parametrize("make", CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_file_through_the_cli(tmp_path, make):
    path = tmp_path / "dreams.db"
    make(path)
    before = digest(path)
    config = write_config(tmp_path, "sqlite:///dreams.db")
    assert_cli_error(run_cli(config, "stats", cwd=tmp_path), "not a readable SQLite database")
    assert digest(path) == before


# -- unreachable PostgreSQL -------------------------------------------------------------------
PASSWORDS = {
    "plain": ("hunter2-S3cret", ["hunter2-S3cret"]),
    "url-encoded": ("p%40ss%3Aw0rd%21", ["p%40ss%3Aw0rd%21", "p@ss:w0rd!"]),
}


@pytest.mark.parametrize("password, forbidden", PASSWORDS.values(), ids=PASSWORDS.keys())
def test_unreachable_postgres_is_a_clear_error_without_the_password(password, forbidden):
    port = free_port()  # nothing listens here
    url = f"postgresql://dreamer:{password}@127.0.0.1:{port}/dreams"
    started = time.monotonic()
    with pytest.raises(StoreError) as exc:
        DreamStore(url, busy_timeout=1)
    assert time.monotonic() - started < 30
    message = assert_one_line(exc, "cannot connect", f"127.0.0.1:{port}")
    for secret in forbidden:
        assert secret not in message
        assert secret not in repr(exc.value)


def test_malformed_postgres_url_does_not_show_the_password():
    with pytest.raises(StoreError) as exc:
        DreamStore("postgresql://dreamer:hunter2-S3cret@127.0.0.1:notaport/dreams", busy_timeout=1)
    message = assert_one_line(exc, "cannot open")
    assert "hunter2" not in message


@pytest.mark.parametrize("password, forbidden", PASSWORDS.values(), ids=PASSWORDS.keys())
def test_unreachable_postgres_through_the_cli(tmp_path, password, forbidden):
    port = free_port()
    config = write_config(
        tmp_path, f"postgresql://dreamer:{password}@127.0.0.1:{port}/dreams", busy_timeout=1
    )
    result = run_cli(config, "stats", cwd=tmp_path)
    line = assert_cli_error(result, "cannot connect", f"127.0.0.1:{port}")
    for secret in forbidden:
        assert secret not in result.stderr + result.stdout, line


# -- a locked SQLite database -----------------------------------------------------------------
def _holder(path: Path, *, readers_too: bool = False) -> sqlite3.Connection:
    """Another connection holding an EXCLUSIVE lock (with ``readers_too``, one that blocks readers)."""
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    if readers_too:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute(
        "UPDATE dream_procedures SET reasoning = 'uncommitted' WHERE id = (SELECT MIN(id) FROM dream_procedures)"
    )
    return holder


def test_locked_database_writes_fail_fast_then_work_after_release(tmp_path):
    path = tmp_path / "dreams.db"
    url = f"sqlite:///{path}"
    ids = fill(url)
    before = snapshot(url)
    with DreamStore(url, busy_timeout=TINY_WAIT) as store:
        base_id = store.get_dream(ids[0]).base_procedure_id
        holder = _holder(path)
        try:
            for attempt in (
                lambda: store.store_dream(dream(base_id, 99)),
                lambda: store.claim_dreams(DreamStatus.PENDING_EVALUATION, "w1"),
                lambda: store.transition(ids[0], DreamStatus.PENDING_EVALUATION, DreamStatus.EVALUATED),
                lambda: DreamStore(url, busy_timeout=TINY_WAIT),  # opening migrates under the write lock
            ):
                started = time.monotonic()
                with pytest.raises(StoreError) as exc:
                    attempt()
                assert time.monotonic() - started < 5, "the tiny busy_timeout was not honoured"
                assert_one_line(exc, "is locked by another process", f"waited {TINY_WAIT:g} s", str(path))
            # WAL readers are not blocked by a writer's lock
            assert store.get_dream(ids[0]).reasoning == "scale the increment"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert snapshot(url) == before  # the failed writes left nothing behind
        new_id = store.store_dream(dream(base_id, 99))
        claimed = store.claim_dreams(DreamStatus.PENDING_EVALUATION, "w1", limit=100)
        assert {d.id for d in claimed} == {*ids, new_id}
    assert set(before) <= set(snapshot(url))


def test_database_locked_against_readers_too(tmp_path):
    path = tmp_path / "dreams.db"
    url = f"sqlite:///{path}"
    fill(url)
    before = snapshot(url)
    holder = _holder(path, readers_too=True)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError) as exc:
            DreamStore(url, busy_timeout=TINY_WAIT)
        assert time.monotonic() - started < 5
        assert_one_line(exc, "is locked by another process", f"waited {TINY_WAIT:g} s")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert snapshot(url) == before
    with DreamStore(url, busy_timeout=TINY_WAIT) as store:
        assert store.get_statistics()["total_dreams"] == len(before)


def test_locked_database_through_the_cli(tmp_path):
    path = tmp_path / "dreams.db"
    url = f"sqlite:///{path}"
    ids = fill(url)
    before = snapshot(url)
    config = write_config(tmp_path, "sqlite:///dreams.db", busy_timeout=TINY_WAIT)
    holder = _holder(path)
    try:
        assert_cli_error(run_cli(config, "stats", cwd=tmp_path), "is locked by another process")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert snapshot(url) == before
    result = run_cli(config, "stats", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^total_dreams\s+{len(ids)}$", result.stdout, re.MULTILINE), result.stdout


# -- an unknown URL scheme --------------------------------------------------------------------
def test_unknown_scheme_in_dreams_toml(tmp_path):
    config = write_config(tmp_path, "sqlit:///x.db")
    expected = "store.url: unknown scheme 'sqlit' (expected sqlite, postgresql)"
    with pytest.raises(ConfigError) as exc:
        config_module.load(config)
    assert str(exc.value) == f"{config}: {expected}"

    line = assert_cli_error(run_cli(config, "stats", cwd=tmp_path))
    assert line == f"error: {config}: {expected}"
    line = assert_cli_error(run_cli("dreams.toml", "stats", cwd=tmp_path))
    assert line == f"error: dreams.toml: {expected}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dreams.toml"]  # no database was created


@pytest.mark.parametrize(
    "url, shown",
    [
        ("sqlit:///x.db", "'sqlit'"),
        ("mysql://root@localhost/dreams", "'mysql'"),
        ("dreams.db", "'dreams.db'"),
    ],
)
def test_unknown_scheme_given_to_the_store(tmp_path, url, shown):
    with pytest.raises(StoreError) as exc:
        DreamStore(url, base_dir=tmp_path)
    assert_one_line(exc, f"unknown scheme {shown} (expected sqlite, postgresql)")
    assert list(tmp_path.iterdir()) == []


# -- invalid enum values written into the database by hand ------------------------------------
BAD_VALUES = {
    "status": ("status", "'dreaming'", "'dreaming'"),
    "tier": ("tier", "9", "9"),
    "test_outcome": ("test_outcome", "'exploded'", "'exploded'"),
}


@pytest.mark.parametrize("column, sql_value, shown", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_invalid_enum_value_is_a_clear_error_and_other_rows_stay_readable(store, column, sql_value, shown):
    base_id = store.upsert_procedure(procedure())
    ids = store.store_dreams_batch([dream(base_id, n) for n in range(4)])
    good_before = [store.get_dream(i) for i in ids if i != ids[1]]
    original = store.db.execute_sql(f"SELECT {column} FROM dream_procedures WHERE id = {ids[1]}").fetchone()[
        0
    ]
    store.db.execute_sql(f"UPDATE dream_procedures SET {column} = {sql_value} WHERE id = {ids[1]}")

    with pytest.raises(StoreError) as exc:
        store.get_dream(ids[1])
    assert_one_line(exc, shown, f"row {ids[1]}")
    for listing in (lambda: store.find_dreams(limit=None), lambda: store.get_by_base_procedure(base_id)):
        with pytest.raises(StoreError) as exc:
            listing()
        assert_one_line(exc, shown)
    assert [store.get_dream(d.id) for d in good_before] == good_before
    if column == "status":
        with pytest.raises(StoreError) as exc:
            store.count_by_status()
        assert_one_line(exc, f"invalid stored status {shown}")
    if column == "tier":
        with pytest.raises(StoreError) as exc:
            store.count_by_tier()
        assert_one_line(exc, f"invalid stored tier {shown}")
    else:
        store.get_by_tier(1)  # the bad row has no tier: tier listings are unaffected

    # nothing was lost: putting the value back makes the row readable again, unchanged
    restored = "NULL" if original is None else f"'{original}'"
    store.db.execute_sql(f"UPDATE dream_procedures SET {column} = {restored} WHERE id = {ids[1]}")
    assert [d.id for d in store.find_dreams(limit=None)] == ids[::-1]
    assert store.get_dream(ids[1]).generated_description == "increment by 3"


def test_text_in_an_integer_column_is_a_clear_error(sqlite_store):
    """SQLite lets a hand edit put text in the tier column; reading it must still be one line."""
    base_id = sqlite_store.upsert_procedure(procedure())
    ids = sqlite_store.store_dreams_batch([dream(base_id, n) for n in range(3)])
    sqlite_store.db.execute_sql(f"UPDATE dream_procedures SET tier = 'high' WHERE id = {ids[0]}")
    with pytest.raises(StoreError) as exc:
        sqlite_store.get_dream(ids[0])
    assert_one_line(exc, "'high'")
    with pytest.raises(StoreError) as exc:
        sqlite_store.count_by_tier()
    assert_one_line(exc, "invalid stored tier 'high'")
    assert sqlite_store.get_dream(ids[1]).id == ids[1]


@pytest.mark.parametrize(
    "column, sql_value, command, shown",
    [
        ("status", "'dreaming'", "stats", "invalid stored status 'dreaming'"),
        ("tier", "9", "stats", "invalid stored tier 9"),
        ("test_outcome", "'exploded'", "journal", "'exploded'"),
        ("status", "'dreaming'", "journal", "'dreaming'"),
    ],
)
def test_invalid_enum_value_through_the_cli(tmp_path, column, sql_value, command, shown):
    path = tmp_path / "dreams.db"
    ids = fill(f"sqlite:///{path}")
    with DreamStore(f"sqlite:///{path}") as store:
        store.db.execute_sql(f"UPDATE dream_procedures SET {column} = {sql_value} WHERE id = {ids[2]}")
    before = digest(path)
    config = write_config(tmp_path, "sqlite:///dreams.db")
    assert_cli_error(run_cli(config, command, cwd=tmp_path), shown)
    result = run_cli(config, "show", f"D-{ids[0]}", cwd=tmp_path)  # another dream is still shown
    assert result.returncode == 0, result.stderr
    assert "increment by 2" in result.stdout
    assert digest(path) == before


# -- a database folder that cannot be created -------------------------------------------------
def test_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be\n", encoding="utf-8")
    before = digest(blocker)
    url = f"sqlite:///{blocker / 'sub' / 'dreams.db'}"
    with pytest.raises(StoreError) as exc:
        DreamStore(url)
    assert_one_line(exc, "cannot open", str(blocker / "sub"))
    assert digest(blocker) == before

    config = write_config(tmp_path, "sqlite:///blocker/sub/dreams.db")
    assert_cli_error(run_cli(config, "stats", cwd=tmp_path), "cannot open")
    assert digest(blocker) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "dreams.toml"]


def test_database_path_that_is_a_folder(tmp_path):
    (tmp_path / "dreams.db").mkdir()
    with pytest.raises(StoreError) as exc:
        DreamStore(f"sqlite:///{tmp_path / 'dreams.db'}")
    assert_one_line(exc, "cannot open")
    config = write_config(tmp_path, "sqlite:///dreams.db")
    assert_cli_error(run_cli(config, "stats", cwd=tmp_path), "cannot open")
    assert list((tmp_path / "dreams.db").iterdir()) == []


def test_folder_the_system_refuses_even_to_root(tmp_path):
    """Nobody, root included, may create folders in /proc."""
    target = Path(f"/proc/dreamcore-test-{os.getpid()}/sub/dreams.db")
    with pytest.raises(StoreError) as exc:
        DreamStore(f"sqlite:///{target}")
    assert_one_line(exc, "cannot open")
    config = write_config(tmp_path, f"sqlite:///{target}")
    assert_cli_error(run_cli(config, "stats", cwd=tmp_path), "cannot open", "/proc/dreamcore-test")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dreams.toml"]
