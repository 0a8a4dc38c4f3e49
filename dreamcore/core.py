"""``DreamCore``: the object an application holds — config, plugins and store together."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dreamcore import config as config_module
from dreamcore.config import Config
from dreamcore.errors import ConfigError, DreamcoreError
from dreamcore.executor import LOCAL, is_distributed
from dreamcore.models import DreamGenerationRun, DreamProcedure, utcnow
from dreamcore.plugin_manager import KINDS, Plugins

if TYPE_CHECKING:
    from dreamcore.pipeline import Cycle
    from dreamcore.store.dream_store import DreamStore


class DreamCore:
    """dreamcore embedded in an application.

    ``config`` is a path to a dreams.toml, a dict shaped like one, a ``Config``, or None for
    $DREAMCORE_CONFIG / ./dreams.toml. ``plugins`` are plugin objects (modules, classes or
    instances with hookimpls) registered before the config's plugin tables are checked. Plugins
    from entry points load unless ``load_entry_points=False``; ``plugin_manager`` passes an already
    loaded set. More plugins can be added later with :meth:`register_plugin`.
    """

    def __init__(
        self,
        config: Config | dict[str, Any] | str | os.PathLike | None = None,
        *,
        plugins: Iterable[Any] = (),
        load_entry_points: bool = True,
        plugin_manager: Plugins | None = None,
    ) -> None:
        self.config = _as_config(config)
        self.plugins = plugin_manager or Plugins(self.config.disabled_plugins(), load_entry_points=load_entry_points)
        for plugin in plugins:
            self.plugins.register(plugin)
        self._store: DreamStore | None = None
        self.check_config()

    def register_plugin(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object (module, class or instance with hookimpls) at runtime."""
        name = self.plugins.register(plugin, name)
        self.check_config()
        return name

    @property
    def store(self) -> DreamStore:
        """The store named in ``[store]``, opened (and migrated) on first use."""
        if self._store is None:
            from dreamcore.store.dream_store import DreamStore

            self._store = DreamStore.from_config(self.config)
        return self._store

    def close(self) -> None:
        """Close the store's connection."""
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> DreamCore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def store_dreams(self, dreams: list[DreamProcedure]) -> list[int]:
        """Store dreams (duplicates are no-ops) and fire ``dream_stored`` for each new one."""
        ids = self.store.store_dreams_batch(dreams)
        for dream, dream_id in zip(dreams, ids):
            if dream_id in ids.new:
                dream.id = dream_id
                self.plugins.call("dream_stored", dream=dream, store=self.store)
        return list(ids)

    def finish_run(self, run: DreamGenerationRun, status: str = "finished") -> None:
        """Record a generation run as ended and fire ``cycle_finished``."""
        run.status = status
        run.finished_at = utcnow()
        run.id = self.store.record_generation_run(run)
        self.plugins.call("cycle_finished", run=run, store=self.store, core=self)

    async def run_cycle(
        self,
        *,
        strategy: str | None = None,
        stages: Iterable[str] | None = None,
        limit: int | None = None,
        only: str | None = None,
        dry_run: bool = False,
        progress: Any = None,
        detach: bool = False,
    ) -> Cycle:
        """Run (or resume) a cycle through the registered stages (or those named); returns the ``Cycle``.

        ``only`` dreams over one procedure (its qualified name); ``limit`` over at most N. Another
        ``[executor] kind`` than ``local`` hands the cycle to that executor: with ``procrastinate`` the
        stages after mining run as jobs on ``dreamcore worker`` processes, followed here until the run
        ends (``detach``: returned as soon as it is enqueued)."""
        if is_distributed(self.config) and not dry_run:  # a dry run stores nothing: it runs here
            executor = self.create("executors", self.config.executor.kind)
            return await executor.run_cycle(self, detach=detach, strategy=strategy, stages=stages, limit=limit,
                                            only=only)
        if detach:
            raise ConfigError('detach needs [executor] kind = "procrastinate" (dreamcore worker runs the cycle)')
        from dreamcore.pipeline import run_cycle

        return await run_cycle(
            self, strategy=strategy, stages=stages, limit=limit, only=only, dry_run=dry_run, progress=progress
        )

    async def generate(self, **options: Any) -> Cycle:
        """Mine the sources and dream (stages ``mine`` and ``generate``); options as for run_cycle."""
        return await self.run_cycle(stages=["mine", "generate"], **options)

    async def evaluate(self, **options: Any) -> Cycle:
        """Judge the pending dreams with the configured evaluator (stage ``evaluate``)."""
        return await self.run_cycle(stages=["evaluate"], **options)

    async def test(self, **options: Any) -> Cycle:
        """Test the evaluated dreams of the configured tiers in the sandbox (stage ``test``)."""
        return await self.run_cycle(stages=["test"], **options)

    def run_cycle_sync(self, **options: Any) -> Cycle:
        """``run_cycle`` for code that has no event loop running."""
        return _run_sync(self.run_cycle, options)

    def generate_sync(self, **options: Any) -> Cycle:
        """``generate`` for code that has no event loop running."""
        return _run_sync(self.generate, options)

    def evaluate_sync(self, **options: Any) -> Cycle:
        """``evaluate`` for code that has no event loop running."""
        return _run_sync(self.evaluate, options)

    def test_sync(self, **options: Any) -> Cycle:
        """``test`` for code that has no event loop running."""
        return _run_sync(self.test, options)

    def component_config(self, kind: str, name: str) -> Any:
        """The ``[plugins.<name>]`` table structured into that component's ``Config`` class."""
        registration = self.plugins.get(kind, name)
        return config_module.structure_plugin_config(
            self.config, name, getattr(registration.component, "Config", None)
        )

    def create(self, kind: str, name: str) -> Any:
        """An instance of a registered component, built with its configuration."""
        registration = self.plugins.get(kind, name)
        options = self.component_config(kind, name)
        return registration.component(config=options) if options is not None else registration.component()

    def check_config(self) -> None:
        """The config's plugin references must resolve: each ``[[sources]]`` plugin is a registered
        source, ``[executor] kind`` is local or a registered executor, and each ``[plugins.<name>]``
        table names a plugin or component and fits its Config."""
        executors = [LOCAL, *sorted(self.plugins.components("executors"))]
        if self.config.executor.kind not in executors:
            raise ConfigError(f"{self.config.source}: executor.kind: unknown executor "
                              f"{self.config.executor.kind!r} (expected {', '.join(executors)})")
        sources = self.plugins.components("sources")
        for index, source in enumerate(self.config.sources):
            if source.plugin not in sources:
                known = ", ".join(sorted(sources)) or "none"
                raise ConfigError(
                    f"{self.config.source}: sources[{index}].plugin: unknown procedure source "
                    f"{source.plugin!r} (known: {known})"
                )
        components = {name: kind for kind in KINDS for name in self.plugins.components(kind)}
        plugin_names = {entry.name for entry in self.plugins.entry_points()}
        plugin_names |= {name for name, _ in self.plugins.pm.list_name_plugin()}
        for name in self.config.plugins:
            if name in components:
                self.component_config(components[name], name)
            elif name not in plugin_names:
                known = ", ".join(sorted(plugin_names | set(components))) or "none"
                raise ConfigError(f"{self.config.source}: plugins.{name}: unknown plugin {name!r} (known: {known})")


def _run_sync(method: Any, options: dict[str, Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(method(**options))
    raise DreamcoreError(
        f"{method.__name__}_sync() was called inside a running event loop: use `await core.{method.__name__}()`"
    )


def _as_config(config: Config | dict[str, Any] | str | os.PathLike | None) -> Config:
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return config_module.parse(config, source="<dict>")
    return config_module.load(Path(config) if config is not None else None)
