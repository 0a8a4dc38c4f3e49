"""Hostile dreams in both sandboxes: each is contained, judged with the right category, and the run goes on.

Every file of tests/hostile/ starts with ``# expect: <category or success>``; ``# subprocess-needs:``
names what the subprocess sandbox needs to contain it (root for a uid of its own, netns for a
network namespace); ``# case-timeout:`` gives a call more than the usual second (a memory bomb
zero-fills half a gigabyte before its limit stops it, which a loaded machine may take longer for). Where this machine lacks it, the subprocess test says so and skips; the
Docker test always runs that program (and must pass) — Docker is what proves containment.
"""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path

import pytest
from dreamcore_plugins.sandboxes.docker_sandbox import DockerSandbox
from dreamcore_plugins.sandboxes.subprocess_sandbox import SubprocessSandbox
from sandbox_support import BASE, docker_config, labelled_containers, run_jobs, sandbox_processes

from dreamcore.sandbox.comparison import judge
from dreamcore.sandbox.host import TestJob

HOSTILE = sorted((Path(__file__).parent / "hostile").glob("*.py"))
SECRET = "hunter2-do-not-leak"
CASES = [{"args": [n], "kwargs": {}} for n in (0, 3, 7)]
WRITTEN = ["/etc/dreamcore-hostile", "/root/.dreamcore-hostile"]


def _header(path: Path, key: str) -> str | None:
    for line in path.read_text().splitlines():
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].strip()
    return None


def _check(sandbox, path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DREAMCORE_HOSTILE_SECRET", SECRET)
    ours = f"/tmp/dreamcore-sandbox-{os.getpid()}-*"  # this process's sandbox folders only
    temps_before = set(glob.glob(ours))
    hostile = TestJob(function="f", base_code=BASE, dream_code=path.read_text(), cases=CASES,
                      case_timeout=float(_header(path, "case-timeout") or 1.0), timeout=30.0)
    honest = TestJob(function="f", base_code=BASE, dream_code="def f(n):\n    return n + n\n", cases=CASES)
    started = time.monotonic()
    hostile_result, honest_result = run_jobs(sandbox, hostile, honest)
    verdict = judge(hostile_result, CASES)
    expected = _header(path, "expect")
    assert (verdict.failure_category or "success") == expected, verdict.test_error
    assert SECRET not in str(verdict.summary())
    assert judge(honest_result, CASES).test_outcome == "success"  # the run goes on
    assert time.monotonic() - started < 60
    assert not [p for p in WRITTEN if os.path.exists(p)]
    assert set(glob.glob(ours)) <= temps_before
    deadline = time.monotonic() + 5
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_processes() == []


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_dream_is_contained_by_docker(path, monkeypatch):
    sandbox = DockerSandbox(docker_config())
    _check(sandbox, path, monkeypatch)
    assert labelled_containers() == []


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_dream_in_the_subprocess_sandbox(path, monkeypatch):
    sandbox = SubprocessSandbox()
    needs = _header(path, "subprocess-needs")
    isolation = sandbox.isolation()
    if needs == "root" and isolation["user"] != "a uid of its own":
        if os.geteuid() == 0:  # as root (CI) the sandbox must give the dream a uid of its own
            pytest.fail(f"running as root, yet the subprocess sandbox has no uid of its own: {isolation}")
        pytest.skip(f"the subprocess sandbox cannot contain {path.stem} without root (no uid of its own)")
    if needs == "netns" and isolation["network"] != "own empty namespace":
        if os.geteuid() == 0:  # as root (CI) the sandbox must give the dream a network namespace of its own
            pytest.fail(f"running as root, yet the subprocess sandbox has no network namespace: {isolation}")
        pytest.skip(f"the subprocess sandbox cannot contain {path.stem}: no network namespace on this machine")
    _check(sandbox, path, monkeypatch)


def test_the_corpus_is_large_enough():
    assert len(HOSTILE) >= 20
    assert all(_header(path, "expect") for path in HOSTILE)
