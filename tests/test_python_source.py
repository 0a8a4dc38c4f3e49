"""The built-in procedure source ``python``: functions and methods mined from Python files."""

from __future__ import annotations

import ast
import asyncio
import os
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from dreamcore_plugins.sources.python_source import _compile, _matches

from dreamcore import DreamCore
from dreamcore.models import Procedure, SourceProblem
from dreamcore.plugin_manager import Plugins

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def mine(base_dir: Path, *paths: str, include: list[str] | None = None, exclude: list[str] | None = None,
         project: str = "demo") -> list[Procedure | SourceProblem]:
    """Everything the ``python`` source yields for one [[sources]] entry."""
    entry = {"project": project, "plugin": "python", "paths": list(paths)}
    if include is not None:
        entry["include"] = include
    if exclude is not None:
        entry["exclude"] = exclude
    core = DreamCore({"sources": [entry]})
    source = core.create("sources", "python")

    async def collect():
        return [item async for item in source.procedures(core.config.sources[0], base_dir)]

    return asyncio.run(collect())


def split(items):
    procedures = [i for i in items if isinstance(i, Procedure)]
    problems = [i for i in items if isinstance(i, SourceProblem)]
    assert len(procedures) + len(problems) == len(items)
    return procedures, problems


def by_name(procedures) -> dict[tuple[str, str], Procedure]:
    return {(p.module, p.qualname): p for p in procedures}


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def assert_exact_source(procedure: Procedure) -> None:
    """The source is the file's own lines, decorators included, and parses as that one def."""
    raw = Path(procedure.file_path).read_bytes().decode("utf-8-sig")
    lines = raw.replace("\r\n", "\n").split("\n")
    text = procedure.source.replace("\r\n", "\n")
    assert text.rstrip("\n").split("\n") == lines[procedure.line_start - 1: procedure.line_end]
    tree = ast.parse(textwrap.dedent(text))
    assert len(tree.body) == 1
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    assert node.name == procedure.name
    assert [ast.unparse(d) for d in node.decorator_list] == procedure.decorators
    assert ast.get_docstring(node) == procedure.docstring


# -- registration ----------------------------------------------------------------------------


def test_python_source_is_a_builtin_entry_point_plugin():
    plugins = Plugins()
    rows = {info.name: info for info in plugins.info()}
    assert rows["python"].distribution == "dreamcore"
    assert rows["python"].hooks == ("register_sources",)
    assert plugins.components("sources")["python"].plugin == "python"


# -- the example projects --------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples() -> dict[str, list[Procedure]]:
    mined = {}
    for project in ("billing", "weather"):
        procedures, problems = split(mine(ROOT, f"examples/{project}", project=project))
        assert problems == []
        mined[project] = procedures
    return mined


def test_examples_yield_every_function_and_method(examples):
    assert len(examples["billing"]) == 37
    assert len(examples["weather"]) == 37
    assert sum(map(len, examples.values())) > 30
    for project, procedures in examples.items():
        assert {p.project for p in procedures} == {project}
        assert all(p.module.startswith(f"{project}.") for p in procedures)
        assert all(Path(p.file_path).is_absolute() and Path(p.file_path).is_file() for p in procedures)
        assert all(p.fingerprint == "" for p in procedures)
        names = [(p.module, p.qualname) for p in procedures]
        assert len(names) == len(set(names))
    # files in sorted order, functions in source order
    billing_modules = [p.module for p in examples["billing"]]
    assert list(dict.fromkeys(billing_modules)) == [
        "billing.currency", "billing.customers", "billing.invoices", "billing.payments"]
    currency = [p.qualname for p in examples["billing"] if p.module == "billing.currency"]
    assert currency == ["parse_amount", "detect_currency", "round_half_even_cents", "format_amount",
                        "convert_cents", "allocate"]


def test_examples_methods_properties_staticmethods_and_async(examples):
    billing, weather = by_name(examples["billing"]), by_name(examples["weather"])

    add_item = billing["billing.invoices", "Invoice.add_item"]
    assert add_item.name == "add_item"
    assert add_item.signature == "(self, sku: str, quantity: int, unit_price: int) -> LineItem"
    assert add_item.docstring == "Append a validated line item and return it."
    assert add_item.decorators == []

    total = billing["billing.invoices", "Invoice.total"]
    assert total.decorators == ["property"]
    assert total.source.startswith("    @property\n    def total(self) -> int:\n")
    assert total.line_start == total.line_end - 5  # the decorator line is included

    static = weather["weather.stations", "Station.haversine_km"]
    assert static.decorators == ["staticmethod"]
    assert static.signature == "(lat1: float, lon1: float, lat2: float, lon2: float) -> float"
    assert static.imports == ["import math"]
    assert billing["billing.invoices", "Invoice.from_dict"].decorators == ["classmethod"]

    charge = billing["billing.payments", "charge_with_retry_async"]
    assert charge.source.startswith("async def charge_with_retry_async(")
    assert charge.imports == ["import asyncio", "from collections.abc import Awaitable",
                              "from collections.abc import Callable", "from typing import Any"]
    assert billing["billing.payments", "charge_with_retry"].signature == (
        "(charge: Callable[..., dict[str, Any]], amount: int, *args: Any, retries: int = 3, "
        "backoff: float = 0.5, **kwargs: Any) -> dict[str, Any]"
    )

    # closures belong to their function: fetch_many.guarded and ttl_memoize's inner functions are not mined
    assert ("weather.client", "fetch_many") in weather
    assert not [q for _, q in weather if q.startswith(("fetch_many.", "ttl_memoize."))]
    assert "async def guarded(url: str)" in weather["weather.client", "fetch_many"].source
    assert "def wrapper(" in weather["weather.client", "ttl_memoize"].source


def test_examples_sources_are_exact(examples):
    for procedures in examples.values():
        for procedure in procedures:
            assert_exact_source(procedure)


def test_a_package_folder_or_a_single_file_keeps_its_dotted_module_name():
    package, _ = split(mine(ROOT, "examples/billing/billing"))
    assert {p.module for p in package} == {"billing.currency", "billing.customers", "billing.invoices",
                                           "billing.payments"}
    single, _ = split(mine(ROOT, "examples/billing/billing/payments.py"))
    assert {p.module for p in single} == {"billing.payments"}
    assert len(single) == 12


def test_overlapping_paths_read_each_file_once():
    procedures, problems = split(mine(ROOT, "examples/billing", "examples/billing/billing/payments.py"))
    assert problems == [] and len(procedures) == 37


# -- real-world shapes -----------------------------------------------------------------------

SHAPES = '''
"""A module with the shapes real code has."""

from __future__ import annotations

import functools
import sys
from typing import Any, Iterator

RATE = 3


@functools.lru_cache(maxsize=None)
# a comment between decorators
@staticmethod
def decorated(x: int) -> int:
    """Decorated twice."""
    return x * RATE


def outer(n: int):
    """Has a closure."""
    def inner(m):
        def innermost():
            return m
        return innermost() + n

    class Local:
        def hidden(self):
            return 1

    return inner


def variadic(a, /, b, *args: Any, c: int = 1, d, **kwargs: Any) -> dict[str, Any]:
    return {"a": a, "b": b, "args": args, "c": c, "d": d, **kwargs}


def keyword_only(*, retries: int = 3, timeout: float | None = None, name="x") -> bool:
    return retries > 0


def multi_line(
    first: list[int],  # a comment inside the signature
    second: dict[str, tuple[int, ...]] | None = None,
) -> Iterator[int]:
    yield from first


def generator(limit: int) -> Iterator[int]:
    n = 0
    while n < limit:
        yield n
        n += 1


async def fetch(url: str, *, retries: int = 3) -> bytes:
    await something(url)
    return b""


async def stream(n: int):
    for i in range(n):
        yield i


square = lambda x: x * x


class Account:
    """A class with properties, nested classes and every kind of method."""

    rate = 0.5

    def __init__(self, balance: int = 0) -> None:
        self._balance = balance

    @property
    def balance(self) -> int:
        """The balance in cents."""
        return self._balance

    @balance.setter
    def balance(self, value: int) -> None:
        self._balance = value

    @classmethod
    def empty(cls) -> "Account":
        return cls()

    @staticmethod
    def fee(amount: int) -> int:
        return amount // 100

    async def refresh(self) -> None:
        pass

    class Meta:
        ordering = ("id",)

        def describe(self):
            return "meta"

        class Deeper:
            def deepest(self, *args, **kwargs):
                return args, kwargs


if sys.version_info >= (3, 11):
    def conditional() -> str:
        return "new"

try:
    import ujson
except ImportError:
    def fallback():
        return None
'''


@pytest.fixture
def corpus(tmp_path) -> Path:
    write(tmp_path / "proj" / "pkg" / "__init__.py", '''
        """The package."""

        def version() -> str:
            return "1.0"
        ''')
    write(tmp_path / "proj" / "pkg" / "shapes.py", SHAPES)
    write(tmp_path / "proj" / "pkg" / "sub" / "deep.py", "def deep():\n    pass\n")
    return tmp_path / "proj"


def test_real_world_shapes(corpus):
    procedures, problems = split(mine(corpus.parent, "proj"))
    assert problems == []
    names = [(p.module, p.qualname) for p in procedures]
    assert names == [
        ("pkg", "version"),
        ("pkg.shapes", "decorated"),
        ("pkg.shapes", "outer"),
        ("pkg.shapes", "variadic"),
        ("pkg.shapes", "keyword_only"),
        ("pkg.shapes", "multi_line"),
        ("pkg.shapes", "generator"),
        ("pkg.shapes", "fetch"),
        ("pkg.shapes", "stream"),
        ("pkg.shapes", "Account.__init__"),
        ("pkg.shapes", "Account.balance"),
        ("pkg.shapes", "Account.balance@2"),  # the property's setter: a repeated qualname gets @2
        ("pkg.shapes", "Account.empty"),
        ("pkg.shapes", "Account.fee"),
        ("pkg.shapes", "Account.refresh"),
        ("pkg.shapes", "Account.Meta.describe"),
        ("pkg.shapes", "Account.Meta.Deeper.deepest"),
        ("pkg.shapes", "conditional"),
        ("pkg.shapes", "fallback"),
        ("pkg.sub.deep", "deep"),
    ]
    shapes = {p.qualname: p for p in procedures if p.module == "pkg.shapes"}
    assert shapes["decorated"].decorators == ["functools.lru_cache(maxsize=None)", "staticmethod"]
    assert shapes["decorated"].source.startswith("@functools.lru_cache(maxsize=None)\n# a comment")
    assert shapes["decorated"].docstring == "Decorated twice."
    assert "def innermost():" in shapes["outer"].source and "class Local:" in shapes["outer"].source
    assert shapes["variadic"].signature == (
        "(a, /, b, *args: Any, c: int = 1, d, **kwargs: Any) -> dict[str, Any]")
    assert shapes["keyword_only"].signature == (
        "(*, retries: int = 3, timeout: float | None = None, name='x') -> bool")
    assert shapes["multi_line"].signature == (
        "(first: list[int], second: dict[str, tuple[int, ...]] | None = None) -> Iterator[int]")
    assert shapes["multi_line"].source.count("\n") == 5
    assert shapes["generator"].signature == "(limit: int) -> Iterator[int]"
    assert shapes["fetch"].source.startswith("async def fetch(url: str, *, retries: int = 3) -> bytes:")
    assert shapes["stream"].signature == "(n: int)"
    assert shapes["Account.empty"].signature == "(cls) -> 'Account'"
    assert shapes["Account.Meta.Deeper.deepest"].signature == "(self, *args, **kwargs)"
    assert shapes["Account.Meta.Deeper.deepest"].source.startswith(" " * 12 + "def deepest(")
    getter, setter = [p for p in procedures if p.qualname in ("Account.balance", "Account.balance@2")]
    assert setter.name == "balance"
    assert (getter.decorators, setter.decorators) == (["property"], ["balance.setter"])
    assert getter.docstring == "The balance in cents." and setter.docstring is None
    for procedure in procedures:
        assert_exact_source(procedure)
        assert procedure.project == "demo"
        assert procedure.file_path == str(corpus / "pkg" / ("__init__.py" if procedure.module == "pkg" else
                                                             procedure.module.split(".", 1)[1].replace(".", "/")
                                                             + ".py"))


def test_line_numbers_include_decorators(corpus):
    procedures, _ = split(mine(corpus, "pkg/shapes.py"))
    decorated = by_name(procedures)["pkg.shapes", "decorated"]
    lines = (corpus / "pkg" / "shapes.py").read_text().splitlines()
    assert lines[decorated.line_start - 1] == "@functools.lru_cache(maxsize=None)"
    assert lines[decorated.line_end - 1] == "    return x * RATE"


def test_crlf_form_feed_and_bom_keep_exact_sources(tmp_path):
    write(tmp_path / "crlf.py", b"import os\r\n\r\ndef a():\r\n    return os.sep\r\n\x0c\r\ndef b(x):\r\n    return x\r\n")
    write(tmp_path / "bom.py", "\ufeffdef c():\n    return 'c'\n".encode("utf-8"))
    write(tmp_path / "formfeed.py", b"def d():\n    return 1\n\x0c\ndef e():\n    return 2\n")
    procedures, problems = split(mine(tmp_path, "."))
    assert problems == []
    found = {p.qualname: p for p in procedures}
    assert found["a"].source == "def a():\r\n    return os.sep\r\n"
    assert found["a"].imports == ["import os"]
    assert (found["b"].line_start, found["b"].source) == (6, "def b(x):\r\n    return x\r\n")
    assert found["c"].source == "def c():\n    return 'c'\n"
    assert (found["e"].line_start, found["e"].source) == (4, "def e():\n    return 2\n")


def test_compile_warnings_in_mined_code_are_not_problems(tmp_path):
    write(tmp_path / "escapes.py", b"import re\n\ndef digits(text):\n    return re.findall('\\d+', text)\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        procedures, problems = split(mine(tmp_path, "escapes.py"))
    assert problems == []
    assert procedures[0].source == "def digits(text):\n    return re.findall('\\d+', text)\n"


def test_a_declared_source_encoding_is_honoured(tmp_path):
    write(tmp_path / "legacy.py", "# -*- coding: latin-1 -*-\ndef caf\u00e9():\n    return '\u00e9t\u00e9'\n"
          .encode("latin-1"))
    procedures, problems = split(mine(tmp_path, "legacy.py"))
    assert problems == []
    assert procedures[0].qualname == "caf\u00e9" and "'\u00e9t\u00e9'" in procedures[0].source


# -- include / exclude -----------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path) -> Path:
    for relative in ["a.py", "src/app/core.py", "src/app/tests/test_core.py", "src/app/legacy/old.py",
                     "tests/test_top.py", "build/gen.py", ".hidden/secret.py", "src/.cache/c.py",
                     "src/app/__pycache__/core.py", "notes.txt", "src/app/.dotfile.py"]:
        stem = Path(relative).stem.replace(".", "_") or "x"
        write(tmp_path / "t" / relative, f"def f_{stem}():\n    pass\n")
    return tmp_path / "t"


def files_of(items) -> list[str]:
    procedures, problems = split(items)
    assert problems == []
    return [p.module for p in procedures]


def test_default_include_reads_every_python_file_but_hidden_and_pycache(tree):
    assert files_of(mine(tree, ".")) == [
        "a", "build.gen", "src.app.core", "src.app.legacy.old", "src.app.tests.test_core", "tests.test_top"]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (["**/*.py"], ["tests"], ["a", "build.gen", "src.app.core", "src.app.legacy.old"]),
        (["**/*.py"], ["**/tests/**"], ["a", "build.gen", "src.app.core", "src.app.legacy.old"]),
        (["*.py"], ["test_*.py", "build"], ["a", "src.app.core", "src.app.legacy.old"]),
        (["src/**/*.py"], ["src/app/legacy/**"], ["src.app.core", "src.app.tests.test_core"]),
        (["src/**"], ["*/app/tests/*"], ["src.app.core", "src.app.legacy.old"]),
        (["/a.py"], [], ["a"]),
        (["core.py"], [], ["src.app.core"]),
        (["src/*.py"], [], []),
        (["**/[ab]*.py"], [], ["a"]),
        (["**/[!ab]*.py"], ["build", "src"], ["tests.test_top"]),
        (["**/ol?.py", "gen.py"], [], ["build.gen", "src.app.legacy.old"]),
        ([], ["src"], ["a", "build.gen", "tests.test_top"]),
    ],
)
def test_include_and_exclude_globs(tree, include, exclude, expected):
    assert files_of(mine(tree, ".", include=include, exclude=exclude)) == expected


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.py", "a.py", True),
        ("**/*.py", "x/y/z.py", True),
        ("**/*.py", "x/y/z.pyc", False),
        ("*.py", "x/y/z.py", True),
        ("x/*.py", "x/y/z.py", False),
        ("x/*.py", "x/z.py", True),
        ("x/**/z.py", "x/z.py", True),
        ("x/**/z.py", "x/a/b/z.py", True),
        ("x/**/z.py", "y/x/z.py", False),
        ("x/**", "x/a/b.py", True),
        ("/z.py", "x/z.py", False),
        ("tests", "pkg/tests/test_a.py", True),
        ("tests", "pkg/tests_old/a.py", False),
        ("a?.py", "ab.py", True),
        ("a?.py", "a/b.py", False),
        ("[]]x.py", "]x.py", True),
        ("[!a]x.py", "bx.py", True),
        ("[!a]x.py", "ax.py", False),
        ("a+b(1).py", "a+b(1).py", True),
    ],
)
def test_glob_semantics(pattern, path, matches):
    assert _matches([_compile(pattern)], tuple(path.split("/"))) is matches


# -- problems --------------------------------------------------------------------------------


def test_bad_files_are_problems_next_to_good_procedures(tmp_path):
    good = write(tmp_path / "src" / "good.py", "def ok():\n    return 1\n")
    broken = write(tmp_path / "src" / "broken.py", "def fine():\n    pass\n\ndef bad(:\n    pass\n")
    latin = write(tmp_path / "src" / "latin.py", "def x():\n    return 'caf\u00e9'\n".encode("latin-1"))
    nul = write(tmp_path / "src" / "nul.py", b"def y():\n    return '\x00'\n")
    dangling = tmp_path / "src" / "gone.py"
    dangling.symlink_to(tmp_path / "nowhere.py")
    write(tmp_path / "src" / "z_last.py", "async def last():\n    pass\n")
    procedures, problems = split(mine(tmp_path, "src"))
    assert [(p.module, p.qualname) for p in procedures] == [("good", "ok"), ("z_last", "last")]
    assert procedures[0].file_path == str(good)
    found = {Path(p.path).name: p for p in problems}
    assert list(found) == ["broken.py", "gone.py", "latin.py", "nul.py"]  # sorted, like the files
    assert (found["broken.py"].path, found["broken.py"].line) == (str(broken), 4)
    assert found["broken.py"].message.startswith("syntax error: ")
    assert (found["latin.py"].path, found["latin.py"].line) == (str(latin), 2)
    assert found["latin.py"].message == "not valid UTF-8 (byte 24)"
    assert str(found["latin.py"]) == f"{latin}:2: not valid UTF-8 (byte 24)"
    assert found["nul.py"].path == str(nul) and "null bytes" in found["nul.py"].message
    assert found["gone.py"].path == str(dangling) and found["gone.py"].message.startswith("cannot read")


def test_missing_paths_are_problems(tmp_path):
    write(tmp_path / "real.py", "def real():\n    pass\n")
    items = mine(tmp_path, "no/such/dir", "real.py", "no_such_module_anywhere_xyz", "missing.py")
    procedures, problems = split(items)
    assert [p.qualname for p in procedures] == ["real"]
    assert [(p.path, p.line) for p in problems] == [
        (str(tmp_path / "no/such/dir"), None),
        (str(tmp_path / "no_such_module_anywhere_xyz"), None),
        (str(tmp_path / "missing.py"), None),
    ]
    assert problems[0].message == "no such file or folder"
    assert "no such file, folder or importable module" in problems[1].message


# -- installed modules -----------------------------------------------------------------------


def test_an_installed_stdlib_package_is_read_by_name(tmp_path):
    procedures, problems = split(mine(tmp_path, "json"))
    assert problems == []
    found = by_name(procedures)
    assert {"json", "json.decoder", "json.encoder", "json.scanner"} <= {p.module for p in procedures}
    decode = found["json.decoder", "JSONDecoder.decode"]
    assert decode.file_path.endswith(os.path.join("json", "decoder.py"))
    assert decode.signature == "(self, s, _w=WHITESPACE.match)"
    assert ("json.decoder", "py_scanstring") in found
    assert ("json", "loads") in found
    assert found["json", "dumps"].imports == ["from .encoder import JSONEncoder"]
    assert found["json.decoder", "JSONDecoder.__init__"].imports == ["from json import scanner"]
    for procedure in procedures:
        assert_exact_source(procedure)


def test_single_module_dotted_submodule_and_builtin_by_name(tmp_path):
    procedures, problems = split(mine(tmp_path, "textwrap", "email.mime", "sys"))
    modules = {p.module for p in procedures}
    assert "textwrap" in modules and "email.mime.text" in modules
    assert ("email.mime.text", "MIMEText.__init__") in by_name(procedures)
    assert not any(m == "email" or m.startswith("email.") and not m.startswith("email.mime") for m in modules)
    assert [(p.path, p.message) for p in problems] == [("sys", "module 'sys' has no Python source (built-in)")]


def test_packages_are_read_without_being_imported(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write(site / "boompkg" / "__init__.py", "raise RuntimeError('must not run')\n\ndef top():\n    pass\n")
    write(site / "boompkg" / "sub" / "__init__.py", "raise RuntimeError('must not run either')\n")
    write(site / "boompkg" / "sub" / "leaf.py", "def leaf(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(site))
    procedures, problems = split(mine(tmp_path / "elsewhere", "boompkg.sub", "boompkg"))
    assert problems == []
    assert [(p.module, p.qualname) for p in procedures] == [("boompkg.sub.leaf", "leaf"), ("boompkg", "top")]
    assert "boompkg" not in sys.modules and "boompkg.sub" not in sys.modules


def test_namespace_packages_by_name(tmp_path, monkeypatch):
    for site in ("one", "two"):
        write(tmp_path / site / "nsroot" / "inner" / f"{site}.py", f"def from_{site}():\n    pass\n")
    write(tmp_path / "one" / "nsroot" / "inner" / "pkg" / "__init__.py", "def init():\n    pass\n")
    write(tmp_path / "one" / "nsroot" / "inner" / "mod.py", "def mod():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path / "two"))
    monkeypatch.syspath_prepend(str(tmp_path / "one"))
    procedures, problems = split(mine(tmp_path / "elsewhere", "nsroot.inner", "nsroot.inner.pkg",
                                      "nsroot.inner.mod", "nsroot", "nsroot.missing"))
    assert [(p.module, p.qualname) for p in procedures] == [
        ("nsroot.inner.mod", "mod"), ("nsroot.inner.one", "from_one"), ("nsroot.inner.pkg", "init"),
        ("nsroot.inner.two", "from_two"),
    ]
    assert [p.path for p in problems] == [str(tmp_path / "elsewhere" / "nsroot.missing")]
    assert not any(name.startswith("nsroot") for name in sys.modules)


def test_include_and_exclude_apply_inside_an_installed_package(tmp_path):
    procedures, _ = split(mine(tmp_path, "json", include=["decoder.py"]))
    assert {p.module for p in procedures} == {"json.decoder"}
    procedures, _ = split(mine(tmp_path, "email", exclude=["mime", "_[!_]*.py"]))
    modules = {p.module for p in procedures}
    assert "email.message" in modules and "email" in modules
    assert not any(m.startswith(("email.mime", "email._")) for m in modules)


# -- imports ---------------------------------------------------------------------------------


def test_imports_are_the_module_imports_a_function_uses(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "util.py", "def helper():\n    pass\n")
    write(tmp_path / "pkg" / "mod.py", '''
        from __future__ import annotations

        import os
        import os.path as osp
        import xml.etree.ElementTree
        from collections import OrderedDict as OD, deque
        from . import util
        from .util import helper
        from typing import *
        import functools

        try:
            import ujson as fastjson
        except ImportError:
            fastjson = None

        if os.name == "nt":
            from ntpath import join as native_join
        else:
            from posixpath import join as native_join


        @functools.cache
        def uses_many(path: "osp.PathLike") -> OD:
            def closure():
                return helper(util.helper, deque())
            return os.path.join(native_join(path, "x"), str(closure()))


        def uses_dotted_root() -> None:
            xml.etree.ElementTree.fromstring("<a/>")
            fastjson.dumps({})


        def uses_none(os_name: str) -> str:
            import json  # a local import is part of the source, not of the module imports
            return json.dumps(os_name)


        class Thing:
            def method(self) -> OD:
                return OD()
        ''')
    procedures, problems = split(mine(tmp_path, "pkg"))
    assert problems == []
    found = by_name(procedures)
    assert found["pkg.mod", "uses_many"].imports == [
        "import os",
        "import os.path as osp",
        "from collections import OrderedDict as OD",
        "from collections import deque",
        "from . import util",
        "from .util import helper",
        "import functools",
        "from ntpath import join as native_join",  # the first binding of a name is kept
    ]
    assert found["pkg.mod", "uses_dotted_root"].imports == ["import xml.etree.ElementTree",
                                                            "import ujson as fastjson"]
    assert found["pkg.mod", "uses_none"].imports == []
    assert found["pkg.mod", "Thing.method"].imports == ["from collections import OrderedDict as OD"]
    assert found["pkg.util", "helper"].imports == []
