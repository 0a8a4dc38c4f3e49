"""Every hook a dreamcore plugin can implement. This module is the plugin author's reference.

A plugin is a module (or object) with functions decorated by ``dreamcore.hookimpl`` and named after
the hooks below. It is found through the ``dreamcore`` entry-point group::

    [project.entry-points.dreamcore]
    my_plugin = "my_package.my_module"

The ``register_*`` hooks receive a ``register`` callable owned by the core. Call it once per
component class. A component class has a ``name`` (str, unique among its kind) and may have a
``Config`` attrs class: the ``[plugins.<name>]`` table of dreams.toml is structured into it (unknown
keys are rejected) and passed to the component's constructor as ``config``. What each kind must
provide is listed in its hook's docstring and checked when it is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("dreamcore")
hookimpl = pluggy.HookimplMarker("dreamcore")

Register = Callable[[type], None]


@hookspec
def register_sources(register: Register) -> None:
    """Register procedure sources: classes with ``name`` and ``procedures(spec) -> AsyncIterator[Procedure]``."""


@hookspec
def register_generators(register: Register) -> None:
    """Register dream generators: classes with ``name``, ``dream_type`` and
    ``async generate(procedure, context) -> list[DreamDraft]``. A class attribute ``needs_related =
    True`` asks the core to fill ``context.related`` with procedures of other projects (otherwise it may
    stay empty). ``dreamcore.generation.local.LocalGenerator`` is a base class for offline generators."""


@hookspec
def register_models(register: Register) -> None:
    """Register LLM model providers: classes with ``name`` and
    ``async complete(models, messages, *, temperature, max_tokens) -> Completion``. ``models`` is a
    route's chain of model names (first choice, then fallbacks; the provider walks it), ``messages``
    a list of ``{"role", "content"}`` dicts; the ``dreamcore.llm.hub.Completion`` holds the text, the
    model that served, ``Usage`` (tokens, cost in USD) and latency. Failures raise a
    ``dreamcore.llm.hub.ModelError`` subclass (its ``category``: auth, credits, moderation, bad_request,
    rate_limited, server, timeout, bad_response). Optional: ``check(models)`` raising ``ConfigError``
    before a run (e.g. an API key variable not set) and ``async aclose()``."""


@hookspec
def register_evaluators(register: Register) -> None:
    """Register evaluators: classes with ``name`` and ``async evaluate(dreams) -> list[Evaluation]``."""


@hookspec
def register_parsers(register: Register) -> None:
    """Register evaluation parsers: classes with ``name`` and ``parse(text) -> ParseResult`` (never raises)."""


@hookspec
def register_sandboxes(register: Register) -> None:
    """Register sandboxes: classes with ``name`` and
    ``async run(job: TestJob, base: SideRun | None = None) -> SandboxResult`` (``dreamcore.sandbox``),
    used as async context managers (warm pools live there). Subclassing
    ``dreamcore.sandbox.HarnessSandbox`` and implementing ``start`` (plus ``lease``/``release``) is
    the short way: the harness, its frame protocol, deadlines and restarts come with it."""


@hookspec
def register_scorers(register: Register) -> None:
    """Register scorers: classes with ``name`` and ``score(dreams, context) -> list`` scoring a batch of
    ``DreamProcedure`` at once: one ``float`` in [0, 1], ``dreamcore.learning.Score`` or None (no data
    yet) per dream, in order. ``context`` is a ``dreamcore.learning.ScoringContext``. A scorer fills
    one component of the compound score: ``[plugins.score] <component>_scorer`` names it, and
    ``[plugins.score.components.<name>]`` adds a component of its own."""


@hookspec
def register_stages(register: Register) -> None:
    """Register pipeline stages: classes with ``name``, ``order`` (int; stages run in ascending order)
    and ``async run(cycle) -> None``. Each stage reads its work from the store and writes its results
    back, so a cycle can be resumed and stages can run on their own (``dreamcore run --stages``)."""


@hookspec
def register_executors(register: Register) -> None:
    """Register executors: classes with ``name`` and ``async run_cycle(core, *, detach, strategy, stages,
    limit, only) -> Cycle``. ``[executor] kind = "<name>"`` hands every cycle that is not a dry run to
    it (``local``, the default, runs in the calling process). Built-in: ``procrastinate``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``dreamcore`` command line. ``cli`` is the root ``click.Group``."""


@hookspec
def dream_stored(dream: Any, store: Any) -> None:
    """Called after a new dream (a ``DreamProcedure``) was stored by a ``DreamStore``."""


@hookspec
def stage_finished(cycle: Any, stage: str) -> None:
    """Called after each pipeline stage of a cycle ran, with the ``Cycle`` (its ``report[stage]`` holds
    the stage's figures) and the stage's name."""


@hookspec
def cycle_finished(run: Any, store: Any, core: Any) -> None:
    """Called when a cycle ends, with its ``DreamGenerationRun``, the ``DreamStore`` and the ``DreamCore``
    (its ``config``). An implementation may take only the arguments it needs."""
