"""Staged drawdowns: 50k at sowing, 80k at growing, 70k at harvest, each its own loan."""

from __future__ import annotations

from datetime import date

import pytest

from lendstack.money import Money
from lendstack.products import get_product
from lendstack.servicing import ServicingError
from lendstack.servicing.credit_line import PlannedTranche, draw, open_line

FARM = get_product("farm_seasonal_cny")
SOW, GROW, HARVEST = date(2026, 3, 1), date(2026, 5, 15), date(2026, 8, 20)


def farm_line():  # type: ignore[no-untyped-def]
    plan = (PlannedTranche(5_000_000, SOW, 12), PlannedTranche(8_000_000, GROW, 9),
            PlannedTranche(7_000_000, HARVEST, 6))
    return open_line("LINE-1", FARM, Money(20_000_000, "CNY"), date(2026, 12, 31), plan)


def test_three_stages_become_three_loans_with_their_own_schedules() -> None:
    line = farm_line()
    loans = []
    for k, (tranche, on) in enumerate(zip(line.tranches, (SOW, GROW, HARVEST), strict=True)):
        line, outcome = draw(line, FARM, f"FARM-{k}", Money(tranche.amount_minor, "CNY"), tranche.term, on, f"t{k}")
        loans.append(outcome.loan)
        assert outcome.loan.line_id == "LINE-1" and outcome.loan.disbursed_on == on
        assert sum(i.principal_minor for i in outcome.loan.installments) == tranche.amount_minor
        assert len(outcome.entries) == 1  # the disbursement
    assert line.drawn_minor == 20_000_000 and line.available_minor == 0
    assert [len(loan.installments) for loan in loans] == [12, 9, 6]


def test_a_stage_is_not_released_early_and_the_limit_holds() -> None:
    line = farm_line()
    with pytest.raises(ServicingError) as early:
        draw(line, FARM, "F0", Money(5_000_000, "CNY"), 12, date(2026, 2, 1), "k")
    assert early.value.field == "on"
    line, _ = draw(line, FARM, "F0", Money(5_000_000, "CNY"), 12, SOW, "k")
    with pytest.raises(ServicingError) as over:
        draw(line, FARM, "F1", Money(16_000_000, "CNY"), 9, GROW, "k")
    assert over.value.field == "amount"


def test_a_plan_above_the_limit_is_refused() -> None:
    with pytest.raises(ServicingError) as err:
        open_line("L", FARM, Money(1_000_000, "CNY"), date(2026, 12, 31), (PlannedTranche(2_000_000, SOW, 6),))
    assert err.value.field == "tranches"
