"""The host side of a sandbox run: the job, the harness's frames, and one side's results.

A sandbox plugin only knows how to start the harness (``dreamcore/sandbox/harness.py``) in isolation and
kill it; :class:`HarnessSandbox` does the rest the same way for every plugin: base first, then the
dream, each in its own process, frames read strictly with a per-case and a per-job deadline. A
case that hangs or kills its process is recorded and the side restarts after it, so one bad case
does not hide the others.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from pathlib import Path
from typing import Any, Protocol

import attrs

from dreamcore.config import InvalidValue
from dreamcore.errors import DreamcoreError

HARNESS_SOURCE = (Path(__file__).with_name("harness.py")).read_text(encoding="utf-8")
MAX_RESTARTS = 4  # fresh processes per side after timeouts or crashes, before the rest is skipped
FRAME_HEADER_LIMIT = 200


def positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    """attrs validator for sandbox limits: the value must be > 0."""
    if value <= 0:
        raise InvalidValue(attribute.name, f"must be > 0, got {value}")


class SandboxError(DreamcoreError):
    """A sandbox cannot run at all (Docker unreachable, image missing...): one line, exit code 2."""


@attrs.define(kw_only=True)
class TestJob:
    """What to test: a function of the base code and of the dream, on JSON cases.

    ``files`` (relative path -> text) are written to the sandbox's working folder, which is on
    ``sys.path``; ``module``, when set, is imported first and is the namespace both codes run in.
    """

    __test__ = False  # not a pytest test class

    function: str
    base_code: str
    dream_code: str
    cases: list[dict[str, Any]]
    files: dict[str, str] = attrs.Factory(dict)
    module: str | None = None
    case_timeout: float = 2.0
    timeout: float = 60.0

    def payload(self, role: str, first: int, nonce: str) -> bytes:
        """The JSON the harness reads on stdin for one side, from case ``first`` on."""
        return json.dumps({
            "nonce": nonce, "role": role, "files": self.files, "module": self.module,
            "base_code": self.base_code, "dream_code": self.dream_code, "function": self.function,
            "cases": self.cases[first:], "first": first,
        }).encode()


@attrs.define(kw_only=True)
class CallResult:
    """One call of one side. ``status``: ok, raised, timeout, crashed (the process ended; ``errno``
    holds its exit status, negative for a signal) or not_run (the job's time or restarts ran out)."""

    index: int
    status: str
    repr: str = ""
    hash: str = ""
    error_type: str = ""
    error_message: str = ""
    errno: int | None = None
    duration: float = 0.0


@attrs.define(kw_only=True)
class SideRun:
    """Everything one side reported: a load error, or a result per case; and the host's wall time."""

    role: str
    calls: list[CallResult] = attrs.Factory(list)
    load_error: tuple[str, str] | None = None
    violation: str | None = None
    wall_seconds: float = 0.0
    exit_status: int | None = None


@attrs.define(kw_only=True)
class SandboxResult:
    """What a sandbox returns for a job: the base's side and the dream's side."""

    base: SideRun
    dream: SideRun


class Process(Protocol):
    """A started harness: its result channel (stdout), a hard kill, and its exit status."""

    stdout: asyncio.StreamReader

    async def kill(self) -> None: ...

    async def wait(self) -> int | None: ...


class ProtocolViolation(Exception):
    """The result channel carried something the harness never writes."""


class FrameReader:
    """Reads ``DCF <nonce> <length>\\n<json>`` frames, refusing anything else or too much."""

    def __init__(self, stream: asyncio.StreamReader, nonce: str, limit: int) -> None:
        self.stream, self.header, self.limit, self.read = stream, f"DCF {nonce} ", limit, 0

    async def next(self) -> dict[str, Any] | None:
        """The next frame, or None at the end of the stream."""
        try:
            line = await self.stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise ProtocolViolation("truncated frame header") from None
            return None
        except asyncio.LimitOverrunError:
            raise ProtocolViolation("frame header too long") from None
        text = line.decode("utf-8", "replace")
        if not text.startswith(self.header) or not text[len(self.header):-1].isdigit():
            raise ProtocolViolation(f"not a harness frame: {text[:60]!r}")
        size = int(text[len(self.header):-1])
        self.read += len(line) + size
        if self.read > self.limit:
            raise ProtocolViolation(f"result channel over its {self.limit} byte cap")
        try:
            frame = json.loads(await self.stream.readexactly(size))
        except (asyncio.IncompleteReadError, ValueError):
            raise ProtocolViolation("truncated or invalid frame") from None
        if not isinstance(frame, dict):
            raise ProtocolViolation("frame is not an object")
        return frame


def _call_from_frame(frame: dict[str, Any], index: int) -> CallResult:
    if frame.get("kind") != "case" or frame.get("index") != index:
        raise ProtocolViolation(f"expected the frame of case {index}, got {str(frame)[:80]}")
    duration = frame.get("duration")
    if not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration < 0:
        raise ProtocolViolation(f"case {index}: invalid duration")
    if frame.get("ok") is True:
        return CallResult(index=index, status="ok", repr=str(frame.get("repr", "")), hash=str(frame.get("hash", "")),
                          duration=float(duration))
    errno = frame.get("errno")
    return CallResult(index=index, status="raised", error_type=str(frame.get("error_type", "")),
                      error_message=str(frame.get("error_message", "")), duration=float(duration),
                      errno=errno if isinstance(errno, int) else None)


class HarnessSandbox:
    """Base class of sandboxes that run the harness: subclasses implement :meth:`start`.

    ``run(job)`` is the interface every sandbox offers; ``async with`` sets up and tears down
    whatever the sandbox keeps warm.
    """

    output_limit = 1 << 20
    load_timeout = 15.0

    async def __aenter__(self) -> HarnessSandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def start(self, payload: bytes, slot: Any) -> Process:
        """Start the harness in isolation with ``payload`` on its stdin."""
        raise NotImplementedError

    async def lease(self) -> Any:
        """Where a job runs (a warm container, a uid...); handed back by :meth:`release`."""
        return None

    async def release(self, slot: Any, clean: bool) -> None:
        """Tidy after a job's side: kill what it left running; ``clean`` says it ended well."""

    async def run(self, job: TestJob, base: SideRun | None = None) -> SandboxResult:
        """Run the base, then the dream, on every case of ``job``; a ``base`` already run on the
        same cases (another dream of the same procedure) is reused."""
        deadline = time.monotonic() + job.timeout
        base = base or await self._side(job, "base", deadline)
        dream = await self._side(job, "dream", deadline)
        return SandboxResult(base=base, dream=dream)

    async def _side(self, job: TestJob, role: str, deadline: float) -> SideRun:
        side = SideRun(role=role)
        started = time.monotonic()
        restarts = 0
        while len(side.calls) < len(job.cases) and side.load_error is None and side.violation is None:
            if restarts > MAX_RESTARTS or time.monotonic() >= deadline:
                side.calls += [CallResult(index=i, status="not_run") for i in range(len(side.calls), len(job.cases))]
                break
            restarts += 1
            slot = await self.lease()
            clean = False
            try:
                clean = await self._attempt(job, role, side, deadline, slot)
            finally:
                await self.release(slot, clean)
        side.wall_seconds = time.monotonic() - started
        reported = sum(call.duration for call in side.calls if call.status in ("ok", "raised"))
        if side.violation is None and reported > side.wall_seconds:
            side.violation = "reported durations exceed the host's wall clock"
        return side

    async def _attempt(self, job: TestJob, role: str, side: SideRun, deadline: float, slot: Any) -> bool:
        """One harness process from the first unfinished case; True when it ended cleanly."""
        nonce = secrets.token_hex(16)
        process = await self.start(job.payload(role, len(side.calls), nonce), slot)
        frames = FrameReader(process.stdout, nonce, self.output_limit)
        loaded = finished = False
        try:
            first = await self._frame(frames, min(deadline, time.monotonic() + self.load_timeout))
            if first is None or first.get("kind") not in ("ready", "load_error"):
                side.exit_status = await self._stop(process)
                reason = f"the sandboxed process ended before loading (status {side.exit_status})"
                side.load_error = ("HarnessError", reason)
                return False
            if first["kind"] == "load_error":
                side.load_error = (str(first.get("type", "")), str(first.get("message", "")))
                return True
            loaded = True
            while len(side.calls) < len(job.cases):
                index = len(side.calls)
                frame = await self._frame(frames, min(deadline, time.monotonic() + job.case_timeout))
                if frame is None:
                    side.exit_status = await self._stop(process, grace=1.0)
                    side.calls.append(CallResult(index=index, status="crashed", errno=side.exit_status,
                                                 error_message=f"process ended (status {side.exit_status})"))
                    return False
                side.calls.append(_call_from_frame(frame, index))
            done = await self._frame(frames, min(deadline, time.monotonic() + job.case_timeout))
            if done is None or done.get("kind") != "done":
                raise ProtocolViolation("no done frame after the last case")
            finished = True
            return True
        except TimeoutError:
            if loaded:
                side.calls.append(CallResult(index=len(side.calls), status="timeout", duration=job.case_timeout))
            elif time.monotonic() < deadline:  # else the job's time is up: the rest is not run
                side.load_error = ("TimeoutError", "loading the code took longer than its deadline")
            return False
        except ProtocolViolation as exc:
            side.violation = str(exc)
            return False
        finally:
            await self._stop(process, grace=0.5 if finished else 0.0)  # after "done" it exits by itself

    @staticmethod
    async def _frame(frames: FrameReader, until: float) -> dict[str, Any] | None:
        return await asyncio.wait_for(frames.next(), max(0.0, until - time.monotonic()))

    @staticmethod
    async def _stop(process: Process, grace: float = 0.0) -> int | None:
        """Its exit status: given ``grace`` seconds to end by itself, then killed."""
        if grace:
            try:
                return await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                pass
        await process.kill()
        return await process.wait()
