"""The documentation keeps up with the code: every config key and command is documented."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from dreamcore import config
from dreamcore.cli.root import cli
from dreamcore.plugin_manager import Plugins

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DOC = (ROOT / "docs" / "configuration.md").read_text()
README = (ROOT / "README.md").read_text()


def _fields(cls: type, prefix: str) -> list[str]:
    keys = []
    for field in attrs.fields(cls):
        if field.init:
            keys.append(f"{prefix}{field.name}")
    return keys


SECTIONS = {
    "store": config.StoreConfig,
    "cycle": config.CycleConfig,
    "strategies": config.StrategyConfig,
    "sources": config.SourceConfig,
    "safety": config.SafetyPolicy,
    "logging": config.LoggingConfig,
    "evaluation": config.EvaluationConfig,
    "executor": config.ExecutorConfig,
    "report": config.ReportConfig,
}


@pytest.mark.parametrize(("section", "key"), [(s, k) for s, cls in SECTIONS.items() for k in _fields(cls, "")])
def test_every_core_option_is_documented(section, key):
    assert f"`{key}`" in CONFIG_DOC.split(f"## `[{section}" if section != "sources" else "## `[[sources]]`")[1]


def test_every_builtin_plugin_option_is_documented():
    for name, defaults in Plugins().default_configs().items():
        for field in attrs.fields(type(defaults)):
            assert f"| `{name}` | `{field.name}` |" in CONFIG_DOC, f"{name}.{field.name}"


def test_every_command_is_in_the_readme():
    for name in cli.commands:
        assert f"dreamcore {name}" in README, name


def test_every_builtin_plugin_option_has_help_for_dreamcore_init():
    for name, defaults in Plugins().default_configs().items():
        for field in attrs.fields(type(defaults)):
            assert field.metadata.get("help"), f"{name}.{field.name}"
