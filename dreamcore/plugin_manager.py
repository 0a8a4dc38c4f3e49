"""The plugin manager: loads the ``dreamcore`` entry points, collects the components they register.

Built-in plugins are entry points of the ``dreamcore`` distribution itself, loaded exactly like
third-party ones. Under pytest (``sys._called_from_test``) only the built-ins load, so plugins
installed on the machine do not leak into tests; tests register their own plugins at runtime.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import sys
from collections.abc import Iterable
from typing import Any

import attrs
import pluggy

from dreamcore import hookspecs
from dreamcore.errors import PluginError

ENTRY_POINT_GROUP = "dreamcore"
OWN_DISTRIBUTION = "dreamcore"


@attrs.frozen
class Kind:
    """A kind of component: the hook that registers it and what its classes must provide."""

    hook: str
    label: str
    methods: tuple[str, ...]
    attributes: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    "sources": Kind("register_sources", "procedure source", ("procedures",)),
    "generators": Kind("register_generators", "dream generator", ("generate",), ("dream_type",)),
    "models": Kind("register_models", "model provider", ("complete",)),
    "evaluators": Kind("register_evaluators", "evaluator", ("evaluate",)),
    "parsers": Kind("register_parsers", "parser", ("parse",)),
    "sandboxes": Kind("register_sandboxes", "sandbox", ("run",)),
    "scorers": Kind("register_scorers", "scorer", ("score",)),
    "stages": Kind("register_stages", "pipeline stage", ("run",), ("order",)),
    "executors": Kind("register_executors", "executor", ("run_cycle",)),
}


@attrs.frozen
class Registration:
    """A component class and the plugin that registered it."""

    component: type
    plugin: str


@attrs.frozen
class PluginInfo:
    """What ``dreamcore plugins`` shows about one plugin."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    enabled: bool


class Plugins:
    """Loads plugins and hands out the components they register, validated and attributed."""

    def __init__(self, disabled: Iterable[str] = (), *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = frozenset(disabled)
        self._distributions: dict[str, importlib.metadata.Distribution | None] = {}
        self._components: dict[str, dict[str, Registration]] = {}
        if load_entry_points:
            for entry_point in self.entry_points():
                if entry_point.name not in self.disabled:
                    self._load(entry_point)
        self._check()

    @staticmethod
    def entry_points() -> list[importlib.metadata.EntryPoint]:
        """The ``dreamcore`` entry points visible here (only dreamcore's own under pytest)."""
        found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if hasattr(sys, "_called_from_test"):
            found = [ep for ep in found if ep.dist is not None and ep.dist.name == OWN_DISTRIBUTION]
        return sorted(found, key=lambda ep: ep.name)

    def _load(self, entry_point: importlib.metadata.EntryPoint) -> None:
        if self.pm.get_plugin(entry_point.name) is not None:
            return
        try:
            module = entry_point.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        self._distributions[entry_point.name] = entry_point.dist
        self._register_checked(module, entry_point.name)

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object at runtime (embedding, tests). Returns its name."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.disabled:
            return name
        if self.pm.is_registered(plugin):  # e.g. an installed plugin also passed to DreamCore(plugins=...)
            return self.pm.get_name(plugin)
        self._distributions.setdefault(name, None)
        self._register_checked(plugin, name)
        self._check()
        self._components.clear()
        return name

    def _register_checked(self, plugin: Any, name: str) -> None:
        if self.pm.get_plugin(name) is not None:
            raise PluginError(f"a plugin named {name!r} is already registered")
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {name!r}: {exc}") from None

    def _check(self) -> None:
        """Fail loudly on a hook name no spec defines (a misspelt hook would otherwise never run)."""
        for name, plugin in self.pm.list_name_plugin():
            unknown = sorted(
                caller.name
                for caller in self.pm.get_hookcallers(plugin) or ()
                if caller.spec is None and any(not impl.optionalhook for impl in caller.get_hookimpls())
            )
            if unknown:
                self.pm.unregister(plugin)
                raise PluginError(f"plugin {name!r}: unknown hook {', '.join(unknown)} (misspelt hook name?)")

    def components(self, kind: str) -> dict[str, Registration]:
        """All components of one kind (e.g. ``"generators"``), by name, in registration order."""
        if kind not in self._components:
            self._components[kind] = self._collect(KINDS[kind])
        return self._components[kind]

    def _collect(self, kind: Kind) -> dict[str, Registration]:
        found: dict[str, Registration] = {}
        caller = getattr(self.pm.hook, kind.hook)
        for impl in caller.get_hookimpls():

            def register(component: type, _plugin: str = impl.plugin_name) -> None:
                name = _validate(component, kind, _plugin)
                if name in found:
                    raise PluginError(
                        f"two plugins register a {kind.label} named {name!r}: "
                        f"{found[name].plugin!r} and {_plugin!r}"
                    )
                found[name] = Registration(component, _plugin)

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed in {kind.hook}: {type(exc).__name__}: {exc}"
                ) from None
        return found

    def get(self, kind: str, name: str) -> Registration:
        """One component by kind and name; a clear error lists the known names."""
        available = self.components(kind)
        if name not in available:
            known = ", ".join(sorted(available)) or "none"
            raise PluginError(f"unknown {KINDS[kind].label} {name!r} (known: {known})")
        return available[name]

    def default_configs(self) -> dict[str, Any]:
        """Each registered component's ``Config`` with its defaults, by component name."""
        return {
            name: registration.component.Config()
            for kind in KINDS
            for name, registration in sorted(self.components(kind).items())
            if getattr(registration.component, "Config", None) is not None
        }

    def info(self, include_disabled: bool = False) -> list[PluginInfo]:
        """Name, distribution, version, implemented hooks and enabled flag of each plugin."""
        rows = []
        for name in sorted(self._distributions):
            plugin = self.pm.get_plugin(name)
            hooks = tuple(sorted(impl.name for impl in self.pm.get_hookcallers(plugin) or ()))
            dist = self._distributions[name]
            rows.append(
                PluginInfo(name, dist.name if dist else None, dist.version if dist else None, hooks, True)
            )
        if include_disabled:
            for entry_point in self.entry_points():
                if entry_point.name in self.disabled:
                    dist = entry_point.dist
                    rows.append(
                        PluginInfo(
                            entry_point.name,
                            dist.name if dist else None,
                            dist.version if dist else None,
                            (),
                            False,
                        )
                    )
        return sorted(rows, key=lambda row: row.name)

    def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Fire a lifecycle hook (keyword arguments only); returns the implementations' results."""
        return getattr(self.pm.hook, hook)(**kwargs)


def _validate(component: Any, kind: Kind, plugin: str) -> str:
    if not inspect.isclass(component):
        raise PluginError(f"plugin {plugin!r} registered {component!r} as a {kind.label}; expected a class")
    name = getattr(component, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"plugin {plugin!r}: {kind.label} {component.__name__} has no string 'name'")
    missing = [m for m in kind.methods if not callable(getattr(component, m, None))]
    missing += [a for a in kind.attributes if not hasattr(component, a)]
    if missing:
        raise PluginError(
            f"plugin {plugin!r}: {kind.label} {name!r} lacks {', '.join(missing)}"
        )
    config_class = getattr(component, "Config", None)
    if config_class is not None and not attrs.has(config_class):
        raise PluginError(f"plugin {plugin!r}: {kind.label} {name!r} has a Config that is not an attrs class")
    return name
