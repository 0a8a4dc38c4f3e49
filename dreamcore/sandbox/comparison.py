"""Differential testing: compare what base and dream did on the same cases, and judge the dream.

Per case: the base ran first. A case where the base returned is *informative*: the dream must
return an equal output (same canonical hash, including how it left its arguments). A case where
the base raised is marked ``base_raised`` and counts only when the dream behaves differently
(returns, or raises another exception type). From the counted cases come ``equivalence_rate``,
``speedup`` (base time / dream time over agreeing cases), ``effectiveness_metric`` (see
:func:`effectiveness`), the outcome, a failure category and a normalised failure pattern.
"""

from __future__ import annotations

import errno
import re
from typing import Any

import attrs

from dreamcore.models import TestOutcome
from dreamcore.sandbox.host import CallResult, SandboxResult, SideRun

CATEGORIES = ("syntax", "runtime", "type", "divergence", "resource", "dependency", "timeout", "validation", "unknown")
# When several problems show, the one reported is the first of this order.
PRIORITY = ("syntax", "dependency", "validation", "timeout", "resource", "type", "runtime", "divergence", "unknown")
RESOURCE_ERRORS = {"MemoryError", "RecursionError", "BlockingIOError", "PermissionError", "ConnectionRefusedError",
                   "gaierror", "herror", "timeout"}
RESOURCE_ERRNOS = {errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE, errno.EFBIG, errno.ENOSPC,
                   errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EACCES, errno.EPERM, errno.EROFS, errno.ECONNREFUSED}
OUTCOME_OF = {"syntax": TestOutcome.ERROR, "dependency": TestOutcome.ERROR, "timeout": TestOutcome.TIMEOUT}


@attrs.define(kw_only=True)
class CaseVerdict:
    """One case, both sides: ``verdict`` is equal, base_raised (agreeing), different, or dream_failed."""

    index: int
    inputs: dict[str, Any]
    verdict: str
    base: CallResult
    dream: CallResult
    category: str | None = None


@attrs.define(kw_only=True)
class DifferentialResult:
    """The judgement of one dream; ``cases`` as JSON-ready dicts for reports."""

    test_outcome: TestOutcome
    test_error: str | None
    failure_category: str | None
    equivalence_rate: float | None
    speedup: float | None
    effectiveness_metric: float
    failure_pattern: str | None
    cases: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        """The result as a JSON-able dict."""
        return {**attrs.asdict(self), "test_outcome": self.test_outcome.value}


def effectiveness(equivalence_rate: float | None, speedup: float | None) -> float:
    """``equivalence_rate × speedup / (1 + speedup)``, in [0, 1).

    0.5 means "equivalent and as fast as the base"; a faster equivalent dream approaches 1 (2× →
    0.67, 10× → 0.91); a slower or partly divergent one falls below 0.5; nothing measured is 0.
    """
    if not equivalence_rate or not speedup:
        return 0.0
    return round(equivalence_rate * speedup / (1.0 + speedup), 6)


def categorise_call(call: CallResult) -> str:
    """The category of a dream call that failed where the base did not."""
    if call.status in ("timeout", "not_run"):  # not run: the job's time ran out, or too many restarts
        return "timeout"
    if call.status == "crashed":
        return "resource" if call.errno is not None and call.errno < 0 else "validation"
    if call.error_type in RESOURCE_ERRORS or call.errno in RESOURCE_ERRNOS:
        return "resource"
    if call.error_type in ("ModuleNotFoundError", "ImportError"):
        return "dependency"
    if call.error_type == "TypeError":
        return "type"
    return "runtime"


def _verdict(base: CallResult, dream: CallResult) -> tuple[str, str | None]:
    if base.status == "ok":
        if dream.status == "ok":
            return ("equal", None) if dream.hash == base.hash else ("different", "divergence")
        return "dream_failed", categorise_call(dream)
    if base.status == "raised":
        if dream.status == "raised" and dream.error_type == base.error_type:
            return "base_raised", None
        if dream.status in ("ok", "raised"):
            return "different", "divergence"
        return "dream_failed", categorise_call(dream)
    return "base_unusable", None  # the base timed out or crashed here: the case says nothing


def normalise(message: str) -> str:
    """A failure message with its particulars (numbers, quoted values, addresses) blanked out."""
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", message)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'?'", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return re.sub(r"\s+", " ", text).strip()[:200]


def _load_failure(side: SideRun) -> tuple[str, str]:
    kind, message = side.load_error or ("", "")
    if kind == "SyntaxError" or kind == "IndentationError":
        category = "syntax"
    elif kind in ("ModuleNotFoundError", "ImportError"):
        category = "dependency"
    elif kind == "HarnessError":  # the code broke the harness before it could report
        category = "validation"
    elif kind == "TimeoutError":
        category = "timeout"
    else:
        category = "runtime"
    return category, f"{kind}: {message}" if message else kind


def _describe(case: CaseVerdict) -> str:
    dream = case.dream
    if case.category == "divergence":
        base = case.base.repr if case.base.status == "ok" else f"raises {case.base.error_type}"
        got = dream.repr if dream.status == "ok" else f"raises {dream.error_type}"
        return f"output differs: base {base}, dream {got}"
    if dream.status == "timeout":
        return "timed out"
    if dream.status == "crashed":
        return dream.error_message
    if dream.status == "not_run":
        return "not run (the side had to be restarted too often)"
    return f"{dream.error_type}: {dream.error_message}" if dream.error_type else dream.status


def _error_result(category: str, message: str, cases: list[dict[str, Any]]) -> DifferentialResult:
    return DifferentialResult(
        test_outcome=TestOutcome.ERROR if category == "base" else OUTCOME_OF.get(category, TestOutcome.FAILURE),
        test_error=message[:500], failure_category=None if category == "base" else category,
        equivalence_rate=None, speedup=None, effectiveness_metric=0.0,
        failure_pattern=None if category == "base" else normalise(message), cases=cases,
    )


def judge(result: SandboxResult, inputs: list[dict[str, Any]]) -> DifferentialResult:
    """Compare the two sides of a sandbox run over ``inputs`` and judge the dream."""
    base, dream = result.base, result.dream
    if base.load_error:
        return _error_result("base", f"the base could not be loaded: {_load_failure(base)[1]}", [])
    if base.violation:
        return _error_result("base", f"the base's harness misbehaved: {base.violation}", [])
    if dream.load_error:
        category, message = _load_failure(dream)
        return _error_result(category, message, [])
    verdicts = []
    for index, (base_call, dream_call) in enumerate(zip(base.calls, dream.calls)):
        verdict, category = _verdict(base_call, dream_call)
        verdicts.append(CaseVerdict(index=index, inputs=inputs[index], verdict=verdict, base=base_call,
                                    dream=dream_call, category=category))
    cases = [_case_report(case) for case in verdicts]
    if dream.violation:
        return _error_result("validation", f"protocol violation: {dream.violation}", cases)
    counted = [c for c in verdicts if c.verdict in ("equal", "different", "dream_failed")]
    equal = [c for c in verdicts if c.verdict == "equal"]
    if not counted:
        return _error_result("base", "no informative case: the base raised (or failed) on every input", cases)
    rate = len(equal) / len(counted)
    speedup = _speedup(equal)
    failed = [c for c in verdicts if c.category]
    if not failed:
        return DifferentialResult(
            test_outcome=TestOutcome.SUCCESS, test_error=None, failure_category=None, equivalence_rate=rate,
            speedup=speedup, effectiveness_metric=effectiveness(rate, speedup), failure_pattern=None, cases=cases,
        )
    category = min((c.category for c in failed), key=PRIORITY.index)
    first = next(c for c in failed if c.category == category)
    message = f"{len(failed)} of {len(counted)} cases failed; case {first.index}: {_describe(first)}"
    return DifferentialResult(
        test_outcome=OUTCOME_OF.get(category, TestOutcome.FAILURE), test_error=message[:500],
        failure_category=category, equivalence_rate=rate, speedup=speedup,
        effectiveness_metric=effectiveness(rate, speedup), failure_pattern=normalise(_describe(first)),
        cases=cases,
    )


def _speedup(equal: list[CaseVerdict]) -> float | None:
    if not equal:
        return None
    base = sum(c.base.duration for c in equal)
    dream = sum(c.dream.duration for c in equal)
    return round(max(base, 1e-7) / max(dream, 1e-7), 4)


def _case_report(case: CaseVerdict) -> dict[str, Any]:
    return {
        "index": case.index, "inputs": case.inputs, "verdict": case.verdict, "category": case.category,
        "base": _call_report(case.base), "dream": _call_report(case.dream),
    }


def _call_report(call: CallResult) -> dict[str, Any]:
    report: dict[str, Any] = {"status": call.status, "duration": round(call.duration, 7)}
    if call.status == "ok":
        report["repr"] = call.repr
    elif call.error_type or call.error_message:
        report["error"] = f"{call.error_type}: {call.error_message}".strip(": ")
    return report
