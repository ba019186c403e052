"""Seeded synthetic borrowers, businesses and outcomes for the demo, tests and benchmarks.

- `generate_applications(n, seed, *, as_of, shock, shift)`: one row per loan application with data
  from every source, the hidden truth and 12-month outcomes; columns documented in `FIELDS`.
- `monthly_payment_behaviour(frame, seed)`: 12 months of payment behaviour per loan.
- `to_application_json(row)`: one row as the nested application document of the decision API.
- `Shift`: population drift for model monitoring.

From lendstack it imports only the application schema (`lendstack.origination.schema`: the columns a
lender receives and their closed lists are declared there once), `invariants` and `errors`.
"""

from lendstack.sim.behaviour import STATUSES, monthly_payment_behaviour
from lendstack.sim.documents import to_application_json
from lendstack.sim.errors import SimArgumentError
from lendstack.sim.fields import FIELDS, FieldDoc
from lendstack.sim.generate import N_MAX, N_MIN, generate_applications
from lendstack.sim.shift import BASELINE, Shift
from lendstack.sim.tables import APPLICANT_TYPES, COLLATERALS, PURPOSES, REGIONS, SEGMENTS

__all__ = [
    "APPLICANT_TYPES",
    "BASELINE",
    "COLLATERALS",
    "FIELDS",
    "N_MAX",
    "N_MIN",
    "PURPOSES",
    "REGIONS",
    "SEGMENTS",
    "STATUSES",
    "FieldDoc",
    "Shift",
    "SimArgumentError",
    "generate_applications",
    "monthly_payment_behaviour",
    "to_application_json",
]
