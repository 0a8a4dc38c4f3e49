"""Sandbox ``subprocess``: the harness in a limited child process on this machine (the default).

Each side of a job runs as ``python -I`` with an empty environment in a fresh temporary folder,
in its own session (process group), under rlimits on address space, CPU time, processes, file
size and open files. Where the machine allows it the child also gets its own, empty network
namespace, and when dreamcore runs as root it drops to a uid of its own (so the process limit
holds, host files of other users are out of reach, and every process it left behind is killed by
uid). :meth:`SubprocessSandbox.isolation` says which of these are in effect. It is weaker than the
Docker sandbox: see docs/sandbox.md.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.config import documented
from dreamcore.sandbox.host import HARNESS_SOURCE, HarnessSandbox, positive

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
UID_SLOTS = 16


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare failed")


class _Child:
    """A started harness process: killed by process group (and by uid when it has its own)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stdout = process.stdout

    async def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    async def wait(self) -> int | None:
        return await self.process.wait()


class SubprocessSandbox(HarnessSandbox):
    """Runs each side of a job in a child process with rlimits, an empty environment and a temp folder."""

    name = "subprocess"

    @attrs.define(kw_only=True)
    class Config:
        """[plugins.subprocess]: the subprocess sandbox's limits."""

        python: str = attrs.field(default="", metadata=documented("interpreter to run; empty = the one running dreamcore"))
        memory_mb: int = attrs.field(default=512, validator=positive, metadata=documented("address-space limit, MiB"))
        cpu_seconds: int = attrs.field(default=30, validator=positive, metadata=documented("CPU-time limit per process"))
        max_processes: int = attrs.field(
            default=64, validator=positive, metadata=documented("process/thread limit (enforced for a uid of its own)")
        )
        max_file_mb: int = attrs.field(default=16, validator=positive, metadata=documented("largest file it may write, MiB"))
        max_open_files: int = attrs.field(default=64, validator=positive, metadata=documented("open file descriptors"))
        output_kb: int = attrs.field(default=1024, validator=positive, metadata=documented("result channel cap, KiB"))
        isolate_network: bool = attrs.field(
            default=True, metadata=documented("give the child an empty network namespace when the machine allows it")
        )
        drop_privileges: bool = attrs.field(
            default=True, metadata=documented("when run as root, run the child under a uid of its own")
        )
        uid_base: int = attrs.field(default=61000, validator=positive, metadata=documented("first uid used when dropping"))

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self.output_limit = self.config.output_kb * 1024
        self.as_root = os.geteuid() == 0 and self.config.drop_privileges
        self.python = self.config.python or _interpreter(self.as_root)
        offset = (os.getpid() % 250) * UID_SLOTS
        self._free_uids = [self.config.uid_base + offset + k for k in range(UID_SLOTS)] if self.as_root else []
        self._network_flags = self._probe_network() if self.config.isolate_network else 0

    def isolation(self) -> dict[str, Any]:
        """What this machine lets the sandbox do: network namespace, own uid, rlimits."""
        return {
            "network": "own empty namespace" if self._network_flags else "shared with the host",
            "user": "a uid of its own" if self.as_root else "the same user as dreamcore",
            "rlimits": ["AS", "CPU", "NPROC" if self.as_root else "NPROC (not enforced for this user)",
                        "FSIZE", "NOFILE"],
        }

    def _probe_network(self) -> int:
        flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
        try:
            subprocess.run(["true"], preexec_fn=lambda: _unshare(flags), check=True, timeout=10)
        except (subprocess.SubprocessError, OSError):
            return 0
        return flags

    def _limits(self, uid: int | None):
        config, network = self.config, self._network_flags
        memory = config.memory_mb * 1024 * 1024

        def apply() -> None:
            if network:
                _unshare(network)
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CPU, (config.cpu_seconds, config.cpu_seconds))
            resource.setrlimit(resource.RLIMIT_NPROC, (config.max_processes, config.max_processes))
            resource.setrlimit(resource.RLIMIT_FSIZE, (config.max_file_mb << 20, config.max_file_mb << 20))
            resource.setrlimit(resource.RLIMIT_NOFILE, (config.max_open_files, config.max_open_files))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)

        return apply

    async def lease(self) -> dict[str, Any]:
        workdir = tempfile.mkdtemp(prefix=f"dreamcore-sandbox-{os.getpid()}-")  # the pid: whose leftovers
        uid = None
        if self.as_root:
            while not self._free_uids:
                await asyncio.sleep(0.01)
            uid = self._free_uids.pop()
            os.chown(workdir, uid, uid)
        return {"workdir": workdir, "uid": uid}

    async def release(self, slot: dict[str, Any], clean: bool) -> None:
        if slot["uid"] is not None:
            await asyncio.to_thread(_kill_every_process_of, slot["uid"])
            self._free_uids.append(slot["uid"])
        shutil.rmtree(slot["workdir"], ignore_errors=True)

    async def start(self, payload: bytes, slot: dict[str, Any]) -> _Child:
        process = await asyncio.create_subprocess_exec(
            self.python, "-I", "-c", HARNESS_SOURCE,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            cwd=slot["workdir"], env={}, start_new_session=True, preexec_fn=self._limits(slot["uid"]),
        )
        try:
            process.stdin.write(payload)
            await process.stdin.drain()
            process.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _Child(process)


def _interpreter(for_other_user: bool) -> str:
    """The running interpreter, or (for a uid of its own) the first Python 3 every user may run."""
    candidates = [os.path.realpath(getattr(sys, "_base_executable", sys.executable))]
    if for_other_user:
        candidates.append(shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "")
        candidates = [c for c in candidates if c and _everyone_may_run(c)]
    return candidates[0] if candidates else "python3"


def _everyone_may_run(path: str) -> bool:
    folder = os.path.dirname(path)
    while folder not in ("/", ""):
        if not os.stat(folder).st_mode & 0o001:
            return False
        folder = os.path.dirname(folder)
    return bool(os.stat(path).st_mode & 0o001)


def _kill_every_process_of(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (those that left the process group too)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


@hookimpl
def register_sandboxes(register) -> None:
    register(SubprocessSandbox)
