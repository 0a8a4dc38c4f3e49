"""Where a cycle's work runs: ``[executor] kind``.

``local`` (the default) runs every stage in the calling process with asyncio, exactly as
:func:`dreamcore.pipeline.run_cycle` always has: no service, no queue. ``procrastinate`` turns a cycle
into jobs kept in the PostgreSQL store and run by ``dreamcore worker`` processes on any machine that
reaches it (``dreamcore.distributed``). It needs the optional extra ``dreamcore[distributed]`` and a
PostgreSQL store; :func:`check_executor` says in one line what is missing.
"""

from __future__ import annotations

from dreamcore.config import Config
from dreamcore.errors import ConfigError

LOCAL = "local"
PROCRASTINATE = "procrastinate"


def is_distributed(config: Config) -> bool:
    """Whether the cycle's work runs as jobs on workers rather than in this process."""
    return config.executor.kind != LOCAL


def check_executor(config: Config) -> None:
    """Raise a one-line ConfigError when the configured executor cannot run here."""
    if not is_distributed(config):
        return
    where = f"{config.source}: executor.kind"
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        raise ConfigError(f"{where}: {PROCRASTINATE} is not installed (pip install 'dreamcore[distributed]')") from None
    if not config.store.url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"{where}: {PROCRASTINATE} keeps its jobs in the store, which must be PostgreSQL "
            f"(store.url is {config.store.url.split('://', 1)[0]}://...)"
        )
