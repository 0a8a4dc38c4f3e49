"""The static safety gate: generated code is read as an AST and rejected early if it is obviously
dangerous. Nothing here imports, compiles or runs the checked code.

The gate is not the security boundary — every dream only ever runs inside a sandbox — but it turns
away drafts that reach for the process, the file system, the network or the interpreter's
internals before they are stored, and says why in short, stable words ("imports os", "calls eval",
"accesses __globals__") that can be counted.

The rules are general and walk every node:

* imports: every module a dream imports must be in ``allowed_imports`` and in none of
  ``denied_imports`` (``import a.b`` is judged by ``a`` and ``a.b``; ``from a import b`` also by
  ``a.b``); relative and star imports are refused, and so is reaching a denied or private module
  through an allowed one (``typing.sys``, ``random._os``, ``enum.bltns``) or passing a module
  around as a value;
* names and attributes: every ``x.name``, ``getattr(x, "name")``, ``attrgetter("a.name")``,
  ``obj["name"]``, class pattern ``case C(name=...)``, bare name and string constant is held
  against ``denied_attributes``; attribute names that cannot be read from the source (computed
  ``getattr``/``setattr``/``delattr``/``attrgetter``/``methodcaller`` names, format strings with
  ``__`` fields) are refused;
* calls: builtins in ``denied_calls`` are refused when called or passed around, unless the dream
  binds that name itself (a parameter called ``input`` is fine); dotted entries are module
  functions, resolved through the dream's imports; entries starting with ``.`` are methods of any
  object;
* builtins: rebinding a builtin at module level, deleting one, declaring one ``global`` or
  touching ``__builtins__`` is refused; so are metaclasses and three-argument ``type()``;
* annotations are code (``typing.get_type_hints`` evaluates string annotations), so they must be
  plain type expressions and the code inside annotation strings is checked like the rest.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import warnings
from typing import Any

import attrs

from dreamcore.config import SafetyPolicy

MAX_SOURCE_CHARS = 100_000
"""Longer sources are refused unparsed ("too large"): a dream is one function, not a library."""


# --------------------------------------------------------------------------------------- verdict

_CATEGORIES = (
    ("imports", "import"),
    ("uses a relative import", "import"),
    ("uses module", "module"),
    ("uses private module attribute", "module"),
    ("reaches denied module", "module"),
    ("calls type with", "class"),
    ("defines a class", "class"),
    ("calls", "call"),
    ("refers to", "call"),
    ("writes a file", "file"),
    ("accesses", "attribute"),
    ("mentions", "attribute"),
    ("computes __match_args__", "attribute"),
    ("formats", "format"),
    ("rebinds", "builtin"),
    ("assigns", "builtin"),
    ("deletes", "builtin"),
    ("declares", "builtin"),
    ("computes an annotation", "annotation"),
    ("does not parse", "syntax"),
    ("too large", "limit"),
    ("too deeply nested", "limit"),
    ("could not be checked", "internal"),
)


@attrs.frozen
class Verdict:
    """The gate's answer: ``ok``, or the reasons the code was refused (earliest in the source first)."""

    ok: bool
    reasons: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if self.ok == bool(self.reasons):
            raise ValueError("a verdict is ok exactly when it has no reasons")

    @property
    def category(self) -> str:
        """A short stable key for the first reason ("import", "call", "attribute", ...); "" if ok."""
        if not self.reasons:
            return ""
        first = self.reasons[0]
        if first.endswith(" with a computed name"):
            return "attribute"
        for prefix, category in _CATEGORIES:
            if first.startswith(prefix):
                return category
        return "other"


def _refused(reason: str) -> Verdict:
    return Verdict(ok=False, reasons=(reason,))


# ----------------------------------------------------------------------------------- the rules

_BUILTIN_NAMES = frozenset(
    {name for name in dir(builtins) if not name.startswith("_")}
    | {"__import__", "__build_class__", "help", "exit", "quit", "copyright", "credits", "license"}
)
_ATTRIBUTE_FUNCTIONS = ("getattr", "setattr", "delattr")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class _Rules:
    """A policy compiled into sets and a regular expression, shared by every check under it."""

    def __init__(self, key: tuple[tuple[str, ...], ...]) -> None:
        allowed, denied, calls, attributes = key
        self.allowed = frozenset(allowed)
        self.denied = _by_last_part(denied)
        self.bare_calls = frozenset(c for c in calls if "." not in c)
        self.dotted_calls = _by_last_part(c for c in calls if "." in c and not c.startswith("."))
        self.method_calls = frozenset(c[1:] for c in calls if c.startswith("."))
        self.dunder_calls = frozenset(c for c in self.bare_calls if c.startswith("__"))
        self.attributes = frozenset(attributes)
        self.sensitive = self.bare_calls | {*_ATTRIBUTE_FUNCTIONS, "type", "print"}
        self.watched = self.sensitive | self.attributes
        # denied attribute names (and dunder builtins) as whole identifiers inside a string
        words = sorted(self.attributes | self.dunder_calls, key=len, reverse=True)
        self.in_string = (
            re.compile(rf"(?<![A-Za-z0-9_])(?:{'|'.join(map(re.escape, words))})(?![A-Za-z0-9_])").search
            if words
            else None
        )
        self._judged: dict[str, str | None] = {}

    def judge_import(self, dotted: str) -> str | None:
        """Why importing ``dotted`` is refused, or None."""
        try:
            return self._judged[dotted]
        except KeyError:
            reason = self._judge_import(dotted)
        if len(self._judged) < 4096 and len(dotted) <= 200:
            self._judged[dotted] = reason
        return reason

    def _judge_import(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        for end in range(1, len(parts) + 1):
            length = _ends_with(parts, self.denied, end)
            if length:  # `import os.path` imports os; `from typing import sys` imports typing.sys
                return f"imports {'.'.join(parts[:end]) if length == end else dotted}"
        if any(_private(part) for part in parts):
            return f"imports private name {dotted}"
        if any(_ends_with(parts, self.dotted_calls, end) for end in range(2, len(parts) + 1)):
            return f"imports {dotted}"
        prefix = ""
        for part in parts:
            prefix = f"{prefix}.{part}" if prefix else part
            if prefix in self.allowed:
                return None
            if len(prefix) > 200:  # no allowed module has a longer name
                break
        return f"imports {dotted} (not in allowed_imports)"


def _by_last_part(entries: Any) -> dict[str, list[list[str]]]:
    """Dotted names indexed by their last part, to match the end of a longer dotted path."""
    index: dict[str, list[list[str]]] = {}
    for entry in entries:
        parts = entry.split(".")
        index.setdefault(parts[-1], []).append(parts)
    return index


def _ends_with(parts: list[str], index: dict[str, list[list[str]]], end: int | None = None) -> int:
    """The length of the longest indexed entry that ``parts[:end]`` ends with (0 if none):
    a.b.c ends with b.c."""
    end = len(parts) if end is None else end
    entries = index.get(parts[end - 1])
    if entries is None:
        return 0
    return max((len(e) for e in entries if len(e) <= end and parts[end - len(e) : end] == e), default=0)


@functools.lru_cache(maxsize=16)
def _compiled(key: tuple[tuple[str, ...], ...]) -> _Rules:
    return _Rules(key)


_DEFAULT_POLICY = SafetyPolicy()


def _rules(policy: SafetyPolicy | None) -> _Rules:
    policy = policy or _DEFAULT_POLICY
    return _compiled(
        (
            tuple(policy.allowed_imports),
            tuple(policy.denied_imports),
            tuple(policy.denied_calls),
            tuple(policy.denied_attributes),
        )
    )


# --------------------------------------------------------------------------------- the checker

_MAX_REASON = 160
_MODULE, _FUNCTION, _CLASS, _COMPREHENSION = "module", "function", "class", "comprehension"
_BARE, _CALLED, _ROOT = 0, 1, 2  # how a name is used: as a value, as what is called, as x in x.y


class _Scope:
    """A Python scope: which of the sensitive names it binds, and its global/nonlocal names."""

    __slots__ = ("bound", "globals", "kind", "nonlocals", "parent")

    def __init__(self, kind: str, parent: _Scope | None) -> None:
        self.kind = kind
        self.parent = parent
        self.bound: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()


class _Enter:
    """A marker on the walk's stack: nodes below it run in ``scope``."""

    __slots__ = ("scope",)

    def __init__(self, scope: _Scope) -> None:
        self.scope = scope


# fields never worth walking into: contexts, operators and plain values
_SKIPPED_FIELDS = frozenset(
    {"ctx", "op", "ops", "type_ignores", "id", "attr", "arg", "module", "level", "is_async", "kind",
     "conversion", "type_comment", "simple", "tag"}
)  # fmt: skip
_FIELDS: dict[type, tuple[str, ...]] = {}

_ANNOTATION_NODES = frozenset(
    {ast.Name, ast.Attribute, ast.Subscript, ast.Constant, ast.Tuple, ast.List, ast.BinOp, ast.BitOr,
     ast.UnaryOp, ast.USub, ast.UAdd, ast.Load, ast.Starred}
)  # fmt: skip
_OPERATOR_NAME_FUNCTIONS = frozenset({"operator.attrgetter", "operator.methodcaller"})
_NAME_ARGUMENT = frozenset({*_ATTRIBUTE_FUNCTIONS, "hasattr", "__setattr__", "__delattr__",
                            "attrgetter", "methodcaller", "format", "format_map"})  # fmt: skip


def _fields(cls: type) -> tuple[str, ...]:
    names = tuple(f for f in cls._fields if f not in _SKIPPED_FIELDS)
    _FIELDS[cls] = names
    return names


def _is_str(node: ast.AST) -> bool:
    return node.__class__ is ast.Constant and node.value.__class__ is str


def _string_parts(expr: ast.expr) -> list[ast.Constant]:
    """The string constants a string expression is built from ('a' + x, f'...', 'a' % x)."""
    parts, todo = [], [expr]
    while todo:
        node = todo.pop()
        if _is_str(node):
            parts.append(node)
        elif node.__class__ is ast.BinOp:
            todo += (node.left, node.right)  # type: ignore[attr-defined]
        elif node.__class__ is ast.JoinedStr:
            todo += node.values  # type: ignore[attr-defined]
    return parts


def _open_mode(call: ast.Call) -> str | None:
    mode = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    return mode.value if mode is not None and _is_str(mode) else None


def _parse_annotation(text: str) -> ast.expr | None:
    """The expression typing would evaluate for a string annotation, if it parses."""
    if text.startswith("*"):  # typing.ForwardRef compiles "*Ts" as "(*Ts,)[0]"
        text = f"({text},)[0]"
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


class _Checker:
    """One walk over one tree. Nodes go through an explicit stack (no recursion, so any depth the
    parser accepts is fine); what needs the whole tree (which names are the dream's own, which
    are modules) is collected on the way and judged in ``_finish``."""

    def __init__(self, rules: _Rules) -> None:
        self.rules = rules
        self.found: list[tuple[int, int, int, str]] = []
        self.module = self.scope = _Scope(_MODULE, None)
        self.stack: list[Any] = []
        self.quiet: set[int] = set()  # ids of string constants already judged in context
        self.pending: list[tuple[str, _Scope, ast.Name, ast.Call | None]] = []
        self.chains: list[tuple[str, list[str], ast.Call | None, ast.AST]] = []
        self.bare: list[ast.Name] = []
        self.name_calls: list[tuple[str, ast.Call]] = []
        self.modules: dict[str, set[str]] = {}  # name -> modules bound to it by `import`
        self.imported: dict[str, set[str]] = {}  # name -> dotted origins from `from x import y`

    # ------------------------------------------------------------------ walking

    def run(self, tree: ast.AST) -> tuple[str, ...]:
        stack = self.stack
        stack.append(tree)
        pop, push = stack.pop, stack.append
        handlers, fields, AST = _HANDLERS, _FIELDS, ast.AST
        while stack:
            node = pop()
            cls = node.__class__
            handler = handlers.get(cls)
            if handler is not None:
                handler(self, node)
                continue
            names = fields.get(cls)
            for name in _fields(cls) if names is None else names:
                value = getattr(node, name, None)
                if value.__class__ is list:
                    for item in value:  # statements, expressions or None (in Dict keys, kw_defaults)
                        if item is not None:
                            push(item)
                elif isinstance(value, AST):
                    push(value)
        self._finish()
        self.found.sort()
        return tuple(dict.fromkeys(reason for *_, reason in self.found))

    def flag(self, node: Any, reason: str) -> None:
        if node.__class__ is ast.Attribute:  # where its name is: x.__class__.__bases__ in reading order
            line, column = node.end_lineno or 0, (node.end_col_offset or 0) - len(node.attr)
        else:
            line, column = getattr(node, "lineno", 0) or 0, getattr(node, "col_offset", 0) or 0
        if len(reason) > _MAX_REASON:  # a 20,000-part dotted name makes a short reason too
            reason = reason[: _MAX_REASON - 3] + "..."
        self.found.append((line, column, len(self.found), reason))

    def _enter(self, marker: _Enter) -> None:
        self.scope = marker.scope

    def _bind(self, name: str, node: ast.AST, *, rebinding: bool = True) -> None:
        """``name`` is bound in the current scope (by an import, def, parameter, except, case...)."""
        scope = self.scope
        if name in self.rules.sensitive:
            scope.bound.add(name)
        if not rebinding:  # a def or class: `def filter(...)` or a `__reduce__` method is fine
            return
        if name in self.rules.attributes:
            self.flag(node, f"assigns {name}")
        elif scope is self.module and name in _BUILTIN_NAMES:
            self.flag(node, f"rebinds builtin {name}")
        elif name == "__match_args__" and id(node) not in self.quiet:  # checked in _match_args
            self.flag(node, "computes __match_args__")

    # ------------------------------------------------------------------ names, attributes, calls

    def _name(self, node: ast.Name, how: int = _BARE, call: ast.Call | None = None) -> None:
        name = node.id
        ctx = node.ctx.__class__
        rules = self.rules
        if ctx is ast.Load:
            if how == _BARE:
                self.bare.append(node)
            if name in rules.watched:
                if name in rules.sensitive:
                    self.pending.append((name, self.scope, node, call))
                if name in rules.attributes:
                    self.flag(node, f"accesses {name}")
        elif ctx is ast.Store:
            self._bind(name, node)
        else:
            if name in rules.sensitive:
                self.scope.bound.add(name)
            if name in rules.attributes:
                self.flag(node, f"deletes {name}")
            elif name in _BUILTIN_NAMES:
                self.flag(node, f"deletes builtin {name}")

    def _attribute(self, node: ast.Attribute, call: ast.Call | None = None) -> None:
        rules = self.rules
        names = []
        current: Any = node
        while current.__class__ is ast.Attribute:
            name = current.attr
            if name in rules.attributes:
                self.flag(current, f"accesses {name}")
            elif name in rules.method_calls or name in rules.dunder_calls:
                shown = name if name in rules.dunder_calls else f".{name}"
                verb = "calls" if call is not None and current is node else "refers to"
                self.flag(current, f"{verb} {shown}")
            elif name == "__match_args__" and current.ctx.__class__ is not ast.Load:
                self.flag(current, "computes __match_args__")
            elif name in ("attrgetter", "methodcaller") and call is None and current is node:
                self.flag(current, f"refers to {name}")  # passed around, it gets computed names
            names.append(name)
            current = current.value
        if current.__class__ is ast.Name:
            self._name(current, _ROOT)
            self.chains.append((current.id, names, call, node))
        else:
            self.stack.append(current)

    def _call(self, node: ast.Call) -> None:
        func = node.func
        push = self.stack.append
        if func.__class__ is ast.Name:
            self._name(func, _CALLED, node)
            name = func.id
            if name not in _NAME_ARGUMENT:
                self.name_calls.append((name, node))
        elif func.__class__ is ast.Attribute:
            self._attribute(func, node)
            name = func.attr
        else:
            push(func)
            name = None
        if name in _NAME_ARGUMENT:
            self._name_argument(name, node, func.__class__ is ast.Attribute)
        for arg in node.args:
            push(arg)
        for keyword in node.keywords:
            push(keyword.value)

    def _name_argument(self, name: str, call: ast.Call, method: bool) -> None:
        """Calls that take an attribute name as a string: the name must be a constant, and allowed."""
        args = call.args
        starred = any(arg.__class__ is ast.Starred for arg in args)
        if name in ("format", "format_map"):
            if method:
                receiver = call.func.value  # type: ignore[attr-defined]
                strings = _string_parts(receiver)
                if receiver.__class__ is ast.Name and receiver.id == "str" and args and _is_str(args[0]):
                    strings.append(args[0])
                dunders = [s for s in strings if "__" in s.value]
                if dunders:
                    self.flag(call, "formats a string containing '__'")
                    self.quiet.update(map(id, dunders))
            return
        if name in ("attrgetter", "methodcaller"):
            checked = args if name == "attrgetter" else args[:1]
            if not checked or starred or not all(_is_str(arg) for arg in checked):
                self.flag(call, f"{name} with a computed name")
            for arg in checked:
                if _is_str(arg):
                    self._constant_name(arg, arg.value.split("."), name)
            return
        if method != name.startswith("__"):
            return  # getattr(...) is the builtin; x.getattr(...) is someone's method
        if name in ("__setattr__", "__delattr__"):
            index = len(args) - (2 if name == "__setattr__" else 1)
            if starred or index < 0 or not _is_str(args[index]):
                self.flag(call, f"{name} with a computed name")
                return
        else:  # getattr, setattr, delattr, hasattr: computed names are judged once the name resolves
            index = 1
            if starred or len(args) < 2 or not _is_str(args[1]):
                return
        self._constant_name(args[index], (args[index].value,), name)

    def _constant_name(self, node: ast.Constant, names: Any, function: str) -> None:
        self.quiet.add(id(node))
        for name in names:
            if name in self.rules.attributes:
                self.flag(node, f"accesses {name}")
            elif name == "__match_args__" and function not in ("getattr", "hasattr", "attrgetter"):
                self.flag(node, "computes __match_args__")

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if value.__class__ is str and self.rules.in_string is not None:
            found = self.rules.in_string(value)
            if found is not None and id(node) not in self.quiet:
                self.flag(node, f"mentions {found.group(0)} in a string")

    def _subscript(self, node: ast.Subscript) -> None:
        key = node.slice
        if _is_str(key) and key.value in self.rules.attributes:
            self.flag(key, f"accesses {key.value}")
            self.quiet.add(id(key))
        self.stack.append(node.value)
        self.stack.append(key)

    # ------------------------------------------------------------------ imports

    def _import(self, node: ast.Import) -> None:
        for alias in node.names:
            reason = self.rules.judge_import(alias.name)
            if reason is not None:
                self.flag(node, reason)
            bound = alias.asname or alias.name.partition(".")[0]
            self.modules.setdefault(bound, set()).add(alias.name if alias.asname else bound)
            self._bind(bound, node)

    def _import_from(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.flag(node, "uses a relative import")
            module = ""
        else:
            reason = self.rules.judge_import(module)
            if reason is not None:
                self.flag(node, reason)
                module = ""
        for alias in node.names:
            if alias.name == "*":
                self.flag(node, f"imports * from {'.' * node.level}{node.module or ''}")
                continue
            if module:
                dotted = f"{module}.{alias.name}"
                reason = self.rules.judge_import(dotted)
                if reason is not None:
                    self.flag(node, reason)
                self.imported.setdefault(alias.asname or alias.name, set()).add(dotted)
            self._bind(alias.asname or alias.name, node)

    # ------------------------------------------------------------------ scopes

    def _arguments(self, args: ast.arguments, inner: _Scope, annotated: bool) -> None:
        sensitive = self.rules.sensitive
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
            if arg is None:
                continue
            if arg.arg in sensitive:
                inner.bound.add(arg.arg)
            if annotated and arg.annotation is not None:
                self._annotation(arg.annotation)
        push = self.stack.append
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                push(default)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = self.scope
        self._bind(node.name, node, rebinding=False)  # `def filter(...)` at module level is fine
        inner = _Scope(_FUNCTION, outer)
        push = self.stack.append
        push(_Enter(outer))
        for statement in node.body:
            push(statement)
        for param in getattr(node, "type_params", ()):
            push(param)
        push(_Enter(inner))
        self._arguments(node.args, inner, annotated=True)
        if node.returns is not None:
            self._annotation(node.returns)
        for decorator in node.decorator_list:
            push(decorator)

    def _lambda(self, node: ast.Lambda) -> None:
        outer = self.scope
        inner = _Scope(_FUNCTION, outer)
        push = self.stack.append
        push(_Enter(outer))
        push(node.body)
        push(_Enter(inner))
        self._arguments(node.args, inner, annotated=False)

    def _class(self, node: ast.ClassDef) -> None:
        outer = self.scope
        self._bind(node.name, node, rebinding=False)
        push = self.stack.append
        push(_Enter(outer))
        for statement in node.body:
            push(statement)
        for param in getattr(node, "type_params", ()):
            push(param)
        push(_Enter(_Scope(_CLASS, outer)))
        for keyword in node.keywords:
            if keyword.arg == "metaclass":
                self.flag(keyword, "defines a class with a metaclass")
            elif keyword.arg is None:
                self.flag(keyword, "defines a class with **keywords")
            push(keyword.value)
        for expr in (*node.bases, *node.decorator_list):
            push(expr)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        outer = self.scope
        push = self.stack.append
        push(_Enter(outer))
        for index, generator in enumerate(node.generators):
            push(generator.target)
            for condition in generator.ifs:
                push(condition)
            if index:
                push(generator.iter)
        for part in (node.key, node.value) if node.__class__ is ast.DictComp else (node.elt,):
            push(part)
        push(_Enter(_Scope(_COMPREHENSION, outer)))
        push(node.generators[0].iter)

    def _named_expr(self, node: ast.NamedExpr) -> None:
        saved = self.scope
        while self.scope.kind == _COMPREHENSION:  # `:=` in a comprehension binds outside it
            self.scope = self.scope.parent  # type: ignore[assignment]
        self._name(node.target)
        self.scope = saved
        self.stack.append(node.value)

    def _global(self, node: ast.Global) -> None:
        for name in node.names:
            self.scope.globals.add(name)
            if name in _BUILTIN_NAMES:
                self.flag(node, f"declares builtin {name} global")
            elif name in self.rules.attributes:
                self.flag(node, f"declares {name} global")

    def _nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals.update(node.names)

    def _except(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._bind(node.name, node)
        push = self.stack.append
        if node.type is not None:
            push(node.type)
        for statement in node.body:
            push(statement)

    def _match_name(self, node: ast.MatchAs | ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name, node)
        pattern = getattr(node, "pattern", None)
        if pattern is not None:
            self.stack.append(pattern)

    def _match_mapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self._bind(node.rest, node)
        self.stack.extend(node.keys)
        self.stack.extend(node.patterns)

    def _match_class(self, node: ast.MatchClass) -> None:
        for name in node.kwd_attrs:  # case C(name=...) reads obj.name
            if name in self.rules.attributes:
                self.flag(node, f"accesses {name}")
        self.stack.append(node.cls)
        self.stack.extend(node.patterns)
        self.stack.extend(node.kwd_patterns)

    # ------------------------------------------------------------------ assignments, annotations

    def _match_args(self, targets: list[ast.expr], value: ast.expr | None) -> None:
        """``__match_args__`` names attributes that ``case C(x)`` reads: they must be constants."""
        for target in targets:
            if (
                target.__class__ is ast.Name
                and target.id == "__match_args__"
                and value.__class__ in (ast.Tuple, ast.List)
                and all(map(_is_str, value.elts))  # type: ignore[union-attr]
            ):
                self.quiet.add(id(target))

    def _assign(self, node: ast.Assign) -> None:
        self._match_args(node.targets, node.value)
        self.stack.extend(node.targets)
        self.stack.append(node.value)

    def _ann_assign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._match_args([node.target], node.value)
            self.stack.append(node.value)
        self.stack.append(node.target)
        self._annotation(node.annotation)

    def _aug_assign(self, node: ast.AugAssign) -> None:
        self._match_args([node.target], None)
        self.stack.append(node.target)
        self.stack.append(node.value)

    def _annotation(self, annotation: ast.expr) -> None:
        """Annotations are code that typing evaluates later: plain type expressions only, and the
        code in their strings is checked like the rest (its reasons point at the string). Strings
        in ``Literal[...]`` and ``Annotated`` metadata are values, never evaluated."""
        self.stack.append(annotation)
        if annotation.__class__ is ast.Name:  # the usual case: nothing to look into
            return
        todo: list[tuple[Any, bool]] = [(annotation, True)]
        while todo:
            node, code = todo.pop()
            cls = node.__class__
            if (
                cls not in _ANNOTATION_NODES
                or (cls is ast.BinOp and node.op.__class__ is not ast.BitOr)
                or (cls is ast.UnaryOp and node.operand.__class__ is not ast.Constant)
            ):
                self.flag(node, "computes an annotation")
                return
            if cls is ast.Constant:
                if code and node.value.__class__ is str:
                    inner = _parse_annotation(node.value)
                    if inner is not None:
                        for sub in ast.walk(inner):
                            if "lineno" in sub._attributes:
                                sub.lineno = sub.end_lineno = node.lineno  # type: ignore[attr-defined]
                                sub.col_offset = sub.end_col_offset = node.col_offset  # type: ignore[attr-defined]
                        todo.append((inner, True))
                        self.stack.append(inner)
            elif cls is ast.Subscript:
                head, index = node.value, node.slice
                head_name = getattr(head, "id", None) or getattr(head, "attr", "")
                todo.append((head, code))
                if head_name == "Literal":
                    todo.append((index, False))
                elif head_name == "Annotated" and index.__class__ is ast.Tuple and index.elts:
                    todo.append((index.elts[0], code))  # the metadata is ordinary (checked) code
                else:
                    todo.append((index, code))
            else:
                todo.extend((child, code) for child in ast.iter_child_nodes(node))

    # ------------------------------------------------------------------ after the walk

    def _bound(self, name: str, scope: _Scope) -> bool:
        """Whether ``name`` used in ``scope`` is surely the dream's own variable, not the builtin.

        Only function scopes (and lambdas and comprehensions) count: a name bound anywhere in a
        function is local all through it. Module and class bodies look names up as they run, so
        `x = open(p)` before `def open` there, or `eval = eval` in a class, still get the builtin.
        """
        current: _Scope | None = scope
        while current is not None:
            if current.kind == _MODULE or name in current.globals:
                return False
            if current.kind != _CLASS and name in current.bound and name not in current.nonlocals:
                return True
            current = current.parent
        return False

    def _finish(self) -> None:
        rules = self.rules
        for name, scope, node, call in self.pending:
            if self._bound(name, scope):
                continue
            if name in rules.bare_calls:
                mode = _open_mode(call) if call is not None and name == "open" else None
                if mode is not None and any(c in mode for c in "wax+"):
                    self.flag(call, f"writes a file: open(..., {mode!r})")
                else:
                    self.flag(call or node, f"{'calls' if call is not None else 'refers to'} {name}")
            elif call is None:
                if name in _ATTRIBUTE_FUNCTIONS:
                    self.flag(node, f"refers to {name}")
            elif name in _ATTRIBUTE_FUNCTIONS:
                args = call.args
                if len(args) < 2 or any(a.__class__ is ast.Starred for a in args) or not _is_str(args[1]):
                    self.flag(call, f"{name} with a computed name")
            elif name == "type":
                if len(call.args) == 3:
                    self.flag(call, "calls type with three arguments")
                elif any(a.__class__ is ast.Starred for a in call.args) or any(
                    k.arg is None for k in call.keywords
                ):
                    self.flag(call, "calls type with unpacked arguments")
            elif name == "print" and any(k.arg == "file" for k in call.keywords):
                self.flag(call, "writes a file: print(..., file=...)")
        if not (self.modules or self.imported):
            return
        nothing: set[str] = set()
        for root, names, call, node in self.chains:
            for origin in self.modules.get(root, nothing) | self.imported.get(root, nothing):
                self._module_path(origin, names[::-1], call, node)
        for node in self.bare:
            if node.id in self.modules:
                self.flag(node, f"uses module {node.id} as a value")
            elif self.imported.get(node.id, nothing) & _OPERATOR_NAME_FUNCTIONS:
                self.flag(node, f"refers to {node.id}")  # attrgetter passed around: computed names
        for name, call in self.name_calls:
            for origin in self.imported.get(name, nothing) & _OPERATOR_NAME_FUNCTIONS:
                self._name_argument(origin.rpartition(".")[2], call, method=False)

    def _module_path(self, origin: str, names: list[str], call: ast.Call | None, node: ast.AST) -> None:
        """``module.a.b``: no private names, no denied modules, no denied functions on the way."""
        rules = self.rules
        parts = origin.split(".")
        for index, name in enumerate(names):
            parts.append(name)
            if _private(name):
                self.flag(node, f"uses private module attribute {'.'.join(parts)}")
                return
            if _ends_with(parts, rules.denied):
                self.flag(node, f"reaches denied module {'.'.join(parts)}")
                return
            if _ends_with(parts, rules.dotted_calls):
                called = call is not None and index == len(names) - 1
                self.flag(node, f"{'calls' if called else 'refers to'} {'.'.join(parts)}")
                return


_HANDLERS: dict[type, Any] = {
    _Enter: _Checker._enter,
    ast.Name: _Checker._name,
    ast.Attribute: _Checker._attribute,
    ast.Call: _Checker._call,
    ast.Constant: _Checker._constant,
    ast.Subscript: _Checker._subscript,
    ast.Import: _Checker._import,
    ast.ImportFrom: _Checker._import_from,
    ast.FunctionDef: _Checker._function,
    ast.AsyncFunctionDef: _Checker._function,
    ast.Lambda: _Checker._lambda,
    ast.ClassDef: _Checker._class,
    ast.ListComp: _Checker._comprehension,
    ast.SetComp: _Checker._comprehension,
    ast.GeneratorExp: _Checker._comprehension,
    ast.DictComp: _Checker._comprehension,
    ast.NamedExpr: _Checker._named_expr,
    ast.Global: _Checker._global,
    ast.Nonlocal: _Checker._nonlocal,
    ast.ExceptHandler: _Checker._except,
    ast.Assign: _Checker._assign,
    ast.AnnAssign: _Checker._ann_assign,
    ast.AugAssign: _Checker._aug_assign,
    ast.MatchAs: _Checker._match_name,
    ast.MatchStar: _Checker._match_name,
    ast.MatchMapping: _Checker._match_mapping,
    ast.MatchClass: _Checker._match_class,
}


# ----------------------------------------------------------------------------------- the entry


def check_code(code: str, policy: SafetyPolicy | None = None) -> Verdict:
    """Judge generated code without running it. Never raises: any input gets a Verdict."""
    if not isinstance(code, str):
        return _refused(f"does not parse: expected a str, got {type(code).__name__}")
    if len(code) > MAX_SOURCE_CHARS:
        return _refused(f"too large (over {MAX_SOURCE_CHARS:,} characters)")
    try:
        rules = _rules(policy)
    except Exception as exc:  # e.g. a policy field that is not a list of strings
        return _refused(f"could not be checked: invalid policy ({type(exc).__name__})")
    # The verdict must not depend on the caller's warning filters (-W error turns the
    # invalid-escape warning into a SyntaxError), nor print compile warnings for a draft.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tree = ast.parse(code, filename="<dream>")
        except SyntaxError as exc:
            where = f" (line {exc.lineno})" if exc.lineno else ""
            return _refused(f"does not parse: {exc.msg}{where}")
        except (RecursionError, MemoryError):  # the 3.11 parser signals deep nesting with either
            return _refused("too deeply nested")
        except Exception as exc:
            return _refused(f"does not parse: {exc}")
        try:
            reasons = _Checker(rules).run(tree)
        except RecursionError:
            return _refused("too deeply nested")
        except MemoryError:
            return _refused("too large")
        except Exception as exc:  # a bug here must fail closed, never let the draft through
            return _refused(f"could not be checked: {type(exc).__name__}")
    return Verdict(ok=not reasons, reasons=reasons)
