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

Bounded: at most EXPRESSION_LENGTH_MAX characters, EXPRESSION_NODES_MAX nodes and
EXPRESSION_DEPTH_MAX levels of nesting, checked without recursion before anything recurses, so a
hostile expression is an ExpressionError, never a RecursionError.

Typed (when `compile_expression` is given the names' types, as policies are): numbers, strings,
bools and dates do not mix; arithmetic is for numbers only; `and`/`or`/`not` and a rule's `when`
are for bools; a string literal must be one of a closed list's levels; a date compares with a
'YYYY-MM-DD' literal. Every numeric sub-expression carries a range computed from the names' ranges
(interval arithmetic); one that could pass `MAGNITUDE_MAX` (2**53) is refused, and so is a division
by something that can come arbitrarily close to zero, so the row evaluator (Python ints, never
overflow) and the polars expression (Int64, wraps) cannot disagree and nothing becomes infinite.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import polars as pl

from lendstack.decisioning.names import MAGNITUDE_MAX, Kind, NameType
from lendstack.errors import LendstackError

Row = Mapping[str, Any]
RowFn = Callable[[Row], Any]
FUNCTIONS = frozenset({"min", "max", "abs", "coalesce"})
EXPRESSION_LENGTH_MAX = 2000
EXPRESSION_NODES_MAX = 256  # the longest shipped rule has 15; a policy rule is read by a person
EXPRESSION_DEPTH_MAX = 32  # nesting levels; the row evaluator recurses once per level
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ExpressionError(LendstackError):
    """An expression that does not parse or uses something outside the language; `message` says what."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__("expression", message)
        self.args = (message,)  # the policy and indicator loaders prefix it with the file, line and field
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


def compile_expression(text: str, known_names: frozenset[str] | None = None,
                       types: Mapping[str, NameType] | None = None, result: Kind | None = None) -> Expression:
    """Parse and check `text`; unknown names (when `known_names` is given) are refused. With `types`
    (name → NameType) the expression is also type- and range-checked, and with `result` its value
    must be of that kind ("bool" for a rule's `when`, "number" for an amount)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be a non-empty string")
    if len(text) > EXPRESSION_LENGTH_MAX:
        raise ExpressionError(f"longer than {EXPRESSION_LENGTH_MAX} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}", exc.offset or 0) from None
    except (RecursionError, MemoryError, ValueError):  # the parser's own limits; ValueError: a NUL byte
        raise ExpressionError(f"nested too deeply or malformed (at most {EXPRESSION_DEPTH_MAX} levels)") from None
    _check_size(tree)
    names: set[str] = set()
    _check(tree, names)
    known = known_names if known_names is not None else (frozenset(types) if types is not None else None)
    unknown = sorted(names - known) if known is not None else []
    if unknown:
        raise ExpressionError(f"unknown name {unknown[0]!r}")
    if types is not None:
        found = _type(tree, types)
        if result is not None and found.kind != result:
            raise ExpressionError(f"must give a {result}, but gives a {found.kind}")
    return Expression(text.strip(), frozenset(names), _row(tree), tree)


def _check_size(tree: ast.expr) -> None:
    """Count nodes and nesting without recursion (deep input must not reach the recursive checks)."""
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > EXPRESSION_DEPTH_MAX:
            where = getattr(node, "col_offset", 0)
            raise ExpressionError(f"nested more than {EXPRESSION_DEPTH_MAX} levels deep", where)
        if nodes > EXPRESSION_NODES_MAX:
            raise ExpressionError(f"more than {EXPRESSION_NODES_MAX} terms; split the rule")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))


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


# --------------------------------------------------------------------------- static types and ranges

_BOOL = NameType("bool", nullable=False)


def _shown(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _type(node: ast.expr, types: Mapping[str, NameType]) -> NameType:
    """The type and range of `node`; ExpressionError (with the column) on a type error or a huge value."""
    where = node.col_offset
    if isinstance(node, ast.Name):
        return types[node.id]
    if isinstance(node, ast.Constant):
        return _literal_type(node)
    if isinstance(node, ast.BinOp):
        left, right = _number(node.left, types, "arithmetic"), _number(node.right, types, "arithmetic")
        return _bounded(node, _arithmetic(node.op, left, right, node))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            operand = _kind(node.operand, types, "bool", "'not'")
            return replace(_BOOL, nullable=operand.nullable)
        operand = _number(node.operand, types, "'-'")
        return replace(operand, low=-operand.high, high=-operand.low)
    if isinstance(node, ast.BoolOp):
        parts = [_kind(value, types, "bool", "'and'/'or'") for value in node.values]
        return replace(_BOOL, nullable=any(p.nullable for p in parts))
    if isinstance(node, ast.Compare):
        return _compare_type(node, types)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), "checked before typing"
    return _call_type(node, node.func.id, types, where)


def _literal_type(node: ast.Constant) -> NameType:
    value: Any = node.value
    if value is None:
        raise ExpressionError("None is only for 'x is None' / 'x is not None'", node.col_offset)
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, str):
        return NameType("string", levels=(value,), nullable=False)
    if isinstance(value, date):  # a 'YYYY-MM-DD' literal already read as a date
        return NameType("date", nullable=False)
    if not abs(value) <= MAGNITUDE_MAX:  # also refuses inf and nan
        raise ExpressionError(f"literal {value!r} is beyond the bound of {MAGNITUDE_MAX:.6g}", node.col_offset)
    return NameType("number", float(value), float(value), integral=isinstance(value, int), nullable=False)


def _kind(node: ast.expr, types: Mapping[str, NameType], kind: Kind, what: str) -> NameType:
    found = _type(node, types)
    if found.kind != kind:
        raise ExpressionError(f"{what} needs a {kind}, but `{_shown(node)}` is a {found.kind}", node.col_offset)
    return found


def _number(node: ast.expr, types: Mapping[str, NameType], what: str) -> NameType:
    return _kind(node, types, "number", what)


def _bounded(node: ast.expr, found: NameType) -> NameType:
    if not found.magnitude <= MAGNITUDE_MAX:
        raise ExpressionError(
            f"`{_shown(node)}` can reach {found.magnitude:.3g}, beyond the bound of {MAGNITUDE_MAX:.6g} "
            "(the field ranges come from the application schema)", node.col_offset)
    return found


def _arithmetic(op: ast.operator, a: NameType, b: NameType, node: ast.BinOp) -> NameType:
    nullable = a.nullable or b.nullable
    if isinstance(op, ast.Add):
        return NameType("number", a.low + b.low, a.high + b.high, a.integral and b.integral, None, nullable)
    if isinstance(op, ast.Sub):
        return NameType("number", a.low - b.high, a.high - b.low, a.integral and b.integral, None, nullable)
    if isinstance(op, ast.Mult):
        corners = [x * y for x in (a.low, a.high) for y in (b.low, b.high)]
        return NameType("number", min(corners), max(corners), a.integral and b.integral, None, nullable)
    return _division(a, b, node)


def _division(a: NameType, b: NameType, node: ast.BinOp) -> NameType:
    """x / 0 is null; the size of x / y is bounded by |x| over the smallest non-zero |y|."""
    if b.low <= 0 <= b.high:
        if not b.integral:
            raise ExpressionError(
                f"dividing by `{_shown(node.right)}`, which can come arbitrarily close to zero, can give a "
                "huge number; divide by something bounded away from zero, e.g. max(x, 0.01)", node.col_offset)
        smallest = 1.0  # a whole number that is not zero is at least 1 in size
    else:
        smallest = min(abs(b.low), abs(b.high))
    size = a.magnitude / smallest
    low = 0.0 if a.low >= 0 and b.low > 0 else -size
    return NameType("number", low, size, integral=False, nullable=True)


def _compare_type(node: ast.Compare, types: Mapping[str, NameType]) -> NameType:
    nullable = False
    operands: list[ast.expr] = [node.left, *node.comparators]
    for i, op in enumerate(node.ops):
        left, right = operands[i], operands[i + 1]
        if isinstance(op, ast.Is | ast.IsNot):
            _type(left, types)
            continue
        a = _type(left, types)
        if isinstance(op, ast.In | ast.NotIn):
            assert isinstance(right, ast.List | ast.Tuple), "checked before typing"
            _member_types(a, left, right)
        else:
            _pair_types(op, a, left, right, types)
        listed = isinstance(right, ast.List | ast.Tuple)
        nullable = nullable or a.nullable or (not listed and _type(right, types).nullable)
    return replace(_BOOL, nullable=nullable)


def _as_date(node: ast.expr) -> None:
    """A 'YYYY-MM-DD' literal compared with a date becomes that date (in place, before compiling)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            if not _ISO_DATE.fullmatch(node.value):
                raise ValueError
            node.value = date.fromisoformat(node.value)  # type: ignore[assignment]  # ast allows any value
        except ValueError:
            raise ExpressionError(f"{node.value!r} is not a date written YYYY-MM-DD", node.col_offset) from None


def _pair_types(op: ast.cmpop, a: NameType, left: ast.expr, right: ast.expr, types: Mapping[str, NameType]) -> None:
    if a.kind == "date":
        _as_date(right)
    b = _type(right, types)
    if b.kind == "date" and a.kind == "string":
        _as_date(left)
        a = _type(left, types)
    if a.kind != b.kind:
        raise ExpressionError(f"cannot compare `{_shown(left)}` (a {a.kind}) with `{_shown(right)}` (a {b.kind})",
                              left.col_offset)
    ordered = isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE)
    if ordered and a.kind not in ("number", "date"):
        raise ExpressionError(f"'<', '<=', '>', '>=' are for numbers and dates, not a {a.kind}", left.col_offset)
    if a.kind == "string":
        _levels_meet(a, b, left, right)


def _levels_meet(a: NameType, b: NameType, left: ast.expr, right: ast.expr) -> None:
    if a.levels is not None and b.levels is not None and not set(a.levels) & set(b.levels):
        closed, literal = (a, right) if len(b.levels) == 1 else (b, left)
        known = ", ".join(closed.levels or ())
        raise ExpressionError(f"`{_shown(left)}` and `{_shown(right)}` can never be equal; "
                              f"the values are: {known}", literal.col_offset)


def _member_types(a: NameType, left: ast.expr, items: ast.List | ast.Tuple) -> None:
    if not items.elts:
        raise ExpressionError("an empty list never matches", items.col_offset)
    for element in items.elts:
        assert isinstance(element, ast.Constant), "checked before typing"
        if a.kind == "date":
            _as_date(element)
        b = _literal_type(element)
        if b.kind != a.kind:
            raise ExpressionError(f"`{_shown(left)}` is a {a.kind}, but the list holds {element.value!r} "
                                  f"(a {b.kind})", element.col_offset)
        if a.kind == "string" and a.levels is not None and element.value not in a.levels:
            raise ExpressionError(f"{element.value!r} can never be a value of `{_shown(left)}`; "
                                  f"the values are: {', '.join(a.levels)}", element.col_offset)


def _call_type(node: ast.Call, name: str, types: Mapping[str, NameType], where: int) -> NameType:
    args = [_type(arg, types) for arg in node.args]
    kinds = {arg.kind for arg in args}
    if name != "coalesce" and kinds != {"number"}:
        raise ExpressionError(f"{name}() is for numbers", where)
    if len(kinds) != 1:
        raise ExpressionError(f"coalesce() arguments must all be of one kind, got {', '.join(sorted(kinds))}", where)
    integral = all(arg.integral for arg in args)
    if name == "abs":
        (arg,) = args
        low = 0.0 if arg.low <= 0 <= arg.high else min(abs(arg.low), abs(arg.high))
        return NameType("number", low, arg.magnitude, arg.integral, None, arg.nullable)
    if name == "coalesce":
        closed = all(a.levels is not None for a in args)
        levels = tuple(sorted({v for a in args for v in a.levels or ()})) if closed else None
        return NameType(args[0].kind, min(a.low for a in args), max(a.high for a in args), integral, levels,
                        all(a.nullable for a in args))
    return _extreme(name, args, integral)


def _extreme(name: str, args: list[NameType], integral: bool) -> NameType:
    """min/max skip nulls: the present arguments decide, and the non-nullable ones are always present."""
    present = [a for a in args if not a.nullable]
    if name == "max":
        low = max(a.low for a in present) if present else min(a.low for a in args)
        high = max(a.high for a in args)
    else:
        low = min(a.low for a in args)
        high = min(a.high for a in present) if present else max(a.high for a in args)
    return NameType("number", low, high, integral, None, not present)


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
        return _polars_literal(node.value)
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


def _polars_literal(value: Any) -> pl.Expr:
    # Typed: an untyped integer literal is a 32-bit "dynamic" int in polars, and two of them multiply
    # in 32 bits; Int64 (and Float64 for floats) is what the row evaluator's Python numbers match.
    if isinstance(value, bool) or value is None:
        return pl.lit(value)
    if isinstance(value, int):
        return pl.lit(value, dtype=pl.Int64)
    if isinstance(value, float):
        return pl.lit(value, dtype=pl.Float64)
    return pl.lit(value)


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
        values: list[Any] = [element.value for element in right.elts if isinstance(element, ast.Constant)]
        if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            # polars will not match Int64 data against a Float64 list: compare both as Float64
            # (exact for every integer the range check lets through, as Python's 2 in {2.0} is).
            a, values = a.cast(pl.Float64), [float(v) for v in values]
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
