"""Helpers shared by the sandbox tests: the Docker image, leftovers on the host, running a job."""

from __future__ import annotations

import asyncio
import glob
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
IMAGE = os.environ.get("DREAMCORE_TEST_IMAGE", "dreamcore-sandbox:bookworm")
BASE = "def f(n: int):\n    return n * 2\n"


def docker_config():
    """The Docker sandbox's Config for tests: the local image, never pulled; fails under CI when unusable."""
    from dreamcore_plugins.sandboxes.docker_sandbox import DockerSandbox

    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.images.get(IMAGE)
    except Exception as exc:  # noqa: BLE001 - any reason Docker is unusable
        message = f"Docker or the image {IMAGE} is not available: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return DockerSandbox.Config(image=IMAGE, pull=False, pool_size=1)


def labelled_containers() -> list[str]:
    import docker

    return [c.id for c in docker.from_env().containers.list(all=True, filters={"label": "dreamcore.sandbox"})
            if c.labels.get("dreamcore.sandbox.owner", "").endswith(f":{os.getpid()}")]


def sandbox_processes(uid_low: int = 61000, uid_high: int = 65000) -> list[int]:
    """Processes on the host running under a sandbox uid."""
    found = []
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(status) as file:
                uid = next(int(line.split()[1]) for line in file if line.startswith("Uid:"))
        except (OSError, StopIteration, ValueError):
            continue
        if uid_low <= uid < uid_high:
            found.append(int(status.split("/")[2]))
    return found


def run_jobs(sandbox, *jobs):
    """Run jobs one after the other in one sandbox; their SandboxResults."""

    async def go():
        async with sandbox:
            return [await sandbox.run(job) for job in jobs]

    return asyncio.run(go())
