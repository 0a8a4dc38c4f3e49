"""The static safety gate: dangerous drafts refused with their specific reason, realistic code let
through, custom policies, fuzzed input (never raises), and speed. Nothing here runs checked code."""

from __future__ import annotations

import builtins
import importlib
import textwrap
import time
import types
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamcore import config
from dreamcore.analysis.safety import MAX_SOURCE_CHARS, Verdict, check_code
from dreamcore.config import SafetyPolicy
from dreamcore.errors import ConfigError

# (code, the reason it must be refused for, that reason's category)
DANGEROUS = [
    # imports
    ("import os", "imports os", "import"),
    ("import os.path as p", "imports os", "import"),
    ("from subprocess import run\nrun(['ls'])", "imports subprocess", "import"),
    ("import asyncio.subprocess", "imports asyncio.subprocess", "import"),
    ("from asyncio import subprocess", "imports asyncio.subprocess", "import"),
    ("from typing import sys", "imports typing.sys", "import"),
    ("import importlib\nimportlib.import_module('os')", "imports importlib", "import"),
    ("import ctypes", "imports ctypes", "import"),
    ("import gc\nobjects = gc.get_objects()", "imports gc", "import"),
    ("import codecs\ncodecs.open('/etc/passwd').read()", "imports codecs", "import"),
    ("import types\ntypes.FunctionType(code, {})", "imports types", "import"),
    ("import pickle\npickle.loads(blob)", "imports pickle", "import"),
    (
        "import xml.etree.ElementTree as ET",
        "imports xml.etree.ElementTree (not in allowed_imports)",
        "import",
    ),
    ("from . import helpers", "uses a relative import", "import"),
    ("from math import *", "imports * from math", "import"),
    ("from random import _os", "imports private name random._os", "import"),
    ("from string import Formatter", "imports string.Formatter", "import"),
    # reaching denied modules through allowed ones, and modules as values
    ("import random\nrandom._os.system('id')", "uses private module attribute random._os", "module"),
    ("import typing\ntyping.sys.modules['os']", "reaches denied module typing.sys", "module"),
    ("import enum\nenum.bltns.eval('1')", "reaches denied module enum.bltns", "module"),
    (
        "import asyncio\nasyncio.base_events.os.system('id')",
        "reaches denied module asyncio.base_events.os",
        "module",
    ),
    ("import json\njson.codecs.open('/etc/passwd')", "reaches denied module json.codecs", "module"),
    ("import math\ndef area(r, m=math):\n    return m.pi * r * r", "uses module math as a value", "module"),
    # builtins that run code, read the terminal or open files
    ("eval('1 + 1')", "calls eval", "call"),
    ("exec(source)", "calls exec", "call"),
    ("code = compile(src, '<dream>', 'exec')", "calls compile", "call"),
    ("__import__('os').system('id')", "calls __import__", "call"),
    ("def f(mod):\n    return mod.__import__('os')", "calls __import__", "call"),
    ("loader = __loader__.load_module('os')", "accesses __loader__", "attribute"),
    ("run = eval\nrun('1')", "refers to eval", "call"),
    ("def f(x, run=exec):\n    run(x)", "refers to exec", "call"),
    ("class A:\n    input = 1\n    def ask(self):\n        return input()", "calls input", "call"),
    ("data = open('data.txt').read()", "calls open", "call"),
    ("breakpoint()", "calls breakpoint", "call"),
    ("globals()['__builtins__']", "calls globals", "call"),
    ("state = vars(obj)", "calls vars", "call"),
    ("help(len)", "calls help", "call"),
    ("exit(1)", "calls exit", "call"),
    # module and class bodies look names up as they run: their bindings don't hide a builtin
    ("class A:\n    eval = eval", "refers to eval", "call"),
    ("data = open('/etc/passwd').read()\ndef open(p):\n    return p", "calls open", "call"),
    # module functions and methods
    (
        "import asyncio\nasync def ls():\n    return await asyncio.create_subprocess_shell('ls')",
        "calls asyncio.create_subprocess_shell",
        "call",
    ),
    ("async def ls(loop, p):\n    await loop.subprocess_exec(p, 'ls')", "calls .subprocess_exec", "call"),
    ("import typing\nhints = typing.get_type_hints(f)", "calls typing.get_type_hints", "call"),
    ("import uuid\nnode_id = uuid.uuid1()", "calls uuid.uuid1", "call"),
    ("import logging\nlogging.FileHandler('/tmp/x.log')", "calls logging.FileHandler", "call"),
    (
        "import functools\n@functools.singledispatch\ndef show(x):\n    return x",
        "refers to functools.singledispatch",
        "call",
    ),
    # files
    ("with open(path, 'w') as fh:\n    fh.write(text)", "writes a file: open(..., 'w')", "file"),
    ("open(path, mode='ab').write(b'x')", "writes a file: open(..., 'ab')", "file"),
    ("print('report', file=handle)", "writes a file: print(..., file=...)", "file"),
    # attribute names: dunder escapes, frames, computed names
    ("().__class__.__bases__[0].__subclasses__()", "accesses __bases__", "attribute"),
    ("().__class__.__bases__[0].__subclasses__()", "accesses __subclasses__", "attribute"),
    ("type(x).__mro__[-1].__subclasses__()", "accesses __mro__", "attribute"),
    ("(lambda: 0).__globals__['__builtins__']", "accesses __globals__", "attribute"),
    ("__builtins__['eval']('1')", "accesses __builtins__", "attribute"),
    ("table['__builtins__']", "accesses __builtins__", "attribute"),
    ("len.__self__.open('x')", "accesses __self__", "attribute"),
    ("def peek(gen):\n    return gen.gi_frame.f_back.f_globals", "accesses gi_frame", "attribute"),
    (
        "try:\n    1 / 0\nexcept Exception as e:\n    frame = e.__traceback__.tb_frame",
        "accesses tb_frame",
        "attribute",
    ),
    ("x = f.__code__.co_code", "accesses __code__", "attribute"),
    ("self.__dict__.update(kw)", "accesses __dict__", "attribute"),
    ("match f:\n    case object(__globals__=g):\n        pass", "accesses __globals__", "attribute"),
    ("C.__annotations__ = {key: int}", "accesses __annotations__", "attribute"),
    ("getattr(obj, '__globals__')", "accesses __globals__", "attribute"),
    ("getattr(obj, name)", "getattr with a computed name", "attribute"),
    ("setattr(obj, '__cl' + 'ass__', Evil)", "setattr with a computed name", "attribute"),
    ("getattr(obj, ''.join(map(chr, [95, 95, 103])))", "getattr with a computed name", "attribute"),
    ("delattr(obj, names[0])", "delattr with a computed name", "attribute"),
    ("object.__setattr__(obj, name, value)", "__setattr__ with a computed name", "attribute"),
    ("import functools\nfunctools.reduce(getattr, path, root)", "refers to getattr", "call"),
    ("import operator\noperator.attrgetter('f.__globals__')(obj)", "accesses __globals__", "attribute"),
    (
        "from operator import attrgetter\nattrgetter(name)(obj)",
        "attrgetter with a computed name",
        "attribute",
    ),
    ("from operator import attrgetter as ag\nget = ag(name)", "attrgetter with a computed name", "attribute"),
    (
        "import operator\noperator.methodcaller('__reduce_ex__', 2)(obj)",
        "accesses __reduce_ex__",
        "attribute",
    ),
    ("x = 'see f.__globals__ for the rest'", "mentions __globals__ in a string", "attribute"),
    ("class P:\n    __match_args__ = tuple(names)", "computes __match_args__", "attribute"),
    ("class P:\n    for __match_args__ in [(a + b,)]:\n        pass", "computes __match_args__", "attribute"),
    ("'{0.__globals__}'.format(f)", "formats a string containing '__'", "format"),
    ("str.format('{0.__class__.__mro__}', x)", "formats a string containing '__'", "format"),
    # classes made the hard way
    ("Evil = type('Evil', (object,), {'x': 1})", "calls type with three arguments", "class"),
    ("Made = type(*parts)", "calls type with unpacked arguments", "class"),
    ("class A(metaclass=Meta):\n    pass", "defines a class with a metaclass", "class"),
    ("class A(**options):\n    pass", "defines a class with **keywords", "class"),
    # builtins rebound, deleted, declared global
    ("len = lambda x: 0", "rebinds builtin len", "builtin"),
    ("from json import loads as print", "rebinds builtin print", "builtin"),
    ("__builtins__ = {}", "assigns __builtins__", "builtin"),
    ("del print", "deletes builtin print", "builtin"),
    ("def f():\n    global open\n    open = None", "declares builtin open global", "builtin"),
    # annotations are code
    ("def f(x: \"__import__('os').system('id')\"):\n    pass", "calls __import__", "call"),
    ("def f(x: ''.join(['o', 's'])):\n    pass", "computes an annotation", "annotation"),
    # input the parser refuses
    ("def f(:\n    pass", "does not parse: invalid syntax (line 1)", "syntax"),
    ("x = 1\x00", None, "syntax"),
    ("x = 1\n" * (MAX_SOURCE_CHARS // 6 + 1), f"too large (over {MAX_SOURCE_CHARS:,} characters)", "limit"),
]


@pytest.mark.parametrize(
    ("code", "reason", "category"), DANGEROUS, ids=[f"{i}" for i in range(len(DANGEROUS))]
)
def test_dangerous_code_is_refused_with_its_specific_reason(code, reason, category):
    verdict = check_code(code)
    assert not verdict.ok
    if reason is None:
        assert verdict.reasons[0].startswith("does not parse: ")
    else:
        assert reason in verdict.reasons, verdict.reasons
    assert Verdict(ok=False, reasons=(reason or verdict.reasons[0],)).category == category


@pytest.mark.parametrize(
    "code",
    [
        "-" * 50_000 + "1",
        "x = " + " + ".join(["a"] * 20_000),
        "(" * 300 + ")" * 300,
        "lambda: " * 5_000 + "0",
    ],
)
def test_deeply_nested_code_is_refused_not_raised(code):
    verdict = check_code(code)
    assert not verdict.ok
    assert verdict.reasons[0] == "too deeply nested" or verdict.category == "syntax"  # parsers differ in how


def test_enough_dangerous_snippets():
    assert len({code for code, _, _ in DANGEROUS}) >= 30


BENIGN = {
    "retry with time.sleep": """
        import time

        def fetch_with_retry(fetch, url, attempts=3, delay=0.5):
            last_error = None
            for attempt in range(attempts):
                try:
                    return fetch(url)
                except (ConnectionError, TimeoutError) as exc:
                    last_error = exc
                    time.sleep(delay * 2 ** attempt)
            raise RuntimeError(f"gave up after {attempts} attempts") from last_error
    """,
    "async retry with asyncio.sleep": """
        import asyncio
        import random

        async def call_with_backoff(coro_factory, attempts: int = 4) -> object:
            rng = random.Random(7)
            for attempt in range(attempts):
                try:
                    return await asyncio.wait_for(coro_factory(), timeout=2.0)
                except asyncio.TimeoutError:
                    await asyncio.sleep(0.1 * 2 ** attempt + rng.random() / 10)
            raise TimeoutError("no answer")
    """,
    "json parsing": """
        import json

        def load_settings(text: str) -> dict:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"bad settings at line {exc.lineno}") from exc
            if not isinstance(data, dict):
                raise ValueError("settings must be an object")
            return {key.lower(): value for key, value in data.items() if not key.startswith("#")}
    """,
    "decimal money math": """
        from decimal import ROUND_HALF_UP, Decimal

        def invoice_total(lines, tax_rate="0.2"):
            subtotal = sum((Decimal(str(price)) * qty for price, qty in lines), Decimal("0"))
            tax = (subtotal * Decimal(tax_rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            return subtotal + tax
    """,
    "comprehensions": """
        def index_words(lines):
            words = [word.strip(".,;").lower() for line in lines for word in line.split() if word]
            positions = {word: [i for i, w in enumerate(words) if w == word] for word in set(words)}
            lengths = {len(word) for word in words}
            return positions, sorted(lengths)
    """,
    "generators": """
        def chunks(items, size):
            batch = []
            for item in items:
                batch.append(item)
                if len(batch) == size:
                    yield batch
                    batch = []
            if batch:
                yield batch

        def flatten(nested):
            for part in nested:
                yield from part
    """,
    "async generators and context managers": """
        import asyncio
        import contextlib

        @contextlib.asynccontextmanager
        async def limited(semaphore: asyncio.Semaphore):
            async with semaphore:
                yield

        async def ticks(n):
            for i in range(n):
                await asyncio.sleep(0)
                yield i

        async def total(n):
            return sum([i async for i in ticks(n)])
    """,
    "lru_cache": """
        import functools

        @functools.lru_cache(maxsize=None)
        def fibonacci(n: int) -> int:
            return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)
    """,
    "dataclasses": """
        from __future__ import annotations

        import dataclasses
        from dataclasses import dataclass, field

        @dataclass(frozen=True)
        class Order:
            id: int
            items: list[str] = field(default_factory=list)
            note: str | None = None

            def __post_init__(self) -> None:
                object.__setattr__(self, "items", sorted(self.items))

            def with_item(self, item: str) -> Order:
                return dataclasses.replace(self, items=[*self.items, item])
    """,
    "regular expressions": """
        import re

        EMAIL = re.compile(r"^[\\w.+-]+@[\\w-]+\\.[\\w.]+$")

        def normalise_phone(raw: str) -> str:
            digits = re.sub(r"\\D", "", raw)
            return re.sub(r"(\\d{3})(\\d{3})(\\d+)", lambda m: "-".join(m.groups()), digits)
    """,
    "class with properties": """
        class Temperature:
            __slots__ = ("_celsius",)

            def __init__(self, celsius: float = 0.0) -> None:
                self._celsius = celsius

            @property
            def fahrenheit(self) -> float:
                return self._celsius * 9 / 5 + 32

            @fahrenheit.setter
            def fahrenheit(self, value: float) -> None:
                self._celsius = (value - 32) * 5 / 9

            def __repr__(self) -> str:
                return f"{type(self).__name__}({self._celsius:.1f})"
    """,
    "getattr with a constant name": """
        def describe(obj):
            name = getattr(obj, "name", None) or getattr(obj, "title", "untitled")
            if hasattr(obj, "tags"):
                setattr(obj, "described", True)
            return name
    """,
    "dict and str methods": """
        def group_by_domain(emails):
            groups = {}
            for email in emails:
                user, _, domain = email.strip().partition("@")
                groups.setdefault(domain.lower(), []).append(user)
            return {domain: ", ".join(sorted(users)) for domain, users in groups.items()}
    """,
    "f-strings": """
        def format_row(name, amount, share):
            return f"{name:<20} {amount:>10,.2f} {share:6.1%} {name!r}"
    """,
    "collections": """
        from collections import Counter, defaultdict, deque, namedtuple

        Point = namedtuple("Point", "x y")

        def top_words(text, n=3):
            counts = Counter(text.lower().split())
            recent = deque(maxlen=n)
            by_length = defaultdict(list)
            for word, count in counts.most_common():
                recent.append(word)
                by_length[len(word)].append(count)
            return counts.most_common(n), list(recent), dict(by_length), Point(1, 2)
    """,
    "itertools": """
        import itertools

        def pairs_and_runs(items):
            chained = itertools.chain.from_iterable([items, reversed(items)])
            runs = [(key, len(list(group))) for key, group in itertools.groupby(sorted(items))]
            totals = list(itertools.accumulate(items))
            return list(itertools.islice(chained, 5)), runs, totals, list(itertools.combinations(items, 2))
    """,
    "try/except/else/finally": """
        def safe_ratio(a, b, log=None):
            try:
                result = a / b
            except ZeroDivisionError:
                return float("inf")
            except (TypeError, ValueError) as exc:
                raise ValueError(f"bad operands: {exc}") from None
            else:
                return round(result, 4)
            finally:
                if log is not None:
                    log.append((a, b))
    """,
    "contextlib.suppress": """
        import contextlib

        def first_int(values):
            for value in values:
                with contextlib.suppress(ValueError, TypeError):
                    return int(value)
            return None
    """,
    "hashlib digests": """
        import hashlib
        import hmac

        def signature(secret: bytes, payload: str) -> str:
            digest = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
            return hashlib.blake2b(digest.encode(), digest_size=16).hexdigest()

        def verify(secret: bytes, payload: str, expected: str) -> bool:
            return hmac.compare_digest(signature(secret, payload), expected)
    """,
    "random with a seed": """
        import random

        def sample_split(items, ratio=0.8, seed=42):
            rng = random.Random(seed)
            shuffled = items[:]
            rng.shuffle(shuffled)
            cut = int(len(shuffled) * ratio)
            return shuffled[:cut], shuffled[cut:], rng.choice(items)
    """,
    "parameters named like builtins": """
        def convert(input: str, type: str = "int", format: str = "{}", open: bool = False):
            value = int(input) if type == "int" else float(input)
            return format.format(value), open
    """,
    "enum and match": """
        import enum

        class Shape(enum.Enum):
            CIRCLE = "circle"
            SQUARE = "square"

        class Box:
            __match_args__ = ("width", "height")

            def __init__(self, width, height):
                self.width, self.height = width, height

        def area(shape, size):
            match shape, size:
                case Shape.CIRCLE, r:
                    return 3.14159 * r * r
                case Shape.SQUARE, Box(w, h) if w == h:
                    return w * h
                case _, {"width": w, **rest}:
                    return w * rest.get("height", 1)
                case _:
                    raise ValueError(shape)
    """,
    "typing annotations": """
        from __future__ import annotations

        from typing import Literal, Optional, Protocol

        Status = Literal["open", "closed", "eval"]

        class Node(Protocol):
            def children(self) -> list["Node"]: ...

        def walk(node: "Node", status: Status = "open", depth: Optional[int] = None) -> dict[str, int | None]:
            return {"status": len(status), "depth": depth}
    """,
    "statistics and fractions": """
        import math
        import statistics
        from fractions import Fraction

        def summary(values):
            mean = statistics.fmean(values)
            spread = statistics.pstdev(values)
            return mean, spread, statistics.median(values), math.isclose(mean, 0.0), Fraction(1, 3) * 3
    """,
    "datetime arithmetic": """
        from datetime import datetime, timedelta, timezone

        def next_business_day(day: datetime) -> datetime:
            day = day.astimezone(timezone.utc) + timedelta(days=1)
            while day.weekday() >= 5:
                day += timedelta(days=1)
            return day.replace(hour=9, minute=0, second=0, microsecond=0)
    """,
    "heapq and bisect": """
        import bisect
        import heapq

        def k_smallest(items, k):
            return heapq.nsmallest(k, items)

        def grade(score, breakpoints=(60, 70, 80, 90), grades="FDCBA"):
            return grades[bisect.bisect(breakpoints, score)]
    """,
    "uuid, base64 and struct": """
        import base64
        import binascii
        import struct
        import uuid
        import zlib

        def pack_record(value: float) -> str:
            raw = struct.pack("<Id", 1, value) + uuid.uuid4().bytes
            return base64.urlsafe_b64encode(zlib.compress(raw)).decode() + binascii.hexlify(raw[:2]).decode()
    """,
    "textwrap and difflib": """
        import difflib
        import textwrap

        def describe_change(old: str, new: str) -> str:
            ratio = difflib.SequenceMatcher(None, old, new).ratio()
            return textwrap.fill(f"similarity {ratio:.0%}: " + textwrap.dedent(new), width=60)
    """,
    "closures and lambdas": """
        def make_counter(start=0):
            count = start

            def increment(step=1):
                nonlocal count
                count += step
                return count

            return increment, sorted([3, 1, 2], key=lambda x: -x)
    """,
    "walrus": """
        def read_blocks(read):
            blocks = []
            while (block := read(1024)):
                blocks.append(block)
            return [size for b in blocks if (size := len(b)) > 0]
    """,
    "logging": """
        import logging

        log = logging.getLogger(__name__)

        def apply(changes):
            for change in changes:
                log.info("applying %s", change)
            log.debug("done: %d changes", len(changes))
    """,
    "abc and super": """
        import abc

        class Base(abc.ABC):
            def __init__(self, name):
                self.name = name

            @abc.abstractmethod
            def run(self): ...

        class Job(Base):
            def __init__(self, name, retries=1):
                super().__init__(name)
                self.retries = retries

            def run(self):
                return f"{self.name} x{self.retries}"
    """,
    "global statement": """
        _calls = 0

        def counted(x):
            global _calls
            _calls += 1
            return x * 2
    """,
    "string formatting": """
        def render(template, **values):
            greeting = "Hello, {name}!".format(name=values.get("name", "world"))
            legacy = "%s has %d items" % (values.get("name"), len(values))
            return template.format(**values), greeting, legacy, "{} and {}".format(1, 2)
    """,
    "module with docstring, __all__ and a main block": '''
        """Utilities for the dream."""

        __all__ = ["double"]

        def double(x):
            """Return twice x."""
            return 2 * x

        if __name__ == "__main__":
            print(double(2))
    ''',
    "dunder methods": """
        class Money:
            __slots__ = ("cents",)

            def __init__(self, cents: int) -> None:
                self.cents = cents

            def __eq__(self, other):
                return isinstance(other, Money) and other.cents == self.cents

            def __hash__(self):
                return hash(self.cents)

            def __add__(self, other):
                return self.__class__(self.cents + other.cents)

            def __repr__(self):
                return f"{self.__class__.__name__}({self.cents})"

            def __reduce__(self):
                return (Money, (self.cents,))
    """,
    "type checks and memoryview": """
        def describe(value):
            if isinstance(value, type):
                return value.__name__
            if type(value) is bytes:
                return memoryview(value)[1:3].tobytes()
            return repr(value)
    """,
    "operator and functools tools": """
        import functools
        import operator

        def total_price(items):
            ordered = sorted(items, key=operator.attrgetter("price", "name"))
            by_second = sorted(ordered, key=operator.itemgetter(1))
            add = functools.partial(functools.reduce, operator.add)
            return add([item.price for item in ordered]), by_second

        def logged(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                return func(*args, **kwargs)
            return wrapper
    """,
    "csv text": """
        import csv

        def parse_rows(text):
            reader = csv.DictReader(text.splitlines())
            return [{k: v.strip() for k, v in row.items()} for row in reader]
    """,
    "json dumps with default": """
        import json
        from datetime import date

        def to_json(record: dict) -> str:
            return json.dumps(record, default=str, sort_keys=True, indent=2) + str(date.today())
    """,
}


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_realistic_code_is_allowed(name):
    verdict = check_code(textwrap.dedent(BENIGN[name]))
    assert verdict == Verdict(ok=True, reasons=()), verdict.reasons
    assert verdict.category == ""


def test_enough_benign_snippets():
    assert len(BENIGN) >= 30


# --------------------------------------------------------------------------- reasons and verdicts


def test_reasons_come_earliest_first_and_once():
    verdict = check_code("import os\nx = eval(a)\ny = eval(b)\nz = ().__class__.__base__.__subclasses__")
    assert verdict.reasons == ("imports os", "calls eval", "accesses __base__", "accesses __subclasses__")
    assert verdict.category == "import"


def test_a_verdict_is_ok_exactly_when_it_has_no_reasons():
    with pytest.raises(ValueError):
        Verdict(ok=True, reasons=("calls eval",))
    with pytest.raises(ValueError):
        Verdict(ok=False, reasons=())
    assert Verdict(ok=True).reasons == ()


def test_names_the_dream_binds_itself_are_not_the_builtins():
    assert check_code("def f(open):\n    return open('x')").ok
    assert check_code("def f():\n    compile = lambda s: s\n    return compile('x')").ok
    assert check_code("def f():\n    def open(p):\n        return p\n    return open('x')").ok
    assert check_code("def outer(eval):\n    def inner():\n        return eval(1)\n    return inner").ok
    assert check_code("def help(topic):\n    return topic.upper()").ok  # defining is fine, calling is not
    assert check_code("for input in range(3):\n    pass").reasons == ("rebinds builtin input",)
    # a class body does not enclose its methods: there `input` is the builtin again
    assert (
        "calls input"
        in check_code("class A:\n    input = 1\n    def m(self):\n        return input()").reasons
    )
    # defaults and decorators run outside the function
    assert "refers to eval" in check_code("def f(eval=eval):\n    return eval").reasons


def test_strings_in_literal_and_annotated_metadata_are_not_code():
    code = "from typing import Annotated, Literal\ndef f(a: Literal['eval'], b: Annotated[int, 'open']): ..."
    assert check_code(code).ok
    assert "calls eval" in check_code("def f(a: list['eval(1)']): ...").reasons


def test_non_text_input_is_refused_not_raised():
    assert check_code(b"import os").reasons == ("does not parse: expected a str, got bytes",)  # type: ignore[arg-type]
    assert check_code(None).category == "syntax"  # type: ignore[arg-type]


def test_the_verdict_ignores_the_callers_warning_filters():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_code('import re\nDIGITS = re.compile("\\d+")').ok


def test_checking_never_runs_the_code(tmp_path):
    marker = tmp_path / "ran"
    code = f"import math\nraise SystemExit(math.floor(3.5))\nopen({str(marker)!r}, 'w')"
    verdict = check_code(code)
    assert verdict.reasons == ("writes a file: open(..., 'w')",)
    assert not marker.exists()


# --------------------------------------------------------------------------------- custom policy


def test_a_policy_can_allow_an_import():
    policy = SafetyPolicy(allowed_imports=[*SafetyPolicy().allowed_imports, "xml.etree"])
    assert check_code("import xml.etree.ElementTree as ET\nET.fromstring('<a/>')", policy).ok
    assert check_code("import xml.dom", policy).reasons == ("imports xml.dom (not in allowed_imports)",)
    assert not check_code("import xml.etree").ok  # the default policy is unchanged


def test_denied_imports_win_over_allowed_ones():
    policy = SafetyPolicy(allowed_imports=["os", "math"])
    assert check_code("import os", policy).reasons == ("imports os",)
    assert check_code("import json", policy).reasons == ("imports json (not in allowed_imports)",)


def test_a_policy_can_deny_more_calls_and_attributes():
    policy = SafetyPolicy(
        denied_calls=[*SafetyPolicy().denied_calls, "print", "math.factorial", ".send"],
        denied_attributes=[*SafetyPolicy().denied_attributes, "__wrapped__"],
    )
    assert check_code("print('hi')", policy).reasons == ("calls print",)
    assert check_code("import math\nmath.factorial(5)", policy).reasons == ("calls math.factorial",)
    assert check_code("from math import factorial", policy).reasons == ("imports math.factorial",)
    assert check_code("def f(gen):\n    gen.send(None)", policy).reasons == ("calls .send",)
    assert check_code("f.__wrapped__", policy).reasons == ("accesses __wrapped__",)
    assert check_code("print('hi')\nimport math\nmath.factorial(5)").ok  # default policy


def test_a_policy_can_relax_an_attribute():
    policy = SafetyPolicy(denied_attributes=[a for a in SafetyPolicy().denied_attributes if a != "__dict__"])
    code = "def update(self, **changes):\n    self.__dict__.update(changes)"
    assert check_code(code, policy).ok
    assert check_code(code).reasons == ("accesses __dict__",)


def test_the_safety_table_structures_into_the_policy():
    policy = config.structure(
        {"allowed_imports": ["math"]}, SafetyPolicy, source="dreams.toml", path="safety"
    )
    assert policy.allowed_imports == ["math"]
    assert policy.denied_calls == SafetyPolicy().denied_calls
    assert check_code("import json", policy).reasons == ("imports json (not in allowed_imports)",)
    with pytest.raises(
        ConfigError, match=r"^dreams.toml: safety.denied_calls\[0\]: 'eval\(' is not a builtin"
    ):
        config.structure({"denied_calls": ["eval("]}, SafetyPolicy, source="dreams.toml", path="safety")


def test_every_policy_field_is_documented():
    import attrs

    for field in attrs.fields(SafetyPolicy):
        assert field.metadata["help"] and "\n" not in field.metadata["help"]


def _public_paths(module: types.ModuleType, path: str, depth: int, seen: set[int]):
    """(dotted path, object) for public attributes reachable from a module, modules recursively."""
    if id(module) in seen:
        return
    seen.add(id(module))
    for name in dir(module):
        if name.startswith("_"):
            continue
        try:
            value = getattr(module, name)
        except AttributeError:
            continue
        yield f"{path}.{name}", value
        if isinstance(value, types.ModuleType) and depth > 0:
            yield from _public_paths(value, f"{path}.{name}", depth - 1, seen)


def test_no_allowed_module_leads_to_a_denied_module_or_a_dangerous_builtin():
    """Guards the default lists against the standard library: enum.bltns is builtins, for one."""
    policy = SafetyPolicy()
    denied = set(policy.denied_imports)
    dangerous = {id(getattr(builtins, name)) for name in policy.denied_calls if hasattr(builtins, name)}
    seen: set[int] = set()
    checked = 0
    for root in policy.allowed_imports:
        module = importlib.import_module(root)
        for path, value in _public_paths(module, root, 3, seen):
            real = value.__name__ if isinstance(value, types.ModuleType) else ""
            if real.partition(".")[0] in denied or real in denied or id(value) in dangerous:
                checked += 1
                verdict = check_code(f"import {root}\n{path}")
                assert not verdict.ok, path
                assert verdict.category in ("module", "call"), (path, verdict.reasons)
    assert checked > 10


# --------------------------------------------------------------------------------------- fuzzing


def _assert_well_formed(verdict):
    assert isinstance(verdict, Verdict)
    assert verdict.ok == (verdict.reasons == ())
    assert all(isinstance(r, str) and r for r in verdict.reasons)
    assert not any(r.startswith("could not be checked") for r in verdict.reasons), verdict.reasons
    assert verdict.category != "other"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_text_gets_a_verdict(text):
    _assert_well_formed(check_code(text))


NAMES = st.sampled_from(
    ["x", "obj", "eval", "exec", "open", "getattr", "setattr", "type", "print", "input", "os", "math",
     "json", "random", "enum", "__builtins__", "__class__", "__import__", "self", "len", "vars", "f"]
)  # fmt: skip
ATTRIBUTES = st.sampled_from(
    ["real", "append", "__class__", "__globals__", "__subclasses__", "f_back", "_os", "sys", "bltns",
     "format", "format_map", "__setattr__", "attrgetter", "subprocess_exec", "__match_args__", "eval"]
)  # fmt: skip
STRINGS = st.sampled_from(["''", "'a'", "'__globals__'", "'{0.__class__}'", "'w'", "\"eval('1')\"", "'_os'"])


def _fstring(expr: str) -> str:
    return expr if "'" in expr or '"' in expr else f"f'{{{expr}}}'"  # before 3.12 no quotes inside


def _expressions():
    leaves = NAMES | STRINGS | st.integers(-5, 5).map(str)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, ATTRIBUTES).map(lambda t: f"({t[0]}).{t[1]}"),
            st.tuples(inner, st.lists(inner | inner.map("*{}".format), max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(inner, st.sampled_from(["+", "|", "and", "==", "%"]), inner).map(" ".join),
            st.tuples(NAMES, inner).map(lambda t: f"(lambda {t[0]}: {t[1]})"),
            st.tuples(inner, NAMES, inner).map(lambda t: f"[{t[0]} for {t[1]} in {t[2]}]"),
            st.tuples(NAMES, inner).map(lambda t: f"({t[0]} := {t[1]})"),
            inner.map(_fstring),
        ),
        max_leaves=12,
    )


EXPRESSIONS = _expressions()
MODULES = st.sampled_from(
    ["os", "math", "json", "typing", "asyncio.subprocess", "random", "enum", "operator"]
)


def _block(body: list[str]) -> str:
    return "\n".join("    " + line for text in body for line in text.splitlines()) or "    pass"


def _statements():
    simple = st.one_of(
        EXPRESSIONS,
        st.tuples(NAMES, EXPRESSIONS).map(lambda t: f"{t[0]} = {t[1]}"),
        st.tuples(NAMES, EXPRESSIONS).map(lambda t: f"{t[0]}: {t[1]} = 1"),
        MODULES.map(lambda m: f"import {m}"),
        st.tuples(MODULES | st.just("."), NAMES | ATTRIBUTES).map(lambda t: f"from {t[0]} import {t[1]}"),
        NAMES.map(lambda n: f"del {n}"),
        st.just("pass"),
    )
    return st.recursive(
        simple,
        lambda inner: st.one_of(
            st.tuples(
                NAMES,
                st.lists(NAMES, max_size=3, unique=True),
                EXPRESSIONS,
                st.lists(NAMES.map("global {}".format), max_size=1),
                st.lists(inner, max_size=3),
                st.lists(EXPRESSIONS.map("return {}".format), max_size=1),
            ).map(lambda t: f"def {t[0]}({', '.join(t[1])}) -> {t[2]}:\n{_block(t[3] + t[4] + t[5])}"),
            st.tuples(NAMES, st.lists(EXPRESSIONS, max_size=2), st.lists(inner, max_size=3)).map(
                lambda t: f"class {t[0]}({', '.join(t[1])}):\n{_block(t[2])}"
            ),
            st.tuples(EXPRESSIONS, st.lists(inner, max_size=3)).map(
                lambda t: f"with {t[0]} as h:\n{_block(t[1])}"
            ),
            st.tuples(st.lists(inner, max_size=2), NAMES).map(
                lambda t: f"try:\n{_block(t[0])}\nexcept Exception as {t[1]}:\n    pass"
            ),
            st.tuples(EXPRESSIONS, st.lists(inner, max_size=2)).map(
                lambda t: (
                    f"match {t[0]}:\n    case C(__class__=c):\n{_block([_block(t[1])])}"
                    "\n    case [*rest, {'k': v, **kw}]:\n        pass"
                )
            ),
        ),
        max_leaves=8,
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_statements(), min_size=1, max_size=6).map("\n".join))
def test_generated_python_gets_a_well_formed_verdict(code):
    verdict = check_code(code)
    _assert_well_formed(verdict)
    assert check_code(code) == verdict  # deterministic
    # whatever came before, a dangerous statement after it is still found
    assert "calls __import__" in check_code(f"{code}\n__import__('os')").reasons


# ------------------------------------------------------------------------------------------ speed


TYPICAL = '''
import json
import time
from decimal import ROUND_HALF_UP, Decimal


def settle_order(fetch, order_id: str, attempts: int = 3, delay: float = 0.5) -> dict:
    """Fetch an order, total its lines in exact money and retry on transient errors."""
    if not order_id.strip():
        raise ValueError("order_id must not be empty")
    last_error = None
    seen: set[str] = set()
    for attempt in range(attempts):
        seen.add(f"{order_id}#{attempt}")
        try:
            order = json.loads(fetch(f"/orders/{order_id}"))
            if not isinstance(order, dict):
                raise ValueError(f"expected an object, got {type(order).__name__}")
            lines = [line for line in order.get("lines", []) if line.get("qty", 0) > 0]
            total = sum((Decimal(str(line["price"])) * line["qty"] for line in lines), Decimal("0"))
            order["total"] = str(total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
            order["skus"] = sorted({line["sku"].strip().upper() for line in lines})
            return order
        except (ConnectionError, KeyError, ValueError) as exc:
            last_error = exc
            time.sleep(delay * 2 ** attempt)
        finally:
            counts = {}
    for key in sorted(counts):
        counts[key] = counts.get(key, 0) + 1
    raise RuntimeError(f"order {order_id}: gave up after {attempts} attempts: {last_error}")
'''


def test_a_thousand_functions_are_checked_quickly(capsys):
    assert 28 <= TYPICAL.strip().count("\n") + 1 <= 32
    sources = [
        TYPICAL.replace("settle_order", f"settle_order_{i}").replace("0.01", f"0.{i:03}") for i in range(1000)
    ]
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        verdicts = [check_code(source) for source in sources]
        rounds.append(time.perf_counter() - start)
        assert all(verdict.ok for verdict in verdicts)
    with capsys.disabled():
        shown = ", ".join(f"{seconds:.3f}" for seconds in rounds)
        print(f"\nsafety gate: 1,000 checks of a 30-line function: best {min(rounds):.3f} s (rounds {shown})")
    assert min(rounds) < 2.0  # about 0.3 s on an idle developer machine; generous for a busy CI box
