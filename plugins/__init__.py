"""dreamcore's built-in plugins, installed as ``dreamcore_plugins``.

Each module is one plugin, registered through its own ``dreamcore`` entry point in pyproject.toml,
exactly as a third-party plugin would be.
"""
