"""Origination: applicants, applications, data-source connectors, snapshots with provenance fingerprints, cross-checks.

- `parse_application(document, today=...)` → `Application` or `ApplicationError(field, message)`.
- Connectors (`EmbeddedConnector`, `FileConnector`, `HttpConnector`, test doubles) and
  `gather(application, connectors, timeout_s=...)` → `DataBundle` of fingerprinted `Snapshot`s.
- `cross_check(application, bundle)` → `Flag`s; `features_row(application, bundle)` → the model's row.

A functional core: frozen values in and out; the connectors are the only I/O.
"""

from lendstack.origination.application import (
    APPLICANT_TYPES,
    IDENTIFIER_KINDS,
    SOURCES,
    Applicant,
    Application,
    Declared,
    EditEvent,
    Identifiers,
)
from lendstack.origination.connectors import (
    Connector,
    EmbeddedConnector,
    FailingConnector,
    FileConnector,
    HttpConnector,
    SlowConnector,
)
from lendstack.origination.crosscheck import DEFAULT, CrossCheckTolerance, cross_check
from lendstack.origination.errors import ApplicationError
from lendstack.origination.features import FEATURE_COLUMNS, features_row
from lendstack.origination.flags import SEVERITIES, Flag
from lendstack.origination.gather import embedded_connectors, gather
from lendstack.origination.parsing import application_document, parse_application
from lendstack.origination.snapshots import DataBundle, Snapshot, canonical_json, fingerprint

__all__ = [
    "APPLICANT_TYPES",
    "DEFAULT",
    "FEATURE_COLUMNS",
    "IDENTIFIER_KINDS",
    "SEVERITIES",
    "SOURCES",
    "Applicant",
    "Application",
    "ApplicationError",
    "Connector",
    "CrossCheckTolerance",
    "DataBundle",
    "Declared",
    "EditEvent",
    "EmbeddedConnector",
    "FailingConnector",
    "FileConnector",
    "Flag",
    "HttpConnector",
    "Identifiers",
    "SlowConnector",
    "Snapshot",
    "application_document",
    "canonical_json",
    "cross_check",
    "embedded_connectors",
    "features_row",
    "fingerprint",
    "gather",
    "parse_application",
]
