"""Progress of a cycle: a live display on a terminal (rich), plain lines otherwise."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

_log = logging.getLogger("dreamcore.run")


class Progress:
    """Plain-text progress: a line when a stage starts, every tenth of the way, and at its end."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._totals: dict[str, int] = {}
        self._done: dict[str, int] = {}

    def start(self, stage: str, total: int) -> None:
        """A stage begins with ``total`` items of work."""
        self._totals[stage], self._done[stage] = total, 0
        self.note(f"{stage}: {total} to do")

    def advance(self, stage: str, amount: int = 1) -> None:
        """``amount`` more items of a stage are done."""
        before = self._done[stage]
        self._done[stage] = after = before + amount
        total = self._totals[stage]
        if total and (after * 10 // total) > (before * 10 // total) and after < total:
            self.note(f"{stage}: {after}/{total}")

    def finish(self, stage: str, message: str) -> None:
        """A stage ended; ``message`` says what it did."""
        self.note(f"{stage}: {message}")

    def note(self, message: str) -> None:
        """A line for the person watching (and for the run log)."""
        _log_line(message)
        print(message, file=self.stream, flush=True)

    def close(self) -> None:
        """Stop any live display."""


class RichProgress(Progress):
    """A live progress bar per stage on a terminal."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bars

        self._bars = Bars(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=Console(stderr=True), transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._bars.start()

    def start(self, stage: str, total: int) -> None:
        self._tasks[stage] = self._bars.add_task(stage, total=total or None)

    def advance(self, stage: str, amount: int = 1) -> None:
        self._bars.advance(self._tasks[stage], amount)

    def finish(self, stage: str, message: str) -> None:
        task = self._tasks.get(stage)
        if task is not None:
            self._bars.update(task, completed=self._bars.tasks[task].total or 0)
        _log_line(f"{stage}: {message}")
        self._bars.console.print(f"{stage}: {message}")

    def note(self, message: str) -> None:
        _log_line(message)
        self._bars.console.print(message)

    def close(self) -> None:
        self._bars.stop()


def _log_line(message: str) -> None:
    level = logging.ERROR if message.startswith("error:") else (
        logging.WARNING if message.startswith("warning:") else logging.INFO
    )
    _log.log(level, message)


def for_terminal() -> Progress:
    """RichProgress when stderr is a terminal, plain Progress otherwise."""
    return RichProgress() if sys.stderr.isatty() else Progress()
