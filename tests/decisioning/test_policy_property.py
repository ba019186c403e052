"""Property: an expression that passes the policy checker cannot crash `decide`, and the columnar
backtest gives the same value and the same firing for every row, nulls included.

Expressions are drawn from the grammar over the schema's names and literals (some ill-typed or too
big on purpose, which the checker must refuse); applications are simulator rows with the names the
expression reads set to values drawn from the schema's ranges (extremes and nulls included).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import polars as pl
from decisioning_helpers import App, Bundle
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lendstack.decisioning import ExpressionError, ScoringModel, compile_expression, decide, load_policy
from lendstack.decisioning.backtest import decide_frame, history_frame, score_frame
from lendstack.decisioning.names import NAME_TYPES
from lendstack.decisioning.policy import Rule

NUMBERS = ("age", "monthly_income_minor", "debt_to_income", "inquiries_6m", "bureau_score", "revenue_mean_12m_minor",
           "revenue_volatility", "requested_amount_minor", "night_driving_share", "co2_reduced_tonnes", "pd",
           "new_instalment_minor")
STRINGS = ("segment", "collateral", "purpose", "grade")
SETTABLE = tuple(n for n in (*NUMBERS, *STRINGS, "applied_on") if n not in ("pd", "grade", "new_instalment_minor"))
POLICY = load_policy("consumer_v1")
ROWS = 4

_literal_numbers = st.one_of(st.integers(-10, 10**6), st.sampled_from([0, 1, 0.5, 1e12, 2**53, 1e17, -3.25]),
                             st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32))


def _strings() -> st.SearchStrategy[str]:
    names = st.sampled_from(STRINGS)
    levels = st.sampled_from(["retail", "farming", "none", "vehicle", "A", "E", "consumption", "bank"])
    return st.one_of(names, levels.map(repr))


# Products of amounts (beyond Int64 in polars, exact in Python): the checker must refuse them.
HUGE = ("monthly_income_minor * requested_amount_minor", "revenue_mean_12m_minor * 1000000 * 100000")


def _numbers(depth: int) -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(NUMBERS), _literal_numbers.map(repr), st.sampled_from(HUGE))
    if depth == 0:
        return leaf
    inner = _numbers(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"-({x})"),
        st.tuples(st.sampled_from(["min", "max", "coalesce"]), st.lists(inner, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        inner.map(lambda x: f"abs({x})"),
        st.just("segment"),  # ill-typed on purpose: the checker must refuse it
    )


def _bools(depth: int) -> st.SearchStrategy[str]:
    numbers = _numbers(min(depth, 2))
    compare = st.tuples(numbers, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), numbers).map(" ".join)
    equal = st.tuples(_strings(), st.sampled_from(["==", "!="]), _strings()).map(" ".join)
    member = st.tuples(st.sampled_from(STRINGS), st.sampled_from(["in", "not in"]),
                       st.lists(st.sampled_from(["'retail'", "'none'", "'A'", "'E'", "'farming'"]), min_size=1,
                                max_size=3)).map(lambda t: f"{t[0]} {t[1]} [{', '.join(t[2])}]")
    numeric_member = st.tuples(st.sampled_from(NUMBERS), st.lists(_literal_numbers, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]} in [{', '.join(map(repr, t[1]))}]")
    null = st.tuples(st.sampled_from((*NUMBERS, *STRINGS)), st.sampled_from(["is None", "is not None"])).map(" ".join)
    dated = st.sampled_from(["applied_on >= '2024-06-01'", "applied_on < '2023-01-01'", "applied_on == '2024-02-29'"])
    leaf = st.one_of(compare, equal, member, numeric_member, null, dated)
    if depth == 0:
        return leaf
    inner = _bools(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"not ({x})"),
    )


def _value(name: str) -> st.SearchStrategy[Any]:
    kind = NAME_TYPES[name]
    if kind.kind == "date":
        return st.dates(date(2015, 1, 1), date(2025, 12, 31))
    if kind.kind == "string":
        return st.sampled_from(kind.levels or ("consumption", "working_capital", "other"))
    if kind.integral:
        value: st.SearchStrategy[Any] = st.one_of(st.integers(int(kind.low), int(kind.high)),
                                                  st.integers(max(int(kind.low), int(kind.high) // 10), int(kind.high)),
                                                  st.sampled_from([int(kind.low), int(kind.high)]))
    else:
        value = st.one_of(st.floats(kind.low, kind.high, allow_nan=False), st.sampled_from([kind.low, kind.high]))
    return st.one_of(st.none(), value) if kind.nullable else value


_override = st.fixed_dictionaries({name: _value(name) for name in SETTABLE})


def _same(online: Any, columnar: Any) -> bool:
    if online is None or columnar is None:
        return online is columnar
    return bool(online == columnar)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(text=_bools(3), overrides=st.lists(_override, min_size=ROWS, max_size=ROWS))
def test_validated_expressions_never_crash_and_agree_with_the_backtest(
        text: str, overrides: list[dict[str, Any]], sample: pl.DataFrame, small_model: ScoringModel) -> None:
    try:
        expression = compile_expression(text, types=NAME_TYPES, result="bool")
    except ExpressionError:
        event("refused by the checker")
        return
    event("validated")
    rows = [{**sample.row(i, named=True), **changes} for i, changes in enumerate(overrides)]
    frame = history_frame(pl.DataFrame(rows, schema={**sample.schema, "co2_reduced_tonnes": pl.Float64}))
    rule = Rule(name="generated", when=text, action="decline", code="GENERATED", en="generated", zh="生成")
    policy = dataclasses.replace(POLICY, rules=(*POLICY.rules, (rule, expression)))
    decided = decide_frame(frame, policy, score_frame(frame, small_model))
    # The expression's own values: the row evaluator on each decided row against polars on the frame.
    for i, row in enumerate(rows):
        online = decide(App(row["application_id"]), Bundle(), [], row, policy, small_model)
        want = decided.row(i, named=True)
        assert (online.outcome, online.pd, online.limit_minor) == (want["outcome"], want["pd"], want["limit_minor"])
        fired = "GENERATED" in [r.code for r in online.reasons]
        with_engine = {**row, "pd": online.pd, "grade": online.grade, "flag_count": 0, "flag_severity_max": 0,
                       "failed_source_count": 0, "new_instalment_minor": want["new_instalment_minor"]}
        columnar = frame.slice(i, 1).with_columns(
            pl.lit(online.pd).alias("pd"), pl.lit(online.grade).alias("grade"),
            pl.lit(want["new_instalment_minor"], dtype=pl.Int64).alias("new_instalment_minor"),
        ).select(expression.to_polars().alias("v")).item()
        value = expression.evaluate(with_engine)
        assert _same(value, columnar), (text, row, value, columnar)
        assert fired == (columnar is True), (text, value, columnar)
