"""Repayment schedules: equal installment (等额本息), equal principal (等额本金), interest-only then
principal (先息后本), bullet (到期一次还本付息), staged tranches; a columnar batch path; APR.

Imports only lendstack.money. Pure functions over frozen values.

The columnar batch path needs NumPy; it loads on first use (PEP 562 `__getattr__`), so that a single
schedule (the CLI, one loan's servicing) does not pay NumPy's import time.
"""

from typing import TYPE_CHECKING, Any

from lendstack.schedule.apr import apr_of
from lendstack.schedule.build import TERM_MAX, Schedule, ScheduleLine, build_schedule
from lendstack.schedule.dates import add_months, due_dates, next_due_on_day
from lendstack.schedule.methods import Frequency, ScheduleMethod
from lendstack.schedule.tranches import CalendarLine, Tranche, build_tranched, merge_lines

if TYPE_CHECKING:
    from lendstack.schedule.batch import BatchSchedules, build_schedules_batch

_LAZY = frozenset({"BatchSchedules", "build_schedules_batch"})  # names of lendstack.schedule.batch


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from lendstack.schedule import batch

        return getattr(batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "TERM_MAX",
    "BatchSchedules",
    "CalendarLine",
    "Frequency",
    "Schedule",
    "ScheduleLine",
    "ScheduleMethod",
    "Tranche",
    "add_months",
    "apr_of",
    "build_schedule",
    "build_schedules_batch",
    "build_tranched",
    "due_dates",
    "merge_lines",
    "next_due_on_day",
]
