"""The subprocess sandbox: what it isolates here, its limits, caps, and its configuration."""

from __future__ import annotations

import resource

import pytest
from dreamcore_plugins.sandboxes.subprocess_sandbox import SubprocessSandbox
from sandbox_support import run_jobs

from dreamcore import DreamCore
from dreamcore.errors import ConfigError
from dreamcore.sandbox.comparison import judge
from dreamcore.sandbox.host import TestJob

PROBE = """
import os, resource
def f(n):
    limits = [resource.getrlimit(getattr(resource, name))[0]
              for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE")]
    return [dict(os.environ), os.getcwd().startswith("/tmp/dreamcore-sandbox-"), limits, os.getuid()]
"""


def _probe(sandbox):
    job = TestJob(function="f", base_code=PROBE, dream_code="", cases=[{"args": [0], "kwargs": {}}])
    (result,) = run_jobs(sandbox, job)
    assert result.base.calls[0].status == "ok", result.base
    return eval(result.base.calls[0].repr)  # the repr of plain lists, ints and a dict


def test_the_child_has_an_empty_environment_a_temp_folder_and_the_limits(monkeypatch):
    monkeypatch.setenv("DREAMCORE_PROBE_SECRET", "s3cret")
    config = SubprocessSandbox.Config(memory_mb=300, cpu_seconds=7, max_processes=20, max_file_mb=3, max_open_files=33)
    sandbox = SubprocessSandbox(config)
    environment, in_temp, limits, uid = _probe(sandbox)
    assert set(environment) <= {"LC_CTYPE"} and in_temp  # LC_CTYPE: Python's own locale coercion (PEP 538)
    assert limits == [300 << 20, 7, 20, 3 << 20, 33]
    if sandbox.isolation()["user"] == "a uid of its own":
        assert uid >= config.uid_base


def test_isolation_is_reported():
    report = SubprocessSandbox().isolation()
    assert set(report) == {"network", "user", "rlimits"}
    assert not SubprocessSandbox(SubprocessSandbox.Config(isolate_network=False)).isolation()["network"].startswith("own")


def test_the_result_channel_is_capped():
    sandbox = SubprocessSandbox(SubprocessSandbox.Config(output_kb=1))
    job = TestJob(function="f", base_code="def f(n):\n    return 'x' * 150\n", dream_code="",
                  cases=[{"args": [n], "kwargs": {}} for n in range(40)])
    (result,) = run_jobs(sandbox, job)
    assert "cap" in result.base.violation
    assert judge(result, job.cases).test_outcome == "error"


def test_a_case_that_times_out_does_not_hide_the_next_ones():
    dream = "import time\ndef f(n):\n    if n == 1:\n        time.sleep(60)\n    return n\n"
    job = TestJob(function="f", base_code="def f(n):\n    return n\n", dream_code=dream, case_timeout=0.5,
                  cases=[{"args": [n], "kwargs": {}} for n in range(4)])
    (result,) = run_jobs(SubprocessSandbox(), job)
    assert [c.status for c in result.dream.calls] == ["ok", "timeout", "ok", "ok"]
    verdict = judge(result, job.cases)
    assert verdict.failure_category == "timeout" and verdict.equivalence_rate == 0.75


def test_the_job_deadline_stops_everything():
    job = TestJob(function="f", base_code="def f(n):\n    return n\n", case_timeout=1.0, timeout=2.5,
                  dream_code="import time\ndef f(n):\n    time.sleep(60)\n",
                  cases=[{"args": [n], "kwargs": {}} for n in range(20)])
    (result,) = run_jobs(SubprocessSandbox(), job)
    statuses = [c.status for c in result.dream.calls]
    assert statuses.count("timeout") <= 3 and statuses[-1] == "not_run" and len(statuses) == 20


@pytest.mark.parametrize(("key", "value"), [("memory_mb", 0), ("cpu_seconds", -1), ("max_processes", 0)])
def test_limits_must_be_positive(key, value):
    with pytest.raises(ConfigError, match=f"plugins.subprocess.{key}"):
        DreamCore({"plugins": {"subprocess": {key: value}}}).create("sandboxes", "subprocess")


def test_rlimits_of_the_host_are_untouched():
    before = resource.getrlimit(resource.RLIMIT_AS)
    _probe(SubprocessSandbox())
    assert resource.getrlimit(resource.RLIMIT_AS) == before
