"""Early warning, the book as one frame: services.early_warning.book_frame (columnar) equals
rows_frame(book_rows(...)) (one Python row per loan, the reference) on random books, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal
from sqlalchemy import Engine, delete, insert

from lendstack.monitoring.early_warning import (
    INSTALLMENT_FRAME_SCHEMA,
    LOAN_FRAME_SCHEMA,
    REVENUE_MONTHS,
    ROW_NAMES,
    SNAPSHOT_FRAME_SCHEMA,
    LoanState,
    book_features,
    build_row,
    missed_in_last,
    row_schema,
    rows_frame,
)
from lendstack.services import early_warning as ew
from lendstack.store.tables import installments, loans
from lendstack.store.tables_monitoring import post_loan_snapshots

START = date(2025, 9, 1)
DAYS = 300
# Mixed case and digits: both paths must keep the database's ORDER BY loan_id (its collation), not re-sort.
LOAN_IDS = ("L9", "L10", "a1", "B2", "l-3", "Z")
STATUSES = ("approved", "active", "overdue", "closed", "written_off")
# How many of the latest snapshots (on or before as_of) the row path reads per source; older ones may be junk.
READ_DEPTH = {"pos": REVENUE_MONTHS, "bureau": 2, "telematics": 2, "tax": 1, "device": DAYS}
JUNK: list[dict[str, Any]] = [{}, {"note": "late correction"}, {"extra": {"nested": [1, "x"]}, "revenue_minor": 5}]
MONEY = st.integers(0, 10**12)  # sums of six stay below 2**53, where int and float arithmetic agree
# zero often: a previous mileage of 0 has no drop
NUMBER = st.one_of(st.sampled_from([0, 0.0, 0.3, 1200]), st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False))


def day(offset: int) -> date:
    return START + timedelta(days=offset)


@dataclass(frozen=True)
class Snapshot:
    source: str
    offset: int
    payload: dict[str, Any]
    degrade: int  # which tolerated damage to apply where the row path tolerates it (0: none)


def payload_of(source: str) -> st.SearchStrategy[dict[str, Any]]:
    extra = st.sampled_from([{}, {"extra": {"nested": [1, "x"]}}, {"comment": "ok"}])
    base: dict[str, st.SearchStrategy[Any]] = {
        "pos": st.fixed_dictionaries({"revenue_minor": st.one_of(st.just(0), MONEY), "cost_minor": MONEY}),
        "tax": st.fixed_dictionaries({"arrears_minor": st.one_of(st.just(0), MONEY)}),
        "bureau": st.fixed_dictionaries({"open_loans": st.integers(0, 20), "inquiries_6m": st.integers(0, 20),
                                         "utilisation": NUMBER}),
        "telematics": st.fixed_dictionaries({"region_exits": st.integers(0, 9), "mileage_km": NUMBER}),
        "device": st.fixed_dictionaries({"device_id": st.sampled_from(["dev-a", "dev-b", "dev-c"])}),
    }
    return st.tuples(base[source], extra).map(lambda pair: {**pair[0], **pair[1]})


@st.composite
def histories(draw: st.DrawFn) -> list[Snapshot]:
    out = []
    for source in draw(st.sets(st.sampled_from(sorted(READ_DEPTH)))):  # a missing source: no snapshots at all
        offsets = draw(st.sets(st.integers(0, DAYS), max_size=9))  # may be empty, may lie after as_of
        out += [Snapshot(source, o, draw(payload_of(source)), draw(st.integers(0, 3))) for o in sorted(offsets)]
    return out


@st.composite
def loan_rows(draw: st.DrawFn, loan_id: str) -> dict[str, Any]:
    counters = {name: draw(st.integers(0, 10**9)) for name in LOAN_FRAME_SCHEMA if name.endswith("_minor")}
    return {"loan_id": loan_id, "status": draw(st.sampled_from(STATUSES)), "days_past_due": draw(st.integers(0, 400)),
            "bucket": draw(st.sampled_from(["M0", "M1", "M3", "M6+"])), "restructure_count": draw(st.integers(0, 3)),
            **counters}


@st.composite
def installment_rows(draw: st.DrawFn, loan_id: str) -> list[dict[str, Any]]:
    rows = []
    for seq in range(1, draw(st.integers(0, 8)) + 1):
        due = {c: draw(st.integers(0, 1000)) for c in ("principal_minor", "interest_minor", "fee_minor")}
        paid = {c.replace("_minor", "_paid_minor"): draw(st.sampled_from([v, 0, v // 2, v + 1]))
                for c, v in due.items()}
        offset = draw(st.integers(0, DAYS // 30)) * 30  # due dates often repeat: the tie order must agree too
        rows.append({"loan_id": loan_id, "seq": seq, "period_start": day(max(offset - 30, 0)), "due_date": day(offset),
                     **due, **paid, "capitalized": False})
    return rows


@st.composite
def books(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[Snapshot]], int]:
    ids = draw(st.lists(st.sampled_from(LOAN_IDS), unique=True, max_size=len(LOAN_IDS)))
    book = [draw(loan_rows(loan_id)) for loan_id in ids]
    due = [row for loan_id in ids for row in draw(installment_rows(loan_id))]
    return book, due, {loan_id: draw(histories()) for loan_id in ids}, draw(st.integers(0, DAYS))


def damaged(snapshots: list[Snapshot], as_of_offset: int) -> list[tuple[Snapshot, dict[str, Any]]]:
    """Each snapshot with the payload stored: junk where the row path never reads it (after as_of, older
    than it reads), an empty previous bureau/telematics payload (read as 'no previous'), no cost beside
    zero revenue, no previous region_exits (never read)."""
    out = []
    for s in snapshots:
        newer = sum(1 for o in snapshots if o.source == s.source and s.offset < o.offset <= as_of_offset)
        payload = dict(s.payload)
        if s.degrade and (s.offset > as_of_offset or newer >= READ_DEPTH[s.source]):
            payload = JUNK[s.degrade - 1]
        elif s.degrade == 1 and s.source in ("bureau", "telematics") and newer == 1:
            payload = {}
        elif s.degrade == 2 and s.source == "pos" and payload["revenue_minor"] == 0:
            del payload["cost_minor"]
        elif s.degrade == 2 and s.source == "telematics" and newer == 1:
            del payload["region_exits"]
        out.append((s, payload))
    return out


def store(engine: Engine, book: list[dict[str, Any]], due: list[dict[str, Any]],
          history: dict[str, list[Snapshot]], as_of_offset: int) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for table in (post_loan_snapshots, installments, loans):
            conn.execute(delete(table))
        if book:
            conn.execute(insert(loans), [{**row, "product_id": "p", "currency": "CNY", "funder_id": "self",
                                          "terms": {}, "principal_minor": 1, "term": 12, "upfront_fee_minor": 0,
                                          "periodic_fee_minor": 0, "version": 1, "updated_at": now} for row in book])
        if due:
            conn.execute(insert(installments), due)
        snaps = [{"loan_id": loan_id, "source": s.source, "as_of": day(s.offset), "payload": payload,
                  "fingerprint": "test", "received_at": now}
                 for loan_id, snapshots in history.items() for s, payload in damaged(snapshots, as_of_offset)]
        if snaps:
            conn.execute(insert(post_loan_snapshots), snaps)


def assert_same(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Exactly equal, but revenue_volatility: statistics.pstdev is exact-then-rounded, polars' std in floats."""
    assert set(got.columns) == ROW_NAMES | {"loan_id"}
    assert_frame_equal(got.drop("revenue_volatility"), expected.drop("revenue_volatility"), check_exact=True)
    assert_series_equal(got["revenue_volatility"], expected["revenue_volatility"], check_exact=False,
                        rel_tol=1e-12, abs_tol=0.0)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(drawn=books(), subset=st.none() | st.lists(st.sampled_from([*LOAN_IDS, "NOPE"]), max_size=4))
def test_book_frame_equals_the_rows_of_book_rows(
    engine: Engine, drawn: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[Snapshot]], int],
    subset: list[str] | None,
) -> None:
    book, due, history, as_of_offset = drawn
    store(engine, book, due, history, as_of_offset)
    with engine.connect() as conn:
        expected = rows_frame(ew.book_rows(conn, day(as_of_offset), subset))
        got = ew.book_frame(conn, day(as_of_offset), subset)
    assert got.height == sum(1 for r in book if r["status"] in ("active", "overdue")
                             and (subset is None or r["loan_id"] in subset))
    assert_same(got, expected)


def test_a_run_evaluates_the_frame_and_counts_the_live_loans(engine: Engine) -> None:
    book = [{"loan_id": "LIVE", "status": "active", "days_past_due": 0, "bucket": "M0", "restructure_count": 0,
             **dict.fromkeys((n for n in LOAN_FRAME_SCHEMA if n.endswith("_minor")), 0)}]
    book.append({**book[0], "loan_id": "DONE", "status": "closed"})
    store(engine, book, [], {"LIVE": [Snapshot("device", 10, {"device_id": "a"}, 0),
                                      Snapshot("device", 20, {"device_id": "b"}, 0)]}, DAYS)
    summary = ew.run_book(engine, day(DAYS)).to_json()
    assert (summary["loans"], summary["alerts"]) == (1, 1)
    assert [a["indicator"] for a in [a.to_json() for a in ew.alerts(engine)]] == ["device_change"]


# --------------------------------------------------------------------------- the pure function


def empty(schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def test_an_empty_book_is_an_empty_frame_with_the_row_schema() -> None:
    frame = book_features(empty(LOAN_FRAME_SCHEMA), empty(INSTALLMENT_FRAME_SCHEMA), empty(SNAPSHOT_FRAME_SCHEMA),
                          day(0))
    assert frame.height == 0
    assert frame.schema == pl.Schema(row_schema())


def one_loan() -> pl.DataFrame:
    return pl.DataFrame([{"loan_id": "L1", "status": "active", "days_past_due": 3, "bucket": "M1",
                          "restructure_count": 1, "principal_disbursed_minor": 1000, "principal_capitalized_minor": 10,
                          "principal_repaid_minor": 200, "principal_written_off_minor": 5}], schema=LOAN_FRAME_SCHEMA)


def test_the_trailing_margin_skips_the_latest_month_with_revenue_not_m1() -> None:
    """m1 has no revenue: margin_m1 is null, and the trailing margin leaves out m2 (the row path's
    margins[0]), not m1 — a boundary a naive columnar port gets wrong."""
    pos = [(day(1), 300, 30), (day(2), 200, 100), (day(3), 100, 90), (day(4), 0, 0)]  # oldest first
    snapshots = pl.DataFrame([("L1", "pos", d, json.dumps({"revenue_minor": r, "cost_minor": c})) for d, r, c in pos],
                             schema=SNAPSHOT_FRAME_SCHEMA, orient="row")
    frame = book_features(one_loan(), empty(INSTALLMENT_FRAME_SCHEMA), snapshots, day(4))
    row = frame.row(0, named=True)
    assert row["margin_m1"] is None
    assert row["margin_trailing_mean"] == pytest.approx((0.5 + 0.9) / 2)
    assert (row["revenue_m1"], row["revenue_m4"], row["revenue_months"]) == (0, 300, 4)
    assert row["principal_outstanding_minor"] == 805
    state = LoanState("L1", "active", 3, "M1", 805, 1, 0)
    history = {"pos": [{"revenue_minor": r, "cost_minor": c} for _, r, c in pos]}
    assert_same(frame, rows_frame([{"loan_id": "L1", **build_row(state, history)}]))


def test_missed_last_3_counts_the_last_three_due_before_as_of_only() -> None:
    due = pl.DataFrame([("L1", day(d), settled) for d, settled in
                        ((1, False), (2, False), (3, True), (4, False), (5, False), (9, False), (3, False))],
                       schema=INSTALLMENT_FRAME_SCHEMA, orient="row")
    at = {as_of: book_features(one_loan(), due, empty(SNAPSHOT_FRAME_SCHEMA), day(as_of))["missed_last_3"][0]
          for as_of in (0, 1, 3, 4, 6, 9, 10)}
    # on day 9 the installment due that day is not yet missed (due strictly before as_of); of two due on
    # day 3, the settled one counts as the later (missed_in_last sorts (due_date, settled))
    assert at == {0: 0, 1: 0, 3: 2, 4: 2, 6: 2, 9: 2, 10: 3}
    assert at == {as_of: missed_in_last([(r["due_date"], r["settled"]) for r in due.iter_rows(named=True)], day(as_of))
                  for as_of in at}


def test_a_frame_missing_a_column_is_refused() -> None:
    with pytest.raises(AssertionError, match="installments frame lacks"):
        book_features(one_loan(), empty({"loan_id": pl.Utf8}), empty(SNAPSHOT_FRAME_SCHEMA), day(0))
