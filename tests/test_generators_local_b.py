"""The local generators ``constraint_relaxation`` and ``cross_project``: every draft passes the draft
checker, drafts are deterministic given the context's rng and respect ``variants``, and each
generator makes the dreams it should on hand-written shapes and on the example projects."""

from __future__ import annotations

import ast
import asyncio
import random
import sys
import textwrap
import time
from functools import cache
from pathlib import Path

import pytest
from dreamcore_plugins.generators.constraint_relaxation import KINDS, ConstraintRelaxation
from dreamcore_plugins.generators.cross_project import CrossProject

from dreamcore import DreamCore
from dreamcore.analysis.dataflow import analyze_dependencies
from dreamcore.analysis.related import RelatedIndex
from dreamcore.config import SafetyPolicy
from dreamcore.generation.drafts import DraftChecker, DreamDraft, GenerationContext
from dreamcore.models import DreamProcedure, Procedure
from tests.factories import example_procedures

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GENERATORS = {"constraint_relaxation": ConstraintRelaxation, "cross_project": CrossProject}


# -- helpers -----------------------------------------------------------------------------------


def make(qualname: str, source: str, *, project: str = "corpus", module: str = "corpus.mod",
         imports: list[str] | None = None, docstring: str | None = None, id: int = 1) -> Procedure:
    """A procedure as a source would mine it; methods keep their class indentation."""
    text = textwrap.dedent(source).strip("\n") + "\n"
    if "." in qualname:
        text = textwrap.indent(text, "    ")
    return Procedure(project=project, module=module, qualname=qualname, source=text, imports=imports or [],
                     docstring=docstring, id=id)


def context(procedure: Procedure, *, variants: int = 5, seed: int = 1, related=(), hints=()) -> GenerationContext:
    return GenerationContext(procedure=procedure, variants=variants, rng=random.Random(seed), seed=seed,
                             related=list(related), hints=list(hints))


def run(generator, procedure: Procedure, **options) -> list[DreamDraft]:
    return asyncio.run(generator.generate(procedure, context(procedure, **options)))


def checked(procedure: Procedure, drafts: list[DreamDraft], dream_type: str) -> list[DreamProcedure]:
    """Every draft must become a dream; a rejection fails with its reason and code."""
    checker = DraftChecker(procedure, SafetyPolicy())
    dreams = []
    for draft in drafts:
        assert draft.model_used == "local"
        result = checker.check(draft, dream_type)
        assert isinstance(result, DreamProcedure), (
            f"{procedure.qualname}: {draft.description!r} rejected: {result.category}: {result.reason}\n{draft.code}"
        )
        dreams.append(result)
    return dreams


def function_of(code: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    return next(n for n in ast.parse(code).body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                and n.name == name)


def calls_in(code: str) -> list[str]:
    return [ast.unparse(n.func) for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)]


def load(code: str, name: str, namespace: dict | None = None):
    """Define a draft's function (our own generators' output, from our own inputs) and return it."""
    scope = dict(namespace or {})
    exec(compile(code, "<draft>", "exec"), scope)  # noqa: S102
    return scope[name]


def example_namespace(module: str) -> dict:
    """The globals of an example module (the examples are pure standard library)."""
    path = str(EXAMPLES / module.split(".")[0])
    if path not in sys.path:
        sys.path.insert(0, path)
    __import__(module)
    return dict(vars(sys.modules[module]))


@cache
def example_index() -> RelatedIndex:
    return RelatedIndex(example_procedures())


def example(project: str, qualname: str) -> Procedure:
    matches = [p for p in example_procedures() if p.project == project and p.qualname == qualname]
    assert len(matches) == 1, (project, qualname)
    return matches[0]


def example_related(procedure: Procedure) -> list[Procedure]:
    return [p for p, _ in example_index().related(procedure, limit=5)]


# -- a corpus of real-world shapes ---------------------------------------------------------------

CORPUS: list[Procedure] = [
    make("Repository.save", '''
        def save(self, record: dict, *, overwrite: bool = False) -> int:
            """Persist a record and return its id."""
            if not record:
                raise ValueError("empty record")
            self.logger.info("saving %s", record.get("id"))
            key = self._key(record)
            if key in self._rows and not overwrite:
                raise KeyError(key)
            self._rows[key] = dict(record)
            self.writes += 1
            return key
    '''),
    make("load_dashboard", '''
        async def load_dashboard(client, user_id: str, *, timeout: float = 5.0) -> dict:
            """Fetch the pieces of a user's dashboard."""
            profile = await client.get_profile(user_id)
            orders = await client.get_orders(user_id, limit=20)
            alerts = await client.get_alerts(user_id)
            return {"profile": profile, "orders": orders, "alerts": alerts}
    '''),
    make("fetch_with_retry", '''
        def fetch_with_retry(session, url: str, *, retries: int = 3, backoff: float = 0.5, timeout: float = 10.0):
            """GET a URL, retrying connection errors with exponential backoff."""
            for attempt in range(retries + 1):
                try:
                    return session.get(url, timeout=timeout)
                except ConnectionError:
                    if attempt == retries:
                        raise
                    time.sleep(backoff * 2 ** attempt)
            raise RuntimeError("unreachable")
    ''', imports=["import time"]),
    make("fib", '''
        @functools.lru_cache(maxsize=None)
        def fib(n: int) -> int:
            """The n-th Fibonacci number."""
            if n < 0:
                raise ValueError("n must be non-negative")
            if n < 2:
                return n
            return fib(n - 1) + fib(n - 2)
    ''', imports=["import functools"]),
    make("make_counter", '''
        def make_counter(start: int = 0, step: int = 1):
            """A closure counting up from start."""
            if step <= 0:
                raise ValueError("step must be positive")
            count = start

            def increment() -> int:
                nonlocal count
                count += step
                return count
            return increment
    '''),
    make("merge_settings", '''
        def merge_settings(*layers: dict, strict=False, **overrides) -> dict:
            """Merge settings dictionaries, later layers winning."""
            merged = {}
            for layer in layers:
                if not isinstance(layer, dict):
                    raise TypeError(f"layer must be a dict, got {type(layer).__name__}")
                merged.update(layer)
            print("merged", len(layers), "layers")
            merged.update(overrides)
            if strict and any([value is None for value in merged.values()]):
                raise ValueError("unset settings")
            return merged
    '''),
    make("chunked", '''
        def chunked(items: list[int], size: int, /, *, pad: int | None = None) -> list[list[int]]:
            """Split items into lists of at most size elements."""
            if size < 1:
                raise ValueError("size must be at least 1")
            chunks = [items[i:i + size] for i in range(0, len(items), size)]
            if pad is not None and chunks and len(chunks[-1]) < size:
                chunks[-1] = chunks[-1] + [pad] * (size - len(chunks[-1]))
            return chunks
    '''),
    make("normalize_all", '''
        def normalize_all(values: list[float]) -> list[float]:
            """Scale values into [0, 1]."""
            def scale(value: float, low: float, high: float) -> float:
                if high == low:
                    return 0.0
                return (value - low) / (high - low)
            low, high = min(values), max(values)
            return [scale(v, low, high) for v in values]
    '''),
    make("read_records", '''
        def read_records(lines, *, delimiter: str = ","):
            """Yield the fields of every data line, skipping blanks."""
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                if line.count(delimiter) < 1:
                    raise ValueError(f"line {number}: no delimiter")
                yield line.rstrip("\\n").split(delimiter)
    '''),
    make("Rectangle.area", '''
        @property
        def area(self) -> float:
            """Width times height."""
            if self.width < 0 or self.height < 0:
                raise ValueError("negative size")
            return self.width * self.height
    '''),
    make("Money.parse", '''
        @classmethod
        def parse(cls, text: str) -> "Money":
            """Parse '12.50 EUR'."""
            amount, _, currency = text.strip().partition(" ")
            try:
                value = float(amount)
            except ValueError:
                raise ValueError(f"bad amount: {amount!r}") from None
            return cls(value, currency or "EUR")
    '''),
    make("over_budget", '''
        def over_budget(expenses: list[float], budget: float) -> bool:
            """Whether the expenses exceed the budget."""
            total = 0.0
            for expense in expenses:
                total += expense
            return total > budget
    '''),
    make("has_admin", '''
        def has_admin(users: list[dict]) -> bool:
            """Whether any user is an admin."""
            found = False
            for user in users:
                if user.get("role") == "admin":
                    found = True
            return found
    '''),
    make("shipping_cost", '''
        def shipping_cost(weight_kg: float, *, express: bool = False, free_above: float = 50.0,
                          order_total: float = 0.0) -> float:
            """Cost of shipping a parcel."""
            if weight_kg <= 0:
                raise ValueError("weight must be positive")
            base = 4.99 + 1.2 * weight_kg
            if express:
                base *= 1.8
            if order_total >= free_above:
                return 0.0
            return round(base, 2)
    '''),
    make("gather_reports", '''
        async def gather_reports(fetch, ids: list[int]) -> list[dict]:
            """Fetch every report by id."""
            reports = []
            for report_id in ids:
                reports.append(await fetch(report_id))
            return reports
    '''),
    make("wait_ready", '''
        async def wait_ready(probe, *, attempts: int = 5, delay: float = 0.2) -> bool:
            """Probe a service until it answers."""
            for _ in range(attempts):
                try:
                    return await asyncio.wait_for(probe(), timeout=1.0)
                except (asyncio.TimeoutError, OSError):
                    await asyncio.sleep(delay)
            return False
    ''', imports=["import asyncio"]),
    make("Cache.lookup", '''
        def lookup(self, key: str, default=None):
            """A cached value, counting hits and misses."""
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return default
            self.hits += 1
            return entry
    '''),
    make("dispatch", '''
        def dispatch(event: dict, handlers: dict, *, default=None):
            """Route an event to its handler by type."""
            match event:
                case {"type": "ping"}:
                    return "pong"
                case {"type": str(kind), **rest} if (handler := handlers.get(kind)) is not None:
                    return handler(rest)
                case _:
                    if default is None:
                        raise LookupError(f"no handler for {event!r}")
                    return default(event)
    '''),
    make("Outer.Inner.render", '''
        def render(self, template: str, /, **values) -> str:
            """Fill a template, remembering what was rendered."""
            global RENDERED
            text = template.format(**values)
            RENDERED += 1
            try:
                self.history.append(text)
            finally:
                self.lock.release()
            return text
    '''),
    make("first_positive", '''
        def first_positive(numbers, key=lambda n: n):
            """The first number whose key is positive, or None."""
            result = None
            for number in sorted(numbers, key=key):
                if key(number) > 0:
                    result = number
            return result
    '''),
    make("copy_stream", '''
        async def copy_stream(source, sink, *, chunk: int = 65536, timeout: float = 30.0) -> int:
            """Copy a stream in chunks, returning the number of bytes."""
            copied = 0
            async with sink:
                while data := await asyncio.wait_for(source.read(chunk), timeout=timeout):
                    await sink.write(data)
                    copied += len(data)
            return copied
    ''', imports=["import asyncio"]),
    make("stream_lines", '''
        async def stream_lines(reader, *, limit: int = 1000):
            """Yield decoded lines from an async reader."""
            count = 0
            async for raw in reader:
                count += 1
                if count > limit:
                    raise OverflowError("too many lines")
                yield raw.decode().rstrip()
    '''),
]

# counterparts from another project, for cross_project
OTHER: list[Procedure] = [
    make("validate_size", '''
        def validate_size(size: int, items: list[int]) -> int:
            """Check a chunk size against a list of items."""
            if size < 1:
                raise ValueError(f"size must be positive, got {size}")
            if not items:
                raise ValueError("items must not be empty")
            return min(size, len(items))
    ''', project="other", module="other.checks"),
    make("fetch_page", '''
        def fetch_page(client, url: str, *, retries: int = 4, backoff: float = 0.25):
            """Fetch a page, retrying timeouts."""
            delay = backoff
            for attempt in range(retries + 1):
                try:
                    return client.get(url)
                except TimeoutError:
                    if attempt == retries:
                        raise
                    time.sleep(delay)
                    delay *= 2
    ''', project="other", module="other.http", imports=["import time"]),
    make("normalize_weight", '''
        def normalize_weight(weight_kg: float) -> float:
            """Parse a weight that may come in grams."""
            if weight_kg > 1000:
                return weight_kg / 1000
            return float(weight_kg)
    ''', project="other", module="other.units"),
    make("record_key", '''
        def record_key(record: dict) -> int:
            """A key for a record."""
            if not record:
                raise ValueError("record is empty")
            return hash(tuple(sorted(record)))
    ''', project="other", module="other.keys"),
    make("load_orders", '''
        async def load_orders(client, user_id: str) -> list:
            """Load a user's orders, retrying dropped connections."""
            for attempt in range(3):
                try:
                    return await client.get_orders(user_id)
                except ConnectionError:
                    await asyncio.sleep(0.1 * 2 ** attempt)
            return []
    ''', project="other", module="other.orders", imports=["import asyncio"]),
    make("round_cost", '''
        def round_cost(cost: float) -> float:
            """Round a cost to cents, never below zero."""
            return max(0.0, round(cost, 2))
    ''', project="other", module="other.money"),
]
for _number, _procedure in enumerate(CORPUS + OTHER, start=1):
    _procedure.id = _number


def corpus_id(procedure: Procedure) -> str:
    return procedure.qualname


@cache
def corpus_index() -> RelatedIndex:
    return RelatedIndex(CORPUS + OTHER)


def related_for(procedure: Procedure) -> list[Procedure]:
    """Up to five related procedures of the other project (the three first counterparts if none scores)."""
    return [p for p, _ in corpus_index().related(procedure, limit=5)] or OTHER[:3]


# -- every draft is a dream ----------------------------------------------------------------------


@pytest.mark.parametrize("procedure", CORPUS, ids=corpus_id)
def test_constraint_relaxation_drafts_pass_the_checker(procedure):
    drafts = run(ConstraintRelaxation(), procedure, variants=30)
    dreams = checked(procedure, drafts, "constraint_relaxation")
    for dream in dreams:
        assert signature(dream.code, procedure.name) == signature(textwrap.dedent(procedure.source), procedure.name)
        assert dream.generated_description.strip() and dream.reasoning.strip()
        assert "Violates the assumption" in dream.reasoning


@pytest.mark.parametrize("procedure", CORPUS, ids=corpus_id)
def test_cross_project_drafts_pass_the_checker(procedure):
    drafts = run(CrossProject(), procedure, variants=30, related=related_for(procedure))
    checked(procedure, drafts, "cross_project")


def test_the_corpus_gets_dreams_of_every_kind():
    """Each relaxation kind fires somewhere in the corpus (so no kind is dead code)."""
    seen: dict[str, int] = {}
    for procedure in CORPUS:
        for draft in run(ConstraintRelaxation(), procedure, variants=50):
            kind = _kind_of(draft.description)
            seen[kind] = seen.get(kind, 0) + 1
    assert set(KINDS) - {"concurrency"} <= set(seen), seen  # concurrency is checked separately (async only)
    assert seen.get("concurrency", 0) >= 2, seen
    with_dreams = sum(1 for p in CORPUS if run(ConstraintRelaxation(), p))
    assert with_dreams >= len(CORPUS) - 2


def test_cross_project_combines_corpus_counterparts():
    strategies = set()
    for procedure in CORPUS:
        for draft in run(CrossProject(), procedure, variants=30, related=related_for(procedure)):
            strategies.add(draft.description.split(" ", 1)[0])
    assert {"Fallback", "Composition", "Borrows"} <= strategies, strategies


def signature(code: str, name: str) -> str:
    from dreamcore.analysis.syntax import signature_of

    return signature_of(function_of(code, name))


_DESCRIPTION_KINDS = {
    "Runs step": "reorder",
    "Awaits": "concurrency",
    "Replaces the loop": "concurrency",
    "Submits": "concurrency",
    "In the `except": "lenient_error",
    "Removes the validation": "relax_validation",
    "Removes the error check": "relax_validation",
    "Widens": "relax_validation",
    "Clamps": "relax_validation",
    "Skips the offending": "relax_validation",
    "Removes the wait": "no_wait",
    "Lifts the time limit": "no_wait",
    "Checks the early exit": "short_circuit",
    "Leaves the loop": "short_circuit",
    "Stops the loop": "short_circuit",
    "Returns True from inside": "short_circuit",
    "Feeds": "short_circuit",
    "Drops the logging": "drop_side_effect",
    "Stops updating": "drop_side_effect",
}


def _kind_of(description: str) -> str:
    return next(kind for prefix, kind in _DESCRIPTION_KINDS.items() if description.startswith(prefix))


def test_no_transform_fails_internally(caplog):
    """The generators skip a transform that cannot cope with a shape, logging it at debug level; on the
    corpus and the example projects none may have to."""
    caplog.set_level("DEBUG", logger="dreamcore_plugins")
    for procedure in [*CORPUS, *example_procedures()]:
        run(ConstraintRelaxation(), procedure, variants=50)
        related = related_for(procedure) if procedure.project == "corpus" else example_related(procedure)
        run(CrossProject(), procedure, variants=50, related=related)
    assert not [r for r in caplog.records if r.name.startswith("dreamcore_plugins")], caplog.text


# -- determinism and variants ---------------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATORS)
def test_deterministic_under_the_same_seed(name):
    generator = GENERATORS[name]()
    for procedure in CORPUS:
        related = related_for(procedure)
        first = run(generator, procedure, seed=7, related=related)
        second = run(GENERATORS[name](), procedure, seed=7, related=related)
        assert [(d.code, d.description, d.reasoning) for d in first] == \
            [(d.code, d.description, d.reasoning) for d in second]


def test_the_rng_picks_among_candidates():
    procedure = next(p for p in CORPUS if p.qualname == "Repository.save")
    picks = {tuple(d.code for d in run(ConstraintRelaxation(), procedure, variants=2, seed=s)) for s in range(12)}
    assert len(picks) > 1


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("variants", [0, 1, 2, 3, 50])
def test_variants_are_respected(name, variants):
    total_available = 0
    for procedure in CORPUS:
        drafts = run(GENERATORS[name](), procedure, variants=variants, related=related_for(procedure))
        assert len(drafts) <= variants
        assert len({d.code for d in drafts}) == len(drafts)
        total_available += len(drafts)
    if variants:
        assert total_available > 0


def test_avoid_hints_switch_a_kind_off():
    procedure = next(p for p in CORPUS if p.qualname == "fetch_with_retry")
    drafts = run(ConstraintRelaxation(), procedure, variants=50, hints=["avoid: no_wait (tests time out)"])
    assert drafts and not any(_kind_of(d.description) == "no_wait" for d in drafts)


def test_config_limits_kinds_and_rejects_unknown_ones():
    only = ConstraintRelaxation(ConstraintRelaxation.Config(kinds=["no_wait"]))
    procedure = next(p for p in CORPUS if p.qualname == "fetch_with_retry")
    drafts = run(only, procedure, variants=50)
    assert drafts and {_kind_of(d.description) for d in drafts} == {"no_wait"}
    with pytest.raises(ValueError, match="unknown relaxation kinds"):
        ConstraintRelaxation.Config(kinds=["reorder", "teleport"])
    with pytest.raises(ValueError, match="unknown cross-project strategies"):
        CrossProject.Config(strategies=["osmosis"])
    assert ConstraintRelaxation().config.kinds == list(KINDS)


def test_generators_are_registered_plugins(tmp_path):
    core = DreamCore({"store": {"url": f"sqlite:///{tmp_path / 'd.db'}"},
                      "plugins": {"cross_project": {"max_related": 2}}})
    relax = core.create("generators", "constraint_relaxation")
    cross = core.create("generators", "cross_project")
    assert (relax.dream_type, cross.dream_type) == ("constraint_relaxation", "cross_project")
    assert cross.config.max_related == 2


def test_unparseable_source_gives_nothing():
    broken = make("broken", "def broken(:\n    pass\n")
    assert run(ConstraintRelaxation(), broken) == []
    assert run(CrossProject(), broken, related=OTHER) == []


# -- constraint_relaxation on hand-written examples ------------------------------------------------

def test_gathers_independent_awaits():
    procedure = next(p for p in CORPUS if p.qualname == "load_dashboard")
    analysis = analyze_dependencies(textwrap.dedent(procedure.source), procedure.name)
    assert analysis.parallel_groups  # the analysis finds the three awaits independent
    drafts = run(ConstraintRelaxation(), procedure, variants=50)
    checked(procedure, drafts, "constraint_relaxation")
    gathered = [d for d in drafts if "asyncio.gather" in d.code]
    assert len(gathered) == 1
    draft = gathered[0]
    assert "`client.get_profile()`" in draft.description and "`client.get_alerts()`" in draft.description
    function = function_of(draft.code, "load_dashboard")
    assert isinstance(function.body[1], ast.Import)  # `import asyncio` right after the docstring
    assert "profile, orders, alerts = await asyncio.gather(" in draft.code

    class Client:
        def __init__(self):
            self.running = 0
            self.overlap = 0

        async def _call(self, value):
            self.running += 1
            await asyncio.sleep(0.01)
            self.overlap = max(self.overlap, self.running)
            self.running -= 1
            return value

        async def get_profile(self, user):
            return await self._call(f"profile:{user}")

        async def get_orders(self, user, limit):
            return await self._call([user] * 2)

        async def get_alerts(self, user):
            return await self._call(())

    base = load(textwrap.dedent(procedure.source), "load_dashboard")
    dream = load(draft.code, "load_dashboard")
    client_a, client_b = Client(), Client()
    assert asyncio.run(dream(client_b, "u1")) == asyncio.run(base(client_a, "u1"))
    assert client_a.overlap == 1 and client_b.overlap == 3


def test_gathers_a_loop_of_awaits():
    procedure = next(p for p in CORPUS if p.qualname == "gather_reports")
    drafts = run(ConstraintRelaxation(), procedure, variants=50)
    draft = next(d for d in drafts if "asyncio.gather" in d.code)
    assert "reports.extend(await asyncio.gather(*(fetch(report_id) for report_id in ids)))" in draft.code

    async def fetch(report_id):
        await asyncio.sleep(0.001 * (5 - report_id))
        return {"id": report_id}

    dream = load(draft.code, "gather_reports")
    assert asyncio.run(dream(fetch, [1, 2, 3])) == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_reorders_steps_the_analysis_marks_reorderable():
    procedure = make("prepare", '''
        def prepare(order: dict, rates: dict) -> dict:
            """Compute the parts of an order summary."""
            subtotal = sum(line["price"] * line["qty"] for line in order["lines"])
            currency = order.get("currency", "EUR").upper()
            rate = rates[currency]
            return {"total": round(subtotal * rate, 2), "currency": currency}
    ''')
    analysis = analyze_dependencies(textwrap.dedent(procedure.source), procedure.name)
    assert (0, 1) in analysis.reorderable
    drafts = run(ConstraintRelaxation(), procedure, variants=50)
    checked(procedure, drafts, "constraint_relaxation")
    swaps = [d for d in drafts if d.description.startswith("Runs step")]
    assert swaps
    swap = next(d for d in swaps if "step 2 `currency = " in d.description)
    body = function_of(swap.code, "prepare").body
    assert ast.unparse(body[1]).startswith("currency =") and ast.unparse(body[2]).startswith("subtotal =")
    assert "`subtotal`" in swap.reasoning and "`currency`" in swap.reasoning
    # never across a dependency: `rate = rates[currency]` must stay after `currency = ...`
    for draft in swaps:
        lines = [ast.unparse(s) for s in function_of(draft.code, "prepare").body]
        assert next(i for i, s in enumerate(lines) if s.startswith("currency =")) < \
            next(i for i, s in enumerate(lines) if s.startswith("rate ="))


def test_removes_the_sleep_from_a_retry_loop():
    procedure = next(p for p in CORPUS if p.qualname == "fetch_with_retry")
    drafts = run(ConstraintRelaxation(), procedure, variants=50)
    checked(procedure, drafts, "constraint_relaxation")
    no_sleep = next(d for d in drafts if d.description.startswith("Removes the wait"))
    assert "time.sleep(backoff * 2 ** attempt)" in no_sleep.description
    assert not any(name.endswith("sleep") for name in calls_in(no_sleep.code))
    assert "for attempt in range(retries + 1)" in no_sleep.code  # the retry loop itself stays

    class Flaky:
        calls = 0

        def get(self, url, timeout):
            self.calls += 1
            if self.calls < 3:
                raise ConnectionError("reset")
            return f"ok:{url}"

    dream = load(no_sleep.code, "fetch_with_retry", {"time": time})
    started = time.perf_counter()
    assert dream(Flaky(), "/x", backoff=5.0) == "ok:/x"  # the base would wait 5 s + 10 s
    assert time.perf_counter() - started < 1.0
    lifted = next(d for d in drafts if d.description.startswith("Lifts the time limit"))
    assert "session.get(url, timeout=None)" in lifted.code


def test_unwraps_wait_for_and_drops_async_sleep():
    procedure = next(p for p in CORPUS if p.qualname == "wait_ready")
    drafts = run(ConstraintRelaxation(), procedure, variants=50)
    lifted = next(d for d in drafts if d.description.startswith("Lifts the time limit"))
    assert "return await probe()" in lifted.code and "wait_for" not in lifted.code
    removed = next(d for d in drafts if d.description.startswith("Removes the wait"))
    assert "asyncio.sleep" not in removed.code


def test_lenient_error_paths_and_relaxed_validation():
    drafts = run(ConstraintRelaxation(), next(p for p in CORPUS if p.qualname == "fetch_with_retry"), variants=50)
    lenient = next(d for d in drafts if d.description.startswith("In the `except ConnectionError`"))
    assert "return None" in lenient.code and "re-raise" in lenient.description
    assert not any(d.description.startswith("Removes the error check `if attempt == retries") for d in drafts)

    drafts = run(ConstraintRelaxation(), next(p for p in CORPUS if p.qualname == "shipping_cost"), variants=50)
    descriptions = [d.description for d in drafts]
    assert any(s.startswith("Removes the validation `if weight_kg <= 0") for s in descriptions)
    widened = next(d for d in drafts if d.description.startswith("Widens"))
    assert "if weight_kg < 0:" in widened.code and "`weight_kg == 0`" in widened.description
    early = next(d for d in drafts if d.description.startswith("Checks the early exit"))
    body = [ast.unparse(s) for s in function_of(early.code, "shipping_cost").body]
    assert body[1].startswith("if order_total >= free_above")  # hoisted above the validation

    drafts = run(ConstraintRelaxation(), next(p for p in CORPUS if p.qualname == "chunked"), variants=50)
    clamp = next(d for d in drafts if d.description.startswith("Clamps"))
    assert "size = 1" in clamp.code
    dream = load(clamp.code, "chunked")
    assert dream([1, 2, 3], 0) == [[1], [2], [3]]

    drafts = run(ConstraintRelaxation(), next(p for p in CORPUS if p.qualname == "read_records"), variants=50)
    skip = next(d for d in drafts if d.description.startswith("Skips the offending"))
    dream = load(skip.code, "read_records")
    assert list(dream(["a,b", "oops", "c,d"])) == [["a", "b"], ["c", "d"]]


def test_short_circuits_and_dropped_side_effects():
    drafts = run(ConstraintRelaxation(), next(p for p in CORPUS if p.qualname == "over_budget"), variants=50)
    early = next(d for d in drafts if d.description.startswith("Returns True from inside"))
    dream = load(early.code, "over_budget")
    assert dream([5.0, 10.0, 1.0], 12.0) is True and dream([1.0, 2.0], 12.0) is False

    drafts = run(ConstraintRelaxation(), next(p for p in CORPUS if p.qualname == "has_admin"), variants=50)
    leave = next(d for d in drafts if d.description.startswith("Leaves the loop"))
    assert "break" in leave.code
    assert load(leave.code, "has_admin")([{"role": "x"}, {"role": "admin"}]) is True

    drafts = run(ConstraintRelaxation(), next(p for p in CORPUS if p.qualname == "merge_settings"), variants=50)
    lazy = next(d for d in drafts if d.description.startswith("Feeds"))
    assert "any((value is None for value in merged.values()))" in lazy.code
    quiet = next(d for d in drafts if d.description.startswith("Drops the logging"))
    assert "print(" not in quiet.code

    drafts = run(ConstraintRelaxation(), next(p for p in CORPUS if p.qualname == "Repository.save"), variants=50)
    assert any(d.description.startswith("Drops the logging") and "self.logger.info" not in d.code for d in drafts)
    assert any(d.description.startswith("Stops updating") and "self.writes" not in d.code for d in drafts)

    drafts = run(ConstraintRelaxation(), example("billing", "tiered_discount"), variants=50)
    stop = next(d for d in drafts if d.description.startswith("Stops the loop"))
    namespace = example_namespace("billing.invoices")
    base, dream = namespace["tiered_discount"], load(stop.code, "tiered_discount", namespace)
    assert [dream(v) for v in (0, 10_000, 60_000, 250_000)] == [base(v) for v in (0, 10_000, 60_000, 250_000)]


# -- cross_project on known counterparts ------------------------------------------------------------


def test_cross_project_needs_related_procedures():
    for procedure in [*CORPUS, *example_procedures()[:10]]:
        assert run(CrossProject(), procedure, related=[]) == []
    same_project = [p for p in example_procedures() if p.project == "billing"][:5]
    assert run(CrossProject(), example("billing", "parse_amount"), related=same_project) == []


def test_fallback_to_a_weather_parser_for_billing_amounts():
    base = example("billing", "parse_amount")
    related = example_related(base)
    temp = example("weather", "parse_signed_temp")
    assert temp in related
    drafts = run(CrossProject(), base, variants=50, related=related)
    checked(base, drafts, "cross_project")
    draft = next(d for d in drafts if "weather.weather.parsing.parse_signed_temp" in d.description
                 and d.description.startswith("Fallback"))
    assert "_weather_parse_signed_temp" in draft.code and "except ValueError:" in draft.code
    assert "Decode a METAR temperature token" in draft.reasoning
    namespace = example_namespace("billing.currency")
    dream = load(draft.code, "parse_amount", namespace)
    assert dream("$1,234.50") == namespace["parse_amount"]("$1,234.50") == 123450
    assert dream("M05") == -5  # the base rejects it; the weather parser reads it as minus five


def test_borrowed_guards_from_weather_counterparts():
    base = example("billing", "IdempotencyCache.__init__")
    drafts = run(CrossProject(), base, variants=50, related=example_related(base))
    checked(base, drafts, "cross_project")
    guard = next(d for d in drafts if d.description.startswith("Borrows input validation"))
    assert "weather.weather.client.ObservationCache.__init__" in guard.description
    assert "if ttl <= 0:" in guard.code and "raise ValueError('ttl must be positive')" in guard.code

    base = example("billing", "charge_with_retry_async")
    drafts = run(CrossProject(), base, variants=50, related=example_related(base))
    guard = next(d for d in drafts if "weather.weather.client.fetch_observations:" in d.description)
    assert "if timeout <= 0:" in guard.code
    body = [ast.unparse(s) for s in function_of(guard.code, "charge_with_retry_async").body]
    assert body.index("if amount <= 0:\n    raise ValueError('charge amount must be positive')") < \
        next(i for i, s in enumerate(body) if s.startswith("if timeout <= 0"))  # after the base's own guard


def test_guard_parameters_are_renamed_by_annotation_only_for_emptiness_checks():
    base = make("count_words", '''
        def count_words(text: str, limit: int) -> int:
            """Count the words of a text."""
            return min(len(text.split()), limit)
    ''')
    other = make("make_key", '''
        def make_key(customer_id: str, retries: int) -> str:
            """Build a key."""
            if not customer_id:
                raise ValueError("customer_id is required")
            if retries > 10:
                raise ValueError("retries above 10")
            return customer_id.lower()
    ''', project="crm", module="crm.keys")
    drafts = run(CrossProject(), base, variants=50, related=[other])
    checked(base, drafts, "cross_project")
    guard = next(d for d in drafts if d.description.startswith("Borrows input validation"))
    assert "if not text:\n        raise ValueError('text is required')" in guard.code
    assert "limit > 10" not in guard.code  # a domain limit does not transfer to a differently named parameter


def test_retry_shape_borrowed_for_injected_io(monkeypatch):
    base = example("billing", "collect_invoice_pages")
    related = example_related(base)
    drafts = run(CrossProject(), base, variants=50, related=related)
    checked(base, drafts, "cross_project")
    retry = next(d for d in drafts if d.description.startswith("Borrows the retry shape of "
                                                                "weather.weather.client.fetch_observations_async"))
    assert "await asyncio.sleep(min(0.5 * (_attempt + 1), 30.0))" in retry.code  # linear, like the weather client
    assert "except (TimeoutError, ConnectionError):" in retry.code

    pages = [(["a"], "c1"), (["b"], None)]
    failures = iter([ConnectionError("reset"), None, None])

    async def fetch_page(cursor):
        problem = next(failures)
        if problem is not None:
            raise problem
        return pages.pop(0)

    real_sleep = asyncio.sleep
    waits = []

    async def no_wait(delay):
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", no_wait)
    dream = load(retry.code, "collect_invoice_pages", example_namespace("billing.invoices"))
    assert asyncio.run(dream(fetch_page)) == ["a", "b"]
    assert waits[0] == 0.5  # the retry's backoff, then the base's own sleep(0) between pages


def test_corpus_retry_and_composition_shapes():
    gather = next(p for p in CORPUS if p.qualname == "load_dashboard")
    drafts = run(CrossProject(), gather, variants=50, related=OTHER)
    checked(gather, drafts, "cross_project")
    retry = next(d for d in drafts if "other.other.orders.load_orders" in d.description)
    assert "await asyncio.sleep(min(0.1 * 2 ** _attempt, 30.0))" in retry.code
    assert "except ConnectionError:" in retry.code

    cost = next(p for p in CORPUS if p.qualname == "shipping_cost")
    drafts = run(CrossProject(), cost, variants=50, related=OTHER[2:])
    checked(cost, drafts, "cross_project")
    post = next(d for d in drafts if "round_cost" in d.description and "every value the base returns" in d.description)
    dream = load(post.code, "shipping_cost")
    assert dream(2.0) == round(4.99 + 2.4, 2)
    pre = next(d for d in drafts if "normalize_weight" in d.description and "`weight_kg` is first passed" in d.description)
    assert load(pre.code, "shipping_cost")(2000.0) == round(4.99 + 1.2 * 2.0, 2)  # grams read as kilograms


def test_inlined_helpers_bring_their_module_constants_helpers_and_imports(tmp_path):
    """The related procedure's module constants, helper functions, stdlib imports and exception classes
    come along inside the nested helper: the dream needs nothing from the other project."""
    module = tmp_path / "sizes.py"
    module.write_text(textwrap.dedent('''
        import math
        from fractions import Fraction

        from sizes_internal import something_else

        SCALE = 1000
        DEFAULT_UNIT = "b"


        class ParseFailed(ValueError):
            """A size that cannot be read."""


        def _clean(text):
            return text.strip().lower()


        def parse_size(text: str, *, unit: str = DEFAULT_UNIT) -> int:
            """Parse "1/2" or "3" into thousandths."""
            cleaned = _clean(text)
            if not cleaned:
                raise ParseFailed("empty size")
            return int(math.floor(float(Fraction(cleaned)) * SCALE))
    '''))
    tree = ast.parse(module.read_text())
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "parse_size")
    related = Procedure(project="storage", module="sizes", qualname="parse_size", file_path=str(module),
                        source=ast.get_source_segment(module.read_text(), function) + "\n",
                        imports=["import math", "from fractions import Fraction"], id=99)
    base = make("parse_count", '''
        def parse_count(text: str) -> int:
            """Parse a whole number."""
            return int(text)
    ''')
    drafts = run(CrossProject(), base, variants=50, related=[related])
    checked(base, drafts, "cross_project")
    fallback = next(d for d in drafts if d.description.startswith("Fallback"))
    helper = next(n for n in ast.walk(ast.parse(fallback.code))
                  if isinstance(n, ast.FunctionDef) and n.name == "_storage_parse_size")
    inlined = [ast.unparse(s) for s in helper.body]
    assert "import math" in inlined and "from fractions import Fraction" in inlined
    assert "SCALE = 1000" in inlined and "ParseFailed = ValueError" in inlined
    assert any(s.startswith("def _clean(text):") for s in inlined)
    assert helper.args.kwonlyargs[0].arg == "unit" and ast.unparse(helper.args.kw_defaults[0]) == "'b'"
    assert all(a.annotation is None for a in helper.args.args) and helper.returns is None
    dream = load(fallback.code, "parse_count")
    assert dream("42") == 42
    assert dream(" 1/2 ") == 500  # int() rejects it; the storage parser does not

    # a related procedure that needs something it cannot bring along is not inlined
    needy = Procedure(project="storage", module="sizes", qualname="parse_size", file_path=None,
                      source=related.source, imports=[], id=100)
    assert not any(d.description.startswith("Fallback") for d in run(CrossProject(), base, related=[needy]))


# -- the example projects --------------------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATORS)
def test_every_example_procedure(name, capsys):
    generator = GENERATORS[name]()
    with_dreams = total = 0
    for procedure in example_procedures():
        related = example_related(procedure) if name == "cross_project" else []
        drafts = run(generator, procedure, variants=15, related=related)
        dreams = checked(procedure, drafts, name)
        assert len(dreams) <= 15
        with_dreams += bool(dreams)
        total += len(dreams)
    with capsys.disabled():
        print(f"\n{name}: {with_dreams}/{len(example_procedures())} example procedures with dreams, {total} dreams")
    minimum = {"constraint_relaxation": 45, "cross_project": 8}[name]
    assert with_dreams >= minimum
