"""Issue 12 §5: category fields (`segment`, `region`) are checked against their lists in the API, and
names and short texts are NFC with no control, zero-width or bidi-override characters; every
refusal is a 422 naming the field and stores nothing."""

from __future__ import annotations

import copy
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from tests.api.conftest import auth, keys_for

from lendstack import sim, text
from lendstack.api.app import create_app
from lendstack.api.keys import KeyError_, create_key
from lendstack.api.permissions import PARTNER
from lendstack.origination import parsing
from lendstack.services import staff
from lendstack.store.tables_origination import applications

HIDDEN = {
    "a zero-width space": "ret\u200bail", "a zero-width joiner": "ret\u200dail", "a word joiner": "ret\u2060ail",
    "a byte-order mark": "\ufeffretail", "a right-to-left override": "ret\u202eail", "an isolate": "\u2066retail\u2069",
    "a left-to-right mark": "retail\u200e", "a line feed": "retail\n", "a carriage return": "ret\rail",
    "a tab": "ret\tail", "a NUL": "retail\x00", "a C1 control": "retail\x85", "a line separator": "retail\u2028",
}


def test_the_lists_are_the_simulators() -> None:
    assert parsing.SEGMENTS == sim.SEGMENTS and parsing.REGIONS == sim.REGIONS


@pytest.mark.parametrize(("path", "value"), [
    (("applicant", "segment"), "Retail"), (("applicant", "segment"), "retail "), (("applicant", "segment"), "casino"),
    (("applicant", "region"), "atlantis"), (("applicant", "region"), "EAST"),
    (("applicant", "segment"), "ret\u200bail"), (("applicant", "region"), "ea\u202est"),
    (("applicant", "gender"), "female\u202e"), (("applicant", "identifiers", "device_id"), "dev\r\nice"),
    (("declared", "purpose"), "working\u2066capital"),
])
def test_submitting_a_bad_category_or_hidden_character_is_a_422_naming_the_field(
        engine: Engine, registry_dir: Path, documents: list[dict[str, Any]], path: tuple[str, ...], value: str) -> None:
    document: dict[str, Any] = copy.deepcopy(documents[0])
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with TestClient(create_app(engine, registry_dir=registry_dir)) as client:
        response = client.post("/v1/applications", json=document, headers=auth(keys_for(engine)[PARTNER], "t-1"))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == ".".join(path)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(applications)).scalar_one() == 0


def test_every_listed_category_passes_the_parser(documents: list[dict[str, Any]]) -> None:
    for segment in parsing.SEGMENTS:
        for region in parsing.REGIONS[:2]:
            document = copy.deepcopy(documents[0])
            document["applicant"].update(segment=segment, region=region)
            assert parsing.parse_application(document).applicant.segment == segment


def test_text_fields_are_stored_in_nfc(documents: list[dict[str, Any]]) -> None:
    document = copy.deepcopy(documents[0])
    decomposed = "cafe\u0301-device"  # e + combining acute: NFC makes it one character
    document["applicant"]["identifiers"]["device_id"] = decomposed
    parsed = parsing.parse_application(document)
    assert parsed.applicant.identifiers.device_id == unicodedata.normalize("NFC", decomposed) == "caf\u00e9-device"


@pytest.mark.parametrize("what", sorted(HIDDEN))
def test_the_shared_rule_refuses_hidden_characters(what: str) -> None:
    with pytest.raises(text.TextError) as caught:
        text.clean_name(HIDDEN[what], field="display_name", length_max=100)
    assert caught.value.field == "display_name" and "U+" in caught.value.message


def test_the_shared_rule_keeps_real_names() -> None:
    for name in ("Zoë Ångström", "王小明", "محمد", "O'Brien-Smith", ""):
        assert text.clean_name(name, field="name", length_max=100) == unicodedata.normalize("NFC", name)
    assert text.clean_name("Zoe\u0308", field="name", length_max=100) == "Zo\u00eb"


def test_staff_display_names_are_checked_and_normalised(engine: Engine) -> None:
    with pytest.raises(staff.StaffError) as caught:
        staff.create_user(engine, "mallory", "correct horse battery", staff.AUDITOR, display_name="Ann\u202eelA")
    assert caught.value.field == "display_name"
    made = staff.create_user(engine, "zoe", "correct horse battery", staff.AUDITOR, display_name="Zoe\u0308")
    assert made.display_name == "Zo\u00eb"
    user = staff.get_user(engine, "zoe")
    assert user is not None and user.display_name == "Zo\u00eb"


def test_key_labels_are_checked(engine: Engine) -> None:
    with pytest.raises(KeyError_) as caught:
        create_key(engine, PARTNER, partner_id="p1", label="ops\u202e team")
    assert caught.value.field == "label"
    with pytest.raises(KeyError_) as caught:
        create_key(engine, PARTNER, partner_id="p\u200b1")
    assert caught.value.field == "partner_id"


def test_product_and_policy_names_refuse_hidden_characters() -> None:
    from pydantic import ValidationError

    from lendstack.decisioning.policy import PolicyDocument, load_policy
    from lendstack.products.loader import load_catalog
    from lendstack.products.model import LoanProduct

    product = next(iter(load_catalog().values())).model_dump()
    with pytest.raises(ValidationError, match="name_zh"):
        LoanProduct.model_validate({**product, "name_zh": "消费\u202e贷"})
    assert LoanProduct.model_validate({**product, "name_en": "Cafe\u0301 loan"}).name_en == "Caf\u00e9 loan"
    policy = load_policy("consumer_v1").document.model_dump()
    with pytest.raises(ValidationError, match="name_en"):
        PolicyDocument.model_validate({**policy, "name_en": "consumer\u200b policy"})
