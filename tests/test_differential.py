"""Differential testing: synthetic inputs, the judgement of a dream, failure patterns, `dreamcore test-dream`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dreamcore_plugins.sandboxes.subprocess_sandbox import SubprocessSandbox
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_support import run_jobs

from dreamcore.cli.root import main
from dreamcore.models import TestOutcome
from dreamcore.sandbox.cases import generate_cases
from dreamcore.sandbox.comparison import CATEGORIES, effectiveness, judge, normalise
from dreamcore.sandbox.host import CallResult, SandboxResult, SideRun, TestJob

ROOT = Path(__file__).resolve().parents[1]
CURRENCY = (ROOT / "examples/billing/billing/currency.py").read_text()
SIGNATURES = [
    "def f(n):\n    return n\n",
    "def f(text: str, count: int = 2, *, strict=False):\n    return text * count\n",
    "def f(items: list[int], mapping: dict[str, float] | None = None, path='a'):\n    return items\n",
    "def f(x: 'float', flag: bool, *args, label: str | None = None, **kw):\n    return x\n",
    "def f(values: tuple[int, ...], scale=1.5, options={'a': 1}):\n    return values\n",
    "def f(a, b, c: Unknown):\n    '''\n    >>> f(1, 'x', [2])\n    '''\n",
]


@pytest.mark.parametrize("source", SIGNATURES)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.nested_given])
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 40))
def test_synthetic_cases_are_deterministic_and_json(source, seed, count):
    cases = generate_cases(source, "f", count, seed)
    assert cases == generate_cases(source, "f", count, seed)
    assert json.loads(json.dumps(cases, allow_nan=False)) == cases
    assert all(set(case) == {"args", "kwargs"} for case in cases)
    assert len({json.dumps(c, sort_keys=True) for c in cases}) == len(cases)


def test_synthetic_cases_are_the_same_in_another_process():
    script = "from dreamcore.sandbox.cases import generate_cases; import json, sys; " \
             "print(json.dumps(generate_cases(sys.stdin.read(), 'parse_amount', 15, 42)))"
    outputs = {subprocess.run([sys.executable, "-c", script], input=CURRENCY, capture_output=True, text=True,
                              check=True).stdout for _ in range(2)}
    assert len(outputs) == 1
    assert json.loads(outputs.pop()) == generate_cases(CURRENCY, "parse_amount", 15, 42)


def test_synthetic_inputs_follow_the_signature():
    cases = generate_cases(SIGNATURES[1], "f", 30, 1)
    assert all(isinstance(c["args"][0], str) for c in cases)
    assert all(isinstance(v, int) and v >= 0 for c in cases for v in c["args"][1:2])
    assert all(set(c["kwargs"]) <= {"strict"} for c in cases)
    assert {"args": ["", 2], "kwargs": {"strict": False}} in cases or any(c["args"][0] == "" for c in cases)
    assert generate_cases(SIGNATURES[5], "f", 3, 0)[0] == {"args": [1, "x", [2]], "kwargs": {}}  # the doctest
    different = generate_cases(SIGNATURES[1], "f", 30, 2)
    assert cases != different


def test_synthetic_refuses_a_missing_function():
    with pytest.raises(ValueError, match="no function named 'g'"):
        generate_cases("def f():\n    pass\n", "g")


def _side(role, *calls, **fields):
    return SideRun(role=role, calls=list(calls), **fields)


def _ok(index, value, duration=1.0):
    return CallResult(index=index, status="ok", repr=repr(value), hash=str(value), duration=duration)


def _raised(index, kind="ValueError"):
    return CallResult(index=index, status="raised", error_type=kind, error_message="bad", duration=0.1)


INPUTS = [{"args": [i], "kwargs": {}} for i in range(4)]


def test_equal_outputs_succeed_with_speedup_and_effectiveness():
    base = _side("base", *(_ok(i, i, 2.0) for i in range(4)))
    dream = _side("dream", *(_ok(i, i, 1.0) for i in range(4)))
    result = judge(SandboxResult(base=base, dream=dream), INPUTS)
    assert result.test_outcome == TestOutcome.SUCCESS and result.failure_category is None
    assert result.equivalence_rate == 1.0 and result.speedup == 2.0
    assert result.effectiveness_metric == pytest.approx(2 / 3)


def test_base_raising_counts_only_when_the_dream_behaves_differently():
    base = _side("base", _raised(0), _raised(1), _ok(2, 2), _ok(3, 3))
    same = _side("dream", _raised(0), _raised(1), _ok(2, 2), _ok(3, 3))
    assert judge(SandboxResult(base=base, dream=same), INPUTS).equivalence_rate == 1.0
    other = _side("dream", _ok(0, 0), _raised(1), _ok(2, 2), _ok(3, 3))
    result = judge(SandboxResult(base=base, dream=other), INPUTS)
    assert result.test_outcome == TestOutcome.FAILURE and result.failure_category == "divergence"
    assert result.equivalence_rate == pytest.approx(2 / 3)
    assert [c["verdict"] for c in result.cases] == ["different", "base_raised", "equal", "equal"]


def test_a_base_that_always_raises_is_an_error_not_a_dream_failure():
    base = _side("base", *(_raised(i) for i in range(4)))
    result = judge(SandboxResult(base=base, dream=_side("dream", *(_raised(i) for i in range(4)))), INPUTS)
    assert result.test_outcome == TestOutcome.ERROR and result.failure_category is None


@pytest.mark.parametrize(
    ("call", "category"),
    [
        (CallResult(index=0, status="timeout"), "timeout"),
        (CallResult(index=0, status="not_run"), "timeout"),
        (CallResult(index=0, status="crashed", errno=-9), "resource"),
        (CallResult(index=0, status="crashed", errno=0), "validation"),
        (_raised(0, "MemoryError"), "resource"),
        (_raised(0, "TypeError"), "type"),
        (_raised(0, "ZeroDivisionError"), "runtime"),
        (_raised(0, "ModuleNotFoundError"), "dependency"),
    ],
)
def test_failed_calls_get_their_category(call, category):
    base = _side("base", _ok(0, 0))
    result = judge(SandboxResult(base=base, dream=_side("dream", call)), INPUTS[:1])
    assert result.failure_category == category in CATEGORIES
    expected = {"timeout": TestOutcome.TIMEOUT, "dependency": TestOutcome.ERROR}.get(category, TestOutcome.FAILURE)
    assert result.test_outcome == expected


@pytest.mark.parametrize(("kind", "category", "outcome"), [
    ("SyntaxError", "syntax", "error"), ("ImportError", "dependency", "error"),
    ("NameError", "runtime", "failure"), ("HarnessError", "validation", "failure"),
])
def test_dreams_that_do_not_load_get_their_category(kind, category, outcome):
    result = judge(SandboxResult(base=_side("base", _ok(0, 0)), dream=_side("dream", load_error=(kind, "x 12"))),
                   INPUTS[:1])
    assert (result.failure_category, result.test_outcome.value) == (category, outcome)


@given(st.floats(0, 1), st.floats(0.001, 1000))
def test_effectiveness_is_in_range_and_grows_with_speed_and_equivalence(rate, speedup):
    value = effectiveness(rate, speedup)
    assert 0 <= value < 1
    assert effectiveness(rate, speedup * 2) >= value
    assert effectiveness(min(1.0, rate + 0.1), speedup) >= value


def test_normalise_blanks_out_particulars():
    assert normalise("case 12: got 'abc' at 0x7f00ab, 3.5 s") == normalise("case 7: got 'xyz' at 0x1, 9 s")


def _job(dream: str, cases=INPUTS) -> TestJob:
    return TestJob(function="f", base_code="def f(n):\n    return n * n if n % 2 else -n\n", dream_code=dream,
                   cases=cases)


def test_an_equivalent_dream_passes_and_a_changed_one_is_caught():
    equivalent = "def f(n):\n    return -n if n % 2 == 0 else n ** 2\n"
    changed = "def f(n):\n    return -n if n % 2 == 0 or n > 2 else n ** 2\n"
    passed, caught = run_jobs(SubprocessSandbox(), _job(equivalent), _job(changed))
    assert judge(passed, INPUTS).test_outcome == TestOutcome.SUCCESS
    verdict = judge(caught, INPUTS)
    assert verdict.test_outcome == TestOutcome.FAILURE and verdict.failure_category == "divergence"
    assert verdict.equivalence_rate == 0.75 and "case 3" in verdict.test_error


def test_mutating_an_argument_is_a_difference():
    base = "def f(items):\n    return sorted(items)\n"
    dream = "def f(items):\n    items.sort()\n    return items\n"
    job = TestJob(function="f", base_code=base, dream_code=dream, cases=[{"args": [[3, 1, 2]], "kwargs": {}}])
    assert judge(run_jobs(SubprocessSandbox(), job)[0], job.cases).failure_category == "divergence"


def test_failure_patterns_are_counted(store):
    from tests.factories import dream, procedure

    procedure_id = store.upsert_procedure(procedure())
    dream_id = store.store_dream(dream(procedure_id))
    store.record_failure_pattern("divergence", "output differs: base N, dream N", dream_id)
    store.record_failure_pattern("divergence", "output differs: base N, dream N")
    store.record_failure_pattern("timeout", "timed out", dream_id)
    patterns = store.get_failure_patterns()
    assert [(p.category, p.count, p.example_dream_id) for p in patterns] == [
        ("divergence", 2, dream_id), ("timeout", 1, dream_id)]
    assert [p.pattern for p in store.get_failure_patterns("timeout")] == ["timed out"]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "base.py").write_text("def area(width: float, height: float):\n    return width * height\n")
    (tmp_path / "same.py").write_text("def area(width, height):\n    return height * width\n")
    (tmp_path / "wrong.py").write_text("def area(width, height):\n    return width + height\n")
    (tmp_path / "broken.py").write_text("def area(width, height)\n    return 1\n")
    return tmp_path


def test_test_dream_prints_json(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    base = str(files / "base.py")
    assert main(["test-dream", "--base", base, "--dream", str(files / "wrong.py"), "--json", "--cases", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["test_outcome"] == "failure" and report["failure_category"] == "divergence"
    assert {"test_error", "equivalence_rate", "speedup", "cases"} <= set(report)
    assert report["sandbox"]["name"] == "subprocess" and "network" in report["sandbox"]
    assert main(["test-dream", "--base", base, "--dream", str(files / "same.py"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test_outcome"] == "success"
    assert main(["test-dream", "--base", base, "--dream", str(files / "broken.py"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["failure_category"] == "syntax"


@pytest.mark.parametrize(("args", "message"), [
    (["--base", "missing.py", "--dream", "same.py"], "base missing.py: not found"),
    (["--base", "base.py", "--dream", "same.py", "--function", "volume"], "no top-level function named 'volume'"),
    (["--base", "broken.py", "--dream", "same.py"], "does not parse"),
    (["--base", "base.py", "--dream", "same.py", "--sandbox", "vm"], "unknown sandbox 'vm'"),
])
def test_test_dream_refuses_bad_input_in_one_line(files, capsys, monkeypatch, args, message):
    monkeypatch.chdir(files)
    assert main(["test-dream", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_test_dream_console_script(files):
    script = Path(sys.executable).with_name("dreamcore")
    done = subprocess.run([str(script), "test-dream", "--base", "base.py", "--dream", "wrong.py"], cwd=files,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("failure:")
    assert "divergence" in done.stdout
