"""The plugin system: entry points, runtime registration, validation, config, every hook exercised."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import attrs
import click
import pytest

from dreamcore import DreamCore, hookimpl
from dreamcore.cli.root import main
from dreamcore.errors import ConfigError, PluginError
from dreamcore.models import DreamGenerationRun
from dreamcore.plugin_manager import Plugins
from tests.factories import dream, procedure


def make_generator(name: str = "reverse", with_config: bool = True):
    class Generator:
        dream_type = "reverse"

        @attrs.define
        class Config:
            variants: int = 3

        def __init__(self, config=None):
            self.config = config

        async def generate(self, procedure, context):
            return []

    Generator.name = name
    if not with_config:
        del Generator.Config
    return Generator


class GeneratorPlugin:
    def __init__(self, *components):
        self.components = components

    @hookimpl
    def register_generators(self, register):
        for component in self.components:
            register(component)


@pytest.fixture
def core(tmp_path):
    return DreamCore({"store": {"url": f"sqlite:///{tmp_path / 'd.db'}"}})


def test_builtin_plugins_load_from_their_own_entry_points():
    plugins = Plugins()
    rows = {info.name: info for info in plugins.info()}
    assert rows["jsonl"].distribution == "dreamcore"
    assert rows["jsonl"].hooks == ("register_sources",)
    assert plugins.components("sources")["jsonl"].plugin == "jsonl"


def test_hook_register_sources(tmp_path):
    import asyncio

    data = tmp_path / "procs.jsonl"
    data.write_text(
        json.dumps({"qualname": "tools.add", "source": "def add(a, b):\n    return a + b\n"})
        + "\nnot json\n"
        + json.dumps({"qualname": "x"})
        + "\n"
    )
    core = DreamCore({"sources": [{"project": "agent", "plugin": "jsonl", "paths": [str(data)]}]})
    source = core.create("sources", "jsonl")

    async def collect():
        return [item async for item in source.procedures(core.config.sources[0], tmp_path)]

    first, bad, missing = asyncio.run(collect())
    assert (first.project, first.module, first.name) == ("agent", "tools", "add")
    assert str(bad) == f"{data}:2: invalid JSON (Expecting value)"
    assert str(missing) == f"{data}:3: missing or empty 'source'"


def test_hook_register_generators(tmp_path):
    core = DreamCore(
        {"plugins": {"reverse": {"variants": 7}}}, plugins=[GeneratorPlugin(make_generator())], load_entry_points=False
    )
    registration = core.plugins.get("generators", "reverse")
    assert registration.plugin == "GeneratorPlugin"
    generator = core.create("generators", "reverse")
    assert generator.config.variants == 7


def test_plugin_config_unknown_key_and_wrong_type_are_rejected():
    plugin = GeneratorPlugin(make_generator())
    core = DreamCore({}, load_entry_points=False)
    core.config.plugins["reverse"] = {"variantz": 2}
    with pytest.raises(ConfigError, match=r"^<dict>: plugins\.reverse\.variantz: unknown key$"):
        core.register_plugin(plugin, name="reverse-plugin")
    with pytest.raises(ConfigError, match=r"plugins\.reverse\.variants: expected an integer, got a string"):
        DreamCore({"plugins": {"reverse": {"variants": "many"}}}, plugins=[plugin], load_entry_points=False)


def test_misspelt_hook_fails_loudly():
    class Misspelt:
        @hookimpl
        def register_generator(self, register):  # missing "s"
            pass

    plugins = Plugins(load_entry_points=False)
    with pytest.raises(PluginError, match=r"plugin 'typo': unknown hook register_generator"):
        plugins.register(Misspelt(), name="typo")
    assert plugins.pm.get_plugin("typo") is None


def test_duplicate_component_names_name_both_plugins():
    plugins = Plugins(load_entry_points=False)
    plugins.register(GeneratorPlugin(make_generator("same")), name="first")
    plugins.register(GeneratorPlugin(make_generator("same")), name="second")
    with pytest.raises(PluginError, match="two plugins register a dream generator named 'same': 'first' and 'second'"):
        plugins.components("generators")


def test_registering_the_same_plugin_object_twice_is_a_no_op():
    plugins = Plugins(load_entry_points=False)
    plugin = GeneratorPlugin()
    assert plugins.register(plugin, name="one") == "one"
    assert plugins.register(plugin) == "one"
    assert [name for name, _ in plugins.pm.list_name_plugin()] == ["one"]


def test_duplicate_plugin_names_are_rejected():
    plugins = Plugins(load_entry_points=False)
    plugins.register(GeneratorPlugin(), name="one")
    with pytest.raises(PluginError, match="a plugin named 'one' is already registered"):
        plugins.register(GeneratorPlugin(), name="one")


@pytest.mark.parametrize(
    ("component", "message"),
    [
        (object(), "expected a class"),
        (type("Nameless", (), {"generate": lambda self: None, "dream_type": "x"}), "has no string 'name'"),
        (type("NoGenerate", (), {"name": "g", "dream_type": "x"}), "lacks generate"),
        (type("NoType", (), {"name": "g", "generate": lambda self: None}), "lacks dream_type"),
        (type("BadConfig", (), {"name": "g", "generate": len, "dream_type": "x", "Config": dict}), "not an attrs"),
    ],
)
def test_invalid_components_are_rejected(component, message):
    plugins = Plugins(load_entry_points=False)
    plugins.register(GeneratorPlugin(component), name="bad")
    with pytest.raises(PluginError, match=message):
        plugins.components("generators")


def test_a_hook_that_raises_is_reported_with_its_plugin():
    class Broken:
        @hookimpl
        def register_scorers(self, register):
            raise RuntimeError("boom")

    plugins = Plugins(load_entry_points=False)
    plugins.register(Broken(), name="broken")
    with pytest.raises(PluginError, match="plugin 'broken' failed in register_scorers: RuntimeError: boom"):
        plugins.components("scorers")


def test_unknown_component_lists_known_ones():
    plugins = Plugins()
    with pytest.raises(PluginError, match=r"unknown procedure source 'pythn' \(known: jsonl"):
        plugins.get("sources", "pythn")


@pytest.mark.parametrize(
    ("kind", "hook", "methods"),
    [
        ("sources", "register_sources", {"procedures": None}),
        ("models", "register_models", {"complete": None}),
        ("evaluators", "register_evaluators", {"evaluate": None}),
        ("parsers", "register_parsers", {"parse": None}),
        ("sandboxes", "register_sandboxes", {"run": None}),
        ("scorers", "register_scorers", {"score": None}),
    ],
)
def test_each_register_hook_collects_its_kind(kind, hook, methods):
    component = type("Thing", (), {"name": f"my-{kind}", **{m: lambda self: None for m in methods}})
    plugin = type("P", (), {hook: hookimpl(lambda self, register: register(component))})()
    plugins = Plugins(load_entry_points=False)
    plugins.register(plugin, name="p")
    assert plugins.components(kind) == {f"my-{kind}": plugins.get(kind, f"my-{kind}")}
    assert plugins.get(kind, f"my-{kind}").component is component


def test_hook_dream_stored(core):
    seen = []

    class Listener:
        @hookimpl
        def dream_stored(self, dream, store):
            seen.append((dream.id, store is core.store))

    core.register_plugin(Listener(), name="listener")
    base = core.store.upsert_procedure(procedure())
    ids = core.store_dreams([dream(base, 1), dream(base, 2)])
    core.store_dreams([dream(base, 1)])  # a duplicate: no event
    assert seen == [(ids[0], True), (ids[1], True)]


def test_hook_cycle_finished(core):
    seen = []

    class Listener:
        @hookimpl
        def cycle_finished(self, run, store):
            seen.append((run.status, run.finished_at is not None, store is core.store))

    core.register_plugin(Listener(), name="listener")
    core.finish_run(DreamGenerationRun(strategy="light"))
    assert seen == [("finished", True, True)]


def test_disabled_plugin_is_not_loaded_but_listed_with_all(tmp_path, capsys):
    path = tmp_path / "dreams.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "d.db"}"\n[plugins.jsonl]\nenabled = false\n')
    core = DreamCore(path)
    assert "jsonl" not in core.plugins.components("sources")
    assert main(["--config", str(path), "plugins", "--json"]) == 0
    assert "jsonl" not in [r["name"] for r in json.loads(capsys.readouterr().out)]
    assert main(["--config", str(path), "plugins", "--all", "--json"]) == 0
    listed = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert (listed["jsonl"]["enabled"], listed["jsonl"]["distribution"]) == (False, "dreamcore")
    assert listed["python"]["enabled"] is True


@pytest.fixture
def installed_third_party_plugin(tmp_path, monkeypatch):
    """A distribution 'dreamcore-hello' with a dreamcore entry point, installed on sys.path."""
    site = tmp_path / "site"
    dist = site / "dreamcore_hello-1.2.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dreamcore-hello\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text("[dreamcore]\nhello = dreamcore_hello\n")
    (site / "dreamcore_hello.py").write_text(
        textwrap.dedent(
            """
            import click
            from dreamcore import hookimpl

            @hookimpl
            def register_commands(cli):
                @cli.command()
                def hello():
                    "Say hello from a plugin."
                    click.echo("hello from a plugin")
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield
    sys.modules.pop("dreamcore_hello", None)


def test_machine_plugins_do_not_leak_into_tests(installed_third_party_plugin):
    assert "hello" not in {info.name for info in Plugins().info()}


def test_third_party_plugin_loads_outside_tests_and_adds_a_command(installed_third_party_plugin, monkeypatch, capsys):
    monkeypatch.delattr(sys, "_called_from_test")
    info = {row.name: row for row in Plugins().info()}
    assert (info["hello"].distribution, info["hello"].version) == ("dreamcore-hello", "1.2")
    assert info["hello"].hooks == ("register_commands",)
    assert main(["hello"]) == 0
    assert capsys.readouterr().out == "hello from a plugin\n"


def test_hook_register_commands():
    received = []

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            received.append(cli)

    plugins = Plugins(load_entry_points=False)
    plugins.register(Commands(), name="commands")
    plugins.call("register_commands", cli=click.Group("x"))
    assert isinstance(received[0], click.Group)


def test_broken_entry_point_is_a_clear_error(tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "dreamcore_broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dreamcore-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[dreamcore]\nbroken = dreamcore_broken_missing\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.delattr(sys, "_called_from_test")
    with pytest.raises(PluginError, match=r"plugin 'broken' \(dreamcore_broken_missing\) failed to load: ModuleNotFound"):
        Plugins()
    assert main(["plugins"]) == 2
