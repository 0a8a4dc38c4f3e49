"""Claude Code: the Stop hook with real-shaped payloads and transcripts, and settings.json merging.

The hook runs as a real subprocess (as Claude Code starts it) or in-process where a test feeds stdin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamcore import DreamCore
from dreamcore.cli.root import App, cli
from dreamcore.evaluation import claude_code
from dreamcore.evaluation.commands import register_commands
from dreamcore.models import DreamStatus
from dreamcore.plugin_manager import Plugins
from tests.factories import dream, procedure

DREAMCORE = shutil.which("dreamcore", path=str(Path(sys.executable).parent))
SESSION = "8a1f2c3d-0000-4000-8000-000000000001"


def _line(kind: str, content, **extra) -> str:
    message = {"role": kind, "content": content}
    if kind == "assistant":
        message.update(model="claude-sonnet-4-6", id="msg_01", type="message", stop_reason=None)
    return json.dumps(
        {
            "parentUuid": None,
            "isSidechain": False,
            "userType": "external",
            "cwd": "/work/app",
            "sessionId": SESSION,
            "version": "2.1.3",
            "type": kind,
            "message": message,
            "uuid": "u-1",
            "timestamp": "2026-11-25T17:00:00.000Z",
            **extra,
        }
    )


def _transcript(path: Path, reply_parts: list[str], *, partial: bool = True) -> Path:
    lines = [
        _line("user", "judge the old dreams: D-1"),
        _line("assistant", [{"type": "text", "text": "An old reply about D-1: Viability 0.1"}]),
        _line("user", "now judge the pending dreams please"),
        _line(
            "assistant",
            [
                {"type": "thinking", "thinking": "let me look", "signature": "x"},
                {
                    "type": "tool_use",
                    "id": "t1",
                    "name": "Bash",
                    "input": {"command": "dreamcore evaluate --prompt"},
                },
            ],
        ),
        _line("user", [{"type": "tool_result", "tool_use_id": "t1", "content": '<dream id="D-2">...'}]),
        *(_line("assistant", [{"type": "text", "text": part}]) for part in reply_parts),
        json.dumps({"type": "system", "subtype": "stop_hook_summary", "content": "", "level": "info"}),
    ]
    text = "\n".join(lines) + "\n"
    if partial:
        text += _line("assistant", [{"type": "text", "text": "half D-3: Viability 0.9"}])[:-12]
    path.write_text(text)
    return path


def _payload(transcript: Path, last: str | None = None) -> str:
    payload = {
        "session_id": SESSION,
        "transcript_path": str(transcript),
        "cwd": "/work/app",
        "permission_mode": "default",
        "hook_event_name": "Stop",
        "stop_hook_active": False,
    }
    if last is not None:
        payload["last_assistant_message"] = last
    return json.dumps(payload)


def test_reply_from_last_assistant_message_first(tmp_path):
    transcript = _transcript(tmp_path / "t.jsonl", ["from the transcript"])
    assert (
        claude_code.reply_text(json.loads(_payload(transcript, "D-2: Viability 0.8"))) == "D-2: Viability 0.8"
    )


def test_reply_from_the_transcript_spans_lines_and_skips_a_partial_last_line(tmp_path):
    transcript = _transcript(
        tmp_path / "t.jsonl", ["Here you go:", '[{"id": "D-2", "viability_score": 0.8}]']
    )
    text = claude_code.reply_text(json.loads(_payload(transcript)))
    assert text == 'Here you go:\n\n[{"id": "D-2", "viability_score": 0.8}]'
    assert "old reply" not in text and "half" not in text


@pytest.mark.parametrize(
    "payload", [None, [], {"transcript_path": 3}, {"transcript_path": "/nowhere.jsonl"}, {}]
)
def test_odd_payloads_give_no_text(payload):
    assert claude_code.reply_text(payload) == ""


def test_names_a_dream():
    assert claude_code.names_a_dream("Dream 12: Viability 0.85") and claude_code.names_a_dream(
        '{"id": "D-3"}'
    )
    assert not claude_code.names_a_dream("I refactored the billing module and ran the tests.")


# -- the hook command ----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    config = tmp_path / "dreams.toml"
    config.write_text('[store]\nurl = "sqlite:///dreams.db"\n')
    with DreamCore(config) as core:
        base = core.store.upsert_procedure(procedure(qualname="charge"))
        ids = [core.store.store_dream(dream(base, n)) for n in range(3)]
    return config, ids


def _hook(config: Path, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DREAMCORE, "--config", str(config), "hook", "claude-code"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hook_returns_fast_when_the_reply_holds_no_evaluations(project, tmp_path):
    config, _ = project
    transcript = _transcript(tmp_path / "t.jsonl", ["I refactored the module; all tests pass."])
    started = time.monotonic()
    done = _hook(config, _payload(transcript))
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    assert time.monotonic() - started < 3
    assert not (tmp_path / ".dreamcore" / "claude-code-hook.log").exists()  # nothing to do, nothing logged


@pytest.mark.parametrize("stdin", ["", "not json", "[1, 2]"])
def test_hook_always_exits_0_on_bad_input(project, stdin):
    assert _hook(project[0], stdin).returncode == 0


def test_hook_logs_a_problem_and_still_exits_0(tmp_path):
    (tmp_path / "blocker").write_text("a file where the database folder should be")
    config = tmp_path / "dreams.toml"
    config.write_text('[store]\nurl = "sqlite:///blocker/dreams.db"\n')
    done = _hook(config, _payload(tmp_path / "none.jsonl", "D-1: Viability 0.9, Tier 1. Good."))
    assert done.returncode == 0 and "error" in done.stderr
    log = (tmp_path / ".dreamcore" / "claude-code-hook.log").read_text()
    assert f"session {SESSION}: error:" in log
    broken = tmp_path / "broken.toml"
    broken.write_text("[store\n")
    assert _hook(broken, _payload(tmp_path / "none.jsonl", "D-1: Viability 0.9")).returncode == 0


def _in_process(config: Path, args: list[str], stdin: str = "") -> tuple[int, str]:
    """The CLI in this process, with ``stdin`` as its input."""
    plugins = Plugins()
    register_commands(cli)
    result = CliRunner().invoke(
        cli, ["--config", str(config), *args], input=stdin, obj=App(config, plugins), standalone_mode=False
    )
    assert result.exception is None, result.exception
    return result.return_value, result.output


def test_hook_applies_the_evaluations_of_the_last_reply(project, tmp_path):
    config, ids = project
    reply = [
        "Evaluations:",
        json.dumps(
            [
                {"id": f"D-{ids[0]}", "viability_score": 0.85, "tier": 1, "reasoning": "clean"},
                {"id": f"Dream {ids[1]}", "viability_score": 0.2, "tier": 3, "reasoning": "breaks callers"},
                {"id": "D-999", "viability_score": 0.5, "tier": 2, "reasoning": "?"},
            ]
        ),
    ]
    transcript = _transcript(tmp_path / "t.jsonl", reply)
    code, output = _in_process(config, ["hook", "claude-code"], _payload(transcript))
    assert code == 0 and "2 dream evaluations applied" in output
    with DreamCore(config) as core:
        first, second, third = (core.store.get_dream(i) for i in ids)
    assert first.status == DreamStatus.EVALUATED and first.claude_reasoning == "[claude-code] clean"
    assert second.tier == 3 and third.status == DreamStatus.PENDING_EVALUATION
    log = (tmp_path / ".dreamcore" / "claude-code-hook.log").read_text()
    assert f"applied 2 (D-{ids[0]} tier 1, D-{ids[1]} tier 3), unchanged 0, unmatched 1" in log
    code, _ = _in_process(config, ["hook", "claude-code"], _payload(transcript))  # the same reply again
    assert (
        code == 0
        and "applied 0 (-), unchanged 2, unmatched 1"
        in (tmp_path / ".dreamcore" / "claude-code-hook.log").read_text()
    )


# -- settings.json -----------------------------------------------------------------------------


OTHER = {
    "permissions": {"allow": ["Bash(npm test)"]},
    "hooks": {
        "PostToolUse": [{"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "ruff format"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
}


def test_install_merges_without_clobbering_and_is_idempotent(tmp_path):
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(OTHER))
    command = claude_code.hook_command(tmp_path / "dreams.toml")
    assert claude_code.install(settings, command) is True
    assert claude_code.install(settings, command) is False
    merged = json.loads(settings.read_text())
    assert (
        merged["permissions"] == OTHER["permissions"]
        and merged["hooks"]["PostToolUse"] == OTHER["hooks"]["PostToolUse"]
    )
    assert merged["hooks"]["Stop"] == [
        OTHER["hooks"]["Stop"][0],
        {"hooks": [{"type": "command", "command": command, "timeout": 60}]},
    ]
    assert command.endswith(f"--config {tmp_path / 'dreams.toml'} hook claude-code")
    moved = claude_code.hook_command(tmp_path / "elsewhere" / "dreams.toml")
    assert claude_code.install(settings, moved) is True  # a new config path replaces ours, not adds one
    assert [h["command"] for g in json.loads(settings.read_text())["hooks"]["Stop"] for h in g["hooks"]] == [
        "notify-send done",
        moved,
    ]
    assert claude_code.uninstall(settings) == 1 and claude_code.uninstall(settings) == 0
    assert json.loads(settings.read_text()) == OTHER


def test_uninstall_drops_what_only_we_added(tmp_path):
    settings = tmp_path / "settings.json"
    claude_code.install(settings, claude_code.hook_command(tmp_path / "dreams.toml"))
    assert claude_code.uninstall(settings) == 1
    assert json.loads(settings.read_text()) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{broken", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"hooks": []}', "'hooks' is not an object"),
        ('{"hooks": {"Stop": {}}}', "'hooks.Stop' is not a list"),
    ],
)
def test_a_settings_file_we_cannot_read_is_left_alone(tmp_path, text, message):
    settings = tmp_path / "settings.json"
    settings.write_text(text)
    with pytest.raises(Exception, match=message):
        claude_code.install(settings, "dreamcore hook claude-code")
    assert settings.read_text() == text


def test_hook_install_and_uninstall_commands(tmp_path):
    config = tmp_path / "dreams.toml"
    config.write_text("")
    args = ["--config", str(config), "hook"]
    done = subprocess.run(
        [DREAMCORE, *args, "install", "--project-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "installed: Stop hook in" in done.stdout
    settings = tmp_path / ".claude" / "settings.json"
    hook = json.loads(settings.read_text())["hooks"]["Stop"][0]["hooks"][0]
    assert hook["command"] == f"{DREAMCORE} --config {config} hook claude-code"
    again = subprocess.run(
        [DREAMCORE, *args, "install", "--project-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert "already installed" in again.stdout
    done = subprocess.run(
        [DREAMCORE, *args, "uninstall", "--project-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "removed 1" in done.stdout and json.loads(settings.read_text()) == {}
    home = tmp_path / "home"
    done = subprocess.run(
        [DREAMCORE, *args, "install", "--user"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    assert (
        done.returncode == 0 and json.loads((home / ".claude" / "settings.json").read_text())["hooks"]["Stop"]
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.binary(max_size=200)
        | st.sampled_from(
            [
                _line("assistant", [{"type": "text", "text": "D-1"}]).encode(),
                _line("user", "hi").encode(),
                b'{"type": "assistant"}',
            ]
        ),
        max_size=8,
    )
)
def test_any_transcript_gives_text_and_never_raises(tmp_path, lines):
    transcript = tmp_path / "any.jsonl"
    transcript.write_bytes(b"\n".join(lines))
    assert isinstance(claude_code.last_reply(transcript), str)


_HOOK = st.fixed_dictionaries({"type": st.just("command"), "command": st.text(max_size=30)})
_SETTINGS = st.dictionaries(
    st.sampled_from(["permissions", "model", "env"]), st.text(max_size=10), max_size=2
).flatmap(
    lambda other: st.dictionaries(
        st.sampled_from(["Stop", "PreToolUse", "SubagentStop"]),
        st.lists(st.fixed_dictionaries({"hooks": st.lists(_HOOK, max_size=3)}), max_size=3),
        max_size=3,
    ).map(lambda hooks: {**other, "hooks": hooks} if hooks else other)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_SETTINGS)
def test_install_then_uninstall_gives_back_any_settings(tmp_path, original):
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(original))
    command = claude_code.hook_command(tmp_path / "dreams.toml")
    assert claude_code.install(settings_file, command)
    installed = json.loads(settings_file.read_text())
    assert installed["hooks"]["Stop"][-1] == {
        "hooks": [{"type": "command", "command": command, "timeout": 60}]
    }
    assert claude_code.uninstall(settings_file) == 1
    assert json.loads(settings_file.read_text()) == _without_empty_stop(original)


def _without_empty_stop(settings: dict) -> dict:
    """The same settings, an empty Stop list (no hook at all) and then an empty hooks table left out."""
    hooks = {event: groups for event, groups in settings.get("hooks", {}).items() if groups or event != "Stop"}
    rest = {key: value for key, value in settings.items() if key != "hooks"}
    return {**rest, "hooks": hooks} if hooks else rest
