"""Persistence: Peewee tables, migrations, the DreamStore and the run lock."""

__all__ = ["DreamStore"]


def __getattr__(name: str):
    # The store pulls in Peewee and its database drivers; load it only when asked for (the run lock,
    # imported at the CLI's start-up, does not need it).
    if name == "DreamStore":
        from dreamcore.store.dream_store import DreamStore

        return DreamStore
    raise AttributeError(f"module 'dreamcore.store' has no attribute {name!r}")
