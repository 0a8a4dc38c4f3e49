"""dreamcore: make code dream.

Mine procedures from codebases, generate variants of them, judge, test and score the variants,
and adapt what to generate next. Everything concrete is a plugin; this package is the small core.
"""

from dreamcore.config import Config
from dreamcore.core import DreamCore
from dreamcore.errors import ConfigError, DreamcoreError, NotFoundError, PluginError, StoreError
from dreamcore.hookspecs import hookimpl
from dreamcore.models import (
    DreamGenerationRun,
    DreamMetrics,
    DreamProcedure,
    DreamStatus,
    DreamTier,
    DreamType,
    Procedure,
    RejectedDraft,
    TestOutcome,
)

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "DreamCore",
    "DreamGenerationRun",
    "DreamMetrics",
    "DreamProcedure",
    "DreamStatus",
    "DreamStore",
    "DreamTier",
    "DreamType",
    "DreamcoreError",
    "NotFoundError",
    "PluginError",
    "Procedure",
    "RejectedDraft",
    "StoreError",
    "TestOutcome",
    "__version__",
    "hookimpl",
]


def __getattr__(name: str):
    # The store pulls in Peewee and its database drivers; load it only when asked for.
    if name == "DreamStore":
        from dreamcore.store.dream_store import DreamStore

        return DreamStore
    raise AttributeError(f"module 'dreamcore' has no attribute {name!r}")
