"""The test phase: differential cases, the sandbox host side and harness, the test stage and `test-dream`.

A sandbox plugin runs a ``TestJob`` and returns a ``SandboxResult`` of ``SideRun`` objects; subclassing
``HarnessSandbox`` leaves it only the isolation to provide.
"""

from dreamcore.sandbox.host import HarnessSandbox, SandboxResult, SideRun, TestJob

__all__ = ["HarnessSandbox", "SandboxResult", "SideRun", "TestJob"]
