"""Claude Code integration: what a Stop hook receives, the session transcript, and settings.json.

A Stop hook gets one JSON object on stdin: ``session_id``, ``transcript_path``, ``cwd``,
``hook_event_name``, ``stop_hook_active`` and, in recent versions, ``last_assistant_message`` (the
final reply's text). Older versions lack it, so the reply is read from the transcript: a JSONL file
whose ``assistant`` lines carry ``message.content`` blocks (``text``, ``tool_use``, ``thinking``);
one reply may span several lines, and the last line may be half written.

``dreamcore hook install`` merges one Stop hook into ``.claude/settings.json`` (project) or
``~/.claude/settings.json`` (user), leaving every other hook alone; ``uninstall`` removes only it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from dreamcore.errors import DreamcoreError

EVENT = "Stop"
SUBCOMMAND = "hook claude-code"
HOOK_TIMEOUT = 60
TRANSCRIPT_TAIL_BYTES = 8 * 1024 * 1024
# cheap test before any parsing: does the text name a dream at all (D-12, Dream 12, dream_id: 12)?
_NAMES_A_DREAM = re.compile(r"\bd(?:ream)?[\s_-]*(?:id)?[\s:#=-]*\d", re.IGNORECASE)


def names_a_dream(text: str) -> bool:
    """Whether ``text`` could hold dream evaluations (it names a dream id somewhere)."""
    return bool(_NAMES_A_DREAM.search(text))


def reply_text(payload: Any) -> str:
    """The text of Claude's last reply: ``last_assistant_message``, else read from the transcript."""
    if not isinstance(payload, dict):
        return ""
    message = payload.get("last_assistant_message")
    if isinstance(message, str) and message.strip():
        return message
    path = payload.get("transcript_path")
    if isinstance(path, str) and path:
        return last_reply(Path(path).expanduser())
    return ""


def last_reply(transcript: Path) -> str:
    """The text blocks of the assistant lines after the last user prompt in a transcript JSONL, in
    order. Unreadable, partial or foreign lines are skipped; a missing file gives ""."""
    try:
        with transcript.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - TRANSCRIPT_TAIL_BYTES))
            lines = file.read().splitlines()
    except OSError:
        return ""
    if size > TRANSCRIPT_TAIL_BYTES:
        lines = lines[1:]  # the first line of the tail is cut
    texts: list[str] = []
    for raw in reversed(lines):
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("isSidechain"):
            continue
        if entry.get("type") == "user" and _is_prompt(entry):
            break
        if entry.get("type") == "assistant":
            texts[:0] = _texts(entry)
    return "\n\n".join(texts)


def _content(entry: dict[str, Any]) -> Any:
    message = entry.get("message")
    return message.get("content") if isinstance(message, dict) else None


def _texts(entry: dict[str, Any]) -> list[str]:
    content = _content(entry)
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        b["text"]
        for b in content
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    ]


def _is_prompt(entry: dict[str, Any]) -> bool:
    """A user line that is a person's prompt, not a tool result fed back to Claude."""
    content = _content(entry)
    if isinstance(content, list):
        return not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    return isinstance(content, str)


# -- settings.json ------------------------------------------------------------------------------


def settings_path(user: bool, project_dir: Path) -> Path:
    """``~/.claude/settings.json`` (user) or ``<project>/.claude/settings.json``."""
    return (Path.home() if user else project_dir) / ".claude" / "settings.json"


def hook_command(config_path: Path) -> str:
    """The hook's shell command: this dreamcore, with this config, absolute, so any cwd works."""
    beside = Path(sys.executable).parent / "dreamcore"
    executable = str(beside) if beside.exists() else shutil.which("dreamcore") or "dreamcore"
    return f"{shlex.quote(executable)} --config {shlex.quote(str(config_path.resolve()))} {SUBCOMMAND}"


def _is_ours(hook: Any) -> bool:
    command = hook.get("command") if isinstance(hook, dict) else None
    return isinstance(command, str) and "dreamcore" in command and command.rstrip().endswith(SUBCOMMAND)


def install(path: Path, command: str) -> bool:
    """Merge our Stop hook into the settings file at ``path``; False if it was already there as is."""
    settings = _read(path)
    groups = _stop_groups(settings, path)
    ours = {"type": "command", "command": command, "timeout": HOOK_TIMEOUT}
    if any(hook == ours for group in groups for hook in _hooks(group)):
        return False
    _remove_ours(groups)
    groups.append({"hooks": [ours]})
    _write(path, settings)
    return True


def uninstall(path: Path) -> int:
    """Remove our Stop hook (only ours) from the settings file; returns how many were removed."""
    if not path.exists():
        return 0
    settings = _read(path)
    groups = _stop_groups(settings, path)
    removed = _remove_ours(groups)
    if not groups:
        del settings["hooks"][EVENT]
        if not settings["hooks"]:
            del settings["hooks"]
    if removed:
        _write(path, settings)
    return removed


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise DreamcoreError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if not text.strip():
        return {}
    try:
        settings = json.loads(text)
    except ValueError as exc:
        raise DreamcoreError(f"{path}: not valid JSON ({exc}); left unchanged") from None
    if not isinstance(settings, dict):
        raise DreamcoreError(f"{path}: expected a JSON object; left unchanged")
    return settings


def _stop_groups(settings: dict[str, Any], path: Path) -> list[Any]:
    hooks = settings.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise DreamcoreError(f"{path}: 'hooks' is not an object; left unchanged")
    groups = hooks.setdefault(EVENT, [])
    if not isinstance(groups, list):
        raise DreamcoreError(f"{path}: 'hooks.{EVENT}' is not a list; left unchanged")
    return groups


def _hooks(group: Any) -> list[Any]:
    hooks = group.get("hooks") if isinstance(group, dict) else None
    return hooks if isinstance(hooks, list) else []


def _remove_ours(groups: list[Any]) -> int:
    removed = 0
    for group in list(groups):
        hooks = _hooks(group)
        kept = [hook for hook in hooks if not _is_ours(hook)]
        removed += len(hooks) - len(kept)
        if len(kept) != len(hooks):
            if kept:
                group["hooks"] = kept
            else:
                groups.remove(group)
    return removed


def _write(path: Path, settings: dict[str, Any]) -> None:
    """Write the settings atomically (a crash never leaves a half-written file)."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".settings-", delete=False) as file:
            json.dump(settings, file, indent=2)
            file.write("\n")
        if path.exists():
            os.chmod(file.name, path.stat().st_mode & 0o7777)
        os.replace(file.name, path)
    except OSError as exc:
        raise DreamcoreError(f"{path}: cannot write: {exc.strerror}") from None
