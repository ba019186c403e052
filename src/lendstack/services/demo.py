"""The demo business: a seeded lender simulated day by day through the real code paths.

`run_business` is what `make demo` runs. Applications arrive from the simulator (a growing business:
a few a day, rising), are decided by the default policy and model (`decide_application`), approved
offers are accepted and disbursed, referred ones are resolved by a simulated credit officer a few
days later (the most recent stay in the queue), borrowers repay as the simulator says they will (on
time, late, early, or not at all), defaulted loans are written off at 180 days past due, post-loan
data arrives monthly, and end of day closes every day (with its early-warning and provision hooks).

Only the choices a person would make are simulated; every state change goes through the service
layer, so the book, the ledger, the audit trail and the events are exactly what production code
writes. Same seed → same book, to the minor unit.

The older, quicker sample book (loans booked directly, no decisions) that some tests use is
test code: `tests/sample_book.py`.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from lendstack.decisioning import Policy, ScoringModel, load_policy
from lendstack.errors import ErrorKind, LendstackError
from lendstack.fraud import MemoryFraudContext
from lendstack.money import Money
from lendstack.origination import parse_application
from lendstack.products import get_product
from lendstack.services import early_warning
from lendstack.services.decisions import accept_offer, assign_review, decide_application, resolve_review
from lendstack.services.eod import after_day, run_eod
from lendstack.services.loans import (
    disburse_loan,
    get_loan,
    prepay_loan,
    recover_loan,
    repay_loan,
    reverse_loan_payment,
    write_off_loan,
)
from lendstack.services.naming import NEW_LOAN_PREFIX
from lendstack.services.staff import CREDIT, DEMO_STAFF
from lendstack.servicing import Loan, ServicingError
from lendstack.servicing.balances import amount_due_minor
from lendstack.sim import generate_applications, monthly_payment_behaviour, to_application_json
from lendstack.store import Engine
from lendstack.store.decision_repo import DecisionRepository
from lendstack.store.demo_repo import DemoRepository

DEMO_START = date(2024, 11, 1)
DEMO_DAYS = 730
WRITE_OFF_DPD = 180
DAYS_MAX = 3_660
PER_DAY_MAX = 200.0  # applications a day: a demo, not a load test
APPLICATIONS_MAX = 200_000
BEHAVIOUR_MONTHS = 12  # the simulator's payment paths; later installments repeat the pattern
INGEST_BATCH_MAX = 5_000  # post-loan records per unit of work
TASKS_PER_DAY_MAX = 1_000_000  # a bound on one day's agenda: each task is one borrower's or officer's act
SWEEP_TRIES_MAX = 3  # extra payments to clear a penalty accrued on the day of the last installment
# Operations' busy days, deterministic by loan id (crc32, not hash(): the same every run):
BOUNCE_ONE_IN = 100  # a repayment bounces, is reversed three days later and paid again two days after
BOUNCE_REVERSE_LAG_DAYS = 3
BOUNCE_REPAY_LAG_DAYS = 2
RECOVERY_ONE_IN = 3  # a written-off loan's borrower pays part of the claim back, twice
RECOVERY_LAGS_DAYS = (45, 120)
RECOVERY_SHARE_PERCENT = 15
PARTNER_SHARE = 0.25  # applications brought by the demo partner (助贷渠道); the rest come direct
DEMO_PARTNER = "demo-partner"
ACCEPT_SHARE = 0.9  # borrowers who take an offer (the rest walk away)
PREPAY_SHARE = 0.1  # non-defaulting borrowers who repay early in full
DEMO_POLICY = "consumer_v1"  # what the API decides with when no policy is named
OFFICER = next(name for name, role, _ in DEMO_STAFF if role == CREDIT)

Progress = Callable[[date, "DemoReport"], None]


class DemoError(LendstackError):
    """A bad demo setting (invalid), or a database that already holds a book (conflict)."""


@dataclass(frozen=True)
class DemoConfig:
    days: int = DEMO_DAYS
    seed: int = 7
    start: date = DEMO_START
    per_day_start: float = 1.0  # expected applications a day on the first day ...
    per_day_end: float = 4.0  # ... rising linearly to this on the last
    backlog_days: int = 14  # referrals this recent are still in the review queue at the end
    write_off_dpd: int = WRITE_OFF_DPD

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def check(self) -> None:
        """Raise DemoError naming the first bad setting."""
        if not 1 <= self.days <= DAYS_MAX:
            raise DemoError("days", f"must be 1..{DAYS_MAX}, got {self.days}")
        if not 0 <= self.seed < 2**63:
            raise DemoError("seed", f"must be 0..2**63-1, got {self.seed}")
        for name in ("per_day_start", "per_day_end"):
            value = getattr(self, name)
            if not 0 <= value <= PER_DAY_MAX:
                raise DemoError(name, f"must be 0..{PER_DAY_MAX:g} applications a day, got {value}")
        if not 0 <= self.backlog_days <= self.days:
            raise DemoError("backlog_days", f"must be 0..days ({self.days}), got {self.backlog_days}")
        if not 1 <= self.write_off_dpd <= 720:
            raise DemoError("write_off_dpd", f"must be 1..720, got {self.write_off_dpd}")


@dataclass
class DemoReport:
    days: int = 0
    applications: int = 0
    approved: int = 0
    referred: int = 0
    declined: int = 0
    reviewed: int = 0
    review_queue: int = 0  # referrals left for the console's manual-review queue
    offers_accepted: int = 0
    loans_disbursed: int = 0
    repayments: int = 0
    late_repayments: int = 0
    prepayments: int = 0
    write_offs: int = 0
    recoveries: int = 0  # cash collected on written-off loans (核销后收回)
    reversals: int = 0  # payments that bounced and were reversed (冲正), then paid again
    loans_closed: int = 0
    post_loan_records: int = 0
    early_warning_runs: int = 0
    alerts_new: int = 0
    provisions_posted: int = 0
    start: date = DEMO_START
    end: date = DEMO_START
    live_loans: int = 0
    non_accrual_loans: int = 0  # live loans in non-accrual (停止计息) at the end

    def as_json(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in self.__dict__.items()}


# --------------------------------------------------------------------------- the plan (pure, seeded)


@dataclass(frozen=True)
class Applicant:
    """One simulated application and how its borrower behaves if it becomes a loan."""

    application_id: str
    arrives_on: date
    row: dict[str, Any]  # the simulator's row: the document, the hidden truth and the signals
    pay_status: tuple[str, ...]  # per month: on_time | late | missed (missed: stopped paying for good)
    days_late: tuple[int, ...]
    accepts: bool
    accept_lag_days: int
    review_lag_days: int
    prepay_installment: int  # 0: never prepays
    partner_id: str = ""  # the partner that brought the application ("" = direct)

    def document(self) -> dict[str, Any]:
        document = to_application_json(self.row) | {"applied_on": self.arrives_on.isoformat()}
        return document | {"partner_id": self.partner_id} if self.partner_id else document


def arrivals_per_day(config: DemoConfig) -> list[int]:
    """Applications arriving each day: Poisson around a rate rising linearly (a growing business)."""
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(1,)))
    ramp = np.linspace(config.per_day_start, config.per_day_end, config.days)
    counts = rng.poisson(ramp).astype(np.int64)
    assert counts.shape == (config.days,) and np.all(counts >= 0)
    return [int(c) for c in counts]


def plan_business(config: DemoConfig) -> list[Applicant]:
    """Every application of the run, in arrival order, with its borrower's behaviour."""
    config.check()
    counts = arrivals_per_day(config)
    total = sum(counts)
    if total == 0:
        return []
    if total > APPLICATIONS_MAX:
        raise DemoError("per_day_end", f"{total:,} applications is over the demo's {APPLICATIONS_MAX:,}")
    frame = generate_applications(total, seed=config.seed, as_of=config.end)
    paths = monthly_payment_behaviour(frame, config.seed)
    status = paths["status"].to_list()
    late = paths["days_late"].fill_null(0).to_list()
    rng = random.Random(config.seed)
    days = [config.start + timedelta(days=d) for d, c in enumerate(counts) for _ in range(c)]
    plan = []
    for k, row in enumerate(frame.iter_rows(named=True)):
        months = slice(k * BEHAVIOUR_MONTHS, (k + 1) * BEHAVIOUR_MONTHS)
        prepays = not row["default_12m"] and rng.random() < PREPAY_SHARE
        plan.append(Applicant(
            application_id=row["application_id"], arrives_on=days[k], row=row, pay_status=tuple(status[months]),
            days_late=tuple(int(x) for x in late[months]), accepts=rng.random() < ACCEPT_SHARE,
            accept_lag_days=rng.choice((0, 0, 0, 1, 2)), review_lag_days=rng.randint(1, 5),
            prepay_installment=rng.randint(4, 15) if prepays else 0,
            partner_id=DEMO_PARTNER if rng.random() < PARTNER_SHARE else "",
        ))
    return plan


def stress(applicant: Applicant, months_on_book: int) -> float:
    """0..1: how far into the run-up to default the borrower is (0 for a borrower who never defaults).
    Trouble shows in the post-loan data about three months before the first missed installment."""
    onset = applicant.row.get("months_to_default")
    if not applicant.row["default_12m"] or onset is None:
        return 0.0
    return float(min(1.0, max(0.0, (months_on_book - (int(onset) - 3)) / 3)))


def post_loan_records(applicant: Applicant, loan_id: str, as_of: date, months_on_book: int,
                      seed: int) -> list[dict[str, Any]]:
    """The month's post-loan data for one loan (POS revenue, tax, bureau refresh), from the simulator's
    signals at application, drifting with the borrower's stress. Seeded per (loan, month): order-free."""
    row, s = applicant.row, stress(applicant, months_on_book)
    rng = np.random.default_rng([seed, months_on_book, *loan_id.encode()[-12:]])
    out: list[dict[str, Any]] = []
    revenue_mean = row.get("revenue_mean_12m_minor")
    if revenue_mean:
        wobble = float(row.get("revenue_volatility") or 0.1) * 0.5
        revenue = int(max(0.0, revenue_mean * (1 + rng.normal(0, wobble)) * (1 - 0.6 * s)))
        cost = int(revenue * min(1.2, 0.7 + 0.1 * rng.random() + 0.3 * s))
        out.append(_record(loan_id, "pos", as_of, {"revenue_minor": revenue, "cost_minor": cost}))
    tax_paid = row.get("annual_tax_paid_minor")
    if tax_paid is not None:
        arrears = int(tax_paid // 12 * s * 2) if s > 0.5 else 0
        out.append(_record(loan_id, "tax", as_of, {"arrears_minor": arrears}))
    if row.get("inquiries_6m") is not None:
        out.append(_record(loan_id, "bureau", as_of, {
            "open_loans": int(row.get("open_loans_elsewhere") or 0) + (s > 0.3) + 2 * (s > 0.7),
            "inquiries_6m": int(row["inquiries_6m"]) + round(5 * s) + int(rng.random() < 0.1),
            "utilisation": round(min(1.0, max(0.0, 0.35 + rng.normal(0, 0.08) + 0.55 * s)), 4),
        }))
    return out


def _record(loan_id: str, source: str, as_of: date, payload: dict[str, Any]) -> dict[str, Any]:
    return {"loan_id": loan_id, "source": source, "as_of": as_of.isoformat(), "payload": payload}


# --------------------------------------------------------------------------- the run


@dataclass
class _Loan:
    """What the simulation remembers of a live loan: never money, only when to look at it again."""

    applicant: Applicant
    disbursed_on: date
    due_dates: list[date]
    sweeps: int = 0


@dataclass
class _Run:
    engine: Engine
    config: DemoConfig
    model: ScoringModel
    policy: Policy  # loaded once: parsing the YAML per application would cost more than deciding
    report: DemoReport
    fraud: MemoryFraudContext = field(default_factory=MemoryFraudContext)
    agenda: dict[date, list[tuple[str, str, int]]] = field(default_factory=dict)  # day → (task, id, n)
    applicants: dict[str, Applicant] = field(default_factory=dict)
    live: dict[str, _Loan] = field(default_factory=dict)

    def later(self, day: date, task: str, ident: str, n: int = 0) -> None:
        if day <= self.config.end:
            self.agenda.setdefault(day, []).append((task, ident, n))


def book_exists(engine: Engine) -> bool:
    with engine.connect() as conn:
        return DemoRepository(conn).book_exists()


def run_business(engine: Engine, config: DemoConfig | None = None, *, model: ScoringModel | None = None,
                 registry_dir: str | None = None, progress: Progress | None = None) -> DemoReport:
    """Simulate `config.days` of the lending business on an empty book; returns what happened."""
    cfg = config or DemoConfig()
    plan = plan_business(cfg)
    if book_exists(engine):
        raise DemoError("database", "already holds a book; the demo builds on an empty database",
                        kind=ErrorKind.CONFLICT)
    if model is None:
        from lendstack.services.models import scoring_model

        model = scoring_model(registry_dir)
    run = _Run(engine, cfg, model, load_policy(DEMO_POLICY), DemoReport(start=cfg.start, end=cfg.end))
    arriving = iter(plan)
    pending = next(arriving, None)
    for offset in range(cfg.days):
        day = cfg.start + timedelta(days=offset)
        while pending is not None and pending.arrives_on == day:
            _decide(run, pending, day)
            pending = next(arriving, None)
        _work_agenda(run, day)
        if _is_month_end(day):
            _ingest_month(run, day)
        _close_day(run, day)
        if progress:
            progress(day, run.report)
    run.report.review_queue = run.report.referred - run.report.reviewed
    run.report.live_loans = len(run.live)
    with engine.connect() as conn:
        run.report.non_accrual_loans = DemoRepository(conn).non_accrual_live_loans()
    return run.report


def _is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


def _close_day(run: _Run, day: date) -> None:
    """End of day; its after-loan hooks (early warning, the provision) run at month ends only, when the
    month's post-loan data has arrived: one early-warning run over ~800 live loans takes 1-2 s, so
    running it every simulated day would add ten minutes to the demo for little news."""
    eod = run_eod(run.engine, day, hooks=False)
    assert eod.days <= 1, "the simulation closes one day at a time"
    if _is_month_end(day):
        after_day(run.engine, day, eod)
    run.report.days += 1
    run.report.early_warning_runs += eod.early_warning_runs
    run.report.alerts_new += eod.alerts_new
    run.report.provisions_posted += eod.provisions_posted


def _work_agenda(run: _Run, day: date) -> None:
    tasks = run.agenda.pop(day, [])
    k = 0
    while k < len(tasks):  # a task may add another for today (an offer accepted at once)
        assert k < TASKS_PER_DAY_MAX, f"{day}: runaway agenda"
        task, ident, n = tasks[k]
        _TASKS[task](run, ident, n, day)
        k += 1
        tasks.extend(run.agenda.pop(day, []))


def _decide(run: _Run, applicant: Applicant, day: date) -> None:
    document = applicant.document()
    decision = decide_application(run.engine, document, policy=run.policy, model=run.model,
                                  fraud_context=run.fraud, today=day)
    run.fraud.add(parse_application(document, today=day))  # later applications see this one (velocity, rings)
    run.applicants[applicant.application_id] = applicant
    run.report.applications += 1
    if decision.outcome == "approve":
        run.report.approved += 1
        _offer_made(run, applicant, day)
    elif decision.outcome == "refer":
        run.report.referred += 1
        _queue_review(run, applicant, day)
    else:
        run.report.declined += 1


def _offer_made(run: _Run, applicant: Applicant, day: date) -> None:
    if applicant.accepts:
        run.later(day + timedelta(days=applicant.accept_lag_days), "accept", applicant.application_id)


def _queue_review(run: _Run, applicant: Applicant, day: date) -> None:
    """The officer works the queue a few days behind; the last `backlog_days` are still waiting."""
    cutoff = run.config.end - timedelta(days=run.config.backlog_days)
    when = day + timedelta(days=applicant.review_lag_days)
    if when <= cutoff:
        run.later(when, "review", applicant.application_id)


def _review(run: _Run, application_id: str, _n: int, day: date) -> None:
    with run.engine.connect() as conn:
        acting = DecisionRepository(conn).get(application_id)
    assert acting is not None, f"{application_id}: a referred application has its acting decision"
    stored = acting.decision
    applicant = run.applicants[application_id]
    assign_review(run.engine, application_id, OFFICER, by=OFFICER)
    action, note, counter = officer_choice(stored, applicant)
    resolve_review(run.engine, application_id, action, by=OFFICER, note=note, counter_offer=counter)
    run.report.reviewed += 1
    if action != "decline":
        _offer_made(run, applicant, day)


def officer_choice(decision: dict[str, Any], applicant: Applicant) -> tuple[str, str, dict[str, Any] | None]:
    """A credit officer's call on a referred application: approve the good risks, offer less to the
    middling ones, decline the rest (what the officer sees: the model's PD, the limit, the request)."""
    pd_model = float(decision["pd"])
    product = get_product(decision["product_id"])
    requested = int(applicant.row["requested_amount_minor"])
    limit = int(decision["limit_minor"])
    if pd_model < 0.06 and limit >= product.amount_min_minor:
        return "approve", "documents checked, income confirmed", None
    smaller = min(limit, requested) * 7 // 10 // 10_000 * 10_000  # 70 %, whole hundreds of yuan
    if pd_model < 0.15 and smaller >= product.amount_min_minor:
        term = min(max(int(applicant.row["requested_term_months"]), product.term_min), product.term_max)
        return "counter_offer", "approve a smaller amount", {
            "amount_minor": smaller, "term": term, "rate_annual": str(decision["rate_annual"])}
    return "decline", "risk too high for the amount asked", None


def _accept(run: _Run, application_id: str, _n: int, day: date) -> None:
    # Loan ids are random in a real book; the demo's come from its seed, so the same seed builds the same book.
    seeded = hashlib.sha256(f"demo-loan\x00{run.config.seed}\x00{application_id}".encode()).hexdigest()[:32]
    booked = accept_offer(run.engine, application_id, day, key=f"accept-{application_id}",
                          new_id=lambda: NEW_LOAN_PREFIX + seeded)
    loan_id = str(booked["loan_id"])
    disburse_loan(run.engine, loan_id, day, f"disburse-{loan_id}")
    loan = get_loan(run.engine, loan_id)  # read once: its due dates are all the simulation needs
    applicant = run.applicants[application_id]
    run.live[loan_id] = _Loan(applicant, day, [i.due_date for i in loan.installments])
    run.report.offers_accepted += 1
    run.report.loans_disbursed += 1
    _next_installment(run, loan_id, 1, day)
    if applicant.prepay_installment and applicant.prepay_installment < len(loan.installments):
        run.later(loan.installments[applicant.prepay_installment - 1].due_date + timedelta(days=5), "prepay", loan_id)


def _month_pattern(applicant: Applicant, seq: int) -> tuple[str, int]:
    """How the borrower treats installment `seq`: past the simulator's 12 months, a defaulter has
    stopped for good and anyone else repeats their pattern."""
    if seq <= BEHAVIOUR_MONTHS:
        return applicant.pay_status[seq - 1], applicant.days_late[seq - 1]
    if "missed" in applicant.pay_status:
        return "missed", 0
    k = (seq - 1) % BEHAVIOUR_MONTHS
    return applicant.pay_status[k], applicant.days_late[k]


def _next_installment(run: _Run, loan_id: str, seq: int, day: date) -> None:
    loan = run.live[loan_id]
    if seq > len(loan.due_dates):  # all paid but the loan is still live: a penalty accrued on the last day
        if loan.sweeps < SWEEP_TRIES_MAX:
            loan.sweeps += 1
            run.later(day + timedelta(days=1), "pay", loan_id, seq)
        return
    status, late_days = _month_pattern(loan.applicant, seq)
    due = loan.due_dates[seq - 1]
    if status == "missed":  # stops paying: looked at again only to write the loan off
        run.later(due + timedelta(days=run.config.write_off_dpd + 1), "write_off", loan_id)
        return
    run.later(max(day, due + timedelta(days=late_days if status == "late" else 0)), "pay", loan_id, seq)


def _pay(run: _Run, loan_id: str, seq: int, day: date) -> None:
    loan = run.live.get(loan_id)
    if loan is None:
        return  # prepaid or written off meanwhile
    as_of = loan.due_dates[seq - 1] if seq <= len(loan.due_dates) else day
    owed, currency = amount_due(run.engine, loan_id, as_of)
    if owed > 0:
        done = repay_loan(run.engine, loan_id, day, Money(owed, currency), f"pay-{loan_id}-{seq}")
        run.report.repayments += 1
        run.report.late_repayments += day > as_of
        if done["status"] not in ("active", "overdue"):
            _left_book(run, loan_id)
            return
        if one_in(f"{loan_id}/{seq}", BOUNCE_ONE_IN):
            run.later(day + timedelta(days=BOUNCE_REVERSE_LAG_DAYS), "bounce", loan_id, seq)
    _next_installment(run, loan_id, seq + 1, day)


def one_in(ident: str, n: int) -> bool:
    """Deterministically true for about one id in `n`."""
    return zlib.crc32(ident.encode()) % n == 0


def _bounce(run: _Run, loan_id: str, seq: int, day: date) -> None:
    """The bank returns installment `seq`'s payment unpaid: operations reverse it (dated today, the
    days since replayed); the borrower pays again a couple of days later."""
    if loan_id not in run.live:
        return
    try:
        reverse_loan_payment(run.engine, loan_id, f"{loan_id}/repay/pay-{loan_id}-{seq}", day,
                             f"bounce-{loan_id}-{seq}", "returned unpaid by the bank 银行退票")
    except ServicingError:
        return  # a later payment relied on it (e.g. it paid the loan off): operations leave it
    run.report.reversals += 1
    run.later(day + timedelta(days=BOUNCE_REPAY_LAG_DAYS), "pay_again", loan_id, seq)


def _pay_again(run: _Run, loan_id: str, seq: int, day: date) -> None:
    """After a bounce: what is due today, paid once (the installment schedule goes on as before)."""
    loan = run.live.get(loan_id)
    if loan is None:
        return
    owed, currency = amount_due(run.engine, loan_id, day)
    if owed > 0:
        done = repay_loan(run.engine, loan_id, day, Money(owed, currency), f"pay-{loan_id}-{seq}-again")
        run.report.repayments += 1
        if done["status"] not in ("active", "overdue"):
            _left_book(run, loan_id)


def _recover(run: _Run, loan_id: str, _n: int, day: date) -> None:
    """Collections brings back part of a written-off claim (核销后收回)."""
    loan = get_loan(run.engine, loan_id)
    amount = loan.claim_after_write_off_minor * RECOVERY_SHARE_PERCENT // 100
    if amount <= 0:
        return
    recover_loan(run.engine, loan_id, day, Money(amount, loan.currency), f"recover-{loan_id}-{day.isoformat()}")
    run.report.recoveries += 1


def _left_book(run: _Run, loan_id: str) -> None:
    del run.live[loan_id]
    run.report.loans_closed += 1


def _prepay(run: _Run, loan_id: str, _n: int, day: date) -> None:
    if loan_id not in run.live:
        return
    loan = get_loan(run.engine, loan_id)
    if not loan.is_live or loan.days_past_due > 0:
        return  # a borrower in arrears does not prepay
    if not may_prepay(loan, day):
        return  # too early for the product's prepayment rule: the borrower keeps paying monthly
    payoff = amount_due_minor(loan, day) + loan.principal_outstanding_minor * 11 // 10  # covers interest and fee
    try:
        prepay_loan(run.engine, loan_id, day, Money(payoff, loan.currency), f"prepay-{loan_id}", full=True)
    except ServicingError:
        return  # e.g. the last installment is already due: ordinary repayments close the loan
    run.report.prepayments += 1
    _left_book(run, loan_id)


def _write_off(run: _Run, loan_id: str, _n: int, day: date) -> None:
    if loan_id not in run.live:
        return
    with run.engine.connect() as conn:
        row = DemoRepository(conn).loan_age(loan_id)
    if row.status not in ("active", "overdue"):
        run.live.pop(loan_id)
        return
    if row.days_past_due < run.config.write_off_dpd:  # paid something meanwhile: look again when it could be due
        run.later(day + timedelta(days=run.config.write_off_dpd - row.days_past_due), "write_off", loan_id)
        return
    write_off_loan(run.engine, loan_id, day, f"write-off-{loan_id}")
    run.report.write_offs += 1
    del run.live[loan_id]
    if one_in(loan_id, RECOVERY_ONE_IN):
        for lag in RECOVERY_LAGS_DAYS:
            run.later(day + timedelta(days=lag), "recover", loan_id)


_TASKS: dict[str, Callable[[_Run, str, int, date], None]] = {
    "review": _review, "accept": _accept, "pay": _pay, "prepay": _prepay, "write_off": _write_off,
    "bounce": _bounce, "pay_again": _pay_again, "recover": _recover,
}


def _ingest_month(run: _Run, day: date) -> None:
    records: list[dict[str, Any]] = []
    for loan_id, loan in run.live.items():
        months = (day.year - loan.disbursed_on.year) * 12 + day.month - loan.disbursed_on.month
        if months >= 1:
            records.extend(post_loan_records(loan.applicant, loan_id, day, months, run.config.seed))
    for batch in _batches(records, INGEST_BATCH_MAX):
        run.report.post_loan_records += early_warning.ingest_batch(run.engine, batch).stored


def _batches(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    assert size > 0
    for k in range(0, len(items), size):
        yield items[k:k + size]


def amount_due(engine: Engine, loan_id: str, as_of: date) -> tuple[int, str]:
    """What is due by `as_of` and unpaid, with penalty and net of suspense, read without loading the loan."""
    with engine.connect() as conn:
        due = DemoRepository(conn).amount_due(loan_id, as_of)
    return due.amount_minor, due.currency


def may_prepay(loan: Loan, on: date) -> bool:
    """The product's prepayment rule (prepayment.min_periods_before): prepayment allowed, and that
    many installments fallen due by `on`. A simulated borrower keeps to it rather than be refused."""
    fallen_due = sum(1 for i in loan.installments if i.due_date <= on)
    return loan.terms.prepayment_allowed and fallen_due >= loan.terms.prepayment_min_periods


def decision_mix(engine: Engine) -> dict[str, int]:
    """Acting decisions by outcome."""
    with engine.connect() as conn:
        return DemoRepository(conn).decision_mix()
