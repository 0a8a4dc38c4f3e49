"""Python source as escaped, coloured HTML lines, and side-by-side diffs of two sources.

Colouring uses the standard tokenizer; code it cannot tokenize (a broken dream) is shown plain.
Every piece of code is HTML-escaped, so hostile text stays text.
"""

from __future__ import annotations

import builtins
import difflib
import io
import keyword
import textwrap
import tokenize
from html import escape

_BUILTINS = frozenset(dir(builtins))
_STRINGS = {tokenize.STRING, *(getattr(tokenize, name) for name in ("FSTRING_START", "FSTRING_MIDDLE",
                                                                      "FSTRING_END") if hasattr(tokenize, name))}


def _css_class(token: tokenize.TokenInfo, previous: str) -> str:
    if token.type == tokenize.NAME:
        if keyword.iskeyword(token.string) or keyword.issoftkeyword(token.string):
            return "kw"
        if previous in ("def", "class"):
            return "fn"
        return "bi" if token.string in _BUILTINS else ""
    if token.type in _STRINGS:
        return "st"
    return {tokenize.NUMBER: "nu", tokenize.COMMENT: "co"}.get(token.type, "")


def source_lines(source: str) -> list[str]:
    """The lines of ``source`` as the tokenizer sees them (split at "\\n" only)."""
    lines = source.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def highlight_lines(source: str) -> list[str]:
    """One HTML string per line of ``source`` (``source_lines``), tokens wrapped in
    ``<span class="kw|fn|bi|st|nu|co">``."""
    lines = source_lines(source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return [escape(line) for line in lines]
    out = [[] for _ in lines]
    row, col, previous = 1, 0, ""
    for token in tokens:
        (start_row, start_col), (end_row, end_col) = token.start, token.end
        if start_row > len(lines) or (start_row, start_col) < (row, col):
            continue
        css = _css_class(token, previous)
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            previous = token.string
        for r in range(row, start_row + 1):  # the text between tokens (spaces, continuations), as it is
            begin = col if r == row else 0
            end = start_col if r == start_row else len(lines[r - 1])
            out[r - 1].append(escape(lines[r - 1][begin:end]))
        for r in range(start_row, min(end_row, len(lines)) + 1):
            begin = start_col if r == start_row else 0
            end = end_col if r == end_row else len(lines[r - 1])
            piece = escape(lines[r - 1][begin:end])
            out[r - 1].append(f'<span class="{css}">{piece}</span>' if css and piece else piece)
        row, col = end_row, end_col
    for r in range(row, len(lines) + 1):
        out[r - 1].append(escape(lines[r - 1][col if r == row else 0:]))
    return ["".join(parts) for parts in out]


def side_by_side(base: str, dream: str, base_title: str, dream_title: str) -> str:
    """A two-column table: the base's lines left, the dream's right, changed lines marked (``chg``
    rows), each side syntax-coloured. Both are dedented first, so a method's indented source lines
    up with a dream written at column 0."""
    base, dream = textwrap.dedent(base), textwrap.dedent(dream)
    left, right = source_lines(base), source_lines(dream)
    left_html, right_html = highlight_lines(base), highlight_lines(dream)
    rows = []

    def cell(side: str, html: list[str], index: int | None, mark: str) -> str:
        if index is None:
            return '<td class="ln"></td><td class="empty"></td>'
        return f'<td class="ln">{index + 1}</td><td class="{side} {mark}">{html[index]}</td>'

    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            i = i1 + k if i1 + k < i2 else None
            j = j1 + k if j1 + k < j2 else None
            mark = "same" if op == "equal" else "chg"
            rows.append(f'<tr class="{mark}">{cell("old", left_html, i, mark)}{cell("new", right_html, j, mark)}</tr>')
    columns = '<colgroup><col class="ln"><col><col class="ln"><col></colgroup>'
    return (f'<table class="diff">{columns}<thead><tr><th colspan="2">{escape(base_title)}</th>'
            f'<th colspan="2">{escape(dream_title)}</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
