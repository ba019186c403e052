"""A small real book for the report tests, built only through the service layer: 40 simulated
applications decided (half in a split champion/challenger experiment, half in shadow mode),
the approved offers accepted and disbursed, then four behaviours by PD rank:

- current: pays every installment on its due date (live, M0);
- prepaid: pays its first three installments on their due dates, then repays in full on day 95
  (the product allows prepayment once three installments have fallen due; closed: matured, good);
- written off: never pays, written off on day 95 (matured, bad);
- late: never pays (live, overdue, not yet matured).

The facts a test checks against are recorded here, independently of the reporting code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from lendstack.decisioning import Experiment, load_policy
from lendstack.money import Money
from lendstack.services.decisions import Engines, accept_offer, decide_application
from lendstack.services.eod import run_eod
from lendstack.services.loans import disburse_loan, get_loan, prepay_loan, repay_loan, write_off_loan
from lendstack.services.models import scoring_model
from lendstack.servicing import Loan
from lendstack.sim import generate_applications, to_application_json

D0 = date(2026, 1, 5)
AS_OF = D0 + timedelta(days=100)
LAST_ACTS = D0 + timedelta(days=95)  # the write-offs and the prepayments
APPLICATIONS = 40
BEHAVIOURS = ("current", "prepaid", "written_off", "late")


@dataclass
class BookFacts:
    engine: Engine
    registry: Path
    model_version: str
    decided: list[dict[str, Any]] = field(default_factory=list)  # acting: application_id, outcome, pd, gender, arm
    behaviour: dict[str, str] = field(default_factory=dict)  # loan_id → behaviour
    application_of: dict[str, str] = field(default_factory=dict)  # loan_id → application_id (loan ids are random)


def documents() -> list[dict[str, Any]]:
    sample = generate_applications(APPLICATIONS, seed=21)
    docs = []
    for i in range(sample.height):
        doc = to_application_json(sample.row(i, named=True))
        doc["applied_on"] = (D0 - timedelta(days=i % 30)).isoformat()  # a recent intake
        docs.append(doc)
    return docs


def build_book(engine: Engine, registry: Path) -> BookFacts:
    model = scoring_model(registry)
    facts = BookFacts(engine, registry, model.version)
    v1, v2 = load_policy("consumer_v1"), load_policy("consumer_v2")
    split = Engines(v1, model, challenger_policy=v2, experiment=Experiment("split-test", 0.5))
    shadow = Engines(v1, model, challenger_policy=v2, experiment=Experiment("shadow-test", 1.0, mode="shadow"))
    for i, doc in enumerate(documents()):
        decision = decide_application(engine, doc, engines=split if i < APPLICATIONS // 2 else shadow, today=D0)
        facts.decided.append({"application_id": decision.application_id, "outcome": decision.outcome,
                              "pd": float(decision.pd), "gender": doc["applicant"]["gender"],
                              "rate_annual": float(decision.rate_annual),
                              "arm": _arm(split, decision.application_id) if i < APPLICATIONS // 2 else "champion"})
    approved = sorted((d for d in facts.decided if d["outcome"] == "approve"), key=lambda d: d["pd"])
    assert len(approved) >= 8, f"the sample approves too few: {len(approved)}"
    for rank, d in enumerate(approved):
        loan_id = str(accept_offer(engine, d["application_id"], D0, f"accept-{d['application_id']}")["loan_id"])
        facts.application_of[loan_id] = d["application_id"]
        disburse_loan(engine, loan_id, D0, f"disburse-{loan_id}")
        facts.behaviour[loan_id] = BEHAVIOURS[rank % len(BEHAVIOURS)]
    _live_through(facts)
    return facts


def _arm(setup: Engines, application_id: str) -> str:
    from lendstack.decisioning import assign

    assert setup.experiment is not None
    return assign(setup.experiment, application_id)


def _live_through(facts: BookFacts) -> None:
    """EOD (hooks off: they have their own tests) with each behaviour's actions on its days: every
    command is dated on the business date, end of day closing the days in between."""
    engine = facts.engine
    for month in (1, 2, 3):
        due = _add_months(D0, month)
        run_eod(engine, due - timedelta(days=1), hooks=False)
        for loan_id in _with(facts, "current", "prepaid"):
            loan = get_loan(engine, loan_id)
            owed = _owed(loan, due)
            if owed:
                repay_loan(engine, loan_id, due, Money(owed, loan.currency), f"pay-{loan_id}-{month}")
    run_eod(engine, LAST_ACTS - timedelta(days=1), hooks=False)
    for loan_id in _with(facts, "written_off"):
        write_off_loan(engine, loan_id, LAST_ACTS, f"write-off-{loan_id}")
    for loan_id in _with(facts, "prepaid"):
        loan = get_loan(engine, loan_id)
        assert loan.days_past_due == 0 and loan.terms.prepayment_min_periods <= 3, loan_id
        payoff = loan.principal_outstanding_minor * 2  # more than enough: the rest stays as suspense
        done = prepay_loan(engine, loan_id, LAST_ACTS, Money(payoff, loan.currency), f"prepay-{loan_id}", full=True)
        assert done["status"] == "closed", loan_id
    run_eod(engine, AS_OF, hooks=False)


def _owed(loan: Loan, day: date) -> int:
    """Unpaid principal, interest and fee due by `day`, plus penalty, net of suspense."""
    unpaid = sum(i.unpaid(c) for i in loan.installments if i.due_date <= day for c in ("principal", "interest", "fee"))
    return max(0, unpaid + loan.penalty_receivable_minor - loan.suspense_minor) if unpaid else 0


def _with(facts: BookFacts, *behaviours: str) -> list[str]:
    return sorted(k for k, v in facts.behaviour.items() if v in behaviours)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1)
