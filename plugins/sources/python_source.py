"""Procedure source ``python``: functions and methods mined from Python source files.

Each ``paths`` entry of the [[sources]] table is a file, a folder, or the dotted name of an
importable module or package (``"json"``, ``"email.mime"``). Names are located with
:func:`importlib.util.find_spec` and read as source files; nothing is imported or executed (for a
dotted name the parent package's folders are searched directly, so its ``__init__`` never runs).

Folders are walked recursively, in sorted order, skipping ``__pycache__`` and hidden folders. Only
``.py`` files are read, and only those the ``include`` patterns select and no ``exclude`` pattern
rejects. A pattern is matched against the file's path relative to the walked folder, with ``/``
separators: ``*`` and ``?`` stay within one path segment, ``**`` spans any number of segments
(including none), a pattern without ``/`` matches at any depth (``*.py``, ``test_*.py``) and a pattern
that matches a folder matches everything under it (exclude ``tests`` or ``legacy/**``). A leading
``/`` anchors a pattern at the walked folder. An empty ``include`` list selects every ``.py`` file.
A file named directly in ``paths`` is always read.

Every top-level function, method (``Class.method``, ``Outer.Inner.method``) and async function
becomes a ``Procedure``; a qualname met again in the same file (a property's setter, a function
defined in both branches of an ``if``) is suffixed ``@2``, ``@3``, ...; functions defined inside functions belong to their enclosing function.
Definitions under module- or class-level ``if``/``try``/``with``/loops count as top level. A file
that cannot be read, decoded or parsed, and a path that does not exist, become ``SourceProblem``s.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.machinery
import importlib.util
import os
import re
import sys
import tokenize
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from dreamcore import hookimpl
from dreamcore.models import Procedure, SourceProblem

_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_LINE_BREAK = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")  # the line ends ast counts (not \f, \v, ...)
_Function = ast.FunctionDef | ast.AsyncFunctionDef


class PythonSource:
    """Reads procedures from Python files, folders and installed modules."""

    name = "python"

    async def procedures(self, spec, base_dir: Path) -> AsyncIterator[Procedure | SourceProblem]:
        """Yield the Procedures of every selected file (sorted), and a SourceProblem per bad path."""
        seen: set[str] = set()
        for entry, path in zip(spec.paths, spec.resolved_paths(base_dir)):
            targets = await asyncio.to_thread(_targets, entry, path, spec.include, spec.exclude)
            for target in targets:
                if isinstance(target, SourceProblem):
                    yield target
                    continue
                file, module = target
                key = os.path.realpath(file)
                if key in seen:  # overlapping paths entries: read each file once
                    continue
                seen.add(key)
                for item in await asyncio.to_thread(read_file, file, module, spec.project):
                    yield item


# -- finding files -------------------------------------------------------------------------


def _targets(
    entry: str, path: Path, include: list[str], exclude: list[str]
) -> list[tuple[str, str] | SourceProblem]:
    """``(absolute file, module name)`` pairs for one paths entry, or the problems met."""
    shown = os.path.abspath(path)
    if path.is_dir():
        return list(_walk(Path(shown), _package_name(Path(shown)), include, exclude))
    if path.is_file():
        return [(shown, _module_of_file(Path(shown)))]
    if path.exists():
        return [SourceProblem(shown, "not a regular file or folder")]
    if not _MODULE_NAME.match(entry.strip()):
        return [SourceProblem(shown, "no such file or folder")]
    return _module_targets(entry.strip(), shown, include, exclude)


def _module_targets(
    name: str, shown: str, include: list[str], exclude: list[str]
) -> list[tuple[str, str] | SourceProblem]:
    """The source files of an installed module or package, found without importing it."""
    try:
        found = _find_spec(name)
    except Exception as exc:  # noqa: BLE001 -- a broken finder or half-imported module: report, never crash
        return [SourceProblem(shown, f"no such file, folder or importable module ({type(exc).__name__}: {exc})")]
    if found is None:
        return [SourceProblem(shown, f"no such file, folder or importable module {name!r}")]
    if found.submodule_search_locations:  # a package (regular or namespace)
        targets: list[tuple[str, str] | SourceProblem] = []
        for location in sorted(set(found.submodule_search_locations)):
            targets += _walk(Path(os.path.abspath(location)), name, include, exclude)
        return targets
    origin = found.origin
    if origin == "frozen":  # stdlib modules frozen into the interpreter still name their file
        origin = getattr(found.loader_state, "filename", None)
    if not origin or not origin.endswith(".py") or not os.path.isfile(origin):
        return [SourceProblem(name, f"module {name!r} has no Python source ({found.origin})")]
    return [(os.path.abspath(origin), name)]


def _find_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """find_spec that never executes a parent package: submodules are looked up in its folders."""
    parts = name.split(".")
    found = importlib.util.find_spec(parts[0])
    for depth in range(1, len(parts)):
        if found is None or not found.submodule_search_locations:
            return None
        fullname = ".".join(parts[: depth + 1])
        if fullname in sys.modules:
            found = importlib.util.find_spec(fullname)
        else:
            found = _child_spec(fullname, list(found.submodule_search_locations))
    return found


def _child_spec(fullname: str, locations: list[str]) -> importlib.machinery.ModuleSpec | None:
    """What the path finder would find for ``fullname`` in its package's folders, found by hand.

    (PathFinder itself needs the parent package imported for namespace packages.)
    """
    part = fullname.rpartition(".")[2]
    portions = []
    for location in locations:
        folder = os.path.join(location, part)
        init = os.path.join(folder, "__init__.py")
        if os.path.isfile(init):
            spec = importlib.machinery.ModuleSpec(fullname, None, origin=init, is_package=True)
            spec.submodule_search_locations = [folder]
            return spec
        for suffix in importlib.machinery.all_suffixes():
            if os.path.isfile(os.path.join(location, part + suffix)):
                return importlib.machinery.ModuleSpec(fullname, None, origin=os.path.join(location, part + suffix))
        if os.path.isdir(folder):
            portions.append(folder)
    if not portions:
        return None
    spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
    spec.submodule_search_locations = portions
    return spec


def _walk(root: Path, prefix: str, include: list[str], exclude: list[str]) -> Iterator[tuple[str, str] | SourceProblem]:
    """Selected ``.py`` files under ``root``, sorted by relative path, with their module names."""
    includes = [_compile(p) for p in include]
    excludes = [_compile(p) for p in exclude]
    problems: list[SourceProblem] = []
    found: list[tuple[tuple[str, ...], str]] = []

    def complain(error: OSError) -> None:
        problems.append(SourceProblem(os.path.abspath(error.filename or root), f"cannot read: {error.strerror}"))

    for folder, dirnames, filenames in os.walk(root, onerror=complain):
        relative = Path(folder).relative_to(root).parts
        dirnames[:] = [
            d for d in dirnames
            if d != "__pycache__" and not d.startswith(".") and not _matches(excludes, (*relative, d))
        ]
        for filename in filenames:
            parts = (*relative, filename)
            if not filename.endswith(".py") or filename.startswith("."):
                continue
            if includes and not _matches(includes, parts):
                continue
            if _matches(excludes, parts):
                continue
            found.append((parts, os.path.join(folder, filename)))
    found.sort()
    yield from problems
    for parts, file in found:
        yield file, _module_name(prefix, parts, root)


def _compile(pattern: str) -> re.Pattern[str]:
    """A glob pattern as a regex over ``/``-separated relative paths (see the module docstring)."""
    pattern = pattern.strip().replace(os.sep, "/").rstrip("/")
    if pattern.startswith("/"):
        pattern = pattern.lstrip("/")
    elif "/" not in pattern:
        pattern = "**/" + pattern
    segments = pattern.split("/")
    regex = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _segment(segment) + ("" if last else "/")
    return re.compile(regex, re.DOTALL)


def _segment(segment: str) -> str:
    """One path segment of a glob: ``*`` and ``?`` never cross ``/``; ``[...]`` is a character set."""
    out, i = [], 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = i + 1
            if end < len(segment) and segment[end] in "!^":
                end += 1
            if end < len(segment) and segment[end] == "]":
                end += 1
            end = segment.find("]", end)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[").replace("]", "\\]")
                out.append(f"[{'^/' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _matches(patterns: list[re.Pattern[str]], parts: tuple[str, ...]) -> bool:
    """Whether a pattern matches the path or one of the folders containing it."""
    paths = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    return any(pattern.fullmatch(path) for pattern in patterns for path in paths)


def _module_name(prefix: str, parts: tuple[str, ...], root: Path) -> str:
    """Dotted module name of a file at ``parts`` under a walked folder whose own name is ``prefix``."""
    names = [*parts[:-1]]
    stem = parts[-1][: -len(".py")]
    if stem != "__init__":
        names.append(stem)
    dotted = ".".join(filter(None, [prefix, *names]))
    return dotted or root.name  # __init__.py directly in a folder that is not a package


def _package_name(folder: Path) -> str:
    """The dotted name of a package folder (climbing through parent packages), or "" if none."""
    names: list[str] = []
    while (folder / "__init__.py").is_file() and folder.name:
        names.insert(0, folder.name)
        folder = folder.parent
    return ".".join(names)


def _module_of_file(file: Path) -> str:
    """The dotted module name of a single file, within the packages that contain it."""
    package = _package_name(file.parent)
    if file.name == "__init__.py":
        return package or file.parent.name
    return ".".join(filter(None, [package, file.stem]))


# -- reading one file ----------------------------------------------------------------------


def read_file(file: str, module: str, project: str) -> list[Procedure | SourceProblem]:
    """The procedures defined in one file, or the one problem that stops it being read."""
    try:
        raw = Path(file).read_bytes()
    except OSError as exc:
        return [SourceProblem(file, f"cannot read: {exc.strerror or exc}")]
    try:
        encoding = tokenize.detect_encoding(iter(raw.splitlines(keepends=True)).__next__)[0]
    except SyntaxError as exc:  # an unknown or contradictory coding declaration
        return [SourceProblem(file, f"bad encoding declaration: {exc.msg}")]
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        return [SourceProblem(file, f"not valid {name} (byte {exc.start})", raw.count(b"\n", 0, exc.start) + 1)]
    try:
        with warnings.catch_warnings():  # invalid escapes warn (or fail under -W error): not our concern
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=file)
    except SyntaxError as exc:
        return [SourceProblem(file, f"syntax error: {exc.msg}", exc.lineno)]
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return [SourceProblem(file, f"cannot parse: {exc or type(exc).__name__}")]
    lines = _LINE_BREAK.split(text)
    imports = _module_imports(tree)
    procedures: list[Procedure | SourceProblem] = []
    for qualname, node in _distinct(_functions(tree.body, "")):
        try:
            procedures.append(_procedure(node, qualname, module, project, file, lines, imports))
        except RecursionError:
            procedures.append(SourceProblem(file, f"{qualname}: too deeply nested to read", node.lineno))
    return procedures


def _distinct(functions: Iterator[tuple[str, _Function]]) -> Iterator[tuple[str, _Function]]:
    """Repeated qualnames (a property's setter, a def in both branches of an if) get ``@2``, ``@3``."""
    seen: dict[str, int] = {}
    for qualname, node in functions:
        seen[qualname] = seen.get(qualname, 0) + 1
        yield (qualname if seen[qualname] == 1 else f"{qualname}@{seen[qualname]}"), node


def _nested_bodies(statement: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists inside a compound statement that is not a def or class."""
    if isinstance(statement, ast.If | ast.For | ast.AsyncFor | ast.While):
        yield statement.body
        yield statement.orelse
    elif isinstance(statement, ast.With | ast.AsyncWith):
        yield statement.body
    elif isinstance(statement, ast.Try | getattr(ast, "TryStar", ast.Try)):
        yield statement.body
        for handler in statement.handlers:
            yield handler.body
        yield statement.orelse
        yield statement.finalbody
    elif isinstance(statement, ast.Match):
        for case in statement.cases:
            yield case.body


def _functions(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, _Function]]:
    """(qualname, node) of the functions of a module or class body, in source order."""
    for statement in body:
        if isinstance(statement, _Function):
            yield prefix + statement.name, statement
        elif isinstance(statement, ast.ClassDef):
            yield from _functions(statement.body, f"{prefix}{statement.name}.")
        else:
            for inner in _nested_bodies(statement):
                yield from _functions(inner, prefix)


def _module_imports(tree: ast.Module) -> dict[str, str]:
    """Module-level imported names -> the import statement binding each, in module order."""
    imports: dict[str, str] = {}

    def visit(body: list[ast.stmt]) -> None:
        for statement in body:
            if isinstance(statement, ast.Import):
                for alias in statement.names:
                    bound = alias.asname or alias.name.partition(".")[0]
                    text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                    imports.setdefault(bound, text)
            elif isinstance(statement, ast.ImportFrom):
                if statement.module == "__future__":
                    continue
                source = "." * statement.level + (statement.module or "")
                for alias in statement.names:
                    if alias.name == "*":
                        continue
                    text = f"from {source} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                    imports.setdefault(alias.asname or alias.name, text)
            elif not isinstance(statement, _Function | ast.ClassDef):
                for inner in _nested_bodies(statement):
                    visit(inner)

    visit(tree.body)
    return imports


def _used_names(node: ast.AST) -> set[str]:
    """Every name a function reads (decorators, annotations, defaults and body, closures included).

    ``os.path.join`` reads ``os``; annotations written as strings are parsed for their names too.
    """
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id)
        annotation = None
        if isinstance(child, ast.arg | ast.AnnAssign):
            annotation = child.annotation
        elif isinstance(child, _Function):
            annotation = child.returns
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                parsed = ast.parse(annotation.value, mode="eval")
            except SyntaxError:
                continue
            names |= {n.id for n in ast.walk(parsed) if isinstance(n, ast.Name)}
    return names


def _procedure(
    node: _Function, qualname: str, module: str, project: str, file: str, lines: list[str], imports: dict[str, str]
) -> Procedure:
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    end = node.end_lineno or node.lineno
    used = _used_names(node) if imports else set()
    return Procedure(
        project=project,
        module=module,
        qualname=qualname,
        source="".join(lines[start - 1 : end]),
        signature=signature(node),
        docstring=ast.get_docstring(node),
        file_path=file,
        line_start=start,
        line_end=end,
        decorators=[ast.unparse(d) for d in node.decorator_list],
        imports=[text for name, text in imports.items() if name in used],
    )


def signature(node: _Function) -> str:
    """``(a, b: int = 3, *args, key=None, **kw) -> bool``: spaced like ``inspect.signature``."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parts = []
    for index, (arg, default) in enumerate(zip(positional, defaults)):
        parts.append(_parameter(arg, default))
        if index == len(args.posonlyargs) - 1:
            parts.append("/")
    if args.vararg:
        parts.append("*" + _parameter(args.vararg, None))
    elif args.kwonlyargs:
        parts.append("*")
    parts += [_parameter(arg, default) for arg, default in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        parts.append("**" + _parameter(args.kwarg, None))
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return f"({', '.join(parts)}){returns}"


def _parameter(arg: ast.arg, default: ast.expr | None) -> str:
    text = arg.arg
    if arg.annotation is not None:
        text += f": {ast.unparse(arg.annotation)}"
    if default is not None:
        text += (" = " if arg.annotation is not None else "=") + ast.unparse(default)
    return text


@hookimpl
def register_sources(register) -> None:
    register(PythonSource)
