"""A small, safe expression language for policy rules, compiled twice from one parse tree:
to a row evaluator (dict → value, for the online decision) and to a polars expression (for the
columnar backtest), so both paths give the same answer by construction.

Grammar (a subset of Python, checked node by node with `ast`; anything else is refused):
names, int/float/str/bool/None literals, `+ - * /`, unary `-`, comparisons (`< <= > >= == !=`,
chains allowed), `and`/`or`/`not`, `x in [..]`, `x not in [..]`, `x is None`, `x is not None`,
and the functions min, max, abs, coalesce.

Nulls follow SQL (and polars): arithmetic and comparisons with null are null; `and`/`or`/`not`
use three-valued (Kleene) logic; min/max skip nulls; division by zero is null. A rule fires only
when its expression is true (null does not fire).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

Row = Mapping[str, Any]
RowFn = Callable[[Row], Any]
FUNCTIONS = frozenset({"min", "max", "abs", "coalesce"})
EXPRESSION_LENGTH_MAX = 2000


class ExpressionError(ValueError):
    """An expression that does not parse or uses something outside the language; `message` says what."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, the names it reads, and its two compiled forms."""

    text: str
    names: frozenset[str]
    row_fn: RowFn
    tree: ast.expr

    def evaluate(self, row: Row) -> Any:
        return self.row_fn(row)

    def fires(self, row: Row) -> bool:
        """True only when the value is exactly true (null and false do not fire)."""
        return self.row_fn(row) is True

    def to_polars(self) -> pl.Expr:
        return _polars(self.tree)


def compile_expression(text: str, known_names: frozenset[str] | None = None) -> Expression:
    """Parse and check `text`; unknown names (when `known_names` is given) are refused."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be a non-empty string")
    if len(text) > EXPRESSION_LENGTH_MAX:
        raise ExpressionError(f"longer than {EXPRESSION_LENGTH_MAX} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}", exc.offset or 0) from None
    names: set[str] = set()
    _check(tree, names)
    unknown = sorted(names - known_names) if known_names is not None else []
    if unknown:
        raise ExpressionError(f"unknown name {unknown[0]!r}")
    return Expression(text.strip(), frozenset(names), _row(tree), tree)


# --------------------------------------------------------------------------- checking

_BIN_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_CMP_OPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)


def _check(node: ast.AST, names: set[str]) -> None:
    where = getattr(node, "col_offset", 0)
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise ExpressionError(f"name {node.id!r} is not allowed", where)
        names.add(node.id)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float | str | bool | type(None)):
            raise ExpressionError(f"literal {node.value!r} is not allowed", where)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, _BIN_OPS):
        _check(node.left, names)
        _check(node.right, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
        _check(node.operand, names)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, names)
    elif isinstance(node, ast.Compare):
        _check_compare(node, names)
    elif isinstance(node, ast.Call):
        _check_call(node, names)
    else:
        raise ExpressionError(f"{type(node).__name__} is not allowed in a policy expression", where)


def _check_compare(node: ast.Compare, names: set[str]) -> None:
    _check(node.left, names)
    for op, right in zip(node.ops, node.comparators, strict=True):
        if not isinstance(op, _CMP_OPS):
            raise ExpressionError(f"operator {type(op).__name__} is not allowed", node.col_offset)
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, ast.List | ast.Tuple) or not all(isinstance(e, ast.Constant) for e in right.elts):
                raise ExpressionError("'in' needs a list of literals, e.g. segment in ['farming', 'retail']",
                                      node.col_offset)
            for element in right.elts:
                _check(element, names)
        elif isinstance(op, ast.Is | ast.IsNot):
            if not (isinstance(right, ast.Constant) and right.value is None):
                raise ExpressionError("'is' is only for 'is None' / 'is not None'", node.col_offset)
        else:
            _check(right, names)


def _check_call(node: ast.Call, names: set[str]) -> None:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        shown = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        raise ExpressionError(f"unknown function {shown!r}; allowed: {', '.join(sorted(FUNCTIONS))}", node.col_offset)
    if node.keywords or not node.args:
        raise ExpressionError(f"{node.func.id}() takes positional arguments only", node.col_offset)
    if node.func.id == "abs" and len(node.args) != 1:
        raise ExpressionError("abs() takes exactly one argument", node.col_offset)
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise ExpressionError("*args is not allowed", node.col_offset)
        _check(arg, names)


# --------------------------------------------------------------------------- the row evaluator


def _row(node: ast.expr) -> RowFn:
    if isinstance(node, ast.Name):
        name = node.id
        return lambda row: row.get(name)
    if isinstance(node, ast.Constant):
        value = node.value
        return lambda _row: value
    if isinstance(node, ast.BinOp):
        return _row_binop(node.op, _row(node.left), _row(node.right))
    if isinstance(node, ast.UnaryOp):
        operand = _row(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda row: _not(operand(row))
        return lambda row: _null_or(operand(row), lambda v: -v)
    if isinstance(node, ast.BoolOp):
        parts = [_row(value) for value in node.values]
        combine = _and if isinstance(node.op, ast.And) else _or
        return lambda row: combine([part(row) for part in parts])
    if isinstance(node, ast.Compare):
        return _row_compare(node)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), "checked before compiling"
    return _row_call(node.func.id, [_row(arg) for arg in node.args])


def _null_or(value: Any, fn: Callable[[Any], Any]) -> Any:
    return None if value is None else fn(value)


def _row_binop(op: ast.operator, left: RowFn, right: RowFn) -> RowFn:
    def apply(row: Row) -> Any:
        a, b = left(row), right(row)
        if a is None or b is None:
            return None
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        return None if b == 0 else a / b

    return apply


def _not(value: Any) -> Any:
    return None if value is None else not value


def _and(values: Sequence[Any]) -> Any:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: Sequence[Any]) -> Any:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _compare_one(op: ast.cmpop, a: Any, b: Any) -> Any:
    if isinstance(op, ast.Is):
        return a is None
    if isinstance(op, ast.IsNot):
        return a is not None
    if a is None or b is None:
        return None
    if isinstance(op, ast.In):
        return a in b
    if isinstance(op, ast.NotIn):
        return a not in b
    table: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
        ast.Lt: lambda x, y: x < y, ast.LtE: lambda x, y: x <= y, ast.Gt: lambda x, y: x > y,
        ast.GtE: lambda x, y: x >= y, ast.Eq: lambda x, y: x == y, ast.NotEq: lambda x, y: x != y,
    }
    return table[type(op)](a, b)


def _row_compare(node: ast.Compare) -> RowFn:
    left = _row(node.left)
    rights = [_literal_list(c) if isinstance(c, ast.List | ast.Tuple) else _row(c) for c in node.comparators]
    ops = list(node.ops)

    def apply(row: Row) -> Any:
        values = [left(row), *(right(row) for right in rights)]
        return _and([_compare_one(op, values[i], values[i + 1]) for i, op in enumerate(ops)])

    return apply


def _literal_list(node: ast.List | ast.Tuple) -> RowFn:
    values = frozenset(element.value for element in node.elts if isinstance(element, ast.Constant))
    return lambda _row: values


def _row_call(name: str, args: list[RowFn]) -> RowFn:
    def apply(row: Row) -> Any:
        values = [arg(row) for arg in args]
        present = [v for v in values if v is not None]
        if name == "coalesce":
            return present[0] if present else None
        if name == "abs":
            return _null_or(values[0], abs)
        if not present:
            return None
        return min(present) if name == "min" else max(present)

    return apply


# --------------------------------------------------------------------------- the polars compiler


def _polars(node: ast.expr) -> pl.Expr:
    if isinstance(node, ast.Name):
        return pl.col(node.id)
    if isinstance(node, ast.Constant):
        return pl.lit(node.value)
    if isinstance(node, ast.BinOp):
        return _polars_binop(node.op, _polars(node.left), _polars(node.right))
    if isinstance(node, ast.UnaryOp):
        operand = _polars(node.operand)
        return operand.not_() if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.BoolOp):
        parts = [_polars(value) for value in node.values]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if isinstance(node.op, ast.And) else combined | part
        return combined
    if isinstance(node, ast.Compare):
        return _polars_compare(node)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), "checked before compiling"
    return _polars_call(node.func.id, [_polars(arg) for arg in node.args])


def _polars_binop(op: ast.operator, a: pl.Expr, b: pl.Expr) -> pl.Expr:
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    if isinstance(op, ast.Mult):
        return a * b
    return pl.when(b == 0).then(None).otherwise(a / b)


def _polars_compare(node: ast.Compare) -> pl.Expr:
    operands = [node.left, *node.comparators]
    parts = [_polars_compare_one(op, operands[i], operands[i + 1]) for i, op in enumerate(node.ops)]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part
    return combined


def _polars_compare_one(op: ast.cmpop, left: ast.expr, right: ast.expr) -> pl.Expr:
    a = _polars(left)
    if isinstance(op, ast.Is):
        return a.is_null()
    if isinstance(op, ast.IsNot):
        return a.is_not_null()
    if isinstance(op, ast.In | ast.NotIn):
        assert isinstance(right, ast.List | ast.Tuple)
        values = [element.value for element in right.elts if isinstance(element, ast.Constant)]
        member = pl.when(a.is_null()).then(None).otherwise(a.is_in(values))
        return member if isinstance(op, ast.In) else member.not_()
    b = _polars(right)
    table: dict[type[ast.cmpop], Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
        ast.Lt: lambda x, y: x < y, ast.LtE: lambda x, y: x <= y, ast.Gt: lambda x, y: x > y,
        ast.GtE: lambda x, y: x >= y, ast.Eq: lambda x, y: x == y, ast.NotEq: lambda x, y: x != y,
    }
    return table[type(op)](a, b)


def _polars_call(name: str, args: list[pl.Expr]) -> pl.Expr:
    if name == "coalesce":
        return pl.coalesce(args)
    if name == "abs":
        return args[0].abs()
    return pl.min_horizontal(args) if name == "min" else pl.max_horizontal(args)
