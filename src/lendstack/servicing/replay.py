"""Reversal (冲正) by replay: undo a repayment that bounced or was misapplied, even after later days
were closed, without touching a closed day.

Every servicing command a loan takes is logged (`LoanCommand`, stored by the service layer in the
same transaction as its effects). A loan is then a pure function of its log and the days end of
day closed: `replay` books it again from its booking, applying each command on its date and closing
each day with the reference end of day. Reversing a payment:
1. replays the whole log and checks it gives the stored loan (else the history is not trustworthy
   and nothing is done);
2. replays the log without the payment: the loan as if the payment never happened, installments
   re-opened, DPD, penalty, non-accrual and classification recomputed for every day since;
3. posts, dated today, the exact reversal of the payment's entry (Dr cash back out, the
   receivables it paid re-opened) and one correcting entry with what the days since then change
   (penalty and interest not charged, suspense applications that did not happen, ...), so that the
   loan's accounts equal the replay's to the minor unit. Past days keep their entries: a balance
   as of a closed day is never rewritten. Fineract calls this reverse-replay.

A later command that no longer applies without the payment (a prepayment it funded, a refund of
suspense it created) makes the reversal refuse, naming it: reverse that one first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from lendstack.invariants import InvariantError, check
from lendstack.ledger import BalanceKey, EntryKind, JournalEntry, Posting, reversal_of
from lendstack.ledger.entries import POSTINGS_PER_ENTRY_MAX
from lendstack.money import Money
from lendstack.servicing.aging import DEFAULT_AGING, AgingPolicy
from lendstack.servicing.commands import disburse, prepay, repay, write_off
from lendstack.servicing.eod import eod_one
from lendstack.servicing.errors import ServicingError
from lendstack.servicing.loan import Loan, LoanStatus, LoanTerms
from lendstack.servicing.outcome import Outcome, event
from lendstack.servicing.recovery import recover
from lendstack.servicing.refund import refund
from lendstack.servicing.restructure import restructure

REPLAY_DAYS_MAX = 20_000  # a 50-year mortgage is ~18,300 days: longer is a corrupt history
COMMANDS_PER_LOAN_MAX = 100_000
REVERSIBLE = ("repay", "prepay")
KINDS = ("book", "disburse", "repay", "prepay", "refund", "restructure", "write_off", "recover", "reverse")


@dataclass(frozen=True, slots=True)
class LoanCommand:
    """One entry of a loan's servicing log. `params` is JSON-ready; `entry_id` names the command's
    main journal entry ('' when it posts none); `reversed_by` is the key of the reversal undoing it."""

    loan_id: str
    seq: int
    kind: str
    on: date
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    entry_id: str = ""
    reversed_by: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvariantError(self.kind)
        if self.seq < 1:
            raise InvariantError(self.seq)


# --- the terms as JSON (the log keeps the contract as booked; a restructure changes it later) -----


def terms_to_json(terms: LoanTerms) -> dict[str, Any]:
    return {
        "product_id": terms.product_id, "currency": terms.currency, "rate_annual": str(terms.rate_annual),
        "penalty_rate_ppm": terms.penalty_rate_ppm, "penalty_on_interest": terms.penalty_on_interest,
        "grace_days": terms.grace_days, "day_count": terms.day_count.value, "rounding": terms.rounding.value,
        "allocation_order": list(terms.allocation_order), "prepayment_allowed": terms.prepayment_allowed,
        "prepayment_mode": terms.prepayment_mode, "prepayment_fee_rate": str(terms.prepayment_fee_rate),
        "schedule_method": terms.schedule_method, "frequency": terms.frequency,
        "periodic_fee_rate": str(terms.periodic_fee_rate), "prepayment_min_periods": terms.prepayment_min_periods,
    }


def terms_from_json(data: Mapping[str, Any]) -> LoanTerms:
    from lendstack.money import DayCount, RoundingMode

    return LoanTerms(
        product_id=data["product_id"], currency=data["currency"], rate_annual=Decimal(data["rate_annual"]),
        penalty_rate_ppm=int(data["penalty_rate_ppm"]), penalty_on_interest=bool(data["penalty_on_interest"]),
        grace_days=int(data["grace_days"]), day_count=DayCount(data["day_count"]),
        rounding=RoundingMode(data["rounding"]), allocation_order=tuple(data["allocation_order"]),
        prepayment_allowed=bool(data["prepayment_allowed"]), prepayment_mode=data["prepayment_mode"],
        prepayment_fee_rate=Decimal(data["prepayment_fee_rate"]), schedule_method=data["schedule_method"],
        frequency=data["frequency"], periodic_fee_rate=Decimal(data["periodic_fee_rate"]),
        prepayment_min_periods=int(data.get("prepayment_min_periods", 0)),
    )


def booking_params(loan: Loan) -> dict[str, Any]:
    """What the log keeps of a booking: enough to rebuild the approved loan exactly."""
    if loan.status is not LoanStatus.APPROVED:
        raise InvariantError(loan.status)
    return {"terms": terms_to_json(loan.terms), "principal_minor": loan.principal_minor, "term": loan.term,
            "upfront_fee_minor": loan.upfront_fee_minor, "periodic_fee_minor": loan.periodic_fee_minor,
            "funder_id": loan.funder_id, "line_id": loan.line_id}


def approved_loan(command: LoanCommand) -> Loan:
    if command.kind != "book":
        raise InvariantError(command.kind)
    p = command.params
    return Loan(loan_id=command.loan_id, terms=terms_from_json(p["terms"]), principal_minor=int(p["principal_minor"]),
                status=LoanStatus.APPROVED, term=int(p["term"]), upfront_fee_minor=int(p["upfront_fee_minor"]),
                periodic_fee_minor=int(p["periodic_fee_minor"]), funder_id=str(p["funder_id"]),
                line_id=str(p["line_id"]), booked_on=command.on)


# --- replay --------------------------------------------------------------------------------------


def apply_command(loan: Loan, command: LoanCommand, aging: AgingPolicy) -> Outcome:
    """The command again, as it ran (its checks against the product were made the first time)."""
    p, on, key = command.params, command.on, command.key
    kind = command.kind
    if kind == "disburse":
        first_due = p.get("first_due_date")
        return disburse(loan, on, key, date.fromisoformat(first_due) if first_due else None)
    if kind in ("repay", "prepay", "recover"):
        amount = Money(int(p["amount_minor"]), str(p["currency"]))
        if kind == "repay":
            return repay(loan, on, amount, key)
        if kind == "prepay":
            return prepay(loan, on, amount, key, full=bool(p.get("full", False)))
        return recover(loan, on, amount, key)
    if kind == "refund":
        return refund(loan, int(p["amount_minor"]), on, key, currency=str(p["currency"]))
    if kind == "restructure":
        rate = p.get("rate_annual")
        return restructure(loan, on, int(p["term"]), key, rate_annual=rate, policy=aging)
    if kind == "write_off":
        return write_off(loan, on, key, allowance_minor=int(p.get("allowance_minor", 0)))
    if kind != "reverse":
        raise InvariantError(kind)
    return Outcome(loan)  # a reversal acts by excluding its target from the replay


def replay(
    commands: Sequence[LoanCommand], business_date: date, *, skip: frozenset[int] = frozenset(),
    aging: AgingPolicy = DEFAULT_AGING,
) -> tuple[Loan, list[JournalEntry]]:
    """The loan and every entry it would have from its log: each day's commands in log order, then
    that day's end of day, for every day before `business_date`; commands of the business date last.
    Commands whose seq is in `skip`, and reversed ones, are left out."""
    check(bool(commands) and commands[0].kind == "book", "a log starts with the booking")
    check(len(commands) <= COMMANDS_PER_LOAN_MAX, "a loan's log is bounded")
    by_day: dict[date, list[LoanCommand]] = defaultdict(list)
    for command in commands[1:]:
        if command.seq not in skip and not command.reversed_by:
            by_day[command.on].append(command)
    loan, entries = approved_loan(commands[0]), list[JournalEntry]()
    day = commands[0].on
    for _ in range(REPLAY_DAYS_MAX):
        for command in sorted(by_day.get(day, ()), key=lambda c: c.seq):
            loan, entries = _apply(loan, command, aging, entries)
        if day >= business_date:
            return loan, entries
        out = eod_one(loan, day, aging)
        loan, entries = out.loan, entries + list(out.entries)
        day += timedelta(days=1)
    raise ServicingError("loan_id", f"{loan.loan_id}: more than {REPLAY_DAYS_MAX} days to replay")


def _apply(loan: Loan, command: LoanCommand, aging: AgingPolicy,
           entries: list[JournalEntry]) -> tuple[Loan, list[JournalEntry]]:
    try:
        out = apply_command(loan, command, aging)
    except ServicingError as exc:
        advice = "reverse that one first" if command.kind in REVERSIBLE else "it needs this payment"
        raise ServicingError("entry_id", f"the later {command.kind} of {command.on} (key {command.key}) would no "
                                         f"longer apply ({exc.field}: {exc.message}); {advice}") from exc
    return out.loan, entries + list(out.entries)


# --- reversal ------------------------------------------------------------------------------------


def target_of(commands: Sequence[LoanCommand], entry_id: str) -> LoanCommand:
    """The payment whose main entry is `entry_id`, or ServicingError naming entry_id."""
    found = [c for c in commands if c.entry_id == entry_id and entry_id]
    if not found:
        raise ServicingError("entry_id", f"{entry_id!r} is not the entry of a command of this loan")
    target = found[0]
    if target.kind not in REVERSIBLE:
        raise ServicingError("entry_id", f"{entry_id!r} is a {target.kind}; only repayments and prepayments "
                                         "can be reversed")
    if target.reversed_by:
        raise ServicingError("entry_id", f"{entry_id!r} was already reversed (key {target.reversed_by})")
    return target


def balances_of(entries: Sequence[JournalEntry]) -> dict[BalanceKey, int]:
    out: dict[BalanceKey, int] = defaultdict(int)
    for e in entries:
        for p in e.postings:
            out[p.key] += p.amount_minor
    return {k: v for k, v in out.items() if v}


def reverse_payment(
    stored: Loan, commands: Sequence[LoanCommand], actual: Sequence[JournalEntry], *, entry_id: str,
    on: date, key: str, reason: str, aging: AgingPolicy = DEFAULT_AGING,
) -> Outcome:
    """Reverse the payment whose entry is `entry_id`, dated `on` (the business date). `actual` is
    every entry the loan has on its accounts except the loss-allowance provisions."""
    if not reason.strip():
        raise ServicingError("reason", "say why the payment is reversed (bounced, misapplied, ...)")
    target = target_of(commands, entry_id)
    as_stored, _ = replay(commands, on, aging=aging)
    if as_stored != stored:
        raise ServicingError("loan_id", f"{stored.loan_id}: its servicing log does not replay to the stored loan "
                                        "(a history from before the log, or a change made outside it); no reversal")
    new, wanted = replay(commands, on, skip=frozenset({target.seq}), aging=aging)
    original = next((e for e in actual if e.entry_id == entry_id), None)
    if original is None:
        raise InvariantError(f"the entry {entry_id} of a logged command is on the loan's accounts")
    back = reversal_of(original, f"{stored.loan_id}/reverse/{key}", on, f"reversal: {reason}"[:500])
    entries = (back, *correction(stored, actual, back, wanted, on, key))
    final = replace(new, version=stored.version + 1)
    ev = event(final, f"{stored.loan_id}/reverse/{key}", "loan.payment_reversed", on, entry_id=entry_id,
               reason=reason[:500], command=target.kind, payment_date=target.on.isoformat(),
               amount_minor=int(target.params.get("amount_minor", 0)))
    result = {"reversed_entry_id": entry_id, "reversal_entry_id": back.entry_id,
              "correction_entry_id": entries[1].entry_id if len(entries) > 1 else None,
              "payment_date": target.on.isoformat(), "reversed_seq": target.seq}
    return Outcome(final, entries, (ev,), result)


def correction(stored: Loan, actual: Sequence[JournalEntry], back: JournalEntry, wanted: Sequence[JournalEntry],
               on: date, key: str) -> tuple[JournalEntry, ...]:
    """One entry that brings the loan's accounts from what they are (after the reversal) to what the
    replay says, or none when the reversal alone does it."""
    have = balances_of([*actual, back])
    want = balances_of(wanted)
    diff = {k: want.get(k, 0) - have.get(k, 0) for k in sorted(set(have) | set(want))}
    postings = tuple(Posting(k.code, k.currency, v, k.loan_id, k.funder_id) for k, v in diff.items() if v)
    if not postings:
        return ()
    if len(postings) > POSTINGS_PER_ENTRY_MAX:
        raise InvariantError(len(postings))
    return (JournalEntry(f"{stored.loan_id}/reverse-replay/{key}", EntryKind.CORRECTION, on, postings,
                         stored.loan_id, "replay after reversal: the days since, without the payment"),)
