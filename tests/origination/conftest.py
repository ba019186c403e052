"""Simulator samples shared by the origination tests (generated once per session: they are deterministic)."""

from __future__ import annotations

from typing import Any

import pytest

from lendstack.origination import Application, DataBundle, embedded_connectors, gather, parse_application
from lendstack.sim import generate_applications, to_application_json

SAMPLE_ROWS = 3000


@pytest.fixture(scope="session")
def sim_rows() -> list[dict[str, Any]]:
    return list(generate_applications(SAMPLE_ROWS, 17).iter_rows(named=True))


@pytest.fixture(scope="session")
def sim_gathered(sim_rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Application, DataBundle]]:
    connectors = embedded_connectors()
    result = []
    for row in sim_rows:
        application = parse_application(to_application_json(row))
        result.append((row, application, gather(application, connectors)))
    return result
