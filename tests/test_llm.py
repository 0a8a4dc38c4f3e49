"""The core's model types: budget, usage ledger, routes in dreams.toml, prompt templates, call sizes."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcore import config as config_module
from dreamcore.errors import ConfigError
from dreamcore.generation.llm_drafts import call_sizes, fenced
from dreamcore.llm.hub import (
    Budget,
    BudgetExhausted,
    Completion,
    ModelHub,
    PromptTemplate,
    Usage,
    UsageLedger,
)
from dreamcore.plugin_manager import Plugins


def test_budget_allows_calls_until_spent():
    budget = Budget(0.01)
    budget.check()
    budget.charge(0.006)
    budget.check()
    budget.charge(0.006)
    with pytest.raises(BudgetExhausted, match=r"budget of \$0.01 spent \(\$0.0120\)"):
        budget.check("m")
    assert Budget(0).exhausted


def test_ledger_sums_per_served_model_and_hands_out_only_unsaved_counters():
    ledger = UsageLedger({"a": {"calls": 2, "cost_usd": 0.5, "drafts": 9}, "local": {"drafts": 3, "dreams": 3}})
    ledger.record(Completion(text="", model="a", usage=Usage(10, 5, 0.25), latency=1.5))
    ledger.record(Completion(text="", model="b", usage=Usage(1, 1, 0.0), latency=0.5))
    ledger.record_error("b", 2.0)
    assert ledger.total_cost == 0.75
    assert ledger.take_unsaved() == {  # the prior counters were saved already: only the new calls
        "a": {"calls": 1, "prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.25, "seconds": 1.5},
        "b": {"calls": 1, "errors": 1, "prompt_tokens": 1, "completion_tokens": 1, "seconds": 2.5},
    }
    assert ledger.take_unsaved() == {}
    ledger.record_error("a", 1.0)
    assert ledger.take_unsaved() == {"a": {"errors": 1, "seconds": 1.0}}


def test_a_resumed_run_counts_its_earlier_spend_against_the_budget():
    hub = ModelHub(core=None, budget_usd=1.0, prior_usage={"a": {"cost_usd": 1.0, "calls": 4}})  # type: ignore[arg-type]
    assert hub.budget.spent_usd == 1.0 and hub.budget.exhausted


@given(st.integers(0, 500), st.integers(1, 40))
def test_call_sizes_split_evenly_within_the_limit(variants, per_call):
    sizes = call_sizes(variants, per_call)
    assert sum(sizes) == variants and all(1 <= s <= per_call for s in sizes)
    assert len(sizes) == math.ceil(variants / per_call)
    assert not sizes or max(sizes) - min(sizes) <= 1


@given(st.text())
def test_fenced_data_cannot_close_its_fence(text):
    block = fenced(text)
    fence = block.split("python\n", 1)[0]
    inner = block[len(fence) + len("python\n"): -len(fence)]
    assert fence not in inner and set(fence) == {"`"} and len(fence) >= 3


def test_prompt_template_checks_and_renders(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("System $function.\n=== user ===\nCode:\n$source\nPrice $$1\n")
    template = PromptTemplate.load(path, ("function", "source"))
    messages = template.render(function="f", source="x = '$function ${count}'")
    assert messages == [{"role": "system", "content": "System f."},
                        {"role": "user", "content": "Code:\nx = '$function ${count}'\nPrice $1"}]
    for text, message in [("no marker", "no line '=== user ==='"), ("a\n=== user ===\n$other", "unknown placeholder"),
                          ("a $ b\n=== user ===\nx", "a '$' that starts no placeholder")]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(message)):
            PromptTemplate.load(path, ("function", "source"))
    with pytest.raises(ConfigError, match="cannot read"):
        PromptTemplate.load(tmp_path / "missing.txt", ())


def test_builtin_prompts_use_only_known_placeholders():
    registered = Plugins().components("generators")
    for name in ("constraint_relaxation", "cross_project"):
        generator = registered[name].component
        PromptTemplate.load(Path(generator.prompt_file), generator.prompt_fields)


def test_routes_default_to_the_seed_models_and_local_mode():
    defaults = Plugins().default_configs()
    relax, cross = defaults["constraint_relaxation"], defaults["cross_project"]
    assert (relax.mode, relax.temperature, relax.models[0].startswith("deepseek/"),
            relax.models[1].startswith("mistralai/")) == ("local", 0.8, True, True)
    assert (cross.mode, cross.temperature, cross.models[0].startswith("qwen/"),
            cross.models[1].startswith("deepseek/")) == ("local", 0.7, True, True)
    assert relax.max_tokens > 0 and cross.max_tokens > 0
    assert defaults["openrouter"].base_url == "https://openrouter.ai/api/v1"


_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(-3, 5, allow_nan=False),
                    st.text(max_size=8), st.lists(st.text(max_size=6), max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["mode", "models", "temperature", "max_tokens", "variants_per_call",
                                        "prompt", "provider", "bogus"]),
                       st.one_of(_values, st.sampled_from(["local", "llm", "both"])), max_size=5))
def test_llm_options_in_dreams_toml_are_valid_or_one_line_errors(table):
    table = {k: v for k, v in table.items() if v is not None}
    config = config_module.parse({"plugins": {"constraint_relaxation": table}})
    generator = Plugins().components("generators")["constraint_relaxation"].component
    try:
        options = config_module.structure_plugin_config(config, "constraint_relaxation", generator.Config)
    except ConfigError as exc:
        assert all(line.startswith("<dict>: plugins.constraint_relaxation") or
                   line.startswith("dreams.toml: plugins.constraint_relaxation") for line in str(exc).splitlines())
        return
    assert options.mode in ("local", "llm", "both") and 0 <= options.temperature <= 2
    assert options.max_tokens > 0 and options.variants_per_call > 0
    assert options.mode == "local" or options.models
    for key, value in table.items():
        assert getattr(options, key) == value


def test_budget_option_is_checked():
    with pytest.raises(ConfigError, match="cycle.budget_usd: must be >= 0"):
        config_module.parse({"cycle": {"budget_usd": -1}})
    assert config_module.parse({}).cycle.budget_usd == 1.0
