"""services/origination.py on SQLite and PostgreSQL: a partner's namespace (its references, never
another partner's records), the submit-and-decide use case with its kept response, and listings."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from lendstack.decisioning import ScoringModel
from lendstack.errors import ErrorKind, NotFound
from lendstack.scoring import TrainOptions
from lendstack.services import origination
from lendstack.services.api_access import kept_response
from lendstack.services.decisions import prepare_decision
from lendstack.services.models import ensure_default_model, scoring_model
from lendstack.sim import generate_applications, to_application_json

FAST_GBM = {"n_estimators": 60, "learning_rate": 0.1, "early_stopping_rounds": 10}
TODAY = date(2026, 1, 2)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ScoringModel:
    root: Path = tmp_path_factory.mktemp("origination-models")
    ensure_default_model(root, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM), rows=1500)
    return scoring_model(root)


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    sample = generate_applications(6, seed=21)
    return [to_application_json(sample.row(i, named=True)) for i in range(sample.height)]


def _submit(engine: Engine, model: ScoringModel, document: dict[str, Any], partner: str,
            key: str) -> origination.Submission:
    audited: list[str] = []

    def audit(_connection: Connection) -> None:
        audited.append(key)

    prepared = prepare_decision({**document, "partner_id": partner}, model=model, partner_scoped=True, today=TODAY)
    submitted = origination.submit_and_decide(engine, prepared, key_id=f"k_{partner}", key=key, method="POST",
                                              path="/v1/applications", digest="d" * 64, audit=audit)
    assert audited == ([] if submitted.replayed else [key]), "the audit row is written with the decision"
    return submitted


def test_a_partner_sees_only_its_own(engine: Engine, model: ScoringModel, documents: list[dict[str, Any]]) -> None:
    document = documents[0]
    reference = document["application_id"]
    first = _submit(engine, model, document, "p1", "one")
    assert not first.replayed and first.response.status == 201
    assert first.response.body["application_id"] == reference  # the partner's own id, shown back
    kept = kept_response(engine, "k_p1", "one")
    assert kept is not None and kept.body == first.response.body
    again = _submit(engine, model, document, "p1", "one")  # a retry: the kept response, no second decision
    assert again.replayed and again.response.body == first.response.body

    owned = origination.owned_application(engine, "p1", reference)
    assert owned.partner_id == "p1"
    with pytest.raises(NotFound) as caught:
        origination.owned_application(engine, "p2", reference)  # another partner: as if unknown
    assert caught.value.kind is ErrorKind.NOT_FOUND and caught.value.field == "application_id"
    assert str(caught.value) == f"application_id: no application {reference!r}"

    view = origination.application_view(engine, owned, reference).to_json()
    assert list(view) == ["application_id", "status", "partner_id", "history"] and view["partner_id"] == "p1"
    assert view["status"] == first.response.body["status"]
    decision = origination.decision_of(engine, owned, reference)
    assert decision == first.response.body["decision"]

    listed = origination.application_page(engine, "p1", None, 10, 0)
    assert [item.application_id for item in listed] == [reference]
    assert origination.application_page(engine, "p2", None, 10, 0) == []
    assert [item.application_id for item in origination.application_page(engine, "", None, 10, 0)] == [
        owned.application_id]

    applicant_ref = document["applicant"].get("applicant_id") or reference  # defaults to the application id
    person = origination.applicant_view(engine, "p1", applicant_ref, None, 10, 0)
    assert [item.application_id for item in person.applications] == [reference]
    assert list(person.applications[0].to_json(term=True))[-1] == "requested_term_months"
    with pytest.raises(NotFound, match="no applicant"):
        origination.applicant_view(engine, "p2", applicant_ref, None, 10, 0)


def test_two_partners_may_use_the_same_id(engine: Engine, model: ScoringModel,
                                          documents: list[dict[str, Any]]) -> None:
    document = documents[1]
    reference = document["application_id"]
    _submit(engine, model, document, "p1", "a")
    _submit(engine, model, document, "p2", "b")
    mine, theirs = (origination.owned_application(engine, p, reference) for p in ("p1", "p2"))
    assert mine.application_id != theirs.application_id and (mine.partner_id, theirs.partner_id) == ("p1", "p2")
