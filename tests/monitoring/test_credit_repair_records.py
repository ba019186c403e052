"""Credit repair's records as pure values: the application decided by the program (with its grant
when eligible), its JSON document, the borrower-facing texts and the per-borrower count for scoring."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lendstack.errors import ErrorKind, LendstackError
from lendstack.invariants import InvariantError
from lendstack.monitoring.credit_repair import (
    CreditRepairError,
    Eligibility,
    Installment,
    OverdueRecord,
    ProgramConfig,
    decided_application,
    evaluate,
    overdue_records,
    program_text,
    record_text,
    unrepaired_by_borrower,
)
from lendstack.schedule.dates import add_months

START = date(2025, 1, 10)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def paid_history(n: int, late_seq: int) -> list[Installment]:
    out = []
    for seq in range(1, n + 1):
        due = add_months(START, seq)
        out.append(Installment("L", seq, due, due + timedelta(days=15 if seq == late_seq else 0)))
    return out


def decide(result: Eligibility, on: date) -> dict[str, object]:
    return decided_application("CR-1", borrower_id="loan:L", applicant_id="", loan_id="L", on=on,
                               config=ProgramConfig(months_on_time=11), result=result, by="borrower",
                               now=NOW).to_json()


def test_an_eligible_application_is_granted_with_its_record() -> None:
    on = add_months(START, 13) + timedelta(days=1)
    result = evaluate(paid_history(13, 2), {"L": "active"}, on, ProgramConfig(months_on_time=11), [])
    document = decide(result, on)
    assert document["status"] == "granted" and document["reasons"] == []
    assert document["grant"] == {"grant_id": "G-CR-1", "record_id": "L#2", "loan_id": "L", "seq": 2,
                                 "record_type": "late_payment", "due_date": add_months(START, 2).isoformat(),
                                 "paid_on": (add_months(START, 2) + timedelta(days=15)).isoformat(),
                                 "days_late": 15, "granted_on": on.isoformat()}
    assert [h["action"] for h in document["history"]] == ["applied", "granted"]  # type: ignore[attr-defined]
    assert list(document) == ["application_id", "borrower_id", "applicant_id", "loan_id", "applied_on", "status",
                              "text", "reasons", "evidence", "program", "history", "created_at", "grant"]


def test_a_refused_application_has_reasons_and_no_grant() -> None:
    on = add_months(START, 5) + timedelta(days=1)
    document = decide(evaluate(paid_history(5, 2), {"L": "active"}, on, ProgramConfig(months_on_time=11), []), on)
    assert document["status"] == "refused" and document["grant"] is None
    assert document["text"] == {"en": "Refused", "zh": "未通过"}


def test_only_a_historical_record_of_an_eligible_borrower_is_granted() -> None:
    unpaid = OverdueRecord("L", 1, START, None, 30, "late_payment")
    odd = Eligibility(True, (), unpaid, 12)
    with pytest.raises(InvariantError):
        decide(odd, START + timedelta(days=40))


def test_texts_and_counts() -> None:
    assert "12 months" in program_text(ProgramConfig())["en"] and "12个月" in program_text(ProgramConfig())["zh"]
    record = OverdueRecord("L", 3, date(2025, 4, 10), date(2025, 4, 20), 10, "late_payment")
    assert "10 days late" in record_text(record, False)["en"]
    assert "marked repaired" in record_text(record, True)["en"]
    on = add_months(START, 6)
    records = overdue_records([*paid_history(6, 2), Installment("M", 1, START, None)], on, ProgramConfig())
    assert unrepaired_by_borrower(records, {"L#2"}, {"L": "loan:L", "M": "applicant:A", "N": "loan:N"}) == \
        {"applicant:A": 1, "loan:L": 0, "loan:N": 0}


def test_the_error_is_a_lendstack_error_naming_the_field() -> None:
    error = CreditRepairError("loan_id", "no loan 'X'")
    assert isinstance(error, LendstackError) and error.kind == ErrorKind.INVALID
    assert (error.field, error.message, str(error)) == ("loan_id", "no loan 'X'", "loan_id: no loan 'X'")
