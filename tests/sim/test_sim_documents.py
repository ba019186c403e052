"""monthly_payment_behaviour and to_application_json."""

from __future__ import annotations

import json

import polars as pl
import pytest

from lendstack.sim import SimArgumentError, monthly_payment_behaviour, to_application_json


def test_payment_paths_agree_with_outcomes(frame: pl.DataFrame) -> None:
    loans = frame.head(5_000)
    paths = monthly_payment_behaviour(loans, seed=1)
    assert paths.height == 12 * loans.height
    assert paths.columns == ["application_id", "month", "pay_prob", "status", "days_late", "days_past_due"]
    assert paths.equals(monthly_payment_behaviour(loans, seed=1))
    joined = paths.join(loans.select("application_id", "default_12m", "months_to_default"), on="application_id")
    good = joined.filter(pl.col("default_12m") == 0)
    assert (good["status"] != "missed").all() and (good["days_past_due"] == 0).all()
    bad = joined.filter(pl.col("default_12m") == 1)
    after = bad.filter(pl.col("month") >= pl.col("months_to_default"))
    assert (after["status"] == "missed").all() and (after["pay_prob"] == 0).all()
    assert (bad.filter(pl.col("month") < pl.col("months_to_default"))["status"] != "missed").all()
    assert (bad.filter(pl.col("month") == 12)["days_past_due"] >= 90).all()
    late = joined.filter(pl.col("status") == "late")["days_late"]
    assert late.min() >= 1 and late.max() <= 29  # type: ignore[operator]


def test_payment_behaviour_rejects_a_foreign_frame() -> None:
    with pytest.raises(SimArgumentError, match=r"^frame:"):
        monthly_payment_behaviour(pl.DataFrame({"x": [1]}), seed=0)


def test_application_document_is_nested_and_json_ready(frame: pl.DataFrame) -> None:
    business = frame.filter(pl.col("applicant_type") == "small_business").row(0, named=True)
    document = to_application_json(business)
    assert document == to_application_json(business)
    assert set(document) == {"application_id", "applied_on", "currency", "applicant", "declared", "data_sources"}
    assert {"tax", "invoices", "pos", "device"} <= set(document["data_sources"])
    assert len(document["data_sources"]["pos"]["monthly_revenue_minor"]) == 12
    assert isinstance(document["declared"]["requested_amount_minor"], int)
    assert "pd_true" not in json.dumps(document) and "latent_z" not in json.dumps(document)
    json.dumps(document, allow_nan=False)


def test_application_document_leaves_out_missing_sources(frame: pl.DataFrame) -> None:
    thin_salaried = frame.filter(pl.col("bureau_score").is_null() & (pl.col("segment") == "salaried")).head(1)
    document = to_application_json(thin_salaried)
    assert set(document["data_sources"]) == {"device"}
    with pytest.raises(SimArgumentError, match=r"^row:"):
        to_application_json(frame.head(2))
