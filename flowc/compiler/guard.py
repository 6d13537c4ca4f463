"""Refuse sources libcst cannot parse safely, before it tries.

libcst's native parser and its recursive Python passes (positions, qualified names, visitors)
overflow on deeply nested code: a few hundred chained operators raise ``RecursionError``, a
couple of thousand nested brackets end the process with SIGSEGV, and a 20,000-term expression
runs for minutes. One pass of the stdlib tokenizer (a few per cent of a compile) bounds the
nesting each logical line can build, so such a file gets a diagnostic instead.
"""

from __future__ import annotations

import io
import tokenize

from flowc.compiler import ir
from flowc.compiler.diagnostics import Diagnostic, register

TOO_COMPLEX = register("FLOW007", "the file is too large or too deeply nested to compile", """
flowc parses flow files with libcst, which recurses once per level of nesting. A file whose
expressions nest deeper than flowc can parse safely (about 200 chained operators, or 100 nested
brackets, in one expression), or a file larger than 8 MiB, is refused with this error rather than
crashing. Split the expression, or build the value at run time.""")

MAX_DEPTH = 200
"""The deepest estimated syntax tree one expression may build: libcst's passes overflow Python's
default recursion limit near 300 here (measured with 60 frames already on the stack)."""

MAX_SOURCE_CHARS = 8 * 1024 * 1024

_OPENERS = frozenset("([{")
_CLOSERS = frozenset(")]}")
_SEPARATORS = frozenset({",", ";", ":="})
_WORD_OPERATORS = frozenset({"not", "and", "or", "if", "else", "lambda", "await", "in", "is", "yield"})


def check_source(source: str, path: str) -> Diagnostic | None:
    """A diagnostic when ``source`` is too large or nests too deeply for libcst, else None.

    The estimate of an expression's depth is, summed over its enclosing brackets: one per
    operator (symbol or keyword) or trailer since the last comma at that level, and two per
    bracket that opens a display (list, dict, tuple), which libcst nests as two nodes. A file the
    tokenizer rejects is left to libcst, which reports the syntax error where it stops.
    """
    if len(source) > MAX_SOURCE_CHARS:
        return refusal(f"the file has {len(source):,} characters; flowc compiles at most "
                       f"{MAX_SOURCE_CHARS:,}", path, 0)
    segments = [0]  # the estimated depth added at each open bracket since its last separator
    depth = 0  # sum(segments)
    previous: tokenize.TokenInfo | None = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text = token.type, token.string
            if kind == tokenize.NEWLINE:
                segments, depth = [0], 0
            elif kind == tokenize.OP and text in _CLOSERS:
                if len(segments) > 1:
                    depth -= segments.pop()
            elif kind == tokenize.OP and text in _SEPARATORS:
                depth -= segments[-1]
                segments[-1] = 0
            else:
                weight = _weight(token, previous)
                segments[-1] += weight
                depth += weight
                if kind == tokenize.OP and text in _OPENERS:
                    segments.append(0)
                if depth > MAX_DEPTH:
                    return refusal(f"this expression nests too deeply to compile safely (deeper "
                                   f"than {MAX_DEPTH} levels)", path, token.start[0], token.start[1] + 1)
            if kind not in (tokenize.NL, tokenize.COMMENT):
                previous = token
    except (tokenize.TokenError, SyntaxError):
        return None
    return None


def _weight(token: tokenize.TokenInfo, previous: tokenize.TokenInfo | None) -> int:
    """How much deeper libcst's tree gets at ``token``: 2 for a bracket opening a display, 1 for
    a trailer (call, subscript), an operator or an implicitly concatenated string, else 0."""
    kind, text = token.type, token.string
    if kind == tokenize.OP and text in _OPENERS:
        after_atom = previous is not None and (
            previous.string in _CLOSERS
            or previous.type in (tokenize.NAME, tokenize.NUMBER, tokenize.STRING)
            and previous.string not in _WORD_OPERATORS)
        return 1 if after_atom else 2
    if kind == tokenize.OP or kind == tokenize.NAME and text in _WORD_OPERATORS:
        return 1
    return int(kind == tokenize.STRING and previous is not None and previous.type == tokenize.STRING)


def refusal(message: str, path: str, line: int, column: int = 0) -> Diagnostic:
    return Diagnostic(TOO_COMPLEX, message, ir.Span(path, line, column, line, column + 1 if line else 0))
