"""The Docker sandbox with real containers: hardening, the warm pool, timeouts, clean-up and errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import attrs
import pytest
from dreamcore_plugins.sandboxes.docker_sandbox import LABEL, DockerSandbox
from sandbox_support import BASE, IMAGE, docker_config, labelled_containers, run_jobs

from dreamcore.sandbox.comparison import judge
from dreamcore.sandbox.host import SandboxError, TestJob

CASES = [{"args": [n], "kwargs": {}} for n in range(5)]


@pytest.fixture
def config():
    return docker_config()


def _client():
    import docker

    return docker.from_env()


def test_containers_are_hardened(config):
    async def inspect():
        async with DockerSandbox(config) as sandbox:
            container = await sandbox.lease()
            container.reload()
            attributes = container.attrs
            await sandbox.release(container, True)
            return attributes

    attributes = asyncio.run(inspect())
    host = attributes["HostConfig"]
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["ReadonlyRootfs"] is True
    assert host["Memory"] == host["MemorySwap"] == config.memory_mb << 20
    assert host["PidsLimit"] == config.pids and host["NanoCpus"] == int(config.cpus * 1e9)
    assert host["Tmpfs"]["/tmp"].startswith(f"size={config.tmpfs_mb}m")
    assert attributes["Config"]["User"] == "65534:65534"
    assert attributes["Config"]["Labels"][LABEL] == "1"
    assert labelled_containers() == []


def test_code_runs_as_nobody_without_network_or_writable_root(config):
    probe = textwrap.dedent("""
        import os, socket
        def f(n):
            try:
                open("/usr/owned", "w")
                writable = True
            except OSError:
                writable = False
            return [os.getuid(), writable, sorted(name for _, name in socket.if_nameindex())]
    """)
    (result,) = run_jobs(DockerSandbox(config), TestJob(function="f", base_code=probe, dream_code="", cases=CASES[:1]))
    assert result.base.calls[0].repr == "[65534, False, ['lo']]"


def test_the_warm_pool_reuses_containers_and_leaves_nothing_behind(config):
    created = []

    class Counting(DockerSandbox):
        def _create(self):
            container = super()._create()
            created.append(container.id)
            return container

    jobs = [TestJob(function="f", base_code=BASE, dream_code="def f(n):\n    return n + n\n", cases=CASES)] * 4
    results = run_jobs(Counting(attrs.evolve(config, pool_size=1)), *jobs)
    assert all(judge(r, CASES).test_outcome == "success" for r in results)
    assert len(created) == 1
    assert labelled_containers() == []


def test_a_warm_container_removed_from_outside_is_replaced(config):
    job = TestJob(function="f", base_code=BASE, dream_code="def f(n):\n    return n + n\n", cases=CASES)

    async def go():
        async with DockerSandbox(attrs.evolve(config, pool_size=1)) as sandbox:
            first = await sandbox.run(job)
            for container_id in labelled_containers():
                _client().containers.get(container_id).remove(force=True)
            return first, await sandbox.run(job)

    results = asyncio.run(go())
    assert [judge(r, CASES).test_outcome for r in results] == ["success", "success"]
    assert labelled_containers() == []


def test_cold_mode_starts_a_container_per_side(config):
    job = TestJob(function="f", base_code=BASE, dream_code="def f(n):\n    return n * 3\n", cases=CASES)
    (result,) = run_jobs(DockerSandbox(attrs.evolve(config, pool_size=0)), job)
    assert judge(result, CASES).failure_category == "divergence"
    assert labelled_containers() == []


def test_files_left_by_a_side_do_not_reach_the_next(config):
    writer = "def f(n):\n    open('/tmp/left.txt', 'w').write('x')\n    return n * 2\n"
    reader = "import os\ndef f(n):\n    return n * 2 + os.path.exists('/tmp/left.txt')\n"
    jobs = [TestJob(function="f", base_code=BASE, dream_code=code, cases=CASES) for code in (writer, reader)]
    results = run_jobs(DockerSandbox(attrs.evolve(config, pool_size=1)), *jobs)
    assert [judge(r, CASES).test_outcome for r in results] == ["success", "success"]


def test_a_cancelled_run_removes_its_containers(config):
    job = TestJob(function="f", base_code=BASE, dream_code="import time\ndef f(n):\n    time.sleep(600)\n",
                  cases=CASES, case_timeout=300, timeout=600)

    async def cancel_midway():
        async def run():
            async with DockerSandbox(config) as sandbox:
                await sandbox.run(job)

        task = asyncio.create_task(run())
        await asyncio.sleep(3)
        assert labelled_containers()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    assert labelled_containers() == []


SCRIPT = """
import asyncio, sys
from dreamcore.sandbox.host import TestJob
from dreamcore_plugins.sandboxes.docker_sandbox import DockerSandbox
config = DockerSandbox.Config(image=sys.argv[1], pull=False, pool_size=1)
job = TestJob(function="f", base_code="def f(n):\\n    return n\\n", cases=[{"args": [1], "kwargs": {}}],
              dream_code="import time\\ndef f(n):\\n    time.sleep(600)\\n", case_timeout=300, timeout=600)

async def main():
    sandbox = DockerSandbox(config)
    if sys.argv[2] == "atexit":
        await sandbox.__aenter__()
        await sandbox.lease()
        print("ready", flush=True)
        return
    async with sandbox:
        await sandbox.lease()
        print("ready", flush=True)
        await sandbox.run(job)

asyncio.run(main())
"""


def _owned_by(pid: int) -> list[str]:
    return [c.id for c in _client().containers.list(all=True, filters={"label": f"{LABEL}.owner={os.uname().nodename}:{pid}"})]


@pytest.mark.parametrize("how", ["sigint", "atexit", "sigkill"])
def test_interrupted_dreamcore_leaves_no_container(config, how):
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, IMAGE, how], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    if how == "sigint":
        time.sleep(1)
        process.send_signal(signal.SIGINT)
    elif how == "sigkill":
        assert _owned_by(process.pid)
        process.kill()
    process.wait(timeout=60)
    if how == "sigkill":  # nothing could run in the killed process: the next sandbox reaps its containers
        assert _owned_by(process.pid)
        run_jobs(DockerSandbox(config))
    assert _owned_by(process.pid) == []


def test_leftovers_of_live_owners_are_kept(config):
    container = _client().containers.create(IMAGE, ["sleep", "60"], labels={LABEL: "1", f"{LABEL}.owner": "other-host:1"})
    try:
        run_jobs(DockerSandbox(config))
        assert _client().containers.get(container.id)  # another machine's container is not ours to reap
    finally:
        container.remove(force=True)


def test_unreachable_docker_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxError, match="^docker sandbox: Docker is not reachable") as caught:
        run_jobs(DockerSandbox())
    assert "\n" not in str(caught.value)


def test_a_missing_image_is_never_pulled_with_pull_false(config):
    missing = attrs.evolve(config, image="dreamcore-sandbox:does-not-exist")
    with pytest.raises(SandboxError, match="is not present and pull = false"):
        run_jobs(DockerSandbox(missing))


def test_the_gvisor_runtime_when_docker_has_it(config):
    if "runsc" not in _client().info().get("Runtimes", {}):
        reason = Path("/var/lib/dreamcore-ci/gvisor-unavailable")  # written by .ci/setup when it gives up
        if os.environ.get("CI") and not reason.exists():
            pytest.fail("Docker has no runsc runtime and .ci/setup recorded no reason for it")
        pytest.skip(reason.read_text().strip() if reason.exists() else "this Docker daemon has no runsc runtime")
    # gVisor sometimes stalls a call for ~5 s on this machine: a case timeout well above that
    job = TestJob(function="f", base_code=BASE, dream_code="def f(n):\n    return n << 1\n", cases=CASES,
                  case_timeout=15.0)
    results = run_jobs(DockerSandbox(attrs.evolve(config, runtime="runsc", pool_size=1)), job, job, job)
    assert [judge(result, CASES).test_outcome for result in results] == ["success"] * 3
    assert labelled_containers() == []
