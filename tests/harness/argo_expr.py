"""The two expression languages an Argo spec contains, for the test interpreter.

- ``{{=...}}`` and ``valueFrom.expression`` use expr-lang (antonmedv/expr): literals, member and
  index access, calls, ``! not - * / % + - < <= > >= == != in && and || or ?:``.
- ``when`` (after ``{{...}}`` substitution) uses govaluate, where a bare word such as ``heads`` is
  compared as a string and ``=~`` / ``!~`` match regular expressions.

One small Pratt parser serves both; ``bare_words=True`` selects govaluate's reading of names.
Only what Argo's examples and flowc's emitter use is implemented; anything else raises
``ExprError`` so the interpreter fails loudly instead of guessing.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+(?:\.\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<name>[A-Za-z_$][A-Za-z0-9_$-]*)
    | (?P<op>==|!=|<=|>=|=~|!~|&&|\|\||[-+*/%<>!?:()\[\].,])
    )""",
    re.VERBOSE,
)

BINARY = {
    "||": 1, "or": 1,
    "&&": 2, "and": 2,
    "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "=~": 3, "!~": 3, "in": 3,
    "+": 4, "-": 4,
    "*": 5, "/": 5, "%": 5,
}


class ExprError(ValueError):
    pass


class Undefined(ExprError):
    """A name or member that the environment does not have (Argo: unresolved variable)."""


def _tokens(text: str, bare_words: bool) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"cannot tokenize {text[pos:]!r} in {text!r}")
        pos = m.end()
        if m.group("num") is not None:
            raw = m.group("num")
            out.append(("lit", float(raw) if "." in raw else int(raw)))
        elif m.group("str") is not None:
            out.append(("lit", _unquote(m.group("str"))))
        elif m.group("name") is not None:
            name = m.group("name")
            if name in ("true", "false"):
                out.append(("lit", name == "true"))
            elif name == "nil":
                out.append(("lit", None))
            elif name in ("and", "or", "in", "not"):
                out.append(("op", name))
            elif bare_words:
                out.append(("lit", name))
            else:
                out.append(("name", name))
        else:
            out.append(("op", m.group("op")))
    if not bare_words:
        # expr names may not contain '-': re-split "a-b" into a - b
        split: list[tuple[str, Any]] = []
        for kind, value in out:
            if kind == "name" and "-" in value:
                parts = value.split("-")
                for i, part in enumerate(parts):
                    if i:
                        split.append(("op", "-"))
                    split.append(("name", part))
            else:
                split.append((kind, value))
        out = split
    out.append(("end", None))
    return out


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _jsonpath(document: Any, path: str) -> Any:
    """The subset of JSONPath Argo's examples use: ``$``, ``.key``, ``[n]``, ``['key']``."""
    value = json.loads(document) if isinstance(document, str) else document
    if not path.startswith("$"):
        raise ExprError(f"unsupported jsonpath {path!r}")
    for key, index, quoted in re.findall(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\['([^']*)'\]", path[1:]):
        try:
            value = value[int(index)] if index else value[key or quoted]
        except (KeyError, IndexError, TypeError):
            raise Undefined(f"jsonpath {path!r} finds nothing") from None
    return value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "asInt": lambda v: int(float(v)) if isinstance(v, str) and "." in v else int(v),
    "asFloat": lambda v: float(v),
    "string": lambda v: stringify(v),
    "int": lambda v: int(v),
    "float": lambda v: float(v),
    "len": lambda v: len(v),
    "toJson": lambda v: json.dumps(v, separators=(",", ":")),
    "jsonpath": _jsonpath,
    "sprig.replace": lambda old, new, text: str(text).replace(str(old), str(new)),
}


class _Parser:
    def __init__(self, text: str, env: dict[str, Any], bare_words: bool):
        self.text = text
        self.tokens = _tokens(text, bare_words)
        self.pos = 0
        self.env = env
        self.bare = bare_words

    # The parser evaluates while it parses; ``live=False`` parses a branch without evaluating it,
    # which gives short-circuit semantics for && || and ?: (expr never evaluates the other side).
    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.pos]

    def take(self, value: Any = None) -> tuple[str, Any]:
        token = self.tokens[self.pos]
        if value is not None and token[1] != value:
            raise ExprError(f"expected {value!r} in {self.text!r}, found {token[1]!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.ternary(True)
        if self.peek()[0] != "end":
            raise ExprError(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return value

    def ternary(self, live: bool) -> Any:
        cond = self.binary(1, live)
        if self.peek() == ("op", "?"):
            self.take()
            yes = self.ternary(live and bool(cond))
            self.take(":")
            no = self.ternary(live and not cond)
            return (yes if cond else no) if live else None
        return cond

    def binary(self, min_prec: int, live: bool) -> Any:
        left = self.unary(live)
        while True:
            kind, op = self.peek()
            if kind != "op" or op not in BINARY or BINARY[op] < min_prec:
                return left
            self.take()
            prec = BINARY[op]
            if op in ("&&", "and"):
                right = self.binary(prec + 1, live and bool(left))
                left = (bool(left) and bool(right)) if live else None
            elif op in ("||", "or"):
                right = self.binary(prec + 1, live and not left)
                left = (bool(left) or bool(right)) if live else None
            else:
                right = self.binary(prec + 1, live)
                left = _apply(op, left, right, self.bare) if live else None

    def unary(self, live: bool) -> Any:
        kind, op = self.peek()
        if kind == "op" and op in ("!", "not"):
            self.take()
            value = self.unary(live)
            return (not value) if live else None
        if kind == "op" and op == "-":
            self.take()
            value = self.unary(live)
            return (-value) if live else None
        return self.postfix(live)

    def postfix(self, live: bool) -> Any:
        kind, value = self.take()
        if kind == "lit":
            result = value
        elif kind == "name":
            if value == "sprig" and self.peek() == ("op", "."):  # sprig's functions: sprig.replace(...)
                self.take()
                _, member = self.take()
                result = self.call(f"sprig.{member}", live)
            elif self.peek() == ("op", "("):
                result = self.call(value, live)
            elif not live:
                result = None
            elif value in self.env:
                result = self.env[value]
            else:
                raise Undefined(f"unknown name {value!r} in {self.text!r}")
        elif (kind, value) == ("op", "("):
            result = self.ternary(live)
            self.take(")")
        elif (kind, value) == ("op", "["):
            items = []
            while self.peek() != ("op", "]"):
                items.append(self.ternary(live))
                if self.peek() == ("op", ","):
                    self.take()
            self.take("]")
            result = items
        else:
            raise ExprError(f"unexpected {value!r} in {self.text!r}")
        while True:
            if self.peek() == ("op", "."):
                self.take()
                _, member = self.take()
                result = _member(result, member) if live else None
            elif self.peek() == ("op", "["):
                self.take()
                key = self.ternary(live)
                self.take("]")
                result = _member(result, key) if live else None
            else:
                return result

    def call(self, name: str, live: bool) -> Any:
        self.take("(")
        args = []
        while self.peek() != ("op", ")"):
            args.append(self.ternary(live))
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        if not live:
            return None
        if name not in FUNCTIONS:
            raise ExprError(f"function {name}() is not supported by the test interpreter")
        return FUNCTIONS[name](*args)


def _member(container: Any, key: Any) -> Any:
    try:
        if isinstance(container, list):
            return container[int(key)]
        return container[key]
    except (KeyError, IndexError, TypeError, ValueError):
        raise Undefined(f"no member {key!r}") from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _apply(op: str, left: Any, right: Any, bare: bool) -> Any:
    if op in ("=~", "!~"):
        found = re.search(str(right), str(left)) is not None
        return found if op == "=~" else not found
    if op == "in":
        return left in right
    if bare and op in ("==", "!=", "<", "<=", ">", ">="):
        # govaluate compares numerically when both sides are numbers
        ln, rn = _number(left), _number(right)
        if ln is not None and rn is not None:
            left, right = ln, rn
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return left / right
    if op == "%":
        return left % right
    raise ExprError(f"operator {op} is not supported")


def evaluate_expr(text: str, env: dict[str, Any]) -> Any:
    """Evaluate an expr-lang expression (``{{=...}}``) against ``env``."""
    return _Parser(text, env, bare_words=False).parse()


def evaluate_when(text: str) -> bool:
    """Evaluate a substituted ``when`` condition the way govaluate does."""
    value = _Parser(text, {}, bare_words=True).parse()
    if not isinstance(value, bool):
        raise ExprError(f"when {text!r} is not a boolean expression")
    return value


def stringify(value: Any) -> str:
    """How Argo turns an expression result into a parameter string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if value is None:
        return ""
    return str(value)
