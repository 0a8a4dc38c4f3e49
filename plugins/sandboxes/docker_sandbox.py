"""Sandbox ``docker``: the harness in hardened containers, kept warm in a pool.

Every container runs with no network, all capabilities dropped, no-new-privileges, a read-only
root, a size-limited tmpfs on /tmp, memory (= memory + swap), pids and CPU limits, as a non-root
user, under the configured runtime (runc, or gVisor's runsc). It carries the label
``dreamcore.sandbox`` and its owner (``host:pid``); containers whose owner process is gone are
removed when a sandbox starts, and a sandbox removes its own on exit, cancellation, Ctrl-C and
interpreter exit. With ``pool_size > 0`` long-lived containers are reused: each side of a job is a
fresh ``python -I`` started with ``docker exec``, and afterwards every process of the sandbox user
is killed and /tmp emptied. ``pool_size = 0`` starts a new container for every side (cold).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.config import InvalidValue, documented
from dreamcore.sandbox.host import HARNESS_SOURCE, HarnessSandbox, SandboxError, positive

LABEL = "dreamcore.sandbox"
OWNER = f"{os.uname().nodename}:{os.getpid()}"
EXEC_TIMEOUT = 5.0  # seconds a kill or clean-up command may take (then the container is replaced)
# Every process but the container's init and this shell, one by one: gVisor mishandles `kill -1`.
KILL_ALL = 'for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = 1 ] || [ "$p" = $$ ] || kill -9 "$p"; done 2>/dev/null'
CLEANUP = f"{KILL_ALL}; rm -rf /tmp/* /tmp/.[!.]* /dev/shm/* 2>/dev/null; true"


def _not_root(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value.split(":")[0] in ("", "0", "root"):
        raise InvalidValue(attribute.name, f"must be a non-root uid[:gid], got {value!r}")


def _not_negative(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value < 0:
        raise InvalidValue(attribute.name, f"must be >= 0, got {value}")


class _Exec:
    """A harness started with ``docker exec``: stdout demultiplexed into a stream, stderr dropped."""

    def __init__(self, sandbox: DockerSandbox, container: Any, exec_id: str, connection: Any) -> None:
        self.sandbox, self.container, self.exec_id = sandbox, container, exec_id
        self.connection = connection  # the SDK's wrapper: it closes the socket when collected
        self.raw: socket.socket = connection._sock
        self.stdout = asyncio.StreamReader()
        self.pump: asyncio.Task | None = None

    async def connect(self, payload: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.pump = asyncio.ensure_future(asyncio.to_thread(self._pump, loop, payload))

    def _pump(self, loop: asyncio.AbstractEventLoop, payload: bytes) -> None:
        """In a thread: send the job, then pass the harness's stdout frames to the stream."""
        from docker.utils.socket import frames_iter

        try:
            self.raw.sendall(payload)
            self.raw.shutdown(socket.SHUT_WR)
            for stream, data in frames_iter(self.connection, tty=False):
                if stream == 1:
                    loop.call_soon_threadsafe(self.stdout.feed_data, data)
        except (OSError, ValueError):
            pass  # the socket was closed by kill()
        finally:
            loop.call_soon_threadsafe(self.stdout.feed_eof)

    async def _inspect(self) -> dict[str, Any]:
        try:
            return await asyncio.to_thread(self.sandbox.client.api.exec_inspect, self.exec_id)
        except Exception:  # the container is gone: nothing runs there any more
            return {"Running": False, "ExitCode": None}

    async def kill(self) -> None:
        info = await self._inspect()
        if info.get("Running"):
            await self.sandbox._exec_quietly(self.container, f"{KILL_ALL}; true")
        try:
            self.raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self.pump is not None:
            await self.pump
        self.raw.close()

    async def wait(self) -> int | None:
        for _ in range(50):
            info = await self._inspect()
            if not info.get("Running"):
                code = info.get("ExitCode")
                return -(code - 128) if isinstance(code, int) and code > 128 else code
            await asyncio.sleep(0.02)
        return None


class DockerSandbox(HarnessSandbox):
    """Runs each side of a job with ``docker exec`` in a hardened container (warm pool or cold)."""

    name = "docker"

    @attrs.define(kw_only=True)
    class Config:
        """[plugins.docker]: the Docker sandbox's image and limits."""

        image: str = attrs.field(default="python:3.12-slim", metadata=documented("image with python3 on its PATH"))
        pull: bool = attrs.field(default=True, metadata=documented("pull the image when missing; false: never pull"))
        python: str = attrs.field(default="python3", metadata=documented("interpreter inside the image"))
        runtime: str = attrs.field(default="runc", metadata=documented("container runtime: runc, or runsc (gVisor)"))
        pool_size: int = attrs.field(
            default=2, validator=_not_negative, metadata=documented("warm containers kept for reuse; 0 = a new container for every side")
        )
        memory_mb: int = attrs.field(default=256, validator=positive, metadata=documented("memory limit (swap included), MiB"))
        pids: int = attrs.field(default=64, validator=positive, metadata=documented("process/thread limit per container"))
        cpus: float = attrs.field(default=1.0, validator=positive, metadata=documented("CPU quota, in cores"))
        tmpfs_mb: int = attrs.field(default=64, validator=positive, metadata=documented("size of the writable /tmp, MiB"))
        user: str = attrs.field(default="65534:65534", validator=_not_root, metadata=documented("uid:gid the code runs as (never root)"))
        output_kb: int = attrs.field(default=1024, validator=positive, metadata=documented("result channel cap, KiB"))

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self.output_limit = self.config.output_kb * 1024
        self.client: Any = None
        self._idle: asyncio.Queue[Any] = asyncio.Queue()  # warm containers, cleaned
        self._owned: dict[str, Any] = {}

    async def __aenter__(self) -> DockerSandbox:
        self.client = await asyncio.to_thread(self._connect)
        await asyncio.to_thread(reap_leftovers, self.client)
        atexit.register(self._remove_all)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.shield(asyncio.to_thread(self._remove_all))
        atexit.unregister(self._remove_all)

    def _connect(self) -> Any:
        import docker
        from docker.errors import DockerException, ImageNotFound

        try:
            client = docker.from_env(timeout=30)
            client.ping()
        except DockerException as exc:
            raise SandboxError(f"docker sandbox: Docker is not reachable ({_first_line(exc)})") from None
        try:
            client.images.get(self.config.image)
        except ImageNotFound:
            if not self.config.pull:
                raise SandboxError(
                    f"docker sandbox: image {self.config.image!r} is not present and pull = false "
                    "(build or pull it first)"
                ) from None
            try:
                client.images.pull(self.config.image)
            except DockerException as exc:
                raise SandboxError(f"docker sandbox: cannot pull {self.config.image!r}: {_first_line(exc)}") from None
        return client

    def _create(self) -> Any:
        from docker.errors import DockerException

        config = self.config
        memory = f"{config.memory_mb}m"
        try:
            container = self.client.containers.run(
                config.image, ["sleep", "infinity"], detach=True, labels={LABEL: "1", f"{LABEL}.owner": OWNER},
                network_mode="none", cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True,
                tmpfs={"/tmp": f"size={config.tmpfs_mb}m,mode=1777"}, shm_size="1m", mem_limit=memory,
                memswap_limit=memory, pids_limit=config.pids, nano_cpus=int(config.cpus * 1e9), user=config.user,
                runtime=config.runtime, environment={}, working_dir="/tmp", init=False,
            )
        except DockerException as exc:
            raise SandboxError(f"docker sandbox: cannot start a container: {_first_line(exc)}") from None
        self._owned[container.id] = container
        return container

    def _remove(self, container: Any) -> None:
        self._owned.pop(container.id, None)
        try:
            container.remove(force=True)
        except Exception:  # already gone
            pass

    def _remove_all(self) -> None:
        for container in list(self._owned.values()):
            self._remove(container)

    async def lease(self) -> Any:
        while self.config.pool_size > 0 and len(self._owned) >= self.config.pool_size:
            if not self._idle.empty():
                container = self._idle.get_nowait()
                if await asyncio.to_thread(self._running, container):
                    return container
                await asyncio.to_thread(self._remove, container)  # died or removed from outside
                break
            await asyncio.sleep(0.005)
        return await asyncio.to_thread(self._create)

    @staticmethod
    def _running(container: Any) -> bool:
        try:
            container.reload()
        except Exception:
            return False
        return container.status == "running"

    async def release(self, slot: Any, clean: bool) -> None:
        if self.config.pool_size > 0 and await self._exec_quietly(slot, CLEANUP) == 0:
            self._idle.put_nowait(slot)
            return
        await asyncio.to_thread(self._remove, slot)

    async def _exec_quietly(self, container: Any, script: str) -> int | None:
        """Run a shell command as the sandbox user; its exit code, or None if the container is gone
        or the command does not finish within EXEC_TIMEOUT (the caller then replaces the container)."""
        return await asyncio.to_thread(self._exec_blocking, container, script)

    def _exec_blocking(self, container: Any, script: str) -> int | None:
        api = self.client.api
        try:
            exec_id = api.exec_create(container.id, ["sh", "-c", script], user=self.config.user)["Id"]
            connection = api.exec_start(exec_id, socket=True)
        except Exception:
            return None
        raw = connection._sock
        raw.settimeout(EXEC_TIMEOUT)  # the SDK's own exec_run can wait forever on a stuck stream
        try:
            while raw.recv(65536):
                pass
        except OSError:
            return None
        finally:
            raw.close()
        try:
            return api.exec_inspect(exec_id).get("ExitCode")
        except Exception:
            return None

    async def start(self, payload: bytes, slot: Any) -> _Exec:
        from docker.errors import DockerException

        api = self.client.api
        command = [self.config.python, "-I", "-c", HARNESS_SOURCE]
        try:
            exec_id = (await asyncio.to_thread(api.exec_create, slot.id, command, stdin=True,
                                               user=self.config.user, workdir="/tmp"))["Id"]
            connection = await asyncio.to_thread(api.exec_start, exec_id, socket=True)
        except DockerException as exc:
            raise SandboxError(f"docker sandbox: cannot start the harness: {_first_line(exc)}") from None
        process = _Exec(self, slot, exec_id, connection)
        await process.connect(payload)
        return process


def reap_leftovers(client: Any) -> list[str]:
    """Remove labelled containers started on this host by a process that no longer runs."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        host, _, pid = container.labels.get(f"{LABEL}.owner", ":").rpartition(":")
        if host != os.uname().nodename or not pid.isdigit() or _alive(int(pid)):
            continue  # another machine's, or its owner still runs
        container.remove(force=True)
        removed.append(container.id)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


@hookimpl
def register_sandboxes(register) -> None:
    register(DockerSandbox)
