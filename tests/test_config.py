"""dreams.toml: loading, one-line errors naming file and key, `dreamcore init`, fuzzed documents."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamcore import DreamCore, config
from dreamcore.cli.root import main
from dreamcore.errors import ConfigError, DreamcoreError

BAD_CONFIGS = [
    ('[store]\nurl = "sqlit:///x.db"\n', "store.url: unknown scheme 'sqlit' (expected sqlite, postgresql)"),
    ("[store]\nurl = 5\n", "store.url: expected a string, got an integer"),
    ('[store]\nbusy_timeout = "soon"\n', "store.busy_timeout: expected a number, got a string"),
    ("[store]\nbusy_timeout = -1\n", "store.busy_timeout: must be >= 0, got -1"),
    ("[store]\nurll = 'sqlite:///x.db'\n", "store.urll: unknown key"),
    ("[stor]\n", "stor: unknown key"),
    ("store = 3\n", "store: expected a table, got an integer"),
    ('[[sources]]\npaths = ["src"]\n', "sources[0].project: missing required key"),
    ('[[sources]]\nproject = " "\n', "sources[0].project: must not be empty"),
    ('[sources]\nproject = "x"\n', "sources: expected an array, got a table"),
    ('[[sources]]\nproject = "x"\ninclude = "*.py"\n', "sources[0].include: expected an array, got a string"),
    ('[[sources]]\nproject = "x"\nplugin = "pyton"\n',
     "sources[0].plugin: unknown procedure source 'pyton' (known: jsonl, python)"),
    ("[plugins]\njsonl = 3\n", "plugins.jsonl: expected a table"),
    ('[plugins.jsonl]\nenabled = "no"\n', "plugins.jsonl.enabled: expected true or false"),
    ("[plugins.jsonll]\n", "plugins.jsonll: unknown plugin 'jsonll' (known: "
                          "adapt, archive, claude, conditional, constraint_relaxation, cross_project, "
                          "distributed-commands, docker, efficiency, evaluate, evaluation-commands, "
                          "evaluation-stage, generate, generation-stages, json, jsonl, learning-commands, "
                          "learning-stages, leverage, llm-judge, mine, novelty, offline, openrouter, "
                          "parameter, procrastinate, python, quality, regex, report-commands, sandbox-stage, score, "
                          "subprocess, test"
                          ")"),
    ("[plugins.jsonl]\ncolour = 'blue'\n", "plugins.jsonl: takes no options (got colour)"),
    ('[executor]\nkind = "celery"\n', "executor.kind: unknown executor 'celery' (expected local, procrastinate)"),
    ("[executor]\ntest_batch = 0\n", "executor.test_batch: must be between 1 and 10000, got 0"),
    ('[executor]\nnightly = "3am"\n', "executor.nightly: expected a cron expression, got '3am'"),
    ("[store\n", "invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 7)"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CONFIGS)
def test_each_bad_config_has_its_own_one_line_message(tmp_path, text, expected):
    path = tmp_path / "dreams.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        DreamCore(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_messages_are_distinct():
    assert len({expected for _, expected in BAD_CONFIGS}) == len(BAD_CONFIGS)


def test_file_level_problems(tmp_path):
    with pytest.raises(ConfigError, match=r"not found \(create one with `dreamcore init`\)"):
        config.load(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        config.load(tmp_path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"[store]\nurl = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match=r"not valid UTF-8 \(byte 15\)"):
        config.load(binary)


def test_cli_reports_bad_config_in_one_line_with_exit_2(tmp_path, capsys):
    path = tmp_path / "dreams.toml"
    path.write_text('[store]\nurl = "sqlit:///x.db"\n')
    assert main(["--config", str(path), "stats"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: store.url: unknown scheme 'sqlit' (expected sqlite, postgresql)\n"


def test_config_from_environment_variable(tmp_path, monkeypatch, capsys):
    path = tmp_path / "elsewhere.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "env.db"}"\n')
    monkeypatch.setenv("DREAMCORE_CONFIG", str(path))
    assert main(["stats", "--json"]) == 0
    assert (tmp_path / "env.db").exists()


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "dreams.toml").write_text('[store]\nurl = "sqlite:///state/dreams.db"\n')
    monkeypatch.chdir(tmp_path)
    with DreamCore(folder / "dreams.toml") as core:
        core.store.get_statistics()
    assert (folder / "state" / "dreams.db").exists()


def test_init_writes_a_commented_config_that_loads(tmp_path, capsys):
    target = tmp_path / "sub" / "dreams.toml"
    assert main(["init", "--path", str(target)]) == 0
    text = target.read_text()
    assert "# Where dreams are kept" in text and "[store]" in text
    loaded = config.load(target)
    assert loaded.store == config.StoreConfig()
    assert tomllib.loads(text)["store"]["url"] == "sqlite:///.dreamcore/dreams.db"


def test_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    target = tmp_path / "dreams.toml"
    target.write_text("# mine\n")
    assert main(["init", "--path", str(target)]) == 2
    assert "already exists (use --force to overwrite)" in capsys.readouterr().err
    assert target.read_text() == "# mine\n"
    assert main(["init", "--path", str(target), "--force"]) == 0
    assert "[store]" in target.read_text()


def test_repository_dreams_toml_loads():
    root = Path(__file__).resolve().parents[1]
    with DreamCore(root / "dreams.toml") as core:
        assert core.config.sources, "the default config dreams over examples/"


def test_render_round_trips_a_config():
    original = config.parse(
        {"store": {"url": "postgresql://u@h/db", "busy_timeout": 2.5}, "sources": [{"project": "a", "paths": ["x"]}]}
    )
    again = config.parse(tomllib.loads(config.render(original)))
    assert (again.store, again.sources) == (original.store, original.sources)


KEYS = st.sampled_from(["store", "url", "busy_timeout", "sources", "project", "paths", "include", "plugins",
                        "jsonl", "enabled", "exclude", "plugin", "x"])
SCALARS = st.one_of(st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=False), st.text(max_size=20),
                    st.sampled_from(["sqlite:///d.db", "postgresql://h/db", "sqlit://x", "python", "jsonl"]))
TOML_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(KEYS, TOML_VALUES, max_size=5))
def test_any_toml_document_gives_a_config_or_a_config_error(tmp_path, document):
    path = tmp_path / "fuzz.toml"
    try:
        path.write_text(tomli_w.dumps(document))
    except (TypeError, ValueError):
        return  # not representable as TOML (e.g. mixed-type arrays in old writers)
    try:
        DreamCore(path)
    except DreamcoreError as exc:
        assert str(exc) and all(line.startswith(f"{path}: ") for line in str(exc).splitlines())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_give_a_config_or_a_config_error(tmp_path, raw):
    path = tmp_path / "raw.toml"
    path.write_bytes(raw)
    try:
        config.load(path)
    except ConfigError as exc:
        assert str(exc).startswith(f"{path}: ")
