"""dreamcore: make code dream.

Mine procedures from codebases, generate variants of them, judge, test and score the variants,
and adapt what to generate next. Everything concrete is a plugin; this package is the small core.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from typing import Any

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


# Module paths docs/plugins.md gave plugin authors before the code moved into phase packages: they
# still import (with a DeprecationWarning) and are the very same modules as their new homes.
MOVED_MODULES = {
    "dreamcore.judging": "dreamcore.evaluation.judging",
    "dreamcore.limits": "dreamcore.llm.limits",
    "dreamcore.llm_drafts": "dreamcore.generation.llm_drafts",
    "dreamcore.parsing": "dreamcore.evaluation.parsing",
    "dreamcore.scoring": "dreamcore.learning.scoring",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a moved module's old path as its new module."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        return importlib.util.spec_from_loader(name, self) if name in MOVED_MODULES else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> object:
        warnings.warn(f"{spec.name} moved to {MOVED_MODULES[spec.name]}", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(MOVED_MODULES[spec.name])
        spec.loader_state = module.__spec__  # importing under the old name replaces it: put back below
        return module

    def exec_module(self, module: Any) -> None:
        """The module ran under its new name already; it keeps its own spec."""
        module.__spec__ = module.__spec__.loader_state


sys.meta_path.append(_MovedModules())


def __getattr__(name: str):
    # The store pulls in Peewee and its database drivers; load it only when asked for.
    if name == "DreamStore":
        from dreamcore.store.dream_store import DreamStore

        return DreamStore
    raise AttributeError(f"module 'dreamcore' has no attribute {name!r}")
