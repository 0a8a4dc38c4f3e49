"""Synthetic test inputs for a function, made on the host from its signature alone.

The function's source is parsed, never run. Each parameter gets a hypothesis strategy from, in
order: its annotation (``int``, ``list[str]``, ``dict[str, float]``, ``X | None``...), its default
value's type, its name (``n``/``count`` small non-negative ints, ``text``/``name`` strings,
``items``/``values`` lists, ``path`` relative paths, ``rate``/``amount`` floats, ``flag`` booleans...),
else any JSON scalar. Cases are drawn by hypothesis itself with a fixed seed, so the same source and
seed give the same cases on every machine (with the same hypothesis version). The docstring's
doctest calls and edge cases (empty, zero, negative, huge, unicode, and the literals the function
itself mentions) come first. Every case is
``{"args": [...], "kwargs": {...}}`` made of JSON values only.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers

MAX_EDGE_CASES = 40
MAX_LITERALS = 8
_TEXT = st.text(max_size=12)
_FLOAT = st.floats(allow_nan=False, allow_infinity=False, width=32, min_value=-1e6, max_value=1e6)
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), _FLOAT, _TEXT)


@attrs.frozen
class Kind:
    """How to make values for one parameter: a hypothesis strategy and hand-picked edge values."""

    strategy: Any
    edges: tuple[Any, ...] = ()


INT = Kind(st.integers(-(2**31), 2**31), (0, 1, -1, 2**31 - 1))
COUNT = Kind(st.integers(0, 64), (0, 1, 2, 63))
FLOAT = Kind(_FLOAT, (0.0, -1.0, 1e-9, 123456.789))
TEXT = Kind(_TEXT, ("", " ", "a", "ü€漢字", "x" * 200))
BOOL = Kind(st.booleans(), (True, False))
NONE = Kind(st.none(), (None,))
PATH = Kind(st.lists(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), min_size=1, max_size=3).map("/".join),
            ("a", "a/b.txt", "../x", ""))
SCALAR = Kind(_SCALAR, (None, 0, ""))


def list_of(item: Kind) -> Kind:
    return Kind(st.lists(item.strategy, max_size=8), ([], [item.edges[0]] if item.edges else [None], list(item.edges)))


def dict_of(value: Kind) -> Kind:
    return Kind(st.dictionaries(_TEXT, value.strategy, max_size=5), ({}, {"a": value.edges[0] if value.edges else None}))


def either(*kinds: Kind) -> Kind:
    return Kind(st.one_of(*(k.strategy for k in kinds)), tuple(e for k in kinds for e in k.edges))


_BY_TYPE_NAME = {"int": INT, "float": FLOAT, "str": TEXT, "bool": BOOL, "None": NONE, "NoneType": NONE,
                 "list": list_of(SCALAR), "tuple": list_of(SCALAR), "set": list_of(SCALAR),
                 "dict": dict_of(SCALAR)}
_SEQUENCES = {"list", "List", "Sequence", "Iterable", "Collection", "tuple", "Tuple", "set", "Set", "frozenset",
              "MutableSequence", "Iterator"}
_MAPPINGS = {"dict", "Dict", "Mapping", "MutableMapping"}
_BY_NAME = [
    (("n", "count", "size", "limit", "k", "num", "times", "retries", "attempts", "depth", "width", "page",
      "per_page", "page_size", "index", "i", "length", "max_attempts", "n_items"), COUNT),
    (("text", "s", "string", "name", "word", "line", "prefix", "suffix", "sep", "key", "label", "message",
      "title", "query", "pattern", "code", "currency", "value_text", "raw"), TEXT),
    (("items", "values", "xs", "numbers", "nums", "data", "elements", "seq", "lst", "records", "rows"),
     list_of(INT)),
    (("path", "filename", "file", "folder", "directory", "dirname"), PATH),
    (("amount", "price", "rate", "ratio", "factor", "x", "y", "scale", "delay", "timeout", "threshold",
      "celsius", "fahrenheit", "kelvin", "temperature", "speed", "distance"), FLOAT),
    (("flag", "enabled", "strict", "verbose", "force", "reverse", "debug"), BOOL),
    (("mapping", "options", "config", "params", "headers", "d", "table"), dict_of(SCALAR)),
]
_NAME_SUFFIXES = [("_count", COUNT), ("_size", COUNT), ("_name", TEXT), ("_text", TEXT), ("_path", PATH),
                  ("_items", list_of(INT)), ("_rate", FLOAT), ("_seconds", FLOAT), ("is_", BOOL)]


def _annotation_kind(node: ast.expr | None) -> Kind | None:
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return _annotation_kind(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return None
    if isinstance(node, ast.Constant) and node.value is None:
        return NONE
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        parts = [_annotation_kind(node.left), _annotation_kind(node.right)]
        return either(*parts) if all(parts) else None
    name = _last_name(node.value if isinstance(node, ast.Subscript) else node)
    if not isinstance(node, ast.Subscript):
        return _BY_TYPE_NAME.get(name)
    inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    kinds = [_annotation_kind(part) for part in inner if not (isinstance(part, ast.Constant) and part.value is ...)]
    if name == "Optional" and kinds[0]:
        return either(NONE, kinds[0])
    if name == "Union" and all(kinds):
        return either(*kinds)
    if name in _SEQUENCES:
        return list_of(kinds[0] or SCALAR)
    if name in _MAPPINGS and len(kinds) == 2:
        return dict_of(kinds[1] or SCALAR)
    return None


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


_NO_DEFAULT = object()
_UNUSABLE = object()  # a default that is not a JSON literal: the call leaves it out


def _default(node: ast.expr | None) -> Any:
    """The default as a JSON value, ``_NO_DEFAULT``, or ``_UNUSABLE``."""
    if node is None:
        return _NO_DEFAULT
    try:
        value = ast.literal_eval(node)
        json.dumps(value, allow_nan=False)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _UNUSABLE
    return json.loads(json.dumps(value))  # tuples become lists, as every case's values


def _name_kind(name: str) -> Kind | None:
    lowered = name.lower()
    for names, kind in _BY_NAME:
        if lowered in names:
            return kind
    for affix, kind in _NAME_SUFFIXES:
        if lowered.endswith(affix) or (affix.endswith("_") and lowered.startswith(affix)):
            return kind
    return None


@attrs.frozen
class Parameter:
    """One parameter of the function under test and how its values are made."""

    name: str
    kind: Kind
    keyword_only: bool
    default: Any = _NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


def find_function(source: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The definition of ``name`` (a bare or dotted name) in ``source``; ValueError if absent."""
    tree = ast.parse(source)
    wanted = name.split(".")[-1]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == wanted:
            return node
    raise ValueError(f"no function named {wanted!r}")


def parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Parameter]:
    """The parameters inputs are made for (``*args``/``**kwargs`` are left empty)."""
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    found = []
    for arg, node in [*zip(positional, defaults), *zip(arguments.kwonlyargs, arguments.kw_defaults)]:
        default = _default(node)
        from_default = _BY_TYPE_NAME.get(type(default).__name__) if default is not None else None
        by_name = _name_kind(arg.arg)
        kind = _annotation_kind(arg.annotation) or from_default or by_name or SCALAR
        if kind is INT and by_name is COUNT:  # `count: int` is still a count
            kind = COUNT
        if default is None and kind is not NONE:
            kind = either(NONE, kind)
        found.append(Parameter(arg.arg, kind, arg in arguments.kwonlyargs, default))
    return found


def _case(params: list[Parameter], values: dict[str, Any]) -> dict[str, Any]:
    """Positional arguments up to the first one left out, keywords after that."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in params:
        if param.name not in values:
            continue
        if param.keyword_only or len(args) < params.index(param):
            kwargs[param.name] = values[param.name]
        else:
            args.append(values[param.name])
    return {"args": args, "kwargs": kwargs}


@contextlib.contextmanager
def _without_code_constants() -> Iterator[None]:
    """Hypothesis (6.131+) sometimes draws literals found in the modules loaded in this process, so
    the same seed would give other cases wherever other modules are imported; switch that off."""
    provider = getattr(providers, "HypothesisProvider", None)
    original = getattr(provider, "_maybe_draw_constant", None)
    if original is None:
        yield
        return
    provider._maybe_draw_constant = lambda self, *args, **kwargs: None
    try:
        yield
    finally:
        provider._maybe_draw_constant = original


def _draw(strategy: Any, count: int, seed_value: int) -> list[Any]:
    """``count`` values drawn by hypothesis under ``seed_value``: same seed, same values."""
    drawn: list[Any] = []

    @seed(seed_value)
    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    with _without_code_constants():
        collect()
    return drawn


def doctest_cases(function: ast.FunctionDef | ast.AsyncFunctionDef, params: list[Parameter]) -> list[dict[str, Any]]:
    """Calls of the function in its docstring's examples whose arguments are all literals."""
    docstring = ast.get_docstring(function) or ""
    cases = []
    for example in doctest.DocTestParser().get_examples(docstring):
        try:
            call = ast.parse(example.source.strip(), mode="eval").body
            if not isinstance(call, ast.Call) or _last_name(call.func) != function.name:
                continue
            args = [ast.literal_eval(arg) for arg in call.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
        cases.append({"args": args, "kwargs": kwargs})
    return cases


_QUOTED = re.compile(r"[\"`]{1,2}([^\"`\n]{1,40})[\"`]{1,2}")


def source_literals(function: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[list[str], list[float]]:
    """Strings and numbers the function itself mentions: its literals and what its docstring quotes
    (``"28015G25KT"``). Validating functions reject most random input; these often pass."""
    docstring = ast.get_docstring(function) or ""
    texts = [m.group(1) for m in _QUOTED.finditer(docstring)]
    numbers: list[float] = []
    for node in ast.walk(function):
        if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
            if isinstance(node.value, str) and node.value != docstring and len(node.value) <= 40:
                texts.append(node.value)
            elif isinstance(node.value, (int, float)) and math.isfinite(node.value) and abs(node.value) < 2**53:
                numbers.append(node.value)
    return list(dict.fromkeys(texts))[:MAX_LITERALS], list(dict.fromkeys(numbers))[:MAX_LITERALS]


def _with_literals(kind: Kind, texts: list[str], numbers: list[float]) -> Kind:
    if kind is TEXT:
        return Kind(kind.strategy, (*kind.edges, *texts))
    if kind in (INT, COUNT):
        ints = [int(n) for n in numbers if float(n).is_integer() and (kind is INT or n >= 0)]
        return Kind(kind.strategy, (*kind.edges, *ints))
    if kind is FLOAT:
        return Kind(kind.strategy, (*kind.edges, *(float(n) for n in numbers)))
    return kind


def generate_cases(source: str, function: str, count: int = 30, seed_value: int = 0) -> list[dict[str, Any]]:
    """Doctest calls, edge cases, then ``count`` drawn cases for ``function`` in ``source``.

    Deterministic under ``seed_value``; duplicates are dropped; every case survives ``json.dumps``.
    Raises ValueError when the function is not in the source.
    """
    definition = find_function(source, function)
    params = parameters(definition)
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    texts, numbers = source_literals(definition)
    params = [attrs.evolve(p, kind=_with_literals(p.kind, texts, numbers)) for p in params]
    drawn = _draw(st.fixed_dictionaries({p.name: p.kind.strategy for p in params}), max(count, 1), seed_value)
    first = drawn[0] if drawn else {}
    # Edge cases vary one parameter at a time; the others keep their defaults (else a first draw).
    typical = {p.name: p.default if p.has_default else first.get(p.name) for p in params
               if p.default is not _UNUSABLE}
    edges = [{**typical, p.name: edge} for p in params for edge in p.kind.edges][:MAX_EDGE_CASES]
    only_required = {p.name: typical[p.name] for p in params if not p.has_default}
    candidates = [*doctest_cases(definition, params), _case(params, only_required)]
    candidates += [_case(params, values) for values in [*edges, *drawn[:count]]]
    unique: dict[str, dict[str, Any]] = {}
    for case in candidates:
        try:
            key = json.dumps(case, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError):
            continue
        unique.setdefault(key, json.loads(key))
    return list(unique.values())
