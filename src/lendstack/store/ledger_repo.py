"""The ledger on SQL: `SqlLedger` implements `lendstack.ledger.LedgerPort` in the caller's
transaction (a Connection inside `engine.begin()`, usually the UnitOfWork's).

Writes go through one columnar path: `post(entries)` turns the entries into columns and calls
the same writer as `post_columnar`, so the one-at-a-time and the bulk (EOD) paths produce the
same rows by construction. Each batch is validated (balanced per entry and currency) before any
row is written, inserted with executemany in chunks, and the running balances are upserted once
per touched key, in key order (so two concurrent batches lock balance rows in the same order and
cannot deadlock on each other).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Dialect,
    Insert,
    Table,
    TableClause,
    column,
    func,
    insert,
    literal,
    select,
    table,
    union_all,
)
from sqlalchemy.types import TypeEngine

from lendstack.invariants import InvariantError
from lendstack.ledger import (
    MEMO_CODES,
    AccountCode,
    BalanceKey,
    EntryKind,
    JournalEntry,
    LedgerError,
    Posting,
    check_balanced,
)
from lendstack.ledger.entries import POSTINGS_PER_ENTRY_MAX
from lendstack.store.tables import journal_entries, ledger_balances, postings

if TYPE_CHECKING:  # NumPy loads only for the bulk (columnar) path; one entry's post does not need it
    import numpy as np
    from numpy.typing import NDArray

ROWS_PER_EXECUTEMANY_MAX = 50_000  # bounds the memory of one round of parameter rows
# Below this many balance keys a plain executemany upsert beats creating a temp table.
PG_BALANCE_KEYS_VIA_TEMP_TABLE_MIN = 1_000
_BALANCE_DELTAS = table(
    "lendstack_balance_deltas",
    *(column(c.name, c.type) for c in ledger_balances.c),
)
_ACCOUNT_CODES = frozenset(code.value for code in AccountCode)
_MEMO_CODES = frozenset(code.value for code in MEMO_CODES)
_ENTRY_KINDS = frozenset(kind.value for kind in EntryKind)


@dataclass(frozen=True, slots=True)
class EntryColumns:
    """Many journal entries as columns; position i is entry i. Optional columns default to ''/{}."""

    entry_ids: Sequence[str]
    kinds: Sequence[str]
    effective_dates: Sequence[date]
    loan_ids: Sequence[str]
    memos: Sequence[str] | None = None
    reverses_entry_ids: Sequence[str] | None = None
    metadata: Sequence[Mapping[str, str]] | None = None

    def __len__(self) -> int:
        return len(self.entry_ids)


@dataclass(frozen=True, slots=True)
class PostingColumns:
    """Postings as columns. entry_index[j] is the position (in EntryColumns) of posting j's entry;
    it is non-decreasing, and the order within one entry is the posting order (seq)."""

    entry_index: Sequence[int] | NDArray[np.int64]
    codes: Sequence[str]
    currencies: Sequence[str]
    amounts_minor: Sequence[int] | NDArray[np.int64]  # debit positive, credit negative
    loan_ids: Sequence[str]
    funder_ids: Sequence[str]

    def __len__(self) -> int:
        return len(self.codes)


@dataclass(frozen=True, slots=True)
class LedgerMismatch:
    """One finding of `SqlLedger.verify()`."""

    problem: str  # "balance" | "unbalanced_entry" | "too_few_postings"
    detail: str
    key: BalanceKey | None = None
    entry_id: str = ""
    stored_minor: int = 0
    expected_minor: int = 0


def columns_from_entries(entries: Sequence[JournalEntry]) -> tuple[EntryColumns, PostingColumns]:
    """The columnar form of a list of entries (what `post` writes through)."""
    flat = [(i, p) for i, entry in enumerate(entries) for p in entry.postings]
    entry_cols = EntryColumns(
        entry_ids=[e.entry_id for e in entries],
        kinds=[e.kind.value for e in entries],
        effective_dates=[e.effective_date for e in entries],
        loan_ids=[e.loan_id for e in entries],
        memos=[e.memo for e in entries],
        reverses_entry_ids=[e.reverses_entry_id for e in entries],
        metadata=[e.metadata for e in entries],
    )
    posting_cols = PostingColumns(
        entry_index=[i for i, _ in flat],
        codes=[p.code.value for _, p in flat],
        currencies=[p.currency for _, p in flat],
        amounts_minor=[p.amount_minor for _, p in flat],
        loan_ids=[p.loan_id for _, p in flat],
        funder_ids=[p.funder_id for _, p in flat],
    )
    return entry_cols, posting_cols


class SqlLedger:
    """The ledger in the tables of `lendstack.store.tables`, on the given connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._upsert = _balance_upsert(connection.dialect.name)

    # -- writes ---------------------------------------------------------------------------------

    def post(self, entries: Sequence[JournalEntry]) -> None:
        """Append entries and update the running balances, in the caller's transaction."""
        for entry in entries:
            check_balanced(entry.postings)  # again: a frozen dataclass can still be bypassed
        if entries:
            self.post_columnar(*columns_from_entries(entries))

    def post_columnar(self, entries: EntryColumns, posting_cols: PostingColumns) -> int:
        """Bulk post (EOD): validate everything first, then write. Returns the entries written."""
        import numpy as np

        seq = _validate_columns(entries, posting_cols)
        booked_at = datetime.now(UTC)
        amounts = np.asarray(posting_cols.amounts_minor, dtype=np.int64).tolist()
        entry_columns = _entry_columns(entries, booked_at)
        posting_columns = _posting_columns(entries, posting_cols, seq, amounts)
        balance_columns = _balance_columns(_balance_deltas(posting_cols, amounts), booked_at)
        if self.connection.dialect.name == "postgresql":
            # COPY moves rows ~10x faster than executemany; the balances still go through one
            # INSERT ... ON CONFLICT, fed from a temp table when there are many keys.
            self._copy(journal_entries, entry_columns)
            self._copy(postings, posting_columns)
            if len(balance_columns["loan_id"]) > PG_BALANCE_KEYS_VIA_TEMP_TABLE_MIN:
                self._upsert_balances_via_temp_table(balance_columns)
                return len(entries)
        else:
            self._executemany(insert(journal_entries), journal_entries, entry_columns)
            self._executemany(insert(postings), postings, posting_columns)
        self._executemany(self._upsert, ledger_balances, balance_columns)
        return len(entries)

    def _copy(self, table: Table | TableClause, columns: dict[str, list[Any]]) -> None:
        """PostgreSQL COPY FROM STDIN of the columns, through psycopg on this transaction."""
        dialect = self.connection.dialect
        quote = dialect.identifier_preparer.quote
        names = list(columns)
        values = [_bind_values(table.c[name].type, dialect, columns[name]) for name in names]
        sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
        driver = self.connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in zip(*values, strict=True):
                copy.write_row(row)

    def _upsert_balances_via_temp_table(self, columns: dict[str, list[Any]]) -> None:
        self.connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {_BALANCE_DELTAS.name} (account_code text, currency text, "
            "funder_id text, loan_id text, balance_minor bigint, updated_at timestamptz) ON COMMIT DROP"
        )
        self._copy(_BALANCE_DELTAS, columns)
        delta = _BALANCE_DELTAS.c
        key_order = (delta.loan_id, delta.account_code, delta.currency, delta.funder_id)
        source = select(*(delta[name] for name in columns)).order_by(*key_order)
        from sqlalchemy.dialects import postgresql

        statement = postgresql.insert(ledger_balances).from_select(list(columns), source)
        self.connection.execute(
            statement.on_conflict_do_update(
                index_elements=list(ledger_balances.primary_key.columns),
                set_={
                    "balance_minor": ledger_balances.c.balance_minor + statement.excluded.balance_minor,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )
        self.connection.exec_driver_sql(f"DROP TABLE {_BALANCE_DELTAS.name}")

    def _executemany(self, statement: Insert, table: Table, columns: dict[str, list[Any]]) -> None:
        """executemany straight on the driver, in chunks. Going around SQLAlchemy's per-row
        parameter handling makes bulk posting several times faster; the values still go through
        each column type's own bind processor (once per distinct value), so the rows are the
        same as SQLAlchemy would write."""
        dialect = self.connection.dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        names = list(compiled.positiontup) if compiled.positional and compiled.positiontup else list(columns)
        assert set(names) == set(columns), f"parameters {names} != columns {list(columns)}"
        values = [_bind_values(table.c[name].type, dialect, columns[name]) for name in names]
        sql = str(compiled)
        for start in range(0, len(values[0]), ROWS_PER_EXECUTEMANY_MAX):
            rows = list(
                zip(*(values_[start : start + ROWS_PER_EXECUTEMANY_MAX] for values_ in values), strict=True)
            )
            params: list[Any] = (
                rows if compiled.positional else [dict(zip(names, r, strict=True)) for r in rows]
            )
            self.connection.exec_driver_sql(sql, params)

    # -- reads ----------------------------------------------------------------------------------

    def balance(self, key: BalanceKey, as_of: date | None = None) -> int:
        """Debit-positive balance of one key: the stored running balance, or from postings."""
        if as_of is None:
            b = ledger_balances.c
            query = select(b.balance_minor).where(
                b.account_code == key.code.value,
                b.currency == key.currency,
                b.funder_id == key.funder_id,
                b.loan_id == key.loan_id,
            )
            return _as_int(self.connection.execute(query).scalar() or 0)
        p = postings.c
        query = (
            select(func.coalesce(func.sum(p.amount_minor), 0))
            .select_from(postings.join(journal_entries))
            .where(
                p.account_code == key.code.value,
                p.currency == key.currency,
                p.funder_id == key.funder_id,
                p.loan_id == key.loan_id,
                journal_entries.c.effective_date <= as_of,
            )
        )
        return _as_int(self.connection.execute(query).scalar_one())

    def balances_for_loan(self, loan_id: str) -> dict[BalanceKey, int]:
        """The stored running balances of every key of one loan (zero balances left out, as in
        `lendstack.ledger.apply_entries`)."""
        b = ledger_balances.c
        query = select(b.account_code, b.currency, b.funder_id, b.loan_id, b.balance_minor).where(
            b.loan_id == loan_id, b.balance_minor != 0
        )
        return {_key(*row[:4]): _as_int(row[4]) for row in self.connection.execute(query)}

    def all_balances(self) -> dict[BalanceKey, int]:
        """Every non-zero stored running balance (for reconciliation and tests)."""
        b = ledger_balances.c
        query = select(b.account_code, b.currency, b.funder_id, b.loan_id, b.balance_minor).where(
            b.balance_minor != 0
        )
        return {_key(*row[:4]): _as_int(row[4]) for row in self.connection.execute(query)}

    def trial_balance(self, as_of: date | None = None) -> dict[tuple[str, str], int]:
        """Debit-positive totals per (currency, account code); every currency sums to zero."""
        if as_of is None:
            b = ledger_balances.c
            query = select(b.currency, b.account_code, func.sum(b.balance_minor)).group_by(
                b.currency, b.account_code
            )
        else:
            p = postings.c
            query = (
                select(p.currency, p.account_code, func.sum(p.amount_minor))
                .select_from(postings.join(journal_entries))
                .where(journal_entries.c.effective_date <= as_of)
                .group_by(p.currency, p.account_code)
            )
        return {(row[0], AccountCode(row[1])): _as_int(row[2]) for row in self.connection.execute(query)}

    def entries_for_loan(self, loan_id: str) -> tuple[JournalEntry, ...]:
        """Entries of one loan (by entry or by any posting), by effective date, then booking order."""
        e, p = journal_entries.c, postings.c
        ids = union_all(
            select(e.entry_id).where(e.loan_id == loan_id), select(p.entry_id).where(p.loan_id == loan_id)
        ).subquery()
        query = (
            select(
                e.entry_id,
                e.kind,
                e.effective_date,
                e.loan_id,
                e.memo,
                e.reverses_entry_id,
                e["metadata"],
                p.account_code,
                p.currency,
                p.amount_minor,
                p.loan_id,
                p.funder_id,
            )
            .select_from(postings.join(journal_entries))
            .where(e.entry_id.in_(select(ids.c.entry_id)))
            .order_by(p.id)  # booking order; entries are then stably sorted by date
        )
        return _rebuild_entries(self.connection.execute(query).all())

    # -- health ---------------------------------------------------------------------------------

    def verify(self) -> list[LedgerMismatch]:
        """Stored running balances that differ from SUM(postings), and entries that do not
        balance or have fewer than two postings. An empty list means the ledger is healthy."""
        return [*self._balance_mismatches(), *self._unbalanced_entries(), *self._thin_entries()]

    def _balance_mismatches(self) -> list[LedgerMismatch]:
        b, p = ledger_balances.c, postings.c
        zero = literal(0, BigInteger)
        both = union_all(
            select(
                b.account_code,
                b.currency,
                b.funder_id,
                b.loan_id,
                b.balance_minor.label("stored"),
                zero.label("computed"),
            ),
            select(
                p.account_code,
                p.currency,
                p.funder_id,
                p.loan_id,
                zero.label("stored"),
                p.amount_minor.label("computed"),
            ),
        ).subquery()
        u = both.c
        stored, computed = func.sum(u.stored), func.sum(u.computed)
        query = (
            select(u.account_code, u.currency, u.funder_id, u.loan_id, stored, computed)
            .group_by(u.account_code, u.currency, u.funder_id, u.loan_id)
            .having(stored != computed)
        )
        out = []
        for row in self.connection.execute(query):
            key, stored_minor, expected_minor = _key(*row[:4]), _as_int(row[4]), _as_int(row[5])
            detail = f"running balance {stored_minor} != sum of postings {expected_minor} for {key}"
            out.append(LedgerMismatch("balance", detail, key, "", stored_minor, expected_minor))
        return out

    def _unbalanced_entries(self) -> list[LedgerMismatch]:
        p = postings.c
        total = func.sum(p.amount_minor)
        query = select(p.entry_id, p.currency, total).group_by(p.entry_id, p.currency).having(total != 0)
        return [
            LedgerMismatch(
                "unbalanced_entry", f"entry {eid} sums to {_as_int(s)} in {cur}", None, eid, _as_int(s), 0
            )
            for eid, cur, s in self.connection.execute(query)
        ]

    def _thin_entries(self) -> list[LedgerMismatch]:
        e, p = journal_entries.c, postings.c
        count = func.count(p.id)
        query = (
            select(e.entry_id, count)
            .select_from(journal_entries.outerjoin(postings))
            .group_by(e.entry_id)
            .having(count < 2)
        )
        return [
            LedgerMismatch("too_few_postings", f"entry {eid} has {n} postings", None, eid, n, 2)
            for eid, n in self.connection.execute(query)
        ]


# -- validation (all of it before any write) ------------------------------------------------------


def _validate_columns(entries: EntryColumns, cols: PostingColumns) -> NDArray[np.int64]:
    """Raise LedgerError for any bad entry; return each posting's seq (position in its entry)."""
    import numpy as np

    n_entries, n_postings = len(entries), len(cols)
    _assert_lengths(entries, cols)
    if n_entries == 0:
        return np.zeros(0, dtype=np.int64)
    entry_index = np.asarray(cols.entry_index, dtype=np.int64)
    amounts = np.asarray(cols.amounts_minor, dtype=np.int64)
    _check_ids_and_codes(entries, cols)
    if n_postings and (
        entry_index[0] < 0 or entry_index[-1] >= n_entries or np.any(np.diff(entry_index) < 0)
    ):
        raise LedgerError("entry_index", f"must be non-decreasing positions in [0, {n_entries})")
    counts = np.bincount(entry_index, minlength=n_entries)
    _check_counts(entries, counts)
    if np.any(amounts == 0):
        raise LedgerError("amount_minor", "a posting amount must not be zero")
    _check_balanced_columns(entries, cols.currencies, entry_index, amounts)
    if not _MEMO_CODES.isdisjoint(cols.codes):  # a C loop; memo postings balance on their own too
        memo = np.fromiter((code in _MEMO_CODES for code in cols.codes), dtype=np.bool_, count=n_postings)
        memo_currencies = [c for c, m in zip(cols.currencies, memo.tolist(), strict=True) if m]
        _check_balanced_columns(entries, memo_currencies, entry_index[memo], amounts[memo], "memo postings")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    seq: NDArray[np.int64] = np.arange(n_postings, dtype=np.int64) - starts[entry_index]
    return seq


def _assert_lengths(entries: EntryColumns, cols: PostingColumns) -> None:
    # Mismatched column lengths are a programming error of the caller, not bad user input.
    n, m = len(entries), len(cols)
    if not (len(entries.kinds) == len(entries.effective_dates) == len(entries.loan_ids) == n):
        raise InvariantError("entry columns differ in length")
    for optional in (entries.memos, entries.reverses_entry_ids, entries.metadata):
        if not (optional is None or len(optional) == n):
            raise InvariantError("an optional entry column differs in length")
    if not (len(cols.entry_index) == len(cols.currencies) == len(cols.amounts_minor) == m):
        raise InvariantError("posting columns differ in length")
    if not (len(cols.loan_ids) == len(cols.funder_ids) == m):
        raise InvariantError("posting dimension columns differ in length")


def _check_ids_and_codes(entries: EntryColumns, cols: PostingColumns) -> None:
    if len(set(entries.entry_ids)) != len(entries) or "" in entries.entry_ids:
        raise LedgerError("entry_id", "entry ids must be non-empty and unique within a batch")
    unknown_kinds = set(entries.kinds) - _ENTRY_KINDS
    if unknown_kinds:
        raise LedgerError("kind", f"unknown entry kinds {sorted(unknown_kinds)}")
    unknown_codes = set(cols.codes) - _ACCOUNT_CODES
    if unknown_codes:
        raise LedgerError("account_code", f"unknown account codes {sorted(unknown_codes)}")


def _check_counts(entries: EntryColumns, counts: NDArray[np.int64]) -> None:
    import numpy as np

    thin = np.flatnonzero(counts < 2)
    if thin.size:
        first = int(thin[0])
        raise LedgerError(
            "postings",
            f"entry {entries.entry_ids[first]} needs at least two postings, got {int(counts[first])}",
        )
    fat = np.flatnonzero(counts > POSTINGS_PER_ENTRY_MAX)
    if fat.size:
        raise LedgerError(
            "postings",
            f"entry {entries.entry_ids[int(fat[0])]} has more than {POSTINGS_PER_ENTRY_MAX} postings",
        )


def _check_balanced_columns(
    entries: EntryColumns,
    currencies: Sequence[str],
    entry_index: NDArray[np.int64],
    amounts: NDArray[np.int64],
    what: str = "",
) -> None:
    """Debits = credits per entry and currency, summed exactly in int64 (|amount| <= 1e12 and at
    most 64 postings per entry, so no sum can overflow)."""
    import numpy as np

    currency_ids = {c: i for i, c in enumerate(sorted(set(currencies)))}
    n_currencies = len(currency_ids)
    currency_index = np.fromiter((currency_ids[c] for c in currencies), dtype=np.int64, count=len(currencies))
    sums = np.zeros(len(entries) * n_currencies, dtype=np.int64)
    np.add.at(sums, entry_index * n_currencies + currency_index, amounts)
    off = np.flatnonzero(sums)
    if off.size:
        position, currency_id = divmod(int(off[0]), n_currencies)
        currency = sorted(currency_ids)[currency_id]
        raise LedgerError(
            "postings",
            f"entry {entries.entry_ids[position]} {what + ' ' if what else ''}does not balance in {currency}:"
            f" off by {int(sums[off[0]])}",
        )


# -- rows ------------------------------------------------------------------------------------------


def _entry_columns(entries: EntryColumns, booked_at: datetime) -> dict[str, list[Any]]:
    n = len(entries)
    no_metadata: dict[str, str] = {}
    return {
        "entry_id": list(entries.entry_ids),
        "kind": list(entries.kinds),
        "effective_date": list(entries.effective_dates),
        "booked_at": [booked_at] * n,
        "loan_id": list(entries.loan_ids),
        "memo": list(entries.memos) if entries.memos is not None else [""] * n,
        "reverses_entry_id": list(entries.reverses_entry_ids)
        if entries.reverses_entry_ids is not None
        else [""] * n,
        "metadata": [dict(m) for m in entries.metadata]
        if entries.metadata is not None
        else [no_metadata] * n,
    }


def _posting_columns(
    entries: EntryColumns, cols: PostingColumns, seq: NDArray[np.int64], amounts: list[int]
) -> dict[str, list[Any]]:
    import numpy as np

    entry_ids = entries.entry_ids
    return {
        "entry_id": [entry_ids[i] for i in np.asarray(cols.entry_index).tolist()],
        "seq": seq.tolist(),
        "account_code": list(cols.codes),
        "currency": list(cols.currencies),
        "funder_id": list(cols.funder_ids),
        "loan_id": list(cols.loan_ids),
        "amount_minor": amounts,
    }


def _balance_deltas(cols: PostingColumns, amounts: list[int]) -> dict[tuple[str, str, str, str], int]:
    """Net change per balance key (loan, code, currency, funder) over the whole batch. Keys whose
    net change is zero are kept: the balance row then exists however the postings were batched,
    so `post` one by one and one big `post_columnar` leave identical tables."""
    keys = list(zip(cols.loan_ids, cols.codes, cols.currencies, cols.funder_ids, strict=True))
    once = dict(zip(keys, amounts, strict=True))
    if len(once) == len(keys):
        return once  # every key posted once (EOD: one entry per loan): nothing to sum, built in C
    deltas: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for key, amount in zip(keys, amounts, strict=True):
        deltas[key] += amount
    return deltas


def _balance_columns(deltas: dict[tuple[str, str, str, str], int], at: datetime) -> dict[str, list[Any]]:
    keys = sorted(deltas)  # one lock order for every batch: concurrent batches cannot deadlock
    loan_ids, codes, currencies, funder_ids = (list(c) for c in zip(*keys, strict=True)) if keys else ([], [], [], [])
    return {
        "account_code": codes,
        "currency": currencies,
        "funder_id": funder_ids,
        "loan_id": loan_ids,
        "balance_minor": list(map(deltas.__getitem__, keys)),
        "updated_at": [at] * len(keys),
    }


def _bind_values(type_: TypeEngine[Any], dialect: Dialect, values: list[Any]) -> list[Any]:
    """Values as the driver wants them, through the type's bind processor for this dialect. The
    processor runs once per distinct object: a batch repeats the same few (one booking time, one
    date, one empty metadata dict). Keyed by identity, which needs no hashing (JSON dicts are
    unhashable) and is safe because `values` keeps every object alive; the loops run in C."""
    processor = type_.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return values
    ids = list(map(id, values))
    processed = {key: processor(value) for key, value in dict(zip(ids, values, strict=True)).items()}
    return list(map(processed.__getitem__, ids))


@functools.cache  # one statement per dialect: every unit of work makes a ledger, most never post
def _balance_upsert(dialect_name: str) -> Insert:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET balance_minor = balance_minor + excluded."""
    # The dialect loads here, once: a SQLite book never imports PostgreSQL's (~40 ms at start-up).
    if dialect_name == "sqlite":
        from sqlalchemy.dialects import sqlite

        sqlite_stmt = sqlite.insert(ledger_balances)
        return sqlite_stmt.on_conflict_do_update(
            index_elements=list(ledger_balances.primary_key.columns),
            set_={
                "balance_minor": ledger_balances.c.balance_minor + sqlite_stmt.excluded.balance_minor,
                "updated_at": sqlite_stmt.excluded.updated_at,
            },
        )
    assert dialect_name == "postgresql", f"unsupported dialect {dialect_name}"
    from sqlalchemy.dialects import postgresql

    pg_stmt = postgresql.insert(ledger_balances)
    return pg_stmt.on_conflict_do_update(
        index_elements=list(ledger_balances.primary_key.columns),
        set_={
            "balance_minor": ledger_balances.c.balance_minor + pg_stmt.excluded.balance_minor,
            "updated_at": pg_stmt.excluded.updated_at,
        },
    )


# -- reading back ----------------------------------------------------------------------------------


def _as_int(value: Any) -> int:
    """SUM(bigint) is NUMERIC on PostgreSQL (a Decimal here): money stays an exact int."""
    result = int(value)
    if result != value:
        raise InvariantError(f"non-integral money value {value!r}")
    return result


def _key(code: str, currency: str, funder_id: str, loan_id: str) -> BalanceKey:
    return BalanceKey(AccountCode(code), currency, funder_id, loan_id)


def _rebuild_entries(rows: Sequence[Any]) -> tuple[JournalEntry, ...]:
    heads: dict[str, Any] = {}
    lines: dict[str, list[Posting]] = defaultdict(list)
    for row in rows:
        heads.setdefault(row[0], row)
        lines[row[0]].append(Posting(AccountCode(row[7]), row[8], _as_int(row[9]), row[10], row[11]))
    built = [
        JournalEntry(
            entry_id=entry_id,
            kind=EntryKind(head[1]),
            effective_date=head[2],
            postings=tuple(lines[entry_id]),
            loan_id=head[3],
            memo=head[4],
            reverses_entry_id=head[5],
            metadata=dict(head[6] or {}),
        )
        for entry_id, head in heads.items()
    ]
    return tuple(sorted(built, key=lambda entry: entry.effective_date))  # stable: keeps booking order
