"""dreamcore.analysis.syntax: parsing, fingerprints, data flow on real shapes, structural distance, kinship."""

from __future__ import annotations

import ast
import os
import re
import sysconfig
import textwrap
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcore.analysis.dataflow import analyze_dependencies
from dreamcore.analysis.related import RelatedIndex, related_procedures
from dreamcore.analysis.shape import structural_distance, structural_novelty
from dreamcore.analysis.syntax import canonical_fingerprint, identifiers, parse_function, signature_of
from tests.factories import procedure


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# -- generated programs ------------------------------------------------------------------------

OPS = ["+", "-", "*", "//", "%", "<<", ">>", "|", "&", "^"]
CMPS = ["<", "<=", ">", ">=", "==", "!="]
TEMPLATES = [
    "def f(x, y={n0}):\n    z = x {op0} {n1}\n    return z {op1} y\n",
    (
        "def f(items, limit={n0}):\n    total = {n1}\n    for item in items:\n        if item {cmp0} limit:\n"
        "            total = total {op0} item\n    return total {op1} {n2}\n"
    ),
    (
        "def f(n):\n    values = [i {op0} {n0} for i in range(n) if i {cmp0} {n1}]\n"
        "    return sum(values) {op1} {n2}\n"
    ),
    (
        "def f(a, b):\n    while a {cmp0} {n0}:\n        a = a {op0} {n1}\n"
        "    return (a {op1} b) if b {cmp1} {n2} else {n3}\n"
    ),
    "class Box:\n    def f(self, x):\n        self.v = x {op0} {n0}\n        return self.v {cmp0} {n1}\n",
]


@st.composite
def programs(draw) -> tuple[str, dict[str, object]]:
    template = draw(st.sampled_from(TEMPLATES))
    values: dict[str, object] = {}
    for slot in sorted(set(re.findall(r"\{(\w+)\}", template))):
        if slot.startswith("n"):
            values[slot] = draw(st.integers(0, 10**6))
        else:
            values[slot] = draw(st.sampled_from(OPS if slot.startswith("op") else CMPS))
    return template, values


def render(program: tuple[str, dict[str, object]]) -> str:
    template, values = program
    return template.format(**values)


words = st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=30).map(str.strip).filter(bool)


def with_noise(source: str, data: st.DataObject) -> str:
    """Blank lines, comment lines (at any indentation) and trailing comments sprinkled in."""
    out = []
    for line in source.splitlines():
        for _ in range(data.draw(st.integers(0, 2))):
            out.append(data.draw(st.sampled_from(["", "# note", "        # deeper note", "   "])))
        out.append(line + data.draw(st.sampled_from(["", "  # why", "   "])))
    return "\n".join(out) + "\n"


def with_docstring(source: str, text: str) -> str:
    """The same code with a docstring as the first statement of every def and class."""
    header = re.compile(r"^( *)(def|class) .*:[^\n]*\n", flags=re.MULTILINE)
    return header.sub(lambda m: f'{m[0]}{m[1]}    """{text}"""\n', source)


# -- parse_function and signature_of -----------------------------------------------------------


def test_parse_function_finds_top_level_then_methods():
    code = src("""
        class Client:
            def get(self):
                return 1

            class Inner:
                def deep(self):
                    pass

        def get(url):
            return url

        async def fetch():
            pass
    """)
    assert parse_function(code, "get").args.args[0].arg == "url"  # top level wins over the method
    assert parse_function(code).name == "get"  # first top-level def (the class is not one)
    assert isinstance(parse_function(code, "fetch"), ast.AsyncFunctionDef)
    assert parse_function(code, "deep").name == "deep"
    method = parse_function(code.split("\n\n")[0], "get")
    assert method.args.args[0].arg == "self"


def test_parse_function_dedents_methods_and_odd_docstrings():
    method = "    def total(self):\n        return self.a + self.b\n"
    assert parse_function(method, "total").name == "total"
    # a docstring line left of the def (common in real code) defeats textwrap.dedent alone
    odd = '    def total(self):\n        """Sum.\n\nMore.\n        """\n        return self.a\n'
    assert parse_function(odd, "total").name == "total"
    assert analyze_dependencies(odd, "total").steps[0].text == "return self.a"
    assert canonical_fingerprint(odd) == canonical_fingerprint("def total(self):\n    return self.a\n")


def test_parse_function_errors_are_value_errors_with_clear_messages():
    with pytest.raises(ValueError, match="does not parse.*line 1"):
        parse_function("def broken(:\n    pass\n")
    with pytest.raises(ValueError, match="no function named 'missing'") as missing:
        parse_function("def present():\n    pass\n", "missing")
    assert "parse" not in str(missing.value)  # the draft checker tells the two apart by this word
    with pytest.raises(ValueError, match="no top-level function"):
        parse_function("x = 1\n")
    with pytest.raises(ValueError, match="does not parse"):
        canonical_fingerprint("return )")


def test_signature_of_is_canonical_text():
    function = parse_function("def f(a,b:int=3,*args,key=None,**kw)->bool:\n    return True\n")
    assert signature_of(function) == "(a, b: int = ..., *args, key=..., **kw) -> bool"
    coroutine = parse_function("async def g(x, /, y, *, z: str):\n    pass\n")
    assert signature_of(coroutine) == "async (x, /, y, *, z: str)"
    assert signature_of(parse_function("def h():\n    pass\n")) == "()"


def test_same_signature_ignores_body_and_formatting_only():
    base = signature_of(parse_function("def f(a, b=2):\n    return a + b\n"))
    assert signature_of(parse_function("def f( a,\n      b = 2 ):\n    return a * b * 10\n")) == base
    assert signature_of(parse_function("def f(a, b=3):\n    return a + b\n")) == base  # a tuned default
    assert signature_of(parse_function("def f(a, b):\n    return a + b\n")) != base
    assert signature_of(parse_function("def f(a, c=2):\n    return a + c\n")) != base
    assert signature_of(parse_function("async def f(a, b=2):\n    return a + b\n")) != base
    assert signature_of(parse_function("def f(a, b: int = 2):\n    return a + b\n")) != base


# -- canonical_fingerprint ---------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(programs(), st.data(), words, words, st.integers(1, 12))
def test_fingerprint_ignores_formatting_comments_docstrings_and_indentation(program, data, doc1, doc2,
                                                                            indent):
    source = render(program)
    expected = canonical_fingerprint(source)
    assert canonical_fingerprint(ast.unparse(ast.parse(source))) == expected
    noisy = with_noise(source, data)
    assert canonical_fingerprint(noisy) == expected
    assert canonical_fingerprint(with_docstring(source, doc1)) == expected
    assert canonical_fingerprint(with_docstring(noisy, doc2)) == expected
    assert canonical_fingerprint(textwrap.indent(with_docstring(source, doc1), " " * indent)) == expected


@settings(max_examples=150, deadline=None)
@given(programs(), st.data())
def test_fingerprint_changes_with_one_constant_or_operator(program, data):
    template, values = program
    slot = data.draw(st.sampled_from(sorted(values)))
    old = values[slot]
    if slot.startswith("n"):
        new = data.draw(st.integers(0, 10**6).filter(lambda value: value != old))
    else:
        new = data.draw(st.sampled_from([op for op in (OPS if slot.startswith("op") else CMPS) if op != old]))
    mutated = render((template, {**values, slot: new}))
    assert canonical_fingerprint(mutated) != canonical_fingerprint(render(program))


@pytest.mark.parametrize("changed", [
    "def f(x, limit=6):\n    return min(x, limit) * 2\n",  # default
    "def f(x, limit=5):\n    return max(x, limit) * 2\n",  # name
    "def f(x, limit=5):\n    return min(x, limit) * 2.0\n",  # constant type
    "@cached\ndef f(x, limit=5):\n    return min(x, limit) * 2\n",  # decorator
    "def f(x, limit: int = 5):\n    return min(x, limit) * 2\n",  # annotation
    "def f(x, limit=5):\n    return min(limit, x) * 2\n",  # argument order
])
def test_fingerprint_sees_behaviour_bearing_changes(changed):
    base = "def f(x, limit=5):\n    return min(x, limit) * 2\n"
    assert canonical_fingerprint(changed) != canonical_fingerprint(base)


def test_fingerprint_ignores_class_and_module_docstrings():
    plain = "class A:\n    x = 1\n"
    documented = '"""Module."""\nclass A:\n    """Class."""\n    x = 1\n'
    assert canonical_fingerprint(documented) == canonical_fingerprint(plain)
    assert canonical_fingerprint("s = 'ab'\n") == canonical_fingerprint("s = ('a'\n     'b')\n")
    assert canonical_fingerprint("s = 'ab'\n") == canonical_fingerprint("s = u'ab'\n")


# -- analyze_dependencies ----------------------------------------------------------------------


def test_nested_function_and_lambda_free_names_are_reads_and_locals_do_not_leak():
    analysis = analyze_dependencies(src("""
        def outer(items, factor):
            '''Docstring is not a step.'''
            offset = 10
            def scale(x, k=factor):
                local = x * k
                return local + offset
            key = lambda item: item.weight * factor
            return sorted((scale(i) for i in items), key=key)
    """))
    assert [s.kind for s in analysis.steps] == ["assign", "other", "assign", "return"]
    assert [s.line for s in analysis.steps] == [2, 3, 6, 7]
    define = analysis.steps[1]
    assert define.writes == {"scale"}
    assert define.reads == {"factor", "offset"}  # default and free name; x, k, local stay inside
    assert define.calls == () and not define.side_effect
    assert analysis.steps[2].reads == {"factor"} and analysis.steps[2].writes == {"key"}
    final = analysis.steps[3]
    assert final.reads == {"sorted", "scale", "items", "key", "offset"}  # calling scale reads offset
    assert final.calls == ("sorted", "scale")
    assert "i" not in final.reads and "item" not in analysis.reads
    assert analysis.params == ("items", "factor")
    assert analysis.loops == 1 and analysis.conditionals == 0


def test_comprehensions_keep_their_variables_and_walrus_writes_outside():
    analysis = analyze_dependencies(src("""
        def pick(rows, pairs):
            big = [y for row in rows if (y := row * 2) > 10]
            table = {k: v for k, v in pairs}
            nested = [[cell for cell in line] for line in rows]
            return big, y, table, nested
    """))
    big, table, nested, _ = analysis.steps
    assert big.reads == {"rows", "y"} and big.writes == {"big", "y"}  # the element reads the outer y
    assert table.reads == {"pairs"} and table.writes == {"table"}
    assert nested.reads == {"rows"} and nested.writes == {"nested"}
    assert analysis.loops == 4 and analysis.conditionals == 1
    assert not any(s.side_effect for s in analysis.steps[:3])


def test_async_with_for_and_await():
    analysis = analyze_dependencies(src("""
        async def fetch_all(session, urls):
            async with session.lock() as guard:
                pages = [await session.get(url) async for url in urls]
            async for event in session.events():
                handle(event, guard)
            await session.close()
            return pages
    """))
    assert analysis.is_async and not analysis.is_generator
    block, loop, close, done = analysis.steps
    assert (block.kind, loop.kind, close.kind, done.kind) == ("with", "for", "call", "return")
    assert block.awaits and loop.awaits and close.awaits and not done.awaits
    assert block.writes == {"guard", "pages"} and block.reads == {"session", "urls"}
    assert block.calls == ("session.lock", "session.get")
    assert loop.writes == {"event"} and loop.reads == {"session", "handle", "event", "guard"}
    assert close.calls == ("session.close",) and close.side_effect
    assert "awaits session.close" in analysis.side_effects
    assert "enters asynchronously session.lock()" in analysis.side_effects
    assert analysis.reorderable == ()


def test_try_except_else_finally_and_with_as():
    analysis = analyze_dependencies(src("""
        def load(path, lock):
            with open(path) as handle, lock:
                raw = handle.read()
            try:
                data = parse(raw)
            except (ValueError, KeyError) as error:
                log(error)
                data = None
            else:
                checked = True
            finally:
                cleanup()
            return data
    """))
    opened, guarded, _ = analysis.steps
    assert opened.writes == {"handle", "raw"} and opened.reads == {"open", "path", "lock", "handle"}
    assert opened.side_effect and "enters lock" in analysis.side_effects
    assert guarded.kind == "try"
    assert guarded.writes == {"data", "error", "checked"}
    assert guarded.reads == {"parse", "raw", "ValueError", "KeyError", "log", "error", "cleanup"}
    assert guarded.calls == ("parse", "log", "cleanup")
    assert analysis.conditionals == 1  # one except handler


def test_augmented_assignment_star_unpacking_and_delete():
    analysis = analyze_dependencies(src("""
        def tally(order, total):
            first, *rest = order.lines
            total += first.price * first.qty
            del rest
            return total
    """))
    unpack, add, delete, _ = analysis.steps
    assert unpack.writes == {"first", "rest"} and unpack.reads == {"order"}
    assert add.kind == "augassign" and add.reads == {"total", "first"} and add.writes == {"total"}
    assert not unpack.side_effect and not add.side_effect
    assert delete.writes == {"rest"} and delete.side_effect and "deletes rest" in analysis.side_effects


def test_global_and_attribute_and_subscript_assignment_are_side_effects():
    analysis = analyze_dependencies(src("""
        def record(self, key, value):
            global counter
            counter += 1
            self.total = value
            self.cache[key] = value
            return counter
    """))
    declare, bump, attribute, item, _ = analysis.steps
    assert declare.kind == "other" and declare.side_effect and declare.writes == frozenset()
    assert bump.writes == {"counter"} and bump.side_effect
    assert attribute.reads == {"self", "value"} and attribute.writes == frozenset() and attribute.side_effect
    assert item.reads == {"self", "key", "value"} and item.side_effect
    assert analysis.side_effects == (
        "declares global counter", "assigns global counter", "assigns self.total", "assigns self.cache[key]",
    )
    assert analysis.reorderable == ()


def test_assigning_an_attribute_orders_it_before_reads_of_the_same_object():
    analysis = analyze_dependencies(src("""
        def update(self, value):
            self.total = value
            shown = self.total
            doubled = value * 2
            return shown, doubled
    """))
    # no name is rebound by step 0, but it changes the object step 1 reads; step 2 shares only value
    assert analysis.steps[0].writes == frozenset()
    assert analysis.reorderable == ((1, 2),)


def test_nonlocal_closure_called_later_writes_the_enclosing_name():
    analysis = analyze_dependencies(src("""
        def counter(values):
            total = 0
            def add(n):
                nonlocal total
                total += n
            snapshot = values.copy()
            add(1)
            return total, snapshot
    """))
    assert analysis.steps[1].writes == {"add"}
    call = analysis.steps[3]
    assert call.writes == {"total"} and "total" in call.reads
    assert (2, 3) in analysis.reorderable  # values.copy() is known to be pure and shares nothing with add
    assert (0, 1) not in analysis.reorderable  # add's body reads total


def test_closure_mutations_happen_where_it_is_called_not_where_it_is_defined():
    analysis = analyze_dependencies(src("""
        def collect(items, x):
            def push(v):
                items.append(v)
            n = len(items)
            push(x)
            return n
    """))
    define, count, call, _ = analysis.steps
    assert not define.side_effect and define.reads == {"items"}
    assert call.reads == {"push", "x", "items"} and call.side_effect
    # defining push changes nothing; calling it changes the list len() reads
    assert analysis.reorderable == ((0, 1),)


def test_match_statement_bindings_and_conditionals():
    analysis = analyze_dependencies(src("""
        def describe(command):
            match command:
                case {"action": "move", "to": target, **extra}:
                    result = (target, extra)
                case [first, *others] if others:
                    result = first
                case Point(x=0) as origin:
                    result = origin
                case _:
                    result = None
            return result
    """))
    matched = analysis.steps[0]
    assert matched.kind == "other"
    assert matched.writes == {"target", "extra", "first", "others", "origin", "result"}
    assert matched.reads == {"command", "target", "extra", "others", "first", "Point", "origin"}
    assert analysis.conditionals == 4


def test_generators_and_nested_yields():
    outer = analyze_dependencies("def f(xs):\n    def g():\n        yield 1\n    return g\n")
    assert not outer.is_generator
    gen = analyze_dependencies("def f(xs):\n    for x in xs:\n        yield x * 2\n")
    assert gen.is_generator and gen.side_effects == ("yields",)


def test_counts_loops_and_conditionals_as_documented():
    analysis = analyze_dependencies(src("""
        def work(items):
            out = [i for i in items if i if i > 2]
            while items:
                item = items.pop()
                if item:
                    out.append(item if item > 0 else -item)
                elif item is None:
                    continue
            for x in out:
                try:
                    check(x)
                except ValueError:
                    pass
                except TypeError:
                    pass
            return out
    """))
    assert analysis.loops == 3  # comprehension clause, while, for
    assert analysis.conditionals == 2 + 1 + 2 + 1 + 2  # comp ifs, while, if/elif, ifexp, handlers


def test_reorderable_pairs_and_parallel_groups_on_known_example():
    analysis = analyze_dependencies(src("""
        def dashboard(client, user_id):
            profile = client.fetch_profile(user_id)
            orders = client.fetch_orders(user_id)
            alerts = client.fetch_alerts(user_id)
            label = str(user_id).upper()
            summary = combine(profile, orders, alerts)
            summary.title = label
            return summary
    """))
    assert [s.side_effect for s in analysis.steps] == [True, True, True, False, True, True, False]
    # 0-1, 1-2 are both side-effecting; 4-5 and 5-6 depend on summary; 6 is a return
    assert analysis.reorderable == ((2, 3), (3, 4))
    # the three fetches are independent calls; label makes only pure calls; combine needs them all
    assert analysis.parallel_groups == ((0, 1, 2),)
    assert analysis.calls == (
        "client.fetch_profile", "client.fetch_orders", "client.fetch_alerts", "str().upper", "str", "combine",
    )


def test_parallel_groups_with_awaits_and_breaks():
    analysis = analyze_dependencies(src("""
        async def gather(api, key):
            a = await api.get_a(key)
            b = await api.get_b(key)
            merged = await api.merge(a, b)
            c = await api.get_c(key)
            d = await api.get_d(key)
            e = await api.get_e(d)
            return merged, c, e
    """))
    # merged needs a and b, so a new group starts there; e needs d, so the group ends before it
    assert analysis.parallel_groups == ((0, 1), (2, 3, 4))
    assert analysis.reorderable == ()


def test_guards_and_mutations_never_move():
    analysis = analyze_dependencies(src("""
        def send(queue, message):
            if not message:
                return None
            assert queue is not None
            queue.append(message)
            size = len(queue)
            note = str(size)
            return note
    """))
    # the guard and the assert can leave the function; append mutates what len reads
    assert analysis.reorderable == ()
    assert analysis.steps[2].side_effect and "calls queue.append" in analysis.side_effects
    assert analysis.parallel_groups == ()


def test_analyzes_methods_by_name_and_reports_missing_ones():
    code = src("""
        class Account:
            def deposit(self, amount: float) -> None:
                self.balance += amount
    """)
    analysis = analyze_dependencies(code, "deposit")
    assert analysis.name == "deposit" and analysis.params == ("self", "amount")
    assert analysis.steps[0].side_effect and analysis.side_effects == ("assigns self.balance",)
    with pytest.raises(ValueError, match="withdraw"):
        analyze_dependencies(code, "withdraw")


STDLIB_MODULES = ["json/decoder.py", "textwrap.py", "argparse.py", "asyncio/tasks.py", "asyncio/streams.py"]


def stdlib_functions() -> list[tuple[str, str]]:
    found = []
    for module in STDLIB_MODULES:
        with open(os.path.join(sysconfig.get_paths()["stdlib"], module), encoding="utf-8") as file:
            text = file.read()
        lines = text.splitlines(keepends=True)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
                found.append((node.name, "".join(lines[start : node.end_lineno])))
    return found


def test_every_function_of_real_stdlib_modules():
    functions = stdlib_functions()
    assert len(functions) > 250
    started = time.perf_counter()
    analyses = [analyze_dependencies(source, name) for name, source in functions]
    analysed = time.perf_counter() - started
    started = time.perf_counter()
    fingerprints = {canonical_fingerprint(source) for _, source in functions}
    fingerprinted = time.perf_counter() - started
    print(f"\n{len(functions)} stdlib functions: analyze_dependencies {analysed:.3f}s, "
          f"canonical_fingerprint {fingerprinted:.3f}s")
    assert len(fingerprints) > 0.95 * len(functions)
    assert any(a.is_async for a in analyses) and any(a.is_generator for a in analyses)
    assert any(a.parallel_groups for a in analyses) and any(a.reorderable for a in analyses)
    for analysis in analyses:
        assert all(0 <= i < j < len(analysis.steps) for i, j in analysis.reorderable)
        assert all(len(group) >= 2 for group in analysis.parallel_groups)


# -- structural distance and novelty -----------------------------------------------------------

RETRY = src("""
    def fetch(url, retries=3, delay=0.5):
        for attempt in range(retries):
            try:
                return get(url)
            except IOError:
                time.sleep(delay * 2 ** attempt)
        raise RuntimeError(url)
""")
RETRY_TWEAKED = RETRY.replace("2 ** attempt", "3 ** attempt")
RETRY_REWRITTEN = src("""
    def fetch(url, retries=3, delay=0.5):
        results = {}
        with pool() as workers:
            futures = [workers.submit(get, url) for _ in range(retries)]
            for future in futures:
                if future.done():
                    results[future] = future.result()
        return results
""")


@settings(max_examples=100, deadline=None)
@given(programs(), programs())
def test_distance_is_symmetric_bounded_and_zero_on_itself(one, two):
    a, b = render(one), render(two)
    assert structural_distance(a, b) == structural_distance(b, a)
    assert 0.0 <= structural_distance(a, b) <= 1.0
    assert structural_distance(a, a) == 0.0
    assert structural_distance(a, ast.unparse(ast.parse(a))) == 0.0  # same canonical AST


def test_distance_orders_small_edits_before_rewrites():
    small = structural_distance(RETRY, RETRY_TWEAKED)
    rewrite = structural_distance(RETRY, RETRY_REWRITTEN)
    renamed = structural_distance(RETRY, RETRY.replace("attempt", "n").replace("delay", "pause"))
    assert 0.0 < small < renamed < rewrite < 1.0
    assert structural_distance(RETRY, with_docstring(RETRY, "Retries.")) == 0.0
    assert structural_distance("x = 1\n", "def f():\n    pass\n") == 1.0  # nothing in common


def test_identifiers_count_less_than_structure():
    renamed = RETRY
    for old, new in [("fetch", "load"), ("url", "path"), ("retries", "tries"), ("delay", "wait"),
                     ("attempt", "i"), ("get", "read")]:
        renamed = renamed.replace(old, new)
    restructured = RETRY.replace("for attempt in range(retries):", "while retries:")
    assert structural_distance(RETRY, renamed) <= 0.25  # every name changed, shape kept
    assert structural_distance(RETRY, renamed) < structural_distance(RETRY, RETRY_REWRITTEN)
    assert structural_distance(RETRY, restructured) > 0.0


def test_novelty_is_distance_to_the_nearest_of_base_and_earlier_dreams():
    assert structural_novelty(RETRY_TWEAKED, RETRY) == structural_distance(RETRY_TWEAKED, RETRY)
    assert structural_novelty(RETRY_REWRITTEN, RETRY, [RETRY_TWEAKED, RETRY_REWRITTEN]) == 0.0
    assert structural_novelty(RETRY, RETRY, [RETRY_REWRITTEN]) == 0.0
    assert structural_novelty(RETRY_REWRITTEN, RETRY, [RETRY_TWEAKED]) == min(
        structural_distance(RETRY_REWRITTEN, RETRY), structural_distance(RETRY_REWRITTEN, RETRY_TWEAKED)
    )
    with pytest.raises(ValueError):
        structural_novelty("def (", RETRY)


def test_distance_is_fast():
    base = textwrap.dedent(next(s for _, s in stdlib_functions() if 28 <= s.count("\n") <= 34))
    fresh = [f"{base}\nmarker_{i} = {i}\n" for i in range(2000)]  # never seen before: no cache help
    started = time.perf_counter()
    for i in range(1000):
        structural_distance(fresh[2 * i], fresh[2 * i + 1])
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(1000):
        structural_distance(fresh[i % 20], fresh[(i * 7) % 20 + 20])
    warm = time.perf_counter() - started
    print(f"\n1000 structural_distance calls on {base.count(chr(10))}-line sources: "
          f"{cold:.3f}s all new, {warm:.3f}s repeated")
    assert warm < 1.0 and cold < 10.0


# -- identifiers and related procedures --------------------------------------------------------


def test_identifiers_collects_every_kind_of_name():
    found = identifiers(src("""
        import os.path as osp
        from time import sleep
        class Box(Base):
            def put(self, item, *, key=None, **rest):
                global seen
                try:
                    self.items[key] = transform(item, mode=FAST)
                except KeyError as error:
                    raise Missing(key) from error
    """))
    assert found == {"osp", "sleep", "Box", "Base", "put", "self", "item", "key", "rest", "seen", "items",
                     "transform", "mode", "FAST", "KeyError", "error", "Missing"}
    with pytest.raises(ValueError):
        identifiers("def (")


RETRY_A = src('''
    def retry_with_backoff(func, retries=3, base_delay=0.5):
        """Call func, retrying with exponential backoff when it raises."""
        for attempt in range(retries):
            try:
                return func()
            except Exception:
                time.sleep(base_delay * 2 ** attempt)
        return func()
''')
RETRY_B = src('''
    def call_with_retries(operation, max_attempts=5, delay=1.0):
        """Run an operation, retrying it after an exponentially growing sleep."""
        attempt = 0
        while True:
            try:
                return operation()
            except ConnectionError:
                attempt += 1
                if attempt >= max_attempts:
                    raise
                time.sleep(delay * (2 ** attempt))
''')
POLL_B = src('''
    def wait_for_file(path, timeout=10.0):
        """Poll until the file exists or the timeout passes."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                raise TimeoutError(path)
            time.sleep(0.1)
        return path
''')
PRICE_B = src('''
    def total_price(items, tax_rate: float = 0.2) -> float:
        """Sum the item prices including tax."""
        return sum(item.price for item in items) * (1 + tax_rate)
''')


def kin_projects():
    alpha = [
        procedure("alpha", "retry_with_backoff", RETRY_A),
        procedure("alpha", "retry_twice", RETRY_A.replace("retry_with_backoff", "retry_twice")),
        procedure("alpha", "format_report", "def format_report(rows):\n    return ', '.join(rows)\n"),
    ]
    beta = [
        procedure("beta", "wait_for_file", POLL_B),
        procedure("beta", "total_price", PRICE_B),
        procedure("beta", "call_with_retries", RETRY_B),
        procedure("beta", "flaky_upload", "def flaky_upload(data:\n    retry(", signature="(data, retries=3)",
                  docstring="Upload data, retrying on failure."),
        procedure("beta", "zz", "def zz():\n    pass\n"),
    ]
    return alpha, beta


def test_retry_finds_its_counterpart_in_the_other_project_first():
    alpha, beta = kin_projects()
    found = related_procedures(alpha[0], alpha + beta, limit=10)
    names = [p.qualname for p, _ in found]
    assert names[0] == "call_with_retries"
    assert all(p.project == "beta" for p, _ in found)  # alpha's near-copy retry_twice never shows up
    assert "zz" not in names  # shares nothing: score 0, dropped
    assert "flaky_upload" in names  # unparseable, scored by name, recorded signature and docstring
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert scores[0] > 2 * scores[-1]
    assert len(related_procedures(alpha[0], alpha + beta, limit=2)) == 2
    assert related_procedures(alpha[0], alpha + beta, limit=0) == []


def test_unparseable_query_procedure_is_tolerated():
    alpha, beta = kin_projects()
    found = RelatedIndex(alpha + beta).related(beta[3], limit=3)
    assert found and found[0][0].qualname in ("retry_with_backoff", "retry_twice")
    assert all(p.project == "alpha" for p, _ in found)


def test_ties_break_by_project_module_qualname_and_index_matches_function():
    twins = [
        procedure("gamma", "b_copy", RETRY_B),
        procedure("beta", "b_copy", RETRY_B),
        procedure("beta", "a_copy", RETRY_B),
    ]
    query = procedure("alpha", "retry_with_backoff", RETRY_A)
    found = related_procedures(query, twins)
    expected = [("beta", "a_copy"), ("beta", "b_copy"), ("gamma", "b_copy")]
    assert [(p.project, p.qualname) for p, _ in found] == expected
    assert found[0][1] == found[1][1] == found[2][1]
    assert RelatedIndex(twins).related(query) == found
    indexed = RelatedIndex([query, *twins])  # the query itself indexed: found by identity, still excluded
    assert [p.qualname for p, _ in indexed.related(query)] == ["a_copy", "b_copy", "b_copy"]


def test_related_index_handles_a_thousand_procedures_quickly():
    functions = stdlib_functions()
    procedures = [
        procedure(f"project{i % 4}", f"{name}_{i}", source, docstring=None)
        for i, (name, source) in enumerate((functions * 4)[:1000])
    ]
    started = time.perf_counter()
    index = RelatedIndex(procedures)
    built = time.perf_counter() - started
    started = time.perf_counter()
    results = [index.related(p, limit=5) for p in procedures]
    queried = time.perf_counter() - started
    print(f"\nRelatedIndex over 1000 procedures: build {built:.3f}s, 1000 queries {queried:.3f}s")
    assert all(p.project != q.project for p, found in zip(procedures, results) for q, _ in found)
    assert len(procedures) == 1000 and all(results)  # every function has copies in other projects
    assert built + queried < 30
