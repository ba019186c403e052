"""Read models for people: trial balance with account names, aging of the live book."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Engine, case, func, select

from lendstack.ledger import CHART, AccountCode
from lendstack.money.money import format_minor
from lendstack.services.business_date import business_date
from lendstack.servicing.aging import BUCKETS, FIVE_TIER_ZH, FIVE_TIERS
from lendstack.servicing.loan import LIVE_STATUSES
from lendstack.store import UnitOfWork
from lendstack.store.tables import loans


def trial_balance(engine: Engine, as_of: date | None = None) -> dict[str, Any]:
    """Per currency: every account's debit-positive total, and the check that they sum to zero."""
    with UnitOfWork(engine) as uow:
        totals = uow.ledger.trial_balance(as_of)
    by_currency: dict[str, list[dict[str, Any]]] = {}
    for (currency, code), amount in sorted(totals.items()):
        spec = CHART[AccountCode(code)]
        by_currency.setdefault(currency, []).append({
            "account": str(code), "name_en": spec.name_en, "name_zh": spec.name_zh, "kind": spec.kind.value,
            "debit_minor": max(amount, 0), "credit_minor": max(-amount, 0),
            "debit": format_minor(max(amount, 0), currency), "credit": format_minor(max(-amount, 0), currency),
        })
    sums = {c: sum(r["debit_minor"] - r["credit_minor"] for r in rows) for c, rows in by_currency.items()}
    assert all(v == 0 for v in sums.values()), f"trial balance off: {sums}"
    return {"as_of": as_of.isoformat() if as_of else None, "business_date": _business_date(engine),
            "currencies": by_currency, "balanced": True}


def _business_date(engine: Engine) -> str | None:
    found = business_date(engine)
    return found.isoformat() if found else None


def aging(engine: Engine) -> dict[str, Any]:
    """Live loans by bucket (M0..M7+) and by five-tier class: counts and outstanding principal."""
    outstanding = (loans.c.principal_disbursed_minor + loans.c.principal_capitalized_minor
                   - loans.c.principal_repaid_minor - loans.c.principal_written_off_minor)
    live = loans.c.status.in_([s.value for s in LIVE_STATUSES])
    with engine.connect() as conn:
        rows = conn.execute(
            select(loans.c.currency, loans.c.bucket, loans.c.five_tier, func.count(), func.sum(outstanding))
            .where(live).group_by(loans.c.currency, loans.c.bucket, loans.c.five_tier)
        ).all()
        status_rows = conn.execute(select(loans.c.status, func.count()).group_by(loans.c.status)).all()
        non_accrual = int(conn.execute(select(func.count()).select_from(loans)
                                       .where(live, loans.c.non_accrual.is_(True))).scalar_one())
        npl = conn.execute(
            select(loans.c.currency, func.sum(case((loans.c.five_tier.in_(["substandard", "doubtful", "loss"]),
                                                    outstanding), else_=0)), func.sum(outstanding))
            .where(live).group_by(loans.c.currency)
        ).all()
    return {
        "business_date": _business_date(engine),
        "by_bucket": _group(rows, 1, BUCKETS),
        "by_class": _group(rows, 2, tuple(t.value for t in FIVE_TIERS)),
        "class_names_zh": {t.value: FIVE_TIER_ZH[t] for t in FIVE_TIERS},
        "loans_by_status": {str(s): int(n) for s, n in status_rows},
        "non_accrual_loans": non_accrual,
        "npl_ratio": {str(c): (float(bad) / float(total) if total else 0.0) for c, bad, total in npl},
    }


def _group(rows: Sequence[Any], index: int, order: tuple[str, ...]) -> list[dict[str, Any]]:
    acc: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        key = (str(row[0]), str(row[index]))
        slot = acc.setdefault(key, [0, 0])
        slot[0] += int(row[3])
        slot[1] += int(row[4] or 0)
    out = []
    for (currency, name), (count, principal) in sorted(acc.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]))):
        out.append({"currency": currency, "name": name, "loans": count, "principal_minor": principal,
                    "principal": format_minor(principal, currency)})
    return out
