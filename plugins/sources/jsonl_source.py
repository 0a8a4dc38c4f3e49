"""Procedure source ``jsonl``: one procedure per line, for procedures coming from other systems.

Each line is a JSON object with at least ``qualname`` and ``source``; optional keys are the other
``Procedure`` fields (``module``, ``signature``, ``docstring``, ``file_path``, ``line_start``,
``line_end``, ``decorators``, ``imports``). ``project`` defaults to the [[sources]] entry's project.
A bad line is reported with its line number and skipped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

from dreamcore import hookimpl
from dreamcore.models import Procedure, SourceProblem

_OPTIONAL = {
    "module": str,
    "signature": str,
    "docstring": str,
    "file_path": str,
    "line_start": int,
    "line_end": int,
    "decorators": list,
    "imports": list,
    "project": str,
}


class JsonlSource:
    """Reads procedures from JSON-lines files."""

    name = "jsonl"

    async def procedures(self, spec, base_dir: Path) -> AsyncIterator[Procedure | SourceProblem]:
        """Yield a Procedure per good line and a SourceProblem per bad one."""
        for path in spec.resolved_paths(base_dir):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                yield SourceProblem(str(path), f"cannot read: {getattr(exc, 'strerror', None) or exc}")
                continue
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    yield _procedure(line, spec.project, str(path), number)


def _procedure(line: str, project: str, path: str, number: int) -> Procedure | SourceProblem:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return SourceProblem(path, f"invalid JSON ({exc.msg})", number)
    if not isinstance(record, dict):
        return SourceProblem(path, "expected a JSON object", number)
    for key in ("qualname", "source"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            return SourceProblem(path, f"missing or empty {key!r}", number)
    fields = {"qualname": record["qualname"], "source": record["source"], "project": project}
    for key, kind in _OPTIONAL.items():
        if record.get(key) is None:
            continue
        if not isinstance(record[key], kind) or isinstance(record[key], bool):
            return SourceProblem(path, f"{key!r} must be {kind.__name__}", number)
        fields[key] = record[key]
    fields.setdefault("module", record["qualname"].rpartition(".")[0])
    return Procedure(**fields)


@hookimpl
def register_sources(register) -> None:
    register(JsonlSource)


