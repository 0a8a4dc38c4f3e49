"""The local generators ``parameter`` and ``conditional``: every draft they make passes the draft
checker, they are deterministic given the context's rng, respect ``variants``, and find the knobs
and transforms they should in real-world shapes and in the example projects."""

from __future__ import annotations

import ast
import asyncio
import random
import sys
import textwrap
from pathlib import Path

import pytest
from dreamcore_plugins.generators.conditional import ConditionalGenerator
from dreamcore_plugins.generators.parameter import ParameterGenerator

from dreamcore import DreamCore
from dreamcore.config import SafetyPolicy
from dreamcore.errors import ConfigError
from dreamcore.generation.drafts import DraftChecker, DreamDraft, GenerationContext
from dreamcore.models import DreamProcedure, Procedure
from tests.factories import example_procedures

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GENERATORS = {"parameter": ParameterGenerator, "conditional": ConditionalGenerator}


# -- helpers -----------------------------------------------------------------------------------


def make(qualname: str, source: str, *, line_start: int | None = None, imports: list[str] | None = None,
         id: int = 1) -> Procedure:
    """A procedure as a source would mine it (methods keep their class indentation)."""
    return Procedure(project="corpus", module="corpus.mod", qualname=qualname,
                     source=textwrap.dedent(source).strip("\n") + "\n" if "." not in qualname else source,
                     line_start=line_start, imports=imports or [], id=id)


def method(qualname: str, source: str, **fields) -> Procedure:
    """A method's source indented as inside its class body."""
    body = textwrap.indent(textwrap.dedent(source).strip("\n"), "    ") + "\n"
    return make(qualname, body, **fields)


def run(generator, procedure: Procedure, *, variants: int = 5, seed: int = 1) -> list[DreamDraft]:
    context = GenerationContext(procedure=procedure, variants=variants, rng=random.Random(seed), seed=seed)
    return asyncio.run(generator.generate(procedure, context))


def assert_all_pass(procedure: Procedure, drafts: list[DreamDraft], dream_type: str) -> list[DreamProcedure]:
    checker = DraftChecker(procedure, SafetyPolicy())
    dreams = []
    for draft in drafts:
        assert draft.model_used == "local"
        checked = checker.check(draft, dream_type)
        assert isinstance(checked, DreamProcedure), (
            f"{procedure.qualname}: {draft.description!r} rejected: {checked.category}: {checked.reason}\n{draft.code}"
        )
        dreams.append(checked)
    return dreams


def function_node(code: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    tree = ast.parse(code)
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name)


def example(qualname: str, module_suffix: str = "") -> Procedure:
    matches = [p for p in example_procedures() if p.qualname == qualname and p.module.endswith(module_suffix)]
    assert len(matches) == 1, (qualname, [p.module for p in matches])
    return matches[0]


def example_namespace(module: str) -> dict:
    """The globals of an example module, to run a draft against (the examples are pure stdlib)."""
    package = module.split(".")[0]
    path = str(EXAMPLES / package)
    if path not in sys.path:
        sys.path.insert(0, path)
    __import__(module)
    return dict(vars(sys.modules[module]))


def load(code: str, name: str, namespace: dict | None = None):
    """Define a draft's function (the draft is our own generated code) and return it."""
    scope = dict(namespace or {})
    exec(compile(code, "<draft>", "exec"), scope)  # noqa: S102 - the generators' own output
    return scope[name]


# -- a corpus of real-world shapes ---------------------------------------------------------------

CORPUS: list[Procedure] = [
    method("ApiClient.fetch_json", '''
        def fetch_json(self, path: str, *, verify: bool = True) -> dict:
            """GET a JSON document, retrying a few times."""
            url = self.base_url + path
            for attempt in range(3):
                response = self.session.get(url, timeout=10.0, verify=verify, allow_redirects=True)
                if response.status_code < 500:
                    return response.json()
                time.sleep(0.5 * 2 ** attempt)
            raise RuntimeError(f"{url}: server kept failing")
    ''', imports=["import time"]),
    make("poll_job", '''
        async def poll_job(client, job_id: str, *, interval: float = 2.0, max_polls: int = 30) -> dict:
            """Poll a job until it finishes."""
            for _ in range(max_polls):
                status = await client.request("GET", f"/jobs/{job_id}", timeout=5.0)
                if status["state"] in ("done", "failed"):
                    return status
                await asyncio.sleep(1.5)
            raise TimeoutError(job_id)
    ''', imports=["import asyncio"]),
    make("fib", '''
        @functools.lru_cache(maxsize=256)
        def fib(n: int) -> int:
            """The n-th Fibonacci number."""
            if n < 2:
                return n
            return fib(n - 1) + fib(n - 2)
    ''', imports=["import functools"]),
    make("make_counter", '''
        def make_counter(start: int = 0, *, step: int = 1):
            count = start

            def increment(by=1):
                nonlocal count
                count += by * step
                return count
            return increment
    '''),
    make("log_call", '''
        def log_call(fn, *args, verbose=False, depth: int = 3, **kwargs):
            """Call fn, logging the call when verbose."""
            if verbose:
                print(fn.__name__, args[:depth], sorted(kwargs)[:5])
            return fn(*args, **kwargs)
    '''),
    make("chunked", '''
        def chunked(items: list[int], *, size: int = 100) -> list[list[int]]:
            return [items[i:i + size] for i in range(0, len(items), size)]
    '''),
    make("batch_process", '''
        def batch_process(records: list[dict], sink, *, batch_size: int = 50) -> int:
            """Send records to sink in batches; returns how many were sent."""
            buffer: list[dict] = []
            sent = 0

            def flush() -> None:
                nonlocal sent
                sink.send(list(buffer), timeout=2.5)
                sent += len(buffer)
                buffer.clear()
            for record in records:
                buffer.append(record)
                if len(buffer) >= 25:
                    flush()
            if buffer:
                flush()
            return sent
    '''),
    make("read_batches", '''
        def read_batches(rows: list[dict], limit: int = 1000):
            """Yield lists of at most 200 rows."""
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) >= 200:
                    yield batch
                    batch = []
            if batch:
                yield batch
    '''),
    method("Progress.ratio", '''
        @property
        def ratio(self) -> float:
            """Fraction done."""
            if self.total == 0:
                return 0.0
            return round(self.done / self.total, 3)
    '''),
    method("Geometry.distance", '''
        @staticmethod
        def distance(x1: float, y1: float, x2: float, y2: float) -> float:
            """Euclidean distance."""
            return math.hypot(x2 - x1, y2 - y1)
    ''', imports=["import math"]),
    make("scale", '''
        def scale(value: float, factor: float = 1.0) -> float:
            return value * factor * 1.5
    '''),
    make("average", '''
        def average(total: float, count: int) -> float:
            """Mean of count values summing to total."""
            return total / count
    '''),
    make("clamp", '''
        def clamp(x, lo=0, hi=100, /):
            return max(lo, min(hi, x))
    '''),
    make("sort_people", '''
        def sort_people(people: list[dict], key: str = "name", reverse: bool = False) -> list[dict]:
            return sorted(people, key=lambda p: (p[key], p.get("age", 0)), reverse=reverse)
    '''),
    make("download_all", '''
        async def download_all(urls: list[str], fetch, *, concurrency: int = 8) -> list[bytes]:
            gate = asyncio.Semaphore(concurrency)

            async def one(url: str) -> bytes:
                async with gate:
                    body = await fetch(url, timeout=30)
                    return body
            return await asyncio.gather(*(one(u) for u in urls), return_exceptions=False)
    ''', imports=["import asyncio"]),
    make("identity", '''
        def identity(x):
            return x
    '''),
]


# -- registration and configuration ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_are_entry_point_plugins_with_default_config(name):
    core = DreamCore({})
    generator = core.create("generators", name)
    assert isinstance(generator, GENERATORS[name])
    assert generator.name == generator.dream_type == name
    assert generator.config == GENERATORS[name].Config()
    assert GENERATORS[name]().config == GENERATORS[name].Config()


def test_generator_config_comes_from_plugins_tables():
    core = DreamCore({"plugins": {"parameter": {"factors": [0.5, 3], "max_knobs_per_variant": 1},
                                  "conditional": {"transforms": ["retry", "validate"], "retry_attempts": 4}}})
    parameter = core.create("generators", "parameter")
    conditional = core.create("generators", "conditional")
    assert parameter.config.factors == [0.5, 3.0] and parameter.config.max_knobs_per_variant == 1
    assert conditional.config.transforms == ["retry", "validate"] and conditional.config.retry_attempts == 4


@pytest.mark.parametrize("plugins", [
    {"parameter": {"factors": [1.0]}},
    {"parameter": {"max_knobs_per_variant": 0}},
    {"conditional": {"transforms": ["teleport"]}},
    {"conditional": {"retry_attempts": 1}},
])
def test_bad_generator_config_is_a_config_error(plugins):
    name = next(iter(plugins))
    with pytest.raises(ConfigError):
        DreamCore({"plugins": plugins}).create("generators", name)


# -- every draft passes the checker ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("procedure", CORPUS, ids=[p.qualname for p in CORPUS])
def test_corpus_drafts_pass_the_checker(name, procedure):
    for variants in (1, 5, 40):
        drafts = run(GENERATORS[name](), procedure, variants=variants)
        assert len(drafts) <= variants
        assert_all_pass(procedure, drafts, name)
        for draft in drafts:
            assert draft.description.strip() and draft.reasoning.strip()
            assert draft.description != draft.reasoning
            original = function_node(textwrap.dedent(procedure.source), procedure.name)
            changed = function_node(draft.code, procedure.name)
            names = [ast.unparse(d).split("(")[0] for d in changed.decorator_list]
            assert names[: len(original.decorator_list)] == [ast.unparse(d).split("(")[0]
                                                             for d in original.decorator_list]
            assert ast.get_docstring(changed) == ast.get_docstring(original)
            assert type(changed) is type(original)


def test_corpus_shapes_get_dreams():
    """The corpus is built so that each generator has something to say about most of it."""
    produced = {name: {p.qualname for p in CORPUS if run(cls(), p, variants=40)} for name, cls in GENERATORS.items()}
    assert {"ApiClient.fetch_json", "poll_job", "batch_process", "read_batches", "download_all",
            "Progress.ratio", "make_counter"} <= produced["parameter"]
    assert {"poll_job", "batch_process", "average", "scale", "Geometry.distance",
            "download_all", "chunked"} <= produced["conditional"]
    assert "identity" not in produced["parameter"] | produced["conditional"]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_example_drafts_pass_the_checker_and_cover_the_examples(name):
    procedures = example_procedures()
    assert len(procedures) > 50
    with_dreams = total = 0
    for procedure in procedures:
        drafts = run(GENERATORS[name](), procedure, variants=5)
        assert len(drafts) <= 5
        dreams = assert_all_pass(procedure, drafts, name)
        assert len({d.fingerprint for d in dreams}) == len(dreams)
        with_dreams += bool(dreams)
        total += len(dreams)
    print(f"{name}: {with_dreams}/{len(procedures)} procedures with dreams, {total} dreams")
    assert with_dreams / len(procedures) >= 0.25


# -- determinism and variants ------------------------------------------------------------------------


def _signature(drafts: list[DreamDraft]) -> list[tuple[str, str, str]]:
    return [(d.code, d.description, d.reasoning) for d in drafts]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_drafts_whatever_the_global_random_state(name):
    for procedure in [*CORPUS, *example_procedures()]:
        random.seed(0)
        first = run(GENERATORS[name](), procedure, seed=7)
        random.seed(12345)
        random.random()
        second = run(GENERATORS[name](), procedure, seed=7)
        assert _signature(first) == _signature(second), procedure.qualname


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_different_seeds_usually_pick_differently(name):
    changed = crowded = 0
    for procedure in [*CORPUS, *example_procedures()]:
        everything = run(GENERATORS[name](), procedure, variants=100)
        if len(everything) <= 2:
            continue
        crowded += 1
        selections = {tuple(sorted(d.code for d in run(GENERATORS[name](), procedure, variants=2, seed=s)))
                      for s in range(4)}
        changed += len(selections) > 1
    assert crowded >= 3
    assert changed / crowded >= 0.6


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_variants_is_an_upper_bound_and_filled_when_possible(name):
    for procedure in [*CORPUS, *example_procedures()]:
        everything = run(GENERATORS[name](), procedure, variants=100)
        assert run(GENERATORS[name](), procedure, variants=0) == []
        for variants in (1, 2, 4):
            drafts = run(GENERATORS[name](), procedure, variants=variants)
            assert len(drafts) == min(variants, len(everything)), (procedure.qualname, variants)
            assert len({d.code for d in drafts}) == len(drafts)


def test_unparseable_or_missing_functions_produce_nothing():
    for cls in GENERATORS.values():
        assert run(cls(), make("broken", "def broken(:\n    pass\n")) == []
        assert run(cls(), make("absent", "x = 1\n")) == []


# -- parameter -------------------------------------------------------------------------------------------


def all_descriptions(generator, procedure) -> list[str]:
    return [d.description for d in run(generator, procedure, variants=200)]


def test_parameter_finds_the_knobs_of_the_examples():
    generator = ParameterGenerator()
    described = all_descriptions(generator, example("fetch_observations", "client"))
    assert "retry-loop bound 1 -> 2 (+1) in `range(retries + 1)` (line 36)" in described
    assert "retry-loop bound `retries + 1` -> `retries` in `range(retries + 1)` (line 36)" in described
    described = all_descriptions(generator, example("charge_with_retry_async"))
    assert "backoff multiplier 2 -> 4 (x2) in `delay *= 2` (line 77)" in described
    assert "backoff multiplier 2 -> 3 (+1) in `delay *= 2` (line 77)" in described
    described = all_descriptions(generator, example("luhn_valid"))
    assert "size limit 19 -> 38 (x2) in `len(digits) > 19` (line 24)" in described
    assert "size limit 12 -> 6 (x0.5) in `len(digits) < 12` (line 24)" in described
    described = all_descriptions(generator, example("normalize_email"))
    assert "size limit 254 -> 127 (x0.5) in `len(email) > 254` (line 16)" in described
    described = all_descriptions(generator, example("IdempotencyCache.put"))
    assert "`last=` False -> True in the call to popitem (line 117)" in described
    described = all_descriptions(generator, example("fetch_many"))
    assert "`return_exceptions=` True -> False in the call to gather (line 79)" in described
    described = all_descriptions(generator, example("tiered_discount"))
    assert ("entry for 50000 of the table `tiers` 10.0 -> 20.0 (x2) in `{10000: 5.0, 50000: 10.0, 100000: 15.0}` "
            "(line 125)") in described
    described = all_descriptions(generator, example("collect_invoice_pages"))
    assert "sleep 0 -> 0.01 (+0.01s) in `asyncio.sleep(0)` (line 168)" in described
    assert "default of `max_pages` 100 -> 50 (x0.5) in the signature of collect_invoice_pages (line 158)" in described
    described = all_descriptions(generator, example("moving_average"))
    assert "rounding precision 6 -> 5 (-1) in `round(sum(recent) / window, 6)` (line 100)" in described


def test_parameter_leaves_protocol_constants_and_parse_offsets_alone():
    generator = ParameterGenerator()
    # HTTP statuses (200 <= status < 300), slice offsets of parsed text, physical floors (-273.15)
    for qualname in ("is_retryable_status", "parse_visibility", "celsius_to_fahrenheit", "parse_signed_temp"):
        assert run(generator, example(qualname), variants=50) == [], qualname
    described = " ".join(all_descriptions(generator, example("fetch_observations", "client")))
    assert "status" not in described and " 300 " not in described and "-> 300 " not in described


def test_parameter_reasoning_is_specific_to_the_knob_kind():
    generator = ParameterGenerator()
    drafts = {d.description: d.reasoning for d in run(generator, CORPUS[0], variants=200)}
    timeout = [r for d, r in drafts.items() if d.startswith("`timeout=` 10.0 -> 5.0 ")]
    assert timeout and "fail fast" in timeout[0] and "the call to get" in timeout[0]
    longer = [r for d, r in drafts.items() if d.startswith("`timeout=` 10.0 -> 20.0 ")]
    assert longer and "slow upstreams" in longer[0]
    retries = [r for d, r in drafts.items() if d.startswith("retry bound") or "loop bound 3 -> 4" in d]
    assert retries and any("transient" in r for r in retries)
    sleeps = [r for d, r in drafts.items() if "backoff" in d]
    assert sleeps and all("backoff" in r for r in sleeps)
    reasons = [d.reasoning for d in run(generator, example("luhn_valid"), variants=50)]
    assert len(set(reasons)) == len(reasons)  # no boilerplate shared between different moves


def test_parameter_values_ints_stay_ints_and_counts_never_reach_zero():
    procedure = make("page_through", '''
        def page_through(client):
            pages = []
            for number in range(1, 4):
                pages.append(client.fetch(page=number, page_size=50, retries=1, ratio=0.25, strict=True))
            return pages
    ''')
    drafts = run(ParameterGenerator(), procedure, variants=200)
    assert_all_pass(procedure, drafts, "parameter")
    seen: dict[str, set] = {}
    for draft in drafts:
        call = next(n for n in ast.walk(ast.parse(draft.code)) if isinstance(n, ast.Call)
                    and getattr(n.func, "attr", "") == "fetch")
        for keyword in call.keywords:
            if keyword.arg != "page":
                seen.setdefault(keyword.arg, set()).add(keyword.value.value)
    assert all(isinstance(v, int) and v > 0 for v in seen["page_size"])
    assert {25, 38, 75, 100, 250, 500} <= seen["page_size"]
    assert 0 in seen["retries"] and 2 in seen["retries"]  # no retries at all is a meaningful setting
    assert all(isinstance(v, float) for v in seen["ratio"]) and 0.125 in seen["ratio"]
    assert seen["strict"] == {True, False}
    bounds = {int(d.description.split(" -> ")[1].split()[0]) for d in drafts
              if d.description.startswith("loop bound 4 -> ") and "; " not in d.description}
    assert bounds and min(bounds) == 2  # range(1, 4) never becomes an empty range(1, 1)


def test_parameter_defaults_are_knobs():
    """The checker's signature ignores default values, so defaults are tuned like any knob."""
    procedure = make("connect", '''
        def connect(host: str, timeout: float = 30.0, *, retries: int = 3) -> str:
            return f"{host}:{timeout}:{retries}"
    ''')
    drafts = run(ParameterGenerator(), procedure, variants=50)
    assert_all_pass(procedure, drafts, "parameter")
    assert any("default of `timeout`" in d.description for d in drafts)
    assert any("default of `retries`" in d.description for d in drafts)
    # defaults of nested functions are never part of the signature: always knobs
    nested = CORPUS[3]
    described = " ".join(d.description for d in run(ParameterGenerator(), nested, variants=50))
    assert "default of `by` 1 -> 2 (+1) of nested increment" in described


def test_parameter_combines_knobs_up_to_the_limit():
    procedure = CORPUS[0]
    combined = [d for d in run(ParameterGenerator(), procedure, variants=8) if "; " in d.description]
    assert combined and all(d.description.count("; ") == 1 for d in combined)
    assert all(len(d.reasoning) > 100 for d in combined)
    single = ParameterGenerator(ParameterGenerator.Config(max_knobs_per_variant=1))
    assert not [d for d in run(single, procedure, variants=8) if "; " in d.description]


def test_parameter_keeps_decorators_docstring_and_comment_free_shape():
    procedure = CORPUS[2]  # @functools.lru_cache(maxsize=256) def fib
    drafts = run(ParameterGenerator(), procedure, variants=20)
    assert drafts
    for draft in drafts:
        node = function_node(draft.code, "fib")
        assert ast.get_docstring(node) == "The n-th Fibonacci number."
        assert ast.unparse(node.decorator_list[0]).startswith("functools.lru_cache(maxsize=")
    assert any("`maxsize=` 256 -> 128 (x0.5)" in d.description for d in drafts)


# -- conditional -------------------------------------------------------------------------------------------


def by_transform(drafts: list[DreamDraft], word: str) -> list[DreamDraft]:
    return [d for d in drafts if word in d.description]


def test_conditional_retries_io_calls_of_retry_shaped_functions(monkeypatch):
    procedure = example("iter_observation_pages")
    drafts = run(ConditionalGenerator(), procedure, variants=20)
    retry = by_transform(drafts, "retry `batch = get_page(page, page_size)`")
    assert len(retry) == 1
    assert "up to 3 attempts on ConnectionError/TimeoutError" in retry[0].description
    assert "idempotent" in retry[0].reasoning and "get_page" in retry[0].reasoning
    # the retry works: a page that fails once with ConnectionError is fetched again after a sleep
    namespace = example_namespace(procedure.module)
    function = load(retry[0].code, procedure.name, namespace)
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    calls = []

    def get_page(page, size):
        calls.append(page)
        if len(calls) == 1:
            raise ConnectionError("reset")
        return [page] * (size if page < 2 else 1)

    assert list(function(get_page, page_size=2)) == [1, 1, 2]
    assert calls == [1, 1, 2] and slept == [0.1]

    def always_down(page, size):
        raise TimeoutError("down")

    slept.clear()
    with pytest.raises(TimeoutError):
        list(function(always_down))
    assert slept == [0.1, 0.2]


def test_conditional_async_retry_uses_asyncio_sleep():
    procedure = example("collect_invoice_pages")
    drafts = by_transform(run(ConditionalGenerator(), procedure, variants=20), "retry ")
    assert len(drafts) == 1
    assert "(asyncio.sleep)" in drafts[0].description
    node = function_node(drafts[0].code, procedure.name)
    sleeps = [n for n in ast.walk(node) if isinstance(n, ast.Await) and "asyncio.sleep(0.1" in ast.unparse(n)]
    assert sleeps


def test_conditional_does_not_retry_functions_that_already_retry():
    for qualname in ("charge_with_retry", "charge_with_retry_async", "fetch_observations", "fetch_observations_async"):
        assert not by_transform(run(ConditionalGenerator(), example(qualname), variants=50), "retry "), qualname


def test_conditional_guards_loops_over_parameters():
    procedure = example("threshold_alerts")
    drafts = run(ConditionalGenerator(), procedure, variants=20)
    guard = by_transform(drafts, "early `return []` when `readings` is empty or None")
    assert len(guard) == 1
    assert "for (index, reading) in enumerate(readings)" in guard[0].description
    function = load(guard[0].code, procedure.name, example_namespace(procedure.module))
    assert function(None) == [] and function([]) == []
    assert function([{"temp_c": 40.0}]) == ["#0: heat 40.0C"]
    # a generator over an iterable: only None can be caught without consuming it
    procedure = example("moving_average")
    guard = by_transform(run(ConditionalGenerator(), procedure, variants=20), "when `values` is None")
    assert len(guard) == 1 and guard[0].description.startswith("early bare `return` when `values` is None")
    function = load(guard[0].code, procedure.name, example_namespace(procedure.module))
    assert list(function(None)) == [] and list(function([1, 2, 3], 2)) == [1.5, 2.5]
    # accumulators returned together, and a returned comprehension
    described = all_descriptions(ConditionalGenerator(), example("partition_customers"))
    assert any(d.startswith("early `return (valid, errors)` when `records` is empty or None") for d in described)
    described = all_descriptions(ConditionalGenerator(), example("overdue_customers"))
    assert any(d.startswith("early `return []` when `balances` is empty or None") for d in described)


def test_conditional_fast_path_folds_the_result_at_zero():
    procedure = example("celsius_to_fahrenheit")
    drafts = by_transform(run(ConditionalGenerator(), procedure, variants=20), "fast path")
    assert [d.description.split(" before")[0] for d in drafts] == ["fast path `if celsius == 0: return 32.0`"]
    original = load(textwrap.dedent(procedure.source), procedure.name, example_namespace(procedure.module))
    changed = load(drafts[0].code, procedure.name, example_namespace(procedure.module))
    for value in (0, 0.0, 1.5, -40.0):
        assert changed(value) == original(value)
    described = all_descriptions(ConditionalGenerator(), example("knots_to_mps"))
    assert any(d.startswith("fast path `if knots == 0: return 0.0`") for d in described)


def test_conditional_memoizes_only_pure_scalar_functions():
    described = all_descriptions(ConditionalGenerator(), CORPUS[9])  # Geometry.distance, a staticmethod
    assert [d for d in described if d.startswith("memoised with `@functools.lru_cache(maxsize=128)` under "
                                                 "@staticmethod")]
    drafts = by_transform(run(ConditionalGenerator(), CORPUS[9], variants=20), "memoised")
    node = function_node(drafts[0].code, "distance")
    assert [ast.unparse(d) for d in node.decorator_list] == ["staticmethod", "functools.lru_cache(maxsize=128)"]
    # methods on self, containers, async functions, generators, and side effects are never cached
    for procedure in (CORPUS[0], CORPUS[1], CORPUS[5], CORPUS[6], CORPUS[7], CORPUS[8]):
        assert not by_transform(run(ConditionalGenerator(), procedure, variants=50), "memoised"), procedure.qualname
    for qualname in ("validate_reading", "IdempotencyCache.put", "parse_wind", "threshold_alerts"):
        assert not by_transform(run(ConditionalGenerator(), example(qualname), variants=50), "memoised"), qualname
    drafts = by_transform(run(ConditionalGenerator(), example("beaufort"), variants=50), "memoised")
    assert drafts
    function = load(drafts[0].code, "beaufort", example_namespace("weather.stations"))
    assert function(10.0) == 5 and function(10.0) == 5 and function.cache_info().hits == 1


def test_conditional_validates_and_guards_division():
    procedure = example("page_window")
    drafts = run(ConditionalGenerator(), procedure, variants=20)
    division = by_transform(drafts, "reject `page_size == 0`")
    assert len(division) == 1 and "`-total // page_size`" in division[0].description
    function = load(division[0].code, procedure.name, example_namespace(procedure.module))
    with pytest.raises(ValueError, match="page_size must not be zero"):
        function(10, 1, page_size=0)
    assert function(10, 1, page_size=3)["pages"] == 4
    validate = by_transform(run(ConditionalGenerator(), example("charge_with_retry_async"), variants=20),
                            "reject non-positive `timeout`")
    assert len(validate) == 1 and "asyncio.wait_for" in validate[0].description
    # parameters the body already checks against a literal are left alone
    described = " ".join(all_descriptions(ConditionalGenerator(), example("fetch_observations", "client")))
    assert "`timeout`" not in described and "`retries`" in described


def test_conditional_transforms_can_be_switched_off():
    only = ConditionalGenerator(ConditionalGenerator.Config(transforms=["empty_guard"]))
    for procedure in example_procedures():
        for draft in run(only, procedure, variants=10):
            assert draft.description.startswith("early ")
    none = ConditionalGenerator(ConditionalGenerator.Config(transforms=[]))
    assert all(run(none, p) == [] for p in example_procedures())


def test_conditional_adds_the_imports_its_code_needs():
    procedure = example("iter_observation_pages")
    drafts = by_transform(run(ConditionalGenerator(), procedure, variants=20), "retry ")
    assert drafts[0].code.startswith("import time\n")
    procedure = make("fetch_all", '''
        def fetch_all(fetch, urls: list[str]) -> list:
            out = []
            for url in urls:
                page = fetch(url)
                out.append(page)
            return out
    ''', imports=["import time"])
    drafts = by_transform(run(ConditionalGenerator(), procedure, variants=20), "retry ")
    assert drafts and not drafts[0].code.startswith("import")
