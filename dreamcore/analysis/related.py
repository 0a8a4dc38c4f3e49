"""Kinship between procedures: ``RelatedIndex`` finds procedures of other projects that do similar things."""

from __future__ import annotations

import ast
import heapq
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

from dreamcore.analysis.dataflow import callee_name
from dreamcore.analysis.syntax import identifiers_in, parse_function
from dreamcore.models import Procedure

_Function = ast.FunctionDef | ast.AsyncFunctionDef

# -- related procedures ------------------------------------------------------------------------

# feature -> weight of its similarity in the score; the weights sum to 1
RELATED_WEIGHTS = {"calls": 0.35, "identifiers": 0.30, "params": 0.15, "docstring": 0.20}
_FEATURES = tuple(RELATED_WEIGHTS)
_WEIGHTS = tuple(RELATED_WEIGHTS.values())
_PREFIX = {"c": 0, "i": 1, "p": 2, "d": 3}  # token prefix -> position of its feature in _FEATURES
STOPWORDS = frozenset({
    "the", "and", "for", "with", "that", "this", "from", "into", "onto", "are", "was", "were", "been",
    "being", "has", "have", "had", "not", "but", "its", "it's", "then", "than", "when", "where", "which",
    "while", "who", "whom", "what", "how", "why", "all", "any", "each", "every", "one", "two", "some", "such",
    "only", "also", "may", "can", "could", "should", "would", "will", "shall", "must", "does", "did", "doing",
    "done", "per", "via", "use", "used", "uses", "using", "given", "returns", "return", "value", "values",
    "none", "true", "false", "self", "cls", "args", "kwargs", "else", "there", "their", "them", "they", "our",
    "out", "off", "over", "under", "about", "after", "before", "again", "more", "most", "other", "same",
    "very", "just", "your", "you",
})
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _stem(word: str) -> str:
    for suffix, replacement in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + replacement
    return word


def _words(text: str) -> set[str]:
    """Lowercased, crudely stemmed words of a text or identifier (snake_case and camelCase split);
    stopwords, numbers and words shorter than three letters dropped."""
    found = set()
    for word in _WORD.findall(text):
        word = word.lower()
        if len(word) >= 3 and word not in STOPWORDS and not word.isdigit():
            found.add(_stem(word))
    return found


@lru_cache(maxsize=16384)
def _word_tokens(prefix: str, name: str) -> tuple[str, ...]:
    """``prefix:word`` for each of ``_words(name)``; cached, as the same names recur across procedures."""
    return tuple(f"{prefix}:{word}" for word in _words(name))


@lru_cache(maxsize=16384)
def _call_tokens(callee: str) -> tuple[str, ...]:
    """``c:`` tokens of a callee: the dotted name (``self``/``cls`` dropped) and its last part."""
    parts = [p for p in callee.split(".") if p.isidentifier()]
    if parts and parts[0] in ("self", "cls"):
        parts = parts[1:]
    return (f"c:{'.'.join(parts)}", f"c:{parts[-1]}") if parts else ()


def _signature_function(procedure: Procedure) -> _Function | None:
    """A stand-in function built from the procedure's recorded signature, if that text parses."""
    signature = procedure.signature.strip().removeprefix("async ").strip()
    if not signature.startswith("("):
        return None
    try:
        return parse_function(f"def _{signature}:\n    pass\n")
    except ValueError:
        return None


def _related_features(procedure: Procedure) -> frozenset[str]:
    """Prefixed tokens: c: callees, i: identifier words, p: parameter names and annotation types,
    d: docstring words. A source that does not parse contributes only its qualname, recorded
    signature and docstring."""
    tokens = set(_word_tokens("i", procedure.qualname))
    docstring = procedure.docstring
    function: _Function | None = None
    for name in (procedure.name, None):
        try:
            function = parse_function(procedure.source, name)
            break
        except ValueError:
            continue
    if function is not None:
        docstring = docstring or ast.get_docstring(function)
        nodes = list(ast.walk(function))
        for node in nodes:
            if isinstance(node, ast.Call):
                tokens.update(_call_tokens(callee_name(node.func)))
        for ident in identifiers_in(nodes):
            tokens.update(_word_tokens("i", ident))
    else:
        function = _signature_function(procedure)
    if function is not None:
        args = function.args
        every = args.posonlyargs + args.args + [args.vararg] + args.kwonlyargs + [args.kwarg]
        annotations = [function.returns]
        for arg in every:
            if arg is not None and arg.arg not in ("self", "cls"):
                tokens.add(f"p:{arg.arg.lower()}")
                tokens.update(_word_tokens("p", arg.arg))
                annotations.append(arg.annotation)
        for annotation in annotations:
            for node in ast.walk(annotation) if annotation is not None else ():
                if isinstance(node, (ast.Name, ast.Attribute)):
                    tokens.add(f"p:~{(node.id if isinstance(node, ast.Name) else node.attr).lower()}")
    tokens.update(f"d:{word}" for word in _words(docstring or ""))
    return frozenset(tokens)


class RelatedIndex:
    """Procedures indexed for finding related ones across projects.

    Each procedure's features are computed once. Tokens are weighted by rarity in the index
    (idf = ln(1 + (N + 1) / (df + 1))); per feature the similarity is the weighted Jaccard index of
    the two token sets, and the score is the weighted sum over features (``RELATED_WEIGHTS``: shared
    calls 0.35, identifier words 0.30, parameter names and annotation types 0.15, docstring words
    0.20), in [0, 1].
    """

    def __init__(self, procedures: Iterable[Procedure]) -> None:
        self._procedures = list(procedures)
        self._projects = [p.project for p in self._procedures]
        self._position = {id(p): i for i, p in enumerate(self._procedures)}
        # tuples of strings and numbers throughout: the garbage collector stops tracking those, and the
        # index lives as long as the stage that uses it
        self._tokens = [tuple(sorted(_related_features(p))) for p in self._procedures]
        postings: dict[str, list[int]] = defaultdict(list)
        for i, tokens in enumerate(self._tokens):
            for token in tokens:
                postings[token].append(i)
        self._postings = {token: tuple(indexes) for token, indexes in postings.items()}
        self._size = len(self._procedures)
        self._totals = [self._feature_totals(tokens) for tokens in self._tokens]

    def _idf(self, token: str) -> float:
        return math.log(1 + (self._size + 1) / (len(self._postings.get(token, ())) + 1))

    def _feature_totals(self, tokens: Sequence[str]) -> tuple[float, ...]:
        totals = [0.0] * len(_FEATURES)
        for token in tokens:
            totals[_PREFIX[token[0]]] += self._idf(token)
        return tuple(totals)

    def related(self, procedure: Procedure, limit: int = 5) -> list[tuple[Procedure, float]]:
        """Up to ``limit`` procedures of other projects with a score above 0, best first; ties go by
        (project, module, qualname)."""
        if limit <= 0:
            return []
        position = self._position.get(id(procedure))
        if position is not None and self._procedures[position] is procedure:
            tokens, totals = self._tokens[position], self._totals[position]
        else:
            tokens = sorted(_related_features(procedure))
            totals = self._feature_totals(tokens)
        shared: dict[int, list[float]] = {}  # index -> idf mass shared, per feature
        for token in tokens:
            weight, feature = self._idf(token), _PREFIX[token[0]]
            for i in self._postings.get(token, ()):
                if self._projects[i] != procedure.project:
                    amounts = shared.get(i)
                    if amounts is None:
                        amounts = shared[i] = [0.0] * len(_FEATURES)
                    amounts[feature] += weight
        scored = []
        for i, amounts in shared.items():
            other, score = self._totals[i], 0.0
            for f, amount in enumerate(amounts):
                if amount:
                    score += _WEIGHTS[f] * amount / (totals[f] + other[f] - amount)
            candidate = self._procedures[i]
            scored.append((-min(1.0, score), candidate.project, candidate.module, candidate.qualname, i))
        scored = heapq.nsmallest(limit, scored)
        return [(self._procedures[row[-1]], -row[0]) for row in scored]


def related_procedures(
    procedure: Procedure, candidates: Iterable[Procedure], limit: int = 5
) -> list[tuple[Procedure, float]]:
    """The candidates from other projects most related to ``procedure``, scored in [0, 1], best first
    (see ``RelatedIndex``). Candidates scoring 0 are left out; unparseable ones are scored by name,
    recorded signature and docstring."""
    return RelatedIndex(candidates).related(procedure, limit)
