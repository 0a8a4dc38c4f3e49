"""Diffs of dreams: against their base procedure (to read) and against its file (to apply).

``file_patch`` writes a unified diff that ``git apply`` accepts: the dream's code re-indented to
where its base sits in the file, paths relative to the repository root, and the "no newline at
end of file" marker where the file has none.
"""

from __future__ import annotations

import difflib
import subprocess
import textwrap
from pathlib import Path

from dreamcore.errors import DreamcoreError
from dreamcore.models import DreamProcedure, Procedure, dream_ref


class ExportError(DreamcoreError):
    """A dream cannot be exported as a patch (no file, file changed, unreadable)."""


def dream_diff(base: str, dream: str, base_name: str, dream_name: str) -> str:
    """Unified diff from a base procedure's source to a dream's code."""
    lines = difflib.unified_diff(
        base.splitlines(keepends=True), dream.splitlines(keepends=True), f"{base_name} (base)", dream_name
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def repository_root(path: Path) -> Path | None:
    """The git work tree holding ``path``, or None."""
    try:
        done = subprocess.run(
            ["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


def file_patch(dream: DreamProcedure, base: Procedure, root: Path | None = None) -> str:
    """A unified diff replacing ``base`` in its source file by ``dream``'s code.

    Paths are relative to ``root`` (default: the file's git work tree, else its folder).
    """
    where = dream_ref(dream.id)
    if not base.file_path or base.line_start is None or base.line_end is None:
        raise ExportError(f"{where}: its base {base.qualname} has no source file and lines to patch")
    path = Path(base.file_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{where}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    lines = text.splitlines(keepends=True)
    if "".join(lines[base.line_start - 1 : base.line_end]) != base.source:
        raise ExportError(
            f"{where}: {path}:{base.line_start}: the file changed since {base.qualname} was mined "
            "(run `dreamcore run --stages mine` and dream again)"
        )
    first = base.source.lstrip("\n")
    indent = first[: len(first) - len(first.lstrip())]
    replacement = textwrap.indent(dream.code.rstrip("\n") + "\n", indent)
    if base.line_end == len(lines) and not lines[-1].endswith("\n"):
        replacement = replacement.rstrip("\n")  # the file ends without a newline: so does the patched one
    new_lines = [*lines[: base.line_start - 1], *replacement.splitlines(keepends=True), *lines[base.line_end :]]
    root = root or repository_root(path) or path.parent
    try:
        name = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ExportError(f"{where}: {path} is not under {root}") from None
    return "".join(_with_eof_markers(difflib.unified_diff(lines, new_lines, f"a/{name}", f"b/{name}")))


def _with_eof_markers(diff_lines) -> list[str]:
    out = []
    for line in diff_lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return out
