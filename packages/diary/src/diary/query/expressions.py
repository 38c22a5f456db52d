"""The filter language of searches, parsed into a small tree (never into SQL text).

Examples::

    params.lr > 0.01 and metrics.loss < 0.2 and tags.stage = 'prod'
    metrics.loss.min <= 0.1 or (status = 'failed' and not params.optimizer = 'sgd')
    params.`model.depth` in (4, 8) and created_at >= '2026-12-01'

Fields:

* ``params.KEY``: the parameter's value; compared as a number when the literal is a number.
* ``metrics.KEY``: the metric's last value (at its highest step); ``metrics.KEY.last``,
  ``.min``, ``.max``, ``.count`` and ``.step`` (the last step) name the summaries.
* ``tags.KEY = 'v'``: the iteration has the tag ``KEY=v``; ``tag = 'x'``: it has the tag ``x``.
* ``status``, ``created_at``, ``ended_at``, ``id``, ``parent_id``, ``experiment_id``,
  ``notes``: the iteration's own columns (``parent_id is null`` for top-level iterations).

A key with characters other than letters, digits, ``_`` and ``-`` is written in backticks.
Strings are in single (or double) quotes; a quote inside is written twice (``'it''s'``), and
a backslash is an ordinary character.
Operators: ``= != < <= > >= in is like``, joined by ``and``, ``or``, ``not`` and parentheses.
An iteration without the field a comparison names does not match it.

Every error names the position of the mistake (1-based) in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diary.errors import InvalidValue

__all__ = [
    "ATTRIBUTES",
    "METRIC_SUMMARIES",
    "And",
    "Compare",
    "Field",
    "FilterError",
    "Not",
    "Or",
    "Predicate",
    "parse_field",
    "parse_filter",
]

ATTRIBUTES = ("status", "created_at", "ended_at", "id", "parent_id", "experiment_id", "notes")
METRIC_SUMMARIES = ("last", "min", "max", "count", "step")
_OPERATORS = ("=", "==", "!=", "<>", "<=", ">=", "<", ">", "in", "is", "like")


class FilterError(InvalidValue):
    """A filter or a field that does not parse, with the 1-based position of the mistake."""

    def __init__(self, text: str, position: int, reason: str) -> None:
        self.position = position
        super().__init__(
            "filter",
            text,
            reason,
            message=f"invalid filter {text!r} at position {position}: {reason}",
        )


@dataclass(frozen=True)
class Field:
    """What a comparison looks at.

    Attributes:
        kind: ``param``, ``metric``, ``tag`` (a ``KEY=value`` tag), ``has_tag`` or ``attr``.
        key: the parameter, metric or tag key, or the attribute's name.
        summary: for metrics: ``last``, ``min``, ``max``, ``count`` or ``step``.
        position: where it starts in the text (1-based).
    """

    kind: str
    key: str
    summary: str = "last"
    position: int = 1

    @property
    def name(self) -> str:
        """The field as written in the canonical form (``metrics.loss.min``)."""
        if self.kind == "attr":
            return self.key
        if self.kind == "has_tag":
            return "tag"
        prefix = {"param": "params", "metric": "metrics", "tag": "tags"}[self.kind]
        key = self.key if _PLAIN_KEY.fullmatch(self.key) else f"`{self.key}`"
        suffix = f".{self.summary}" if self.kind == "metric" and self.summary != "last" else ""
        return f"{prefix}.{key}{suffix}"


Value = str | float | int | bool | None | tuple["Value", ...]


@dataclass(frozen=True)
class Compare:
    """``field op value`` (``in``: a tuple of values; ``is``: None, ``is not``: op ``is not``)."""

    field: Field
    op: str
    value: Value


@dataclass(frozen=True)
class And:
    """Every item holds."""

    items: tuple[Predicate, ...]


@dataclass(frozen=True)
class Or:
    """Some item holds."""

    items: tuple[Predicate, ...]


@dataclass(frozen=True)
class Not:
    """The item does not hold."""

    item: Predicate


Predicate = Compare | And | Or | Not

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))
    | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<quoted>`[^`]*`)
    | (?P<op><=|>=|!=|<>|==|=|<|>)
    | (?P<punct>[(),.])
    | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    index = 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        if match is None:
            raise FilterError(text, index + 1, f"unexpected character {text[index]!r}")
        kind = match.lastgroup or ""
        if kind == "string" and not _closed(match.group()):
            raise FilterError(text, index + 1, "a string is not closed")
        if kind != "space":
            found.append(_Token(kind, match.group(), index + 1))
        index = match.end()
    if text.count("'") % 2 and not found:
        raise FilterError(text, 1, "a string is not closed")
    return found


def _closed(literal: str) -> bool:
    return len(literal) >= 2 and literal[0] == literal[-1]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def end_position(self) -> int:
        return len(self.text) + 1

    def fail(self, reason: str, token: _Token | None = None) -> FilterError:
        position = token.position if token is not None else self.end_position()
        return FilterError(self.text, position, reason)

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.fail("the filter ends too early")
        self.index += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() in words:
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> None:
        token = self.peek()
        if token is None or token.text != text:
            raise self.fail(f"expected {text!r}", token)
        self.index += 1

    def parse(self) -> Predicate:
        if not self.tokens:
            raise self.fail("the filter is empty")
        predicate = self.disjunction()
        token = self.peek()
        if token is not None:
            raise self.fail(f"unexpected {token.text!r} (expected 'and', 'or' or the end)", token)
        return predicate

    def disjunction(self) -> Predicate:
        items = [self.conjunction()]
        while self.word("or"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Predicate:
        items = [self.negation()]
        while self.word("and"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else And(tuple(items))

    def negation(self) -> Predicate:
        if self.word("not"):
            return Not(self.negation())
        token = self.peek()
        if token is not None and token.text == "(":
            self.index += 1
            inner = self.disjunction()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        field = self.field()
        token = self.peek()
        if token is None:
            raise self.fail(f"expected an operator after {field.name}")
        if token.kind == "op":
            self.index += 1
            op = {"==": "=", "<>": "!="}.get(token.text, token.text)
            return Compare(field, op, self.literal())
        lowered = token.text.lower() if token.kind == "word" else ""
        if lowered == "is":
            self.index += 1
            negated = self.word("not")
            if not self.word("null"):
                raise self.fail("expected 'null' after 'is'", self.peek())
            return Compare(field, "is not" if negated else "is", None)
        if lowered == "not":
            self.index += 1
            if self.word("in"):
                return Not(Compare(field, "in", self.values()))
            if self.word("like"):
                return Not(Compare(field, "like", self.string()))
            raise self.fail("expected 'in' or 'like' after 'not'", self.peek())
        if lowered == "in":
            self.index += 1
            return Compare(field, "in", self.values())
        if lowered == "like":
            self.index += 1
            return Compare(field, "like", self.string())
        raise self.fail(f"expected an operator ({', '.join(_OPERATORS)})", token)

    def values(self) -> tuple[Value, ...]:
        self.expect("(")
        items = [self.literal()]
        while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
            self.index += 1
            items.append(self.literal())
        self.expect(")")
        return tuple(items)

    def string(self) -> str:
        value = self.literal()
        if not isinstance(value, str):
            raise self.fail("'like' takes a string", self.tokens[self.index - 1])
        return value

    def literal(self) -> Value:
        token = self.peek()
        if token is None:
            raise self.fail("expected a value")
        self.index += 1
        if token.kind == "number":
            number = float(token.text)
            return int(number) if re.fullmatch(r"[-+]?\d+", token.text) else number
        if token.kind == "string":
            quote = token.text[0]
            return token.text[1:-1].replace(quote * 2, quote)  # SQL style: '' is one quote
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        if token.kind == "word" and token.text.lower() in ("nan", "inf", "infinity"):
            return float(token.text)
        raise self.fail(
            f"expected a value (a number or a quoted string), not {token.text!r}", token
        )

    def field(self) -> Field:
        first = self.take()
        if first.kind not in ("word", "quoted"):
            raise self.fail(f"expected a field such as params.lr, not {first.text!r}", first)
        parts = [_unquote(first)]
        while self.peek() is not None and self.peek().text == ".":  # type: ignore[union-attr]
            self.index += 1
            part = self.take()
            if part.kind not in ("word", "quoted", "number"):
                raise self.fail("expected a key after '.'", part)
            parts.append(_unquote(part))
        return _field(self.text, parts, first.position)


def _unquote(token: _Token) -> str:
    return token.text[1:-1] if token.kind == "quoted" else token.text


def _field(text: str, parts: list[str], position: int) -> Field:
    head = parts[0].lower()
    if head in ("params", "param", "parameters"):
        if len(parts) != 2:
            raise FilterError(text, position, "a parameter is params.KEY (`a.b` for dotted keys)")
        return Field("param", parts[1], position=position)
    if head in ("metrics", "metric"):
        if len(parts) == 2:
            return Field("metric", parts[1], position=position)
        if len(parts) == 3 and parts[2] in METRIC_SUMMARIES:
            return Field("metric", parts[1], parts[2], position=position)
        raise FilterError(
            text,
            position,
            f"a metric is metrics.KEY or metrics.KEY.{{{','.join(METRIC_SUMMARIES)}}}",
        )
    if head == "tags" and len(parts) == 2:
        return Field("tag", parts[1], position=position)
    if head == "tag" and len(parts) == 1:
        return Field("has_tag", "", position=position)
    if len(parts) == 1 and head in ATTRIBUTES:
        return Field("attr", head, position=position)
    raise FilterError(
        text,
        position,
        f"unknown field {'.'.join(parts)!r} (expected params.KEY, metrics.KEY, tags.KEY, tag "
        f"or one of {', '.join(ATTRIBUTES)})",
    )


def parse_filter(text: str) -> Predicate:
    """Parse a filter.

    Raises:
        FilterError: the text does not parse; the message names the position.
    """
    return _Parser(text).parse()


def parse_field(text: str) -> Field:
    """Parse a field alone (an ``order_by`` or a column name such as ``metrics.loss.min``).

    Raises:
        FilterError: not a field.
    """
    parser = _Parser(text)
    if not parser.tokens:
        raise parser.fail("the field is empty")
    field = parser.field()
    token = parser.peek()
    if token is not None:
        raise parser.fail(f"unexpected {token.text!r} after the field", token)
    return field
