"""Blacklist import (失信被执行人 and internal lists) from CSV text with the header kind,value,reason,listed_on."""

from __future__ import annotations

import csv
import io
from datetime import date

from lendstack.errors import LendstackError
from lendstack.fraud.context import BLACKLIST_KINDS, BlacklistEntry

HEADER = ("kind", "value", "reason", "listed_on")


class BlacklistError(LendstackError):
    """A bad blacklist file; `field` names the line and column, e.g. "line 3: kind"."""


def _entry(line: int, row: dict[str, str]) -> BlacklistEntry:
    kind, value = row["kind"].strip(), row["value"].strip()
    if kind not in BLACKLIST_KINDS:
        raise BlacklistError(f"line {line}: kind", f"{kind!r} is not one of {', '.join(BLACKLIST_KINDS)}")
    if not value:
        raise BlacklistError(f"line {line}: value", "is empty")
    try:
        listed_on = date.fromisoformat(row["listed_on"].strip())
    except ValueError:
        raise BlacklistError(f"line {line}: listed_on", f"{row['listed_on']!r} is not an ISO date") from None
    return BlacklistEntry(kind, value, row["reason"].strip(), listed_on)


def parse_blacklist_csv(text: str) -> list[BlacklistEntry]:
    """All entries, or a `BlacklistError` for the first bad line (nothing is imported from a bad file)."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != HEADER:
        raise BlacklistError("line 1: header", f"must be {','.join(HEADER)}, got {reader.fieldnames}")
    entries = []
    for row in reader:
        if None in row or any(row[name] is None for name in HEADER):
            raise BlacklistError(f"line {reader.line_num}", f"needs exactly {len(HEADER)} columns")
        entries.append(_entry(reader.line_num, row))
    return entries
