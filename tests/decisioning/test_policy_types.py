"""Static typing of the policy language at load: types and ranges from the application schema, bounded
size and depth, errors with the rule, the line and the same structure in `--json`."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.decisioning import ExpressionError, PolicyError, compile_expression
from lendstack.decisioning.expr import EXPRESSION_DEPTH_MAX, EXPRESSION_NODES_MAX
from lendstack.decisioning.names import FEATURES, MAGNITUDE_MAX, NAME_TYPES, value_problem
from lendstack.decisioning.policy import POLICY_DIR, parse_policy
from lendstack.sim import FIELDS
from lendstack.sim.tables import APPLICANT_TYPES, COLLATERALS, REGIONS, SEGMENTS

V1 = (POLICY_DIR / "consumer_v1.yaml").read_text(encoding="utf-8")
THIN_FILE = 'when: "bureau_score is None"'
runner = CliRunner()


def _typed_error(text: str) -> str:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, types=NAME_TYPES, result="bool")
    return caught.value.message


def test_name_types_agree_with_the_simulator_schema() -> None:
    for name in FEATURES:
        dtype, kind = FIELDS[name].dtype, NAME_TYPES[name]
        want = "date" if dtype.is_temporal() else "number" if dtype.is_numeric() else "string"
        assert kind.kind == want, name
        if kind.kind == "number":
            assert kind.integral == dtype.is_integer(), name
    levels = {"segment": SEGMENTS, "region": REGIONS, "collateral": COLLATERALS, "applicant_type": APPLICANT_TYPES}
    for name, values in levels.items():
        assert NAME_TYPES[name].levels == values, name


@pytest.mark.parametrize(("text", "needle"), [
    ("age > 'x'", "cannot compare `age` (a number)"),
    ("segment == 'bank'", "can never be equal"),
    ("segment in ['retail', 'bank']", "'bank' can never be a value of `segment`"),
    ("grade == 'F'", "can never be equal"),
    ("age in [30, 'forty']", "the list holds 'forty'"),
    ("segment + 'x' == 'y'", "arithmetic needs a number"),
    ("(age > 1) * 2 > 1", "arithmetic needs a number"),
    ("not age", "'not' needs a bool"),
    ("age and pd > 0.1", "'and'/'or' needs a bool"),
    ("segment < 'z'", "are for numbers and dates"),
    ("age", "must give a bool"),
    ("monthly_income_minor * requested_amount_minor > 1", "can reach 1e+24"),
    ("monthly_income_minor * 100 * 100 > 1", "can reach 1e+16"),
    ("age > 1e16", "literal 1e+16 is beyond the bound"),
    ("monthly_income_minor / debt_to_income > 3", "arbitrarily close to zero"),
    ("applied_on > 3", "cannot compare `applied_on` (a date)"),
    ("applied_on >= '2024-02-30'", "not a date written YYYY-MM-DD"),
    ("age == None", "None is only for"),
    ("segment in []", "an empty list never matches"),
    ("min(age, segment) > 1", "min() is for numbers"),
    ("coalesce(age, segment) == 1", "one kind"),
])
def test_ill_typed_or_unbounded_expressions_are_refused(text: str, needle: str) -> None:
    assert needle in _typed_error(text)


@pytest.mark.parametrize("text", [
    "age >= 18 and segment in ['farming', 'retail']",
    "monthly_income_minor / max(debt_to_income, 0.01) > 3",
    "monthly_income_minor / 12 > requested_amount_minor / requested_term_months",
    "coalesce(debt_to_income * monthly_income_minor, 0) + new_instalment_minor > 0.6 * monthly_income_minor",
    "applied_on >= '2024-01-01' and applied_on in ['2024-03-01', '2024-03-02']",
    "purpose == 'anything'",  # purpose has no closed list of values
    "abs(revenue_volatility - 1) < 0.5 or grade in ['D', 'E']",
])
def test_well_typed_expressions_compile(text: str) -> None:
    compile_expression(text, types=NAME_TYPES, result="bool")


def test_a_division_bounds_its_size_by_the_smallest_divisor() -> None:
    # Whole divisors are at least 1 in size away from 0 (x / 0 is null): a bounded quotient.
    compile_expression("monthly_income_minor / inquiries_6m > 1", types=NAME_TYPES, result="bool")
    # A quotient can itself be too big for what follows.
    assert "can reach" in _typed_error("monthly_income_minor / 0.0001 > 1")


@pytest.mark.parametrize("text", [
    "(" * 500 + "1" + ")" * 500,  # the parser's own limit
    "not " * 490 + "x",
    "-" * 1500 + "a",
    " + ".join(["a"] * 5000),  # too long
    "+".join(["a"] * 450),  # a deep left-leaning tree
    " or ".join(f"a > {i}" for i in range(300)),  # wide: too many terms
])
def test_deep_long_or_wide_expressions_are_a_clear_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, frozenset({"a", "x"}))
    message = caught.value.message
    assert any(word in message for word in ("nested", "longer than", "terms", "parentheses")), message


def test_the_bounds_are_tight_enough_for_real_rules() -> None:
    deepest = "(" * 20 + "a" + " + 1)" * 20 + " > 0"
    compile_expression(deepest, frozenset({"a"}))
    assert EXPRESSION_DEPTH_MAX >= 24 and EXPRESSION_NODES_MAX >= 100


def _policy_error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "bad.yaml")
    return caught.value


def test_a_type_error_names_the_rule_and_its_line() -> None:
    text = V1.replace(THIN_FILE, 'when: "bureau_score > \'high\'"')
    error = _policy_error(text)
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if "bureau_score > 'high'" in row)
    assert error.line == line and error.field == "rules.4.when"
    assert error.message.startswith("rule thin_file: cannot compare")


def test_the_limit_income_must_be_a_number() -> None:
    as_bool = '  income: "segment == \'x\' or coalesce(monthly_income_minor'
    error = _policy_error(V1.replace('  income: "coalesce(monthly_income_minor', as_bool, 1))
    assert error.field == "limits.income"


def test_validate_json_gives_the_same_error_structure_for_types_and_depth(tmp_path: Path) -> None:
    cases = {"type": 'when: "bureau_score > \'high\'"', "depth": 'when: "' + "not " * 100 + 'bureau_score is None"',
             "size": 'when: "' + " or ".join(f"age == {i}" for i in range(150)) + '"'}
    for name, replacement in cases.items():
        file = tmp_path / f"{name}.yaml"
        file.write_text(V1.replace(THIN_FILE, replacement), encoding="utf-8")
        result = runner.invoke(app, ["policy", "validate", str(file), "--json"])
        assert result.exit_code == 2, (name, result.output)
        error = json.loads(result.output)["error"]
        assert error["field"] == "rules.4.when" and error["line"] > 1 and error["file"] == str(file), name
        assert error["message"].startswith("rule thin_file: "), name
        text = runner.invoke(app, ["policy", "validate", str(file)])
        assert text.exit_code == 2 and "Traceback" not in text.output


def test_values_outside_the_schema_are_named() -> None:
    assert value_problem("age", 150) is not None and value_problem("age", 30) is None
    assert value_problem("age", None) is not None  # required
    assert value_problem("debt_to_income", float("nan")) is not None
    assert value_problem("monthly_income_minor", 2.5) is not None  # whole minor units
    assert value_problem("monthly_income_minor", 10**13) is not None
    assert value_problem("segment", 3) is not None and value_problem("applied_on", "2024-01-01") is not None
    assert MAGNITUDE_MAX == 2.0**53


def test_the_magnitude_bound_is_what_keeps_the_row_and_the_backtest_equal() -> None:
    # Unchecked (no types), a product of two amounts wraps in polars' Int64 but not in Python:
    # the two paths disagree. The typed checker refuses exactly this expression.
    text = "monthly_income_minor * requested_amount_minor > 1"
    unchecked = compile_expression(text, frozenset(NAME_TYPES))
    frame = pl.DataFrame({"monthly_income_minor": [123_456_789_012], "requested_amount_minor": [987_654_321_098]})
    assert unchecked.evaluate(frame.row(0, named=True)) is True
    assert frame.select(unchecked.to_polars()).item() is False  # wrapped to a negative number
    assert "can reach 1e+24" in _typed_error(text)
