"""Policies as data: load, validate, hash; errors with the line; the expression language (row == polars)."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from lendstack.decisioning import ExpressionError, PolicyError, compile_expression, list_policies, load_policy
from lendstack.decisioning.names import FEATURES
from lendstack.decisioning.policy import POLICY_DIR, parse_policy
from lendstack.sim import FIELDS

V1 = (POLICY_DIR / "consumer_v1.yaml").read_text(encoding="utf-8")


def test_packaged_policies_load_with_versions_and_stable_hashes() -> None:
    keys = {p.key: p.content_hash for p in list_policies()}
    assert set(keys) == {"consumer@1", "consumer@2", "micro_business@1"}
    assert len(set(keys.values())) == 3
    assert load_policy("consumer_v1").content_hash == keys["consumer@1"] == parse_policy(V1).content_hash
    assert load_policy("consumer@2").version == "2"
    # Comments and layout do not change the content hash; content does.
    assert parse_policy("# note\n" + V1).content_hash == keys["consumer@1"]
    assert parse_policy(V1.replace("margin: 0.02", "margin: 0.021")).content_hash != keys["consumer@1"]


def test_known_feature_names_are_the_simulator_features() -> None:
    assert list(FEATURES) == [name for name, doc in FIELDS.items() if doc.role == "feature"]


def _error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "bad.yaml")
    return caught.value


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_unknown_key_names_the_line() -> None:
    text = V1.replace("  margin: 0.02\n", "  margin: 0.02\n  margn: 0.01\n")
    error = _error(text)
    assert error.line == _line_of(text, "margn:") and error.field == "pricing.margn"
    assert "bad.yaml:" in str(error) and "Extra inputs" in error.message


def test_unknown_name_in_an_expression_names_the_line() -> None:
    text = V1.replace('when: "bureau_score is None"', 'when: "bureau_scor is None"')
    error = _error(text)
    assert error.line == _line_of(text, "bureau_scor is None")
    assert "unknown name 'bureau_scor'" in error.message and error.field == "rules.4.when"


def test_knockouts_cannot_read_the_score() -> None:
    error = _error(V1.replace('when: "age < 18 or age > 65"', 'when: "pd > 0.5"'))
    assert "unknown name 'pd'" in error.message and error.field == "knockouts.0.when"


def test_bad_values_and_structure_are_refused_with_the_line() -> None:
    text = V1.replace("  - {grade: B, pd_max: 0.05}", "  - {grade: B, pd_max: 1.5}")
    error = _error(text)
    assert error.field == "grades.1.pd_max" and error.line == _line_of(text, "pd_max: 1.5")
    assert _error("just: [unclosed").field == "document"
    assert _error("- a list").message.startswith("a policy is a mapping")
    with pytest.raises(PolicyError, match="unknown policy"):
        load_policy("consumer@9")


def test_policy_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(V1.replace("action: refer\n    code: MANY", "action: escalate\n    code: MANY"), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(bad)
    assert str(bad) in str(caught.value) and caught.value.field == "rules.2.action"


@pytest.mark.parametrize("text", [
    "__import__('os').system('x')", "a.__class__", "open('f')", "[x for x in y]", "lambda: 1", "a if b else c",
    "a[0]", "f(x)", "x ** 2", "a is 1", "min(a, key=b)", "age in ages",
])
def test_unsafe_or_unknown_syntax_is_refused(text: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(text, frozenset({"a", "b", "c", "x", "y", "age", "ages"}))


EXPRESSIONS = [
    "a + b * 2 > c", "a / b", "a - b <= 3 and not (c > 1)", "a < b < c", "s in ['x', 'y']", "s not in ['x']",
    "a is None or b is not None", "min(a, b, c)", "max(a, 1) + abs(b)", "coalesce(a, b, 0) * 1.5",
    "(a > 0 or b > 0) and s == 'x'", "-a + c != 2", "not (a > b)",
]


def _random_rows(n: int) -> list[dict[str, object]]:
    rng = random.Random(3)

    def num() -> float | int | None:
        return rng.choice([None, rng.randint(-5, 5), rng.uniform(-5, 5), 0])

    return [{"a": num(), "b": num(), "c": num(), "s": rng.choice([None, "x", "y", "z"])} for _ in range(n)]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_row_and_polars_evaluate_identically_with_nulls(text: str) -> None:
    rows = _random_rows(400)
    frame = pl.DataFrame(rows, schema={"a": pl.Float64, "b": pl.Float64, "c": pl.Float64, "s": pl.String})
    expression = compile_expression(text, frozenset({"a", "b", "c", "s"}))
    columnar = frame.select(expression.to_polars().alias("v")).get_column("v").to_list()
    online = [expression.evaluate(row) for row in frame.iter_rows(named=True)]
    for got, want in zip(online, columnar, strict=True):
        assert got == pytest.approx(want, abs=0, rel=0) if isinstance(want, float) else got == want
