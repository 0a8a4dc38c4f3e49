"""The test phase: differential cases, the sandbox host side and harness, the test stage and `test-dream`."""
