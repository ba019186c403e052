"""The one config loader: safe YAML (or JSON), exact decimals, duplicate keys refused, bounded size and depth,
and every error a DocumentError naming the file, line, column and dotted field."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lendstack.documents import (
    DEPTH_MAX,
    DOCUMENT_BYTES_MAX,
    NODES_MAX,
    DocumentError,
    load_document,
    load_mapping,
    parse_document,
    parse_located,
    validate_document,
)
from lendstack.errors import ErrorKind, LendstackError

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Step(BaseModel):
    model_config = _FROZEN
    name: str
    every_days: Annotated[int, Field(ge=1)]


class Stage(BaseModel):
    model_config = _FROZEN
    dpd_from: int
    dpd_to: int | None = None
    steps: tuple[Step, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Stage:
        if self.dpd_to is not None and self.dpd_to < self.dpd_from:
            raise ValueError("@dpd_to: below dpd_from")  # names a field below the model
        return self


class Doc(BaseModel):
    model_config = _FROZEN
    version: str
    rate: Decimal = Decimal(0)
    share: float = 0.0
    stages: tuple[Stage, ...] = ()
    table: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rate_cap(self) -> Doc:
        if self.rate > 1:
            raise LendstackError("rate", f"at most 1, got {self.rate}")  # a model check naming its field
        return self


GOOD = """\
version: "1"
rate: 0.144
share: 0.1
stages:
  - dpd_from: 1
    dpd_to: 30
    steps:
      - {name: call, every_days: 3}
  - dpd_from: 31
"""


def _error(text: str, source: str = "doc.yaml") -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        parse_document(text, Doc, source=source)
    return caught.value


def _line(text: str, needle: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), start=1) if needle in row)


def test_a_good_document_reads_decimals_exactly() -> None:
    doc = parse_document(GOOD, Doc, source="doc.yaml")
    assert doc.rate == Decimal("0.144") and str(doc.rate) == "0.144"  # not 0.14399999999999999...
    assert doc.share == 0.1  # a float field gets exactly the float the text means
    assert doc.stages[0].steps[0].every_days == 3 and doc.stages[1].dpd_to is None


class Number(BaseModel):
    value: Decimal


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**9, max_value=10**9))
def test_every_decimal_reads_back_exactly(value: Decimal) -> None:
    read = parse_document(f"value: {value}\n", Number).value
    assert read == value and str(read) == str(value)


def test_non_finite_numbers() -> None:
    assert _error("version: x\nrate: .inf\n").location == "rate"  # a Decimal field refuses it by name
    assert parse_document("version: x\nshare: .inf\n", Doc).share == float("inf")  # as plain YAML gave


def test_an_error_names_the_file_line_column_and_dotted_field() -> None:
    text = GOOD.replace("every_days: 3", "every_days: 0")
    error = _error(text)
    assert (error.source, error.location, error.field) == ("doc.yaml", "stages.0.steps.0.every_days",
                                                           "stages.0.steps.0.every_days")
    assert error.line == _line(text, "every_days: 0") and error.column > 1
    assert str(error) == f"doc.yaml:{error.line}: stages.0.steps.0.every_days: {error.message}"
    assert isinstance(error, LendstackError) and isinstance(error, ValueError)
    assert error.kind is ErrorKind.INVALID


def test_an_unknown_key_is_named_before_the_missing_one_it_caused() -> None:
    text = GOOD.replace('version: "1"', 'verison: "1"')
    error = _error(text)
    assert error.location == "verison" and error.line == 1
    assert "version: Field required" in error.message  # every problem is listed, the cause first


def test_model_validators_name_the_field_below_them() -> None:
    text = GOOD.replace("dpd_to: 30", "dpd_to: 0")
    error = _error(text)
    assert error.location == "stages.0.dpd_to" and error.line == _line(text, "dpd_to: 0")
    assert error.message == "below dpd_from"
    capped = _error(GOOD.replace("rate: 0.144", "rate: 1.5"))
    assert capped.location == "rate" and capped.line == 2 and capped.message == "at most 1, got 1.5"


def test_broken_yaml_names_the_line() -> None:
    error = _error('version: "1"\nstages: [\n')
    assert error.location == "document" and error.line == 3 and "not valid YAML" in error.message
    assert "while parsing a flow" in error.message  # the parser's own words, context first


def test_not_a_mapping() -> None:
    assert _error("- 1\n- 2\n").message == DocumentError.shape
    assert _error("").location == "document"  # an empty file is not a document either

    class ThingError(DocumentError):
        shape = "a thing is a mapping"

    with pytest.raises(ThingError, match="a thing is a mapping"):
        parse_document("just text", Doc, error=ThingError)


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    text = GOOD + "rate: 0.2\n"
    error = _error(text)
    assert error.location == "rate" and error.line == _line(text, "rate: 0.2")
    assert "duplicate key (first on line 2)" in error.message
    nested = _error(GOOD.replace("{name: call, every_days: 3}", "{name: call, name: sms, every_days: 3}"))
    assert nested.location == "stages.0.steps.0.name"


def test_merge_keys_are_not_duplicates() -> None:
    text = "version: x\ntable:\n  base: &b {a: 1, b: 2}\n  more: {<<: *b, b: 3}\n"
    assert parse_document(text, Doc).table["more"] == {"a": 1, "b": 3}


def test_nesting_and_size_are_bounded(tmp_path: Path) -> None:
    deep = "version: x\ntable: " + "[" * (DEPTH_MAX + 1) + "]" * (DEPTH_MAX + 1) + "\n"
    assert "nested deeper" in _error(deep).message
    very_deep = "version: x\ntable: " + "[" * 100_000 + "]" * 100_000 + "\n"  # deeper than Python recurses
    assert "nested deeper" in _error(very_deep).message
    assert "nested deeper" in _error('{"version": "x", "table": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                     source="doc.json").message
    assert "nested deeper" in _error("version: x\ntable: &a [*a]\n").message  # a list that holds itself
    laughs = "version: x\ntable:\n  a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    for level in "bcdefg":  # 10^6 values once expanded; refused before expansion
        previous = chr(ord(level) - 1)
        laughs += f"  {level}: &{level} [{', '.join([f'*{previous}'] * 10)}]\n"
    assert str(NODES_MAX) in _error(laughs).message
    big = "version: x\n" + "#" * DOCUMENT_BYTES_MAX + "\n"
    assert "larger than" in _error(big).message
    path = tmp_path / "big.yaml"
    path.write_text(big, encoding="utf-8")
    with pytest.raises(DocumentError, match="larger than"):
        load_document(path, Doc)


def test_files(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_document(path, Doc).rate == Decimal("0.144")
    with pytest.raises(DocumentError) as missing:
        load_document(tmp_path / "nope.yaml", Doc)
    assert missing.value.location == "path" and "cannot read" in missing.value.message
    assert missing.value.line == 0 and str(missing.value).startswith(f"{tmp_path / 'nope.yaml'}: path: ")
    (tmp_path / "latin.yaml").write_bytes("version: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DocumentError, match="not UTF-8"):
        load_document(tmp_path / "latin.yaml", Doc)

    class ScenarioishError(DocumentError):
        path_field = "scenarios"

    with pytest.raises(ScenarioishError) as named:
        load_document(tmp_path / "nope.yaml", Doc, error=ScenarioishError)
    assert named.value.field == "scenarios"


def test_json_documents(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text('{"version": "1", "rate": 0.1, "stages": [{"dpd_from": 1}]}', encoding="utf-8")
    assert load_document(path, Doc).rate == Decimal("0.1")
    path.write_text('{"version": "1",\n "stages": [{"dpd_from": "x"}]}', encoding="utf-8")
    with pytest.raises(DocumentError) as caught:
        load_document(path, Doc)
    assert caught.value.location == "stages.0.dpd_from" and caught.value.line == 2
    path.write_text('{"version": "1", "version": "2"}', encoding="utf-8")
    with pytest.raises(DocumentError, match="duplicate key"):
        load_document(path, Doc)
    path.write_text('{"version": ', encoding="utf-8")
    with pytest.raises(DocumentError, match="not valid JSON"):
        load_document(path, Doc)


def test_located_errors_and_already_parsed_data() -> None:
    located = parse_located(GOOD, Doc, source="doc.yaml")
    error = located.error(("stages", 1, "dpd_from"), "a later check", DocumentError)
    assert (error.line, error.location) == (_line(GOOD, "dpd_from: 31"), "stages.1.dpd_from")
    assert located.error(("stages", 7), "beyond", DocumentError).line == _line(GOOD, "stages:") + 1
    data = json.loads(json.dumps({"version": "1", "rate": "0.5"}))
    assert validate_document(data, Doc).rate == Decimal("0.5")
    with pytest.raises(DocumentError) as caught:
        validate_document({"version": 1}, Doc, source="<stored>")
    assert caught.value.line == 0 and str(caught.value).startswith("<stored>: version: ")


def test_load_mapping_reads_settings_for_a_dataclass(tmp_path: Path) -> None:
    path = tmp_path / "program.yaml"
    path.write_text("months_on_time: 11\ngrace: 0.5\n", encoding="utf-8")
    assert load_mapping(path) == {"months_on_time": 11, "grace": Decimal("0.5")}
    path.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="mapping"):
        load_mapping(path)


def test_every_config_error_is_a_document_error(tmp_path: Path) -> None:
    """One error type: a caller catches DocumentError for any bad config file, and each area's own
    error class still works."""
    from lendstack.collections.domain import CollectionsError, load_strategy
    from lendstack.decisioning.policy import PolicyError, load_policy_file
    from lendstack.monitoring.early_warning import EarlyWarningError, load_indicators
    from lendstack.products import ProductFileError, load_product
    from lendstack.risk.stress import StressError, load_scenarios

    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\na: 2\n", encoding="utf-8")
    loaders = [(load_product, ProductFileError), (load_policy_file, PolicyError), (load_indicators, EarlyWarningError),
               (load_strategy, CollectionsError), (load_scenarios, StressError)]
    for load, area_error in loaders:
        with pytest.raises(DocumentError) as caught:
            load(bad)
        assert isinstance(caught.value, area_error) and caught.value.line == 2, load
        assert caught.value.location == "a" and "duplicate key" in caught.value.reason
        assert caught.value.field == (f"{bad}:2: a" if area_error in (EarlyWarningError, CollectionsError) else
                                      "a")  # each area keeps how it always named the field
