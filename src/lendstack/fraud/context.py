"""`FraudContext`: the history the fraud checks need, and `MemoryFraudContext`, an in-memory one.

Windows are in whole days because applications carry a date (`applied_on`): `since` and `until`
are compared by their dates, `since` inclusive and `until` exclusive.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from lendstack.origination import IDENTIFIER_KINDS, Application

# "applicant_id" stands for the national ID: one person or business, whatever phone they use.
VELOCITY_KINDS = ("applicant_id", "phone_hash", "device_id", "bank_account_hash")
BLACKLIST_KINDS = ("applicant_id", *IDENTIFIER_KINDS)


class FraudContext(Protocol):
    def count_recent(
        self, identifier_kind: str, value: str, since: datetime, *, until: datetime | None = None, excluding: str = ""
    ) -> int:
        """Applications with this identifier dated in [since, until), leaving out application `excluding`."""
        ...

    def identity_neighbors(self, identifier_kind: str, value: str) -> frozenset[str]:
        """Applicant ids that have used this identifier value."""
        ...

    def identifiers_of(self, applicant_id: str) -> dict[str, frozenset[str]]:
        """Every identifier value this applicant has used, by kind."""
        ...

    def is_blacklisted(self, kind: str, value: str) -> bool: ...


def identifier_values(application: Application) -> dict[str, str]:
    """The application's identifiers by kind, including the applicant id."""
    return {"applicant_id": application.applicant.applicant_id, **application.applicant.identifiers.as_dict()}


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    """One line of a 失信 (dishonest debtor) or internal blacklist."""

    kind: str  # one of BLACKLIST_KINDS
    value: str
    reason: str
    listed_on: date

    def __post_init__(self) -> None:
        assert self.kind in BLACKLIST_KINDS, f"unknown blacklist kind {self.kind!r}"
        assert self.value, "a blacklist entry needs a value"


class MemoryFraudContext:
    """History held in dicts: for tests, backtests and the benchmark. Add applications in any order."""

    def __init__(self, applications: Iterable[Application] = (), blacklist: Iterable[BlacklistEntry] = ()) -> None:
        self._dated: dict[tuple[str, str], list[tuple[date, str]]] = defaultdict(list)  # sorted by date
        self._users: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._identifiers: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._seen: set[str] = set()
        self._blacklist: set[tuple[str, str]] = set()
        for application in applications:
            self.add(application)
        self.add_blacklist(blacklist)

    def add(self, application: Application) -> None:
        """Record one application (a second add of the same id is ignored)."""
        if application.application_id in self._seen:
            return
        self._seen.add(application.application_id)
        applicant_id = application.applicant.applicant_id
        for kind, value in identifier_values(application).items():
            bisect.insort(self._dated[(kind, value)], (application.applied_on, application.application_id))
            if kind != "applicant_id":
                self._users[(kind, value)].add(applicant_id)
                self._identifiers[applicant_id][kind].add(value)

    def add_blacklist(self, entries: Iterable[BlacklistEntry]) -> None:
        self._blacklist.update((entry.kind, entry.value) for entry in entries)

    def count_recent(
        self, identifier_kind: str, value: str, since: datetime, *, until: datetime | None = None, excluding: str = ""
    ) -> int:
        dated = self._dated.get((identifier_kind, value), [])
        low = bisect.bisect_left(dated, (since.date(), ""))
        high = len(dated) if until is None else bisect.bisect_left(dated, (until.date(), ""))
        return sum(1 for _, application_id in dated[low:high] if application_id != excluding)

    def identity_neighbors(self, identifier_kind: str, value: str) -> frozenset[str]:
        return frozenset(self._users.get((identifier_kind, value), ()))

    def identifiers_of(self, applicant_id: str) -> dict[str, frozenset[str]]:
        found: Mapping[str, set[str]] = self._identifiers.get(applicant_id, {})
        return {kind: frozenset(values) for kind, values in found.items()}

    def is_blacklisted(self, kind: str, value: str) -> bool:
        return (kind, value) in self._blacklist
