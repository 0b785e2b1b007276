"""A small CloudWatch metric-math evaluator: numbers, metric ids, + - * /, comparisons, IF.

It evaluates one period's values, which is what an alarm on an expression compares with
its threshold, so the sizing tool and the tests read the scaling expression the stack
deploys instead of a hand-written twin of it. CloudWatch's comparisons yield 1 or 0 and
``IF(condition, then, else)`` takes ``then`` where the condition is non-zero.
"""

import operator
import re
from collections.abc import Callable, Mapping

Values = Mapping[str, float]
Compiled = Callable[[Values], float]

_TOKEN = re.compile(
    r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z][A-Za-z0-9_]*)|(>=|<=|==|!=|[-+*/(),<>]))"
)
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


class MetricMathError(ValueError):
    """The expression uses syntax this evaluator does not know, or an unbound metric id."""


def compile_expression(expression: str) -> Compiled:
    """Parse ``expression`` once; the result maps metric values (by id) to its value."""
    parser = _Parser(_symbols(expression))
    compiled = parser.comparison()
    if parser.peek() is not None:
        raise MetricMathError(f"{expression!r}: unexpected {parser.peek()!r}")
    return compiled


def evaluate(expression: str, values: Values) -> float:
    """The value of ``expression`` for one period's metric ``values``."""
    return compile_expression(expression)(values)


def _symbols(expression: str) -> list[str]:
    symbols, position = [], 0
    while position < len(expression.rstrip()):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise MetricMathError(f"{expression!r}: cannot read from {expression[position:]!r}")
        symbols.append(match.group(match.lastindex or 0))
        position = match.end()
    return symbols


class _Parser:
    """Recursive descent: comparison > sum > product > atom, as in the metric-math syntax."""

    def __init__(self, symbols: list[str]) -> None:
        self._symbols = symbols
        self._next = 0

    def peek(self) -> str | None:
        return self._symbols[self._next] if self._next < len(self._symbols) else None

    def take(self, expected: str | None = None) -> str:
        symbol = self.peek()
        if symbol is None or (expected is not None and symbol != expected):
            raise MetricMathError(f"expected {expected or 'more'}, found {symbol!r}")
        self._next += 1
        return symbol

    def comparison(self) -> Compiled:
        left = self.sum()
        symbol = self.peek()
        if symbol in _COMPARISONS:
            compare = _COMPARISONS[self.take()]
            right = self.sum()
            return lambda v: 1.0 if compare(left(v), right(v)) else 0.0
        return left

    def sum(self) -> Compiled:
        return self._chain(self.product, "+-")

    def product(self) -> Compiled:
        return self._chain(self.atom, "*/")

    def _chain(self, operand: Callable[[], Compiled], operators: str) -> Compiled:
        result = operand()
        while (symbol := self.peek()) is not None and symbol in operators:
            apply, left, right = _ARITHMETIC[self.take()], result, operand()
            result = _binary(apply, left, right)
        return result

    def atom(self) -> Compiled:
        symbol = self.take()
        if symbol == "(":
            inner = self.comparison()
            self.take(")")
            return inner
        if symbol == "-":
            negated = self.atom()
            return lambda v: -negated(v)
        if symbol == "IF":
            self.take("(")
            condition = self.comparison()
            self.take(",")
            then = self.comparison()
            self.take(",")
            otherwise = self.comparison()
            self.take(")")
            return lambda v: then(v) if condition(v) != 0 else otherwise(v)
        if symbol[0].isdigit() or symbol[0] == ".":
            number = float(symbol)
            return lambda _: number
        if symbol[0].islower():
            return lambda v: _bound(v, symbol)
        raise MetricMathError(f"unknown symbol {symbol!r}")


def _binary(apply: Callable[[float, float], float], left: Compiled, right: Compiled) -> Compiled:
    return lambda v: apply(left(v), right(v))


def _bound(values: Values, metric_id: str) -> float:
    try:
        return values[metric_id]
    except KeyError:
        raise MetricMathError(f"metric id {metric_id!r} has no value") from None
