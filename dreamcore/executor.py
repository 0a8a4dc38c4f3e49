"""Where a cycle's work runs: ``[executor] kind``.

``local`` (the default) runs every stage in the calling process with asyncio
(:func:`dreamcore.pipeline.run_cycle`): no service, no queue. Any other kind names an executor that a
plugin registers (``register_executors``); the built-in one, ``procrastinate``
(:mod:`dreamcore.distributed`), turns a cycle into jobs kept in the PostgreSQL store and run by
``dreamcore worker`` processes on any machine that reaches it.
"""

from __future__ import annotations

from dreamcore.config import Config

LOCAL = "local"


def is_distributed(config: Config) -> bool:
    """Whether the cycle's work runs on a registered executor rather than in this process."""
    return config.executor.kind != LOCAL
