"""dreams.toml <-> attrs classes, through a private cattrs converter.

Every problem becomes one line naming the file and the key path, for example
``dreams.toml: store.url: unknown scheme 'sqlit' (expected sqlite, postgresql)``.
Plugin tables (``[plugins.<name>]``) stay raw here and are structured into each component's own
``Config`` class by :func:`structure_plugin_config` once the plugins are loaded.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import cattrs
import tomli_w
from cattrs.cols import is_mapping, is_sequence, list_structure_factory, mapping_structure_factory
from cattrs.gen import make_dict_structure_fn
from cattrs.preconf.tomllib import make_converter

from dreamcore.errors import ConfigError
from dreamcore.models import DreamTier

DEFAULT_PATH = Path("dreams.toml")
CONFIG_ENV = "DREAMCORE_CONFIG"
STORE_SCHEMES = ("sqlite", "postgresql", "postgres")


class InvalidValue(ValueError):
    """A validator's complaint about one key; the message names what was expected."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def check(predicate: Callable[[Any], bool], message: Callable[[Any], str]):
    """A validator: ``predicate(value)`` must hold, else ``message(value)`` names what was expected."""
    def validator(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not predicate(value):
            raise InvalidValue(attribute.name, message(value))

    return validator


def between(low: int, high: int):
    """A validator for a whole number from ``low`` to ``high``."""
    return check(lambda v: low <= v <= high, lambda v: f"must be between {low} and {high}, got {v}")


def documented(text: str) -> dict[str, str]:
    """Field metadata: the comment `dreamcore init` writes above the key (use it in plugin configs too)."""
    return {"help": text}


def _optional_path(path: str, base_dir: Path) -> Path | None:
    """``path`` made absolute against the config file's folder; None for "" (switched off)."""
    if not path:
        return None
    return Path(path) if Path(path).is_absolute() else base_dir / path


def _scheme(url: str) -> str:
    return urlsplit(url).scheme if "://" in url else ""


@attrs.define(kw_only=True)
class TierBands:
    """Score bands: tier 1 from ``viable`` up, tier 2 from ``speculative`` up, tier 3 below."""

    viable: float = 0.6
    speculative: float = 0.3

    def tier_for(self, score: float) -> DreamTier:
        """The tier a viability score falls in."""
        if score >= self.viable:
            return DreamTier.VIABLE
        return DreamTier.SPECULATIVE if score >= self.speculative else DreamTier.ARCHIVE


# Pure computation: no file, process, network or interpreter-internals access of their own.
# Not here, and denied below: types (CodeType builds functions from raw bytecode), warnings and
# traceback (they print any file's lines through linecache), codecs (codecs.open). Not here:
# zoneinfo/gzip/zipfile and friends (they read or write files). logging is in, minus its files.
_ALLOWED_IMPORTS = (
    "__future__",
    "abc", "array", "asyncio", "base64", "binascii", "bisect", "cmath", "collections", "contextlib",
    "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "enum", "fractions", "functools",
    "graphlib", "hashlib", "heapq", "hmac", "html", "ipaddress", "itertools", "json", "logging", "math",
    "numbers", "operator", "pprint", "random", "re", "secrets", "statistics", "string", "struct",
    "textwrap", "time", "typing", "unicodedata", "uuid", "zlib",
)  # fmt: skip

# Refused even when allowed_imports (or a parent package in it) lets them through, and wherever
# they appear in a dotted path: typing.sys, asyncio.base_events.os and enum.bltns (enum's public
# name for builtins) are refused too.
_DENIED_IMPORTS = (
    # the process and the operating system
    "os", "posix", "nt", "sys", "subprocess", "_posixsubprocess", "signal", "resource", "pty", "tty",
    "termios", "fcntl", "mmap", "pwd", "grp", "platform", "atexit", "faulthandler",
    # files
    "io", "_io", "pathlib", "shutil", "tempfile", "glob", "fileinput", "linecache", "sqlite3", "dbm",
    "shelve", "codecs", "warnings", "traceback",
    # the interpreter: builtins, frames, objects, importing and compiling other code
    "builtins", "enum.bltns", "__main__", "ctypes", "_ctypes", "cffi", "gc", "inspect", "types",
    "sysconfig", "site", "importlib", "imp", "pkgutil", "zipimport", "runpy", "code", "codeop",
    "compileall", "py_compile", "timeit", "doctest", "pydoc", "pdb", "bdb", "trace", "tracemalloc",
    # serialisation that runs code when loading
    "pickle", "_pickle", "marshal", "copyreg", "dill", "cloudpickle",
    # threads and processes (they outlive the call the sandbox times and limits)
    "threading", "_thread", "multiprocessing", "concurrent", "asyncio.subprocess",
    # the network
    "socket", "_socket", "ssl", "select", "selectors", "socketserver", "asyncore", "asynchat",
    "http", "urllib", "urllib3", "requests", "httpx", "aiohttp", "ftplib", "smtplib", "poplib",
    "imaplib", "nntplib", "telnetlib", "xmlrpc", "webbrowser",
    # submodules of otherwise harmless packages
    "json.tool", "logging.config", "logging.handlers",
)  # fmt: skip

_DENIED_CALLS = (
    # builtins that run code, read the terminal, open files or expose namespaces
    "eval", "exec", "compile", "__import__", "__build_class__", "open", "input", "breakpoint",
    "help", "exit", "quit", "globals", "locals", "vars",
    # module functions (matched through the dream's imports)
    "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell", "asyncio.open_connection",
    "asyncio.open_unix_connection", "asyncio.start_server", "asyncio.start_unix_server",
    "codecs.open", "contextlib.chdir", "functools.singledispatch", "functools.singledispatchmethod",
    "logging.FileHandler", "logging.basicConfig", "logging.currentframe", "string.Formatter",
    "typing.ForwardRef", "typing.get_type_hints", "uuid.getnode", "uuid.uuid1",
    # event-loop methods, on whatever object they are called
    ".subprocess_exec", ".subprocess_shell", ".create_connection", ".create_server",
    ".create_unix_connection", ".create_unix_server", ".create_datagram_endpoint", ".sock_connect",
)  # fmt: skip

_DENIED_ATTRIBUTES = (
    # the class graph: ().__class__.__bases__[0].__subclasses__() reaches every loaded class
    # (__class__ itself is allowed: x.__class__ is type(x), which no gate can take away)
    "__bases__", "__base__", "__mro__", "__subclasses__",
    # function internals: globals (and so builtins), bytecode, closure cells, bound objects
    "__globals__", "__builtins__", "__code__", "__closure__", "cell_contents", "__func__", "__self__",
    # namespaces: a module's __dict__ holds __builtins__; @dataclass execs the keys of
    # __annotations__ as parameter names; and the attribute and pickling machinery
    "__dict__", "__annotations__", "__getattribute__", "__reduce__", "__reduce_ex__",
    # the import system
    "__loader__", "__spec__",
    # frames, generators, coroutines, tracebacks and code objects
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "f_trace", "gi_frame", "gi_code",
    "cr_frame", "cr_code", "ag_frame", "ag_code", "tb_frame", "co_code", "co_consts",
)  # fmt: skip


def _entries(kind: str, pattern: str, example: str):
    """A validator: every entry of a list must match ``pattern`` (a config typo must not pass)."""
    matcher = re.compile(pattern)

    def validator(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        for index, entry in enumerate(value):
            if not isinstance(entry, str) or not matcher.fullmatch(entry):
                raise InvalidValue(
                    f"{attribute.name}[{index}]", f"{entry!r} is not {kind} (for example {example!r})"
                )

    return validator


_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = rf"{_IDENT}(?:\.{_IDENT})*"


@attrs.define(kw_only=True)
class SafetyPolicy:
    """What generated code may use: the [safety] table of dreams.toml (see dreamcore.analysis.safety)."""

    allowed_imports: list[str] = attrs.field(
        factory=lambda: list(_ALLOWED_IMPORTS),
        validator=_entries("a module name", _DOTTED, "math"),
        metadata=documented("modules a dream may import (their submodules too); everything else is refused"),
    )
    denied_imports: list[str] = attrs.field(
        factory=lambda: list(_DENIED_IMPORTS),
        validator=_entries("a module name", _DOTTED, "os"),
        metadata=documented("modules always refused, and not reachable through an allowed module either"),
    )
    denied_calls: list[str] = attrs.field(
        factory=lambda: list(_DENIED_CALLS),
        validator=_entries("a builtin, module.function or .method name", rf"\.?{_DOTTED}", "eval"),
        metadata=documented("builtins (eval), functions (asyncio.open_connection), methods (.sock_connect)"),
    )
    denied_attributes: list[str] = attrs.field(
        factory=lambda: list(_DENIED_ATTRIBUTES),
        validator=_entries("an attribute name", _IDENT, "__globals__"),
        metadata=documented("attribute names refused however they are reached (x.name, getattr, strings)"),
    )


@attrs.define(kw_only=True)
class StoreConfig:
    """Where dreams are kept: SQLite (embedded default) or PostgreSQL (shared by many workers)."""

    url: str = attrs.field(
        default="sqlite:///.dreamcore/dreams.db",
        validator=check(
            lambda url: _scheme(url) in STORE_SCHEMES,
            lambda url: f"unknown scheme {_scheme(url) or url!r} (expected sqlite, postgresql)",
        ),
        metadata=documented(
            "sqlite:///relative/to/this/file.db, sqlite:////absolute.db, or "
            "postgresql://user@host:5432/db (put no password here: use PGPASSWORD or ~/.pgpass)"
        ),
    )
    busy_timeout: float = attrs.field(
        default=5.0,
        validator=check(lambda v: v >= 0, lambda v: f"must be >= 0, got {v:g}"),
        metadata=documented("seconds to wait for a database locked by another process"),
    )


BUILTIN_TYPES = ["constraint_relaxation", "cross_project", "parameter", "conditional"]
DEFAULT_STRATEGIES = {
    "light": {"variants": 5, "generators": ["constraint_relaxation", "parameter"]},
    "balanced": {"variants": 15, "generators": BUILTIN_TYPES},
    "deep": {"variants": 30, "generators": BUILTIN_TYPES},
}


@attrs.define(kw_only=True)
class StrategyConfig:
    """[strategies.<name>]: how much to dream per procedure and with which generators."""

    variants: int = attrs.field(
        default=15,
        validator=between(1, 1000),
        metadata=documented("dreams asked of each generator per procedure"),
    )
    generators: list[str] = attrs.field(
        factory=lambda: list(BUILTIN_TYPES),
        validator=check(bool, lambda v: "must name at least one generator"),
        metadata=documented("dream generators to run (built-in and third-party names)"),
    )


@attrs.define(kw_only=True)
class CycleConfig:
    """[cycle]: the nightly cycle."""

    strategy: str = attrs.field(default="balanced", metadata=documented("light, balanced, deep or a [strategies.<name>]"))
    concurrency: int = attrs.field(
        default=4,
        validator=between(1, 512),
        metadata=documented("procedures dreamt at the same time"),
    )
    seed: int | None = attrs.field(
        default=None, metadata=documented("fixed random seed; unset = the run's number, so each night differs")
    )
    budget_usd: float = attrs.field(
        default=1.0,
        validator=check(lambda v: v >= 0, lambda v: f"must be >= 0, got {v:g}"),
        metadata=documented("USD a run may spend on model calls; when reached no new calls start (0 = none)"),
    )


LOG_LEVELS = ("debug", "info", "warning", "error")


@attrs.define(kw_only=True)
class LoggingConfig:
    """[logging]: the run log, rotated every night."""

    path: str = attrs.field(
        default=".dreamcore/logs/dreamcore.log",
        metadata=documented('log file, relative to this file; rotated at midnight UTC; "" = no log file'),
    )
    keep_days: int = attrs.field(
        default=7,
        validator=between(1, 366),
        metadata=documented("rotated log files kept"),
    )
    level: str = attrs.field(
        default="info",
        validator=check(lambda v: v in LOG_LEVELS, lambda v: f"unknown level {v!r} (expected {', '.join(LOG_LEVELS)})"),
        metadata=documented("debug, info, warning or error"),
    )

    def resolved_path(self, base_dir: Path) -> Path | None:
        """The log file's absolute path, or None when file logging is off."""
        return _optional_path(self.path, base_dir)


@attrs.define(kw_only=True)
class ReportConfig:
    """[report]: the morning report, an HTML page written after every run (see docs/report.md)."""

    path: str = attrs.field(
        default="",
        metadata=documented('HTML file written after every run, relative to this file ("" = only `dreamcore report`)'),
    )
    since_days: int = attrs.field(
        default=30,
        validator=check(lambda v: v >= 1, lambda v: f"must be >= 1, got {v}"),
        metadata=documented("days of history the report covers"),
    )
    best: int = attrs.field(
        default=10,
        validator=check(lambda v: v >= 0, lambda v: f"must be >= 0, got {v}"),
        metadata=documented("best dreams of the newest run shown with their diffs"),
    )

    def resolved_path(self, base_dir: Path) -> Path | None:
        """The report's absolute path, or None when no report is written after runs."""
        return _optional_path(self.path, base_dir)


DEFAULT_PARSERS = ["json", "regex"]


def _below_viable(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0 <= value <= instance.viable_from:
        bound = f"viable_from ({instance.viable_from:g})"
        raise InvalidValue(attribute.name, f"must be between 0 and {bound}, got {value:g}")


@attrs.define(kw_only=True)
class EvaluationConfig:
    """[evaluation]: how pending dreams are judged (docs/evaluation.md)."""

    evaluator: str = attrs.field(
        default="offline",
        metadata=documented("offline (no network, scores from measurable signals), claude, or another evaluator"),
    )
    parsers: list[str] = attrs.field(
        factory=lambda: list(DEFAULT_PARSERS),
        validator=check(
            lambda v: bool(v) and len(set(v)) == len(v), lambda v: "must name at least one parser, each once"
        ),
        metadata=documented("parser plugins tried in this order on a judge's answer; the first to read a dream wins"),
    )
    batch_size: int = attrs.field(
        default=10,
        validator=between(1, 500),
        metadata=documented("dreams judged in one prompt"),
    )
    concurrency: int = attrs.field(
        default=2,
        validator=between(1, 64),
        metadata=documented("prompts sent to the judge at the same time"),
    )
    max_attempts: int = attrs.field(
        default=3,
        validator=between(1, 1000),
        metadata=documented("failed evaluations after which a dream is flagged: kept pending, left to a person"),
    )
    viable_from: float = attrs.field(
        default=0.6,
        validator=check(lambda v: 0 <= v <= 1, lambda v: f"must be between 0 and 1, got {v:g}"),
        metadata=documented("lowest viability score of tier 1 (viable)"),
    )
    speculative_from: float = attrs.field(
        default=0.3,
        validator=_below_viable,
        metadata=documented("lowest viability score of tier 2 (speculative); below it, tier 3 (archive)"),
    )
    prompt_template: str = attrs.field(
        default="",
        metadata=documented(
            "a file holding the evaluation prompt ($dreams, $count, $ids), relative to this file; "
            "empty = the built-in prompt"
        ),
    )
    hook_log: str = attrs.field(
        default=".dreamcore/claude-code-hook.log",
        metadata=documented("where `dreamcore hook claude-code` logs what it applied, relative to this file"),
    )

    def bands(self) -> TierBands:
        """The configured score bands."""
        return TierBands(viable=self.viable_from, speculative=self.speculative_from)




@attrs.define(kw_only=True)
class ExecutorConfig:
    """[executor]: where a cycle's work runs (docs/distributed.md)."""

    kind: str = attrs.field(
        default="local",
        metadata=documented(
            "local: in this process, no service; procrastinate: jobs in the PostgreSQL store, run by "
            "`dreamcore worker` on any machine (needs dreamcore[distributed]); or an executor a plugin registers"
        ),
    )
    generate_batch: int = attrs.field(
        default=20,
        validator=between(1, 10000),
        metadata=documented("procedures dreamt by one generation job (procrastinate executor)"),
    )
    test_batch: int = attrs.field(
        default=20,
        validator=between(1, 10000),
        metadata=documented("dreams tested by one sandbox job, in one sandbox (procrastinate executor)"),
    )
    keep_jobs_hours: int = attrs.field(
        default=168,
        validator=check(lambda v: v >= 0, lambda v: f"must be >= 0, got {v}"),
        metadata=documented("hours a succeeded job's row is kept before the hourly prune deletes it; 0 = forever"),
    )
    stalled_after: float = attrs.field(
        default=60.0,
        validator=check(lambda v: v >= 5, lambda v: f"must be >= 5, got {v:g}"),
        metadata=documented("seconds without a heartbeat after which a worker is dead and its jobs are re-queued"),
    )
    nightly: str = attrs.field(
        default="",
        validator=check(
            lambda v: v == "" or len(v.split()) in (5, 6), lambda v: f"expected a cron expression, got {v!r}"
        ),
        metadata=documented(
            'cron expression (UTC) of a cycle the workers start themselves, once per tick however many run, '
            'e.g. "0 3 * * *"; empty = none (procrastinate executor; `dreamcore schedule` uses cron instead)'
        ),
    )


@attrs.define(kw_only=True)
class SourceConfig:
    """One [[sources]] entry: a project whose procedures dreamcore dreams over."""

    project: str = attrs.field(
        validator=check(lambda v: bool(v.strip()), lambda v: "must not be empty"),
        metadata=documented("project name; cross-project dreams pair procedures of different projects"),
    )
    plugin: str = attrs.field(default="python", metadata=documented("procedure source plugin: python or jsonl"))
    paths: list[str] = attrs.field(
        factory=list, metadata=documented("files or folders, relative to this file (python: packages too)")
    )
    include: list[str] = attrs.field(factory=lambda: ["**/*.py"], metadata=documented("glob patterns to read"))
    exclude: list[str] = attrs.field(factory=list, metadata=documented("glob patterns to skip"))

    def resolved_paths(self, base_dir: Path) -> list[Path]:
        """``paths`` made absolute against the config file's folder."""
        return [Path(p) if Path(p).is_absolute() else base_dir / p for p in self.paths]


@attrs.define(kw_only=True)
class Config:
    """The whole of dreams.toml. ``base_dir`` (the file's folder) anchors relative paths."""

    store: StoreConfig = attrs.field(factory=StoreConfig)
    cycle: CycleConfig = attrs.field(factory=CycleConfig)
    strategies: dict[str, StrategyConfig] = attrs.field(
        factory=lambda: {name: StrategyConfig(**table) for name, table in DEFAULT_STRATEGIES.items()},
        metadata=documented(
            "[strategies.<name>] overrides a built-in strategy (light, balanced, deep) key by key, or adds one"
        ),
    )
    safety: SafetyPolicy = attrs.field(factory=SafetyPolicy)
    logging: LoggingConfig = attrs.field(factory=LoggingConfig)
    evaluation: EvaluationConfig = attrs.field(factory=EvaluationConfig)
    executor: ExecutorConfig = attrs.field(factory=ExecutorConfig)
    report: ReportConfig = attrs.field(factory=ReportConfig)
    sources: list[SourceConfig] = attrs.field(
        factory=list, metadata=documented("[[sources]]: where procedures come from (one table per project)")
    )
    plugins: dict[str, dict[str, Any]] = attrs.field(
        factory=dict,
        metadata=documented(
            "[plugins.<name>] configures one plugin or component; enabled = false switches a plugin off"
        ),
    )
    base_dir: Path = attrs.field(factory=Path.cwd, init=False)
    source: str = attrs.field(default="dreams.toml", init=False)

    def disabled_plugins(self) -> set[str]:
        """Names of plugins switched off with ``enabled = false`` in their table."""
        return {name for name, table in self.plugins.items() if table.get("enabled") is False}


def _strict(kind: type) -> Callable[[Any, type], Any]:
    def structure(value: Any, _: type) -> Any:
        accepted = (int, float) if kind is float else kind
        if isinstance(value, bool) and kind is not bool or not isinstance(value, accepted):
            raise TypeError(f"expected {_TYPE_WORDS[kind]}, got {_toml_type(value)}")
        return kind(value)

    return structure


_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _requiring(container: type, word: str, make: Callable[[Any, cattrs.Converter], Callable]) -> Callable:
    """A hook factory whose hooks refuse values that are not ``container`` (no str-as-list)."""

    def factory(cls: Any, converter: cattrs.Converter) -> Callable:
        inner = make(cls, converter)

        def structure(value: Any, type_: Any) -> Any:
            if not isinstance(value, container):
                raise TypeError(f"expected {word}, got {_toml_type(value)}")
            return inner(value, type_)

        return structure

    return factory


def _toml_type(value: Any) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
             float: "a number"}
    return names.get(type(value), type(value).__name__)


def _converter() -> cattrs.Converter:
    converter = make_converter(forbid_extra_keys=True)
    for kind in _TYPE_WORDS:
        converter.register_structure_hook(kind, _strict(kind))
    converter.register_structure_hook_factory(
        attrs.has,
        _requiring(dict, "a table", lambda cls, c: make_dict_structure_fn(cls, c, _cattrs_forbid_extra_keys=True)),
    )
    converter.register_structure_hook_factory(
        is_mapping, _requiring(dict, "a table", mapping_structure_factory)
    )
    converter.register_structure_hook_factory(
        is_sequence, _requiring(list, "an array", list_structure_factory)
    )
    return converter


_CONVERTER = _converter()


def _describe(exc: BaseException, path: str, source: str) -> list[str]:
    """Flatten cattrs' nested validation errors into ``source: key.path: message`` lines."""
    if isinstance(exc, cattrs.ClassValidationError):
        lines = []
        for inner, note in exc.group_exceptions()[0]:
            lines += _describe(inner, _join(path, note.name), source)
        for inner in exc.group_exceptions()[1]:
            lines += _describe(inner, path, source)
        return lines
    if isinstance(exc, cattrs.IterableValidationError):
        lines = []
        for inner, note in exc.group_exceptions()[0]:
            lines += _describe(inner, f"{path}[{note.index}]", source)
        for inner in exc.group_exceptions()[1]:
            lines += _describe(inner, path, source)
        return lines
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return [f"{source}: {_join(path, key)}: unknown key" for key in sorted(exc.extra_fields)]
    if isinstance(exc, KeyError):
        return [f"{source}: {path}: missing required key"]
    if isinstance(exc, InvalidValue):
        return [f"{source}: {_join(path, exc.key)}: {exc}"]
    return [f"{source}: {path or '(top level)'}: {exc}"]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def structure(data: dict[str, Any], cls: type, *, source: str, path: str = "") -> Any:
    """Structure ``data`` into attrs class ``cls`` or raise a one-line-per-problem ConfigError."""
    try:
        return _CONVERTER.structure(data, cls)
    except (cattrs.BaseValidationError, InvalidValue) as exc:
        raise ConfigError("\n".join(_describe(exc, path, source))) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: {path or '(top level)'}: {exc}") from None


def parse(data: dict[str, Any], *, source: str = "dreams.toml", base_dir: Path | None = None) -> Config:
    """Build a Config from an already-parsed TOML document (or any dict of the same shape)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table at the top level")
    plugins = data.get("plugins", {})
    if isinstance(plugins, dict):
        for name, table in plugins.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: plugins.{name}: expected a table")
            if "enabled" in table and not isinstance(table["enabled"], bool):
                raise ConfigError(f"{source}: plugins.{name}.enabled: expected true or false")
    strategies = data.get("strategies", {})
    if isinstance(strategies, dict):
        merged = {name: dict(table) for name, table in DEFAULT_STRATEGIES.items()}
        for name, table in strategies.items():
            merged[name] = {**merged.get(name, {}), **table} if isinstance(table, dict) else table
        data = {**data, "strategies": merged}
    config = structure(data, Config, source=source)
    if config.cycle.strategy not in config.strategies:
        known = ", ".join(sorted(config.strategies))
        raise ConfigError(f"{source}: cycle.strategy: unknown strategy {config.cycle.strategy!r} (known: {known})")
    config.base_dir = base_dir or Path.cwd()
    config.source = source
    return config


def resolve_path(explicit: str | os.PathLike | None = None) -> Path:
    """The config file to use: the explicit path, else $DREAMCORE_CONFIG, else ./dreams.toml."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_PATH)


def load(path: str | os.PathLike | None = None) -> Config:
    """Read and validate a dreams.toml file."""
    file = resolve_path(path)
    source = str(file)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{source}: not found (create one with `dreamcore init`)") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not valid UTF-8 (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    return parse(data, source=source, base_dir=file.resolve().parent)


def structure_plugin_config(config: Config, name: str, config_class: type | None) -> Any:
    """The ``[plugins.<name>]`` table structured into ``config_class`` (None if there is none)."""
    table = {k: v for k, v in config.plugins.get(name, {}).items() if k != "enabled"}
    if config_class is None:
        if table:
            keys = ", ".join(sorted(table))
            raise ConfigError(f"{config.source}: plugins.{name}: takes no options (got {keys})")
        return None
    return structure(table, config_class, source=config.source, path=f"plugins.{name}")


def render(config: Config, header: str = "", plugin_defaults: dict[str, Any] | None = None) -> str:
    """dreams.toml text for ``config``, each key preceded by its documentation as a comment.

    ``plugin_defaults`` maps component names to default ``Config`` instances, written as
    ``[plugins.<name>]`` tables so every plugin option is documented too.
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for field in attrs.fields(Config):
        if not field.init:
            continue
        value = getattr(config, field.name)
        if attrs.has(type(value)):
            lines += ["", *_comment(type(value).__doc__), f"[{field.name}]"]
            lines += _render_keys(value)
        elif field.name == "strategies":
            lines += ["", *_comment(field.metadata.get("help"))]
            for name, table in value.items():
                lines += [f"[strategies.{name}]", *_render_keys(table)]
        elif field.name == "plugins":
            lines += ["", *_comment(field.metadata.get("help"))]
            for name, table in value.items():
                lines += [f"[plugins.{name}]", tomli_w.dumps(table).rstrip()]
            for name, defaults in (plugin_defaults or {}).items():
                if name not in value:
                    lines += ["", *_comment(type(defaults).__doc__), f"[plugins.{name}]", *_render_keys(defaults)]
        else:
            raw = _CONVERTER.unstructure(value)
            lines += ["", *_comment(field.metadata.get("help"))]
            if raw:
                lines.append(tomli_w.dumps({field.name: raw}).rstrip())
            else:
                lines.append(f"# {field.name} = []")
    return "\n".join(lines).lstrip("\n") + "\n"


def _render_keys(table: Any) -> list[str]:
    lines = []
    for field in attrs.fields(type(table)):
        raw = _CONVERTER.unstructure(getattr(table, field.name))
        if raw is None:
            written = f"# {field.name} = (unset)"
        elif isinstance(raw, dict):  # inline: a table header here would swallow the keys after it
            written = f"{field.name} = {{{', '.join(tomli_w.dumps({k: v}).strip() for k, v in raw.items())}}}"
        else:
            written = tomli_w.dumps({field.name: raw}).rstrip()
        lines += [*_comment(field.metadata.get("help")), written]
    return lines


def _comment(text: str | None) -> list[str]:
    return [f"# {line.strip()}" for line in (text or "").strip().splitlines() if line.strip()]
