"""Using dreams: `dreamcore export --patch` (checked with git apply) and `dreamcore adopt`."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

from dreamcore import DreamCore
from dreamcore.cli.root import main
from dreamcore.models import DreamProcedure

ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path):
    """A git repository holding a copy of examples/billing and a dreams.toml over it, dreamt once."""
    shutil.copytree(ROOT / "examples/billing", tmp_path / "billing")
    (tmp_path / "dreams.toml").write_text(
        '[store]\nurl = "sqlite:///dreams.db"\n[cycle]\nseed = 5\n'
        '[[sources]]\nproject = "billing"\npaths = ["billing"]\n'
        '[plugins.sandbox-stage]\nenabled = false\n'  # the sandbox stage has tests of its own
    )
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "billing")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    assert main(["--config", str(tmp_path / "dreams.toml"), "run", "--strategy", "light"]) == 0
    return tmp_path


def _dreams(repo: Path) -> list[DreamProcedure]:
    with DreamCore(repo / "dreams.toml") as core:
        return core.store.find_dreams(limit=None)


def _apply(repo: Path, dream: DreamProcedure, capsys) -> str:
    patch = repo / "dream.patch"
    assert main(["--config", str(repo / "dreams.toml"), "export", f"D-{dream.id}", "--patch", "--out", str(patch)]) == 0
    capsys.readouterr()
    done = git(repo, "apply", "--check", str(patch))
    assert done.returncode == 0, done.stderr
    assert git(repo, "apply", str(patch)).returncode == 0
    return patch.read_text()


def test_patches_of_functions_and_methods_apply_and_give_the_dreams_code(repo, capsys):
    dreams = _dreams(repo)
    with DreamCore(repo / "dreams.toml") as core:
        bases = {d.id: core.store.get_procedure(d.base_procedure_id) for d in dreams}
    method = next(d for d in dreams if "." in bases[d.id].qualname)
    function = next(d for d in dreams if "." not in bases[d.id].qualname and bases[d.id].file_path != bases[method.id].file_path)
    for dream in (method, function):
        patch = _apply(repo, dream, capsys)
        base = bases[dream.id]
        relative = Path(base.file_path).relative_to(repo).as_posix()
        assert patch.startswith(f"--- a/{relative}\n+++ b/{relative}\n")
        patched = Path(base.file_path).read_text()
        ast.parse(patched)  # still a valid module
        body = patched.splitlines()[base.line_start - 1 :]
        indent = " " * (len(base.source) - len(base.source.lstrip(" ")))
        expected = [indent + line if line else line for line in dream.code.rstrip("\n").splitlines()]
        assert body[: len(expected)] == expected
        assert git(repo, "checkout", "--", ".").returncode == 0


def test_a_file_without_a_final_newline_still_patches(tmp_path, capsys):
    (tmp_path / "pkg").mkdir()
    module = tmp_path / "pkg/scaling.py"
    module.write_text("def scale(x, factor=2):\n    return x * factor")
    (tmp_path / "dreams.toml").write_text(
        '[store]\nurl = "sqlite:///dreams.db"\n[[sources]]\nproject = "p"\npaths = ["pkg"]\n'
    )
    git(tmp_path, "init", "-q")
    assert main(["--config", str(tmp_path / "dreams.toml"), "run", "--strategy", "light"]) == 0
    dream = _dreams(tmp_path)[0]
    patch = _apply(tmp_path, dream, capsys)
    assert "\\ No newline at end of file" in patch
    assert module.read_text() == dream.code.rstrip("\n")


def test_a_file_changed_since_mining_is_refused_and_left_alone(repo, capsys):
    dream = _dreams(repo)[0]
    with DreamCore(repo / "dreams.toml") as core:
        base = core.store.get_procedure(dream.base_procedure_id)
    path = Path(base.file_path)
    lines = path.read_text().splitlines(keepends=True)
    lines[base.line_start - 1] = lines[base.line_start - 1].replace("def ", "def  ", 1)
    path.write_text("".join(lines))
    before = path.read_text()
    assert main(["--config", str(repo / "dreams.toml"), "export", str(dream.id), "--patch"]) == 2
    err = capsys.readouterr().err.strip()
    assert "the file changed since" in err and len(err.splitlines()) == 1
    assert path.read_text() == before


def test_a_base_without_a_file_cannot_be_patched(tmp_path, capsys):
    source = tmp_path / "procs.jsonl"
    source.write_text('{"module": "m", "qualname": "f", "source": "def f(x, step=2):\\n    return x + step\\n"}\n')
    (tmp_path / "dreams.toml").write_text(
        f'[store]\nurl = "sqlite:///dreams.db"\n[[sources]]\nproject = "p"\nplugin = "jsonl"\npaths = ["{source}"]\n'
    )
    config = str(tmp_path / "dreams.toml")
    assert main(["--config", config, "run", "--strategy", "light"]) == 0
    dream = _dreams(tmp_path)[0]
    capsys.readouterr()
    assert main(["--config", config, "export", f"D-{dream.id}"]) == 0
    assert capsys.readouterr().out == dream.code
    assert main(["--config", config, "export", f"D-{dream.id}", "--patch"]) == 2
    assert "has no source file" in capsys.readouterr().err


def test_adopt_records_once_and_rejects_bad_ids(repo, capsys):
    config = str(repo / "dreams.toml")
    dream = _dreams(repo)[0]
    assert main(["--config", config, "adopt", f"D-{dream.id}", "--note", "merged"]) == 0
    assert main(["--config", config, "adopt", str(dream.id)]) == 0
    out = capsys.readouterr().out
    assert f"D-{dream.id} adopted" in out and "already adopted" in out
    with DreamCore(config) as core:
        assert core.store.adopted_dream_ids() == {dream.id}
    assert main(["--config", config, "adopt", "D-999999"]) == 2
    assert main(["--config", config, "adopt", "yesterday's"]) == 2
    err = capsys.readouterr().err
    assert "no dream with id 999999" in err and "not a dream id" in err
