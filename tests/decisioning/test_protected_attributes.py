"""Gender is a protected attribute: kept for fairness audits, never a model input or policy term."""

from __future__ import annotations

from lendstack.decisioning.names import FEATURES, RULE_NAMES
from lendstack.origination import SOURCES, EmbeddedConnector, gather, parse_application
from lendstack.origination.features import FEATURE_COLUMNS, features_row
from lendstack.services.models import feature_columns
from lendstack.sim import FIELDS, generate_applications, to_application_json


def test_gender_is_protected_and_reaches_neither_models_nor_policies() -> None:
    assert FIELDS["gender"].role == "protected"
    assert "gender" not in FEATURES and "gender" not in RULE_NAMES and "gender" not in FEATURE_COLUMNS
    assert "gender" not in feature_columns()
    document = to_application_json(generate_applications(5, seed=1).row(0, named=True))
    application = parse_application(document)
    assert application.applicant.gender in ("female", "male")  # still there for audits
    bundle = gather(application, [EmbeddedConnector(s) for s in SOURCES])
    assert "gender" not in features_row(application, bundle)
