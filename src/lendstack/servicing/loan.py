"""The loan account: immutable values. Commands (commands.py) and EOD (eod.py) return new ones.

Amounts are integer minor units. A loan's sub-ledger lives here as counters (disbursed, repaid,
accrued, paid, ...); the ledger holds the same numbers as postings, and the two must agree
(`expected_balances` is what the ledger must show for the loan).

What the borrower owes (`interest_receivable_minor`, ...) is contractual. Where the books carry it
depends on accrual: a loan in non-accrual (停止计息) carries its unpaid interest and penalty off the
balance sheet, on memo accounts, and none of it on the receivables (see `income.py`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from lendstack.invariants import InvariantError, check
from lendstack.ledger import DEFAULT_FUNDER, AccountCode, BalanceKey
from lendstack.money import DayCount, RoundingMode
from lendstack.servicing.aging import FiveTier


class LoanStatus(StrEnum):
    APPROVED = "approved"  # booked, not yet disbursed
    ACTIVE = "active"  # disbursed, nothing past due
    OVERDUE = "overdue"  # something past due (DPD > 0)
    CLOSED = "closed"  # everything repaid
    WRITTEN_OFF = "written_off"  # 核销: what was left is an expense


LIVE_STATUSES = (LoanStatus.ACTIVE, LoanStatus.OVERDUE)
COMPONENTS = ("penalty", "fee", "interest", "principal")


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """What servicing needs of the product, copied at booking so later product edits cannot
    change a signed contract."""

    product_id: str
    currency: str
    rate_annual: Decimal
    penalty_rate_ppm: int  # 罚息 annual rate, e.g. 1.5 × contract rate, in ppm (exact)
    penalty_on_interest: bool
    grace_days: int
    day_count: DayCount
    rounding: RoundingMode
    allocation_order: tuple[str, ...]  # a permutation of COMPONENTS
    prepayment_allowed: bool
    prepayment_mode: str  # "reduce_installment" | "reduce_term"
    prepayment_fee_rate: Decimal
    schedule_method: str
    frequency: str
    periodic_fee_rate: Decimal
    # Installments that must have fallen due before a prepayment is accepted (product rule).
    prepayment_min_periods: int = 0

    def __post_init__(self) -> None:
        if sorted(self.allocation_order) != sorted(COMPONENTS):
            raise InvariantError(self.allocation_order)
        check(0 <= self.grace_days <= 60 and self.penalty_rate_ppm >= 0, "grace days in 0..60, penalty rate >= 0")
        check(0 <= self.prepayment_min_periods <= 600, "prepayment minimum periods in 0..600")


@dataclass(frozen=True, slots=True)
class Installment:
    seq: int
    period_start: date
    due_date: date
    principal_minor: int
    interest_minor: int
    fee_minor: int
    principal_paid_minor: int = 0
    interest_paid_minor: int = 0
    fee_paid_minor: int = 0
    # Unpaid parts were capitalized into principal by a restructure: no longer due here.
    capitalized: bool = False

    def __post_init__(self) -> None:
        if self.due_date < self.period_start:
            raise InvariantError((self.seq, self.period_start, self.due_date))
        for name in ("principal", "interest", "fee"):
            due = getattr(self, f"{name}_minor")
            paid = getattr(self, f"{name}_paid_minor")
            if not 0 <= paid <= due:
                raise InvariantError((self.seq, name, paid, due))

    def unpaid(self, component: str) -> int:
        if self.capitalized:
            return 0
        return int(getattr(self, f"{component}_minor")) - int(getattr(self, f"{component}_paid_minor"))

    @property
    def is_open(self) -> bool:
        return not self.capitalized and any(self.unpaid(c) > 0 for c in ("principal", "interest", "fee"))


@dataclass(frozen=True, slots=True)
class Loan:
    loan_id: str
    terms: LoanTerms
    principal_minor: int  # contract amount
    status: LoanStatus
    term: int = 0  # number of periods contracted
    upfront_fee_minor: int = 0  # billed with the first installment (never deducted: 砍头息 is banned)
    periodic_fee_minor: int = 0
    funder_id: str = DEFAULT_FUNDER
    line_id: str = ""  # the credit line a tranche was drawn from ('' for a stand-alone loan)
    booked_on: date | None = None  # the business date of the booking (None: booked before it was kept)
    disbursed_on: date | None = None
    # The contract's day of month: monthly due dates fall on it (clamped to the month's end), also
    # after a prepayment or a restructure rebuilds the schedule. 0 until disbursed.
    due_day: int = 0
    installments: tuple[Installment, ...] = ()
    principal_disbursed_minor: int = 0
    principal_capitalized_minor: int = 0  # arrears turned into principal by a restructure
    principal_repaid_minor: int = 0
    principal_written_off_minor: int = 0
    interest_accrued_minor: int = 0
    interest_paid_minor: int = 0
    interest_written_off_minor: int = 0
    interest_capitalized_minor: int = 0
    fee_charged_minor: int = 0
    fee_paid_minor: int = 0
    fee_written_off_minor: int = 0
    fee_capitalized_minor: int = 0
    penalty_accrued_minor: int = 0
    penalty_paid_minor: int = 0
    penalty_written_off_minor: int = 0
    penalty_capitalized_minor: int = 0
    suspense_minor: int = 0  # overpayment held for the borrower
    # Non-accrual (停止计息): unpaid interest and penalty are carried on memo accounts, not as income.
    non_accrual: bool = False
    # Interest and penalty of a non-accrual loan that a restructure turned into principal: part of the
    # principal, not yet earned (contra account 1306); recognised as cash covers it or accrual resumes.
    unearned_minor: int = 0
    recovered_minor: int = 0  # cash collected after write-off 核销后收回
    accrued_through: date | None = None  # last day EOD closed for this loan
    days_past_due: int = 0
    bucket: str = "M0"
    five_tier: FiveTier = FiveTier.NORMAL
    restructure_count: int = 0
    # Restructured-loan observation (重组观察期): the class is at least `observation_floor` until
    # `observation_end` passes with no arrears; `observation_missed`: arrears since it began.
    observation_floor: FiveTier = FiveTier.NORMAL
    observation_end: date | None = None
    observation_missed: bool = False
    # Bumped by every change; the store uses it for optimistic locking. Not part of equality:
    # two paths that reach the same state in a different number of steps give equal loans.
    version: int = dataclasses.field(default=0, compare=False)

    def __post_init__(self) -> None:
        check_loan_invariants(self)

    @property
    def currency(self) -> str:
        return self.terms.currency

    @property
    def principal_outstanding_minor(self) -> int:
        return (
            self.principal_disbursed_minor
            + self.principal_capitalized_minor
            - self.principal_repaid_minor
            - self.principal_written_off_minor
        )

    @property
    def interest_receivable_minor(self) -> int:
        return (
            self.interest_accrued_minor
            - self.interest_paid_minor
            - self.interest_written_off_minor
            - self.interest_capitalized_minor
        )

    @property
    def fee_receivable_minor(self) -> int:
        return self.fee_charged_minor - self.fee_paid_minor - self.fee_written_off_minor - self.fee_capitalized_minor

    @property
    def penalty_receivable_minor(self) -> int:
        return (
            self.penalty_accrued_minor
            - self.penalty_paid_minor
            - self.penalty_written_off_minor
            - self.penalty_capitalized_minor
        )

    @property
    def interest_on_balance_minor(self) -> int:
        """Interest receivable the balance sheet carries (1311): none in non-accrual."""
        return 0 if self.non_accrual else self.interest_receivable_minor

    @property
    def interest_memo_minor(self) -> int:
        """Interest owed but carried off-balance (9011): all of it in non-accrual."""
        return self.interest_receivable_minor if self.non_accrual else 0

    @property
    def penalty_on_balance_minor(self) -> int:
        return 0 if self.non_accrual else self.penalty_receivable_minor

    @property
    def penalty_memo_minor(self) -> int:
        return self.penalty_receivable_minor if self.non_accrual else 0

    @property
    def written_off_minor(self) -> int:
        """Everything written off: principal, interest, fee and penalty, on and off balance."""
        return (self.principal_written_off_minor + self.interest_written_off_minor + self.fee_written_off_minor
                + self.penalty_written_off_minor)

    @property
    def claim_after_write_off_minor(self) -> int:
        """A written-off claim still pursued (9101): written off less recovered."""
        return self.written_off_minor - self.recovered_minor

    @property
    def in_observation(self) -> bool:
        return self.observation_end is not None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    def evolve(self, **changes: object) -> Loan:
        """A copy with changes and the version bumped; invariants are re-checked."""
        return dataclasses.replace(self, version=self.version + 1, **changes)  # type: ignore[arg-type]


def check_loan_invariants(loan: Loan) -> None:
    """Check what must hold for every loan at every moment (a failure is a bug, not bad input)."""
    check(loan.principal_outstanding_minor >= 0, loan.loan_id)
    if loan.interest_receivable_minor < 0:
        raise InvariantError((loan.loan_id, loan.interest_receivable_minor))
    check(loan.fee_receivable_minor >= 0, loan.loan_id)
    check(loan.penalty_receivable_minor >= 0, loan.loan_id)
    check(loan.suspense_minor >= 0, loan.loan_id)
    if not 0 <= loan.due_day <= 31:
        raise InvariantError(loan.due_day)
    if not 0 <= loan.recovered_minor <= loan.written_off_minor:
        raise InvariantError((loan.loan_id, loan.recovered_minor))
    check(loan.recovered_minor == 0 or loan.status is LoanStatus.WRITTEN_OFF, loan.loan_id)
    # Unearned capitalised interest is part of the principal: never more than what is outstanding.
    if not 0 <= loan.unearned_minor <= loan.principal_outstanding_minor:
        raise InvariantError((loan.loan_id, loan.unearned_minor))
    check(loan.unearned_minor == 0 or loan.is_live, loan.loan_id)
    check(not loan.non_accrual or loan.is_live, "only a live loan is in non-accrual")
    check((loan.observation_end is None) == (loan.observation_floor is FiveTier.NORMAL), loan.loan_id)
    check(not loan.observation_missed or loan.observation_end is not None, loan.loan_id)
    if not loan.installments:
        return
    seqs = [i.seq for i in loan.installments]
    check(seqs == list(range(1, len(seqs) + 1)), "installments are numbered 1..n in order")
    paid = sum(i.principal_paid_minor for i in loan.installments)
    if paid != loan.principal_repaid_minor:
        raise InvariantError((loan.loan_id, paid, loan.principal_repaid_minor))
    scheduled = sum(i.principal_minor for i in loan.installments if not i.capitalized) + sum(
        i.principal_paid_minor for i in loan.installments if i.capitalized
    )
    # Every unit of principal owed is scheduled exactly once (capitalized installments keep
    # only what was paid on them; their unpaid principal moved to the new schedule).
    owed = loan.principal_disbursed_minor + loan.principal_capitalized_minor - loan.principal_written_off_minor
    if scheduled != owed and loan.status is not LoanStatus.WRITTEN_OFF:
        raise InvariantError((loan.loan_id, scheduled))


# The accounts whose per-loan balance the loan's counters fully determine (its sub-ledger). Cash,
# income, expense and the loss allowance (set by provisions) are the other side.
SUBLEDGER_CODES = (
    AccountCode.LOAN_PRINCIPAL, AccountCode.INTEREST_RECEIVABLE, AccountCode.FEE_RECEIVABLE,
    AccountCode.PENALTY_RECEIVABLE, AccountCode.SUSPENSE, AccountCode.UNEARNED_CAPITALISED,
    AccountCode.MEMO_INTEREST, AccountCode.MEMO_PENALTY, AccountCode.MEMO_WRITTEN_OFF, AccountCode.MEMO_CONTRA,
)


def expected_balances(loan: Loan) -> dict[BalanceKey, int]:
    """The debit-positive balances the ledger must hold for this loan on its sub-ledger accounts."""
    c, f, lid = loan.currency, loan.funder_id, loan.loan_id
    claim = loan.claim_after_write_off_minor if loan.status is LoanStatus.WRITTEN_OFF else 0
    memo = loan.interest_memo_minor + loan.penalty_memo_minor + claim
    pairs = {
        AccountCode.LOAN_PRINCIPAL: loan.principal_outstanding_minor,
        AccountCode.INTEREST_RECEIVABLE: loan.interest_on_balance_minor,
        AccountCode.FEE_RECEIVABLE: loan.fee_receivable_minor,
        AccountCode.PENALTY_RECEIVABLE: loan.penalty_on_balance_minor,
        AccountCode.SUSPENSE: -loan.suspense_minor,
        AccountCode.UNEARNED_CAPITALISED: -loan.unearned_minor,
        AccountCode.MEMO_INTEREST: loan.interest_memo_minor,
        AccountCode.MEMO_PENALTY: loan.penalty_memo_minor,
        AccountCode.MEMO_WRITTEN_OFF: claim,
        AccountCode.MEMO_CONTRA: -memo,
    }
    check(set(pairs) == set(SUBLEDGER_CODES), "one balance per subledger account")
    return {BalanceKey(code, c, f, lid): amount for code, amount in pairs.items() if amount != 0}
