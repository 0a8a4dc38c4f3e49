"""The command line: the root group and its core commands, `mcp` and `schedule`."""
