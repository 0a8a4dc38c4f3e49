"""The nightly run as a cron job, written with python-crontab.

A job runs ``<this interpreter> -m dreamcore --config <absolute dreams.toml> run`` at a fixed time,
after loading an environment file (mode 0600) that holds the secrets the config names — so no
secret is ever written in a crontab line. Jobs are recognised by a comment naming their config, so
installing twice replaces the job and uninstalling removes only ours. ``system=True`` writes a file
in /etc/cron.d (root only) instead of the user's crontab.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from crontab import CronTab

from dreamcore.config import Config
from dreamcore.errors import DreamcoreError

CRON_D = Path("/etc/cron.d")
ENV_FILE = ".dreamcore/cron.env"
CRON_OUTPUT = "cron-output.log"
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class ScheduleError(DreamcoreError):
    """The schedule cannot be installed, read or removed."""


@attrs.frozen
class ScheduledJob:
    """One dreamcore job found in a crontab."""

    where: str
    time: str
    command: str
    next_run: datetime


def parse_time(text: str) -> tuple[int, int]:
    """(hour, minute) from ``HH:MM``."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise ScheduleError(f"--time: expected HH:MM (00:00 to 23:59), got {text!r}")
    return int(match[1]), int(match[2])


def secret_names(config: Config) -> list[str]:
    """Environment variables the config tells dreamcore to read: every ``*_env`` option of the plugin
    tables, and PGPASSWORD for a PostgreSQL store."""
    names: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for inner_key, inner in value.items():
                walk(inner, inner_key)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, key)
        elif key.endswith("_env") and isinstance(value, str) and value:
            names.append(value)

    walk(config.plugins)
    if config.store.url.startswith("postgres"):
        names.append("PGPASSWORD")
    return sorted(set(names))


def write_env_file(config: Config, environ: dict[str, str] | None = None) -> tuple[Path, list[str]]:
    """Write the secrets the config names, as they are set now, to the env file (mode 0600).

    Returns the file and the names that are not set (the nightly run will miss them)."""
    environ = os.environ if environ is None else environ
    path = config.base_dir / ENV_FILE
    names = secret_names(config)
    lines = [f"export {name}={shlex.quote(environ[name])}" for name in names if name in environ]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write("# secrets for the nightly dreamcore run (written by `dreamcore schedule install`)\n")
            file.write("".join(line + "\n" for line in lines))
    except OSError as exc:
        raise ScheduleError(f"{path}: cannot write the environment file: {exc.strerror}") from None
    return path, [name for name in names if name not in environ]


def job_command(config_path: Path, env_file: Path, output: Path, strategy: str | None) -> str:
    """The shell line cron runs: load the env file, run the cycle, append its output to ``output``."""
    run = [sys.executable, "-m", "dreamcore", "--config", str(config_path), "run"]
    if strategy:
        run += ["--strategy", strategy]
    return (
        f"set -a; . {shlex.quote(str(env_file))}; set +a; cd {shlex.quote(str(config_path.parent))} && "
        f"{shlex.join(run)} >> {shlex.quote(str(output))} 2>&1"
    )


def _marker(config_path: Path) -> str:
    return f"dreamcore nightly run: {config_path}"


def _system_file(config_path: Path) -> Path:
    return CRON_D / f"dreamcore-{hashlib.sha256(str(config_path).encode()).hexdigest()[:10]}"


def _user_tab() -> CronTab:
    try:
        return CronTab(user=True)
    except (OSError, ValueError) as exc:
        raise ScheduleError(f"cannot read your crontab (is cron installed?): {exc}") from None


def _write(tab: CronTab, where: str | None = None) -> None:
    try:
        tab.write(where) if where else tab.write()
    except (OSError, ValueError) as exc:
        raise ScheduleError(f"cannot write {where or 'your crontab'}: {exc}") from None


def install(config: Config, config_path: Path, time: str, strategy: str | None, system: bool) -> list[str]:
    """Install (or replace) the nightly job; returns warnings for the user."""
    hour, minute = parse_time(time)
    if strategy is not None and strategy not in config.strategies:
        raise ScheduleError(f"--strategy: unknown strategy {strategy!r} (known: {', '.join(sorted(config.strategies))})")
    env_file, missing = write_env_file(config)
    log_dir = (config.logging.resolved_path(config.base_dir) or config.base_dir / ".dreamcore/logs/x").parent
    log_dir.mkdir(parents=True, exist_ok=True)
    command = job_command(config_path, env_file, log_dir / CRON_OUTPUT, strategy)
    if system:
        if os.geteuid() != 0:
            raise ScheduleError("--system writes to /etc/cron.d and needs root")
        tab = CronTab(tab="", user=False)
        job = tab.new(command=command, comment=_marker(config_path), user="root")
        job.setall(minute, hour)
        _write(tab, str(_system_file(config_path)))
    else:
        tab = _user_tab()
        tab.remove_all(comment=_marker(config_path))
        job = tab.new(command=command, comment=_marker(config_path))
        job.setall(minute, hour)
        _write(tab)
    return [f"{name} is not set now: the nightly run will not have it" for name in missing]


def uninstall(config_path: Path) -> int:
    """Remove this config's jobs from the user's crontab and /etc/cron.d; returns how many."""
    removed = 0
    tab = _user_tab()
    removed += len(list(tab.find_comment(_marker(config_path))))
    if removed:
        tab.remove_all(comment=_marker(config_path))
        _write(tab)
    system_file = _system_file(config_path)
    if system_file.exists():
        try:
            system_file.unlink()
        except OSError as exc:
            raise ScheduleError(f"cannot remove {system_file}: {exc.strerror}") from None
        removed += 1
    return removed


def status(config_path: Path, now: datetime | None = None) -> list[ScheduledJob]:
    """This config's installed jobs, with their next run time (local time)."""
    now = now or datetime.now()
    tabs = [("crontab", _user_tab())]
    system_file = _system_file(config_path)
    if system_file.exists():
        tabs.append((str(system_file), CronTab(tabfile=str(system_file), user=False)))
    jobs = []
    for where, tab in tabs:
        for job in tab.find_comment(_marker(config_path)):
            hour, minute = int(str(job.hour)), int(str(job.minute))
            upcoming = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if upcoming <= now:
                upcoming += timedelta(days=1)
            jobs.append(ScheduledJob(where=where, time=f"{hour:02d}:{minute:02d}", command=job.command,
                                     next_run=upcoming))
    return jobs
