"""Each report's data, gathered from the book: typed results (portfolio, fairness, stress) or plain
dicts (models) whose JSON-able documents (`to_json()`) `lendstack.reporting` renders (HTML, PDF) and
`lendstack report ... --json` prints; the shells call `to_json()` at the edge.

- portfolio: `services.monitoring.portfolio_report` plus headline KPIs per currency.
- models: the champion's development metrics (registry), PSI/CSI of recent applications against
  the development sample kept in the model artifact, realized AUC/KS and calibration on matured
  booked loans, and champion/challenger outcomes by arm and model version.
- fairness: `monitoring.fairness.audit` over the stored decisions (gender, kept only for audits,
  is in the stored application document) with the booked loans' outcomes.
- stress: `services.stress.run_stress`.

What "matured" and "bad" mean here (the book keeps no per-loan default flag): the performance
window is the model target's (`performance_window_days`: 365 days for default_12m, the
simulator's target); a booked loan is matured when it is closed, written off, or at least the
window on book; it is bad when it is written off, or was more than BAD_DPD_DAYS past due on some
day within the window from disbursement and up to the report date ("ever 90+ in 12 months",
from each installment's covering payment date, `monitoring.portfolio.ever_past_due`), cured since
or not. A realized AUC drop is an alert only when it is significant (`monitoring.drift.
judge_performance`: the development AUC above the realized AUC's DeLong 95 % upper bound) and
there are at least BADS_MIN bads; below that the status is insufficient_data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from lendstack.errors import LendstackError
from lendstack.monitoring.drift import (
    AUC_DROP_ALERT,
    AUC_DROP_WATCH,
    BADS_MIN,
    DriftInputError,
    judge_performance,
    performance,
    stability_report,
    status_of,
)
from lendstack.monitoring.fairness import AuditColumns, audit, wilson
from lendstack.monitoring.portfolio import LIVE, ever_past_due, installment_paid_dates, with_exposure
from lendstack.scoring import Registry
from lendstack.scoring.credit_model import CreditModel
from lendstack.scoring.errors import ArtifactError
from lendstack.scoring.evaluation import bin_shares, calibration_table, pd_to_score, psi
from lendstack.scoring.registry import read_manifest
from lendstack.services.decisions import challenger_comparison
from lendstack.services.models import default_registry_dir
from lendstack.services.monitoring import book_date, portfolio_report, read_installments, read_loans, read_payments
from lendstack.services.naming import loan_id_for, loan_ids_of
from lendstack.services.stress import StressResult, run_stress
from lendstack.store import Connection, Engine
from lendstack.store.report_repo import ReportRepository

RECENT_DAYS = 90  # "recent applications" for drift: the 90 days to the latest application by as_of
MATURITY_DAYS = 365  # the default performance window: default_12m, the simulator's target
WINDOW_DAYS_MAX = 3660  # a target named *_120m is the longest window read from a name
BAD_DPD_DAYS = 90
DECISIONS_MAX = 200_000  # decisions read into memory per report; the newest are kept beyond that
# Below these sizes the indices are shown but the status is insufficient_data: with 40 applications in
# 10 bins an empty bin alone gives a PSI above 0.25, and an AUC on a handful of loans is noise.
DRIFT_ROWS_MIN = 100
REALIZED_LOANS_MIN = 30
FAIRNESS_GROUPS = ("gender", "age_band", "segment", "region", "applicant_type")
STATUS_ORDER = ("stable", "insufficient_data", "watch", "alert")
DECISION_SCHEMA: dict[str, Any] = {
    "application_id": pl.String, "arm": pl.String, "acting": pl.Boolean, "outcome": pl.String, "pd": pl.Float64,
    "rate_annual": pl.Float64, "model_version": pl.String, "applied_on": pl.Date,
    **dict.fromkeys(FAIRNESS_GROUPS, pl.String),
}


class ReportDataError(LendstackError):
    """A report asked for something the book or the registry cannot give (names the field)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def report_day(engine: Engine, as_of: date | None) -> date:
    if as_of is not None:
        return as_of
    with engine.connect() as conn:
        return book_date(conn) or date.today()


def worst(statuses: list[str]) -> str:
    """The most severe of some statuses (stable < insufficient data < watch < alert)."""
    assert all(s in STATUS_ORDER for s in statuses), statuses
    return max(statuses, key=STATUS_ORDER.index, default="stable")


# --------------------------------------------------------------------------- portfolio


@dataclass(frozen=True, slots=True)
class ChargeOffs:
    """One currency's charge-offs (`monitoring.portfolio.charge_offs`)."""

    charged_off_minor: int
    claim_written_off_minor: int
    recovered_minor: int
    net_charge_off_minor: int

    def to_json(self) -> dict[str, Any]:
        return {"charged_off_minor": self.charged_off_minor, "claim_written_off_minor": self.claim_written_off_minor,
                "recovered_minor": self.recovered_minor, "net_charge_off_minor": self.net_charge_off_minor}


@dataclass(frozen=True, slots=True)
class CurrencyKpis:
    """The headline KPIs of one currency; its charge-offs (when the report has them) follow in the document."""

    currency: str
    loans: int
    loans_live: int
    loans_by_status: dict[str, int]
    disbursed_minor: int
    principal_outstanding_minor: int
    receivable_minor: int
    overdue_loans: int
    npl_ratio: float
    ecl_minor: int
    allowance_minor: int
    written_off_minor: int
    coverage: float
    charge_offs: ChargeOffs | None

    def to_json(self) -> dict[str, Any]:
        out = {
            "currency": self.currency, "loans": self.loans, "loans_live": self.loans_live,
            "loans_by_status": self.loans_by_status, "disbursed_minor": self.disbursed_minor,
            "principal_outstanding_minor": self.principal_outstanding_minor,
            "receivable_minor": self.receivable_minor, "overdue_loans": self.overdue_loans,
            "npl_ratio": self.npl_ratio, "ecl_minor": self.ecl_minor, "allowance_minor": self.allowance_minor,
            "written_off_minor": self.written_off_minor, "coverage": self.coverage,
        }
        return out | self.charge_offs.to_json() if self.charge_offs else out


@dataclass(frozen=True, slots=True)
class PortfolioData:
    """The portfolio report's document: `services.monitoring.portfolio_report` as it comes, plus KPIs."""

    generated_at: str
    report: dict[str, Any]
    kpis: tuple[CurrencyKpis, ...]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "portfolio", "generated_at": self.generated_at, **self.report,
                "kpis": [k.to_json() for k in self.kpis]}


def portfolio_data(engine: Engine, as_of: date | None = None) -> PortfolioData:
    """The portfolio report plus KPIs per currency (exact integer sums of the loans table)."""
    report = portfolio_report(engine, as_of)
    with engine.connect() as conn:
        frame = with_exposure(read_loans(conn))
    allowance = report["ecl"]["allowance_minor"]
    ecl = report["ecl"]["total_minor"]
    kpis = tuple(_currency_kpis(frame.filter(pl.col("currency") == c), c, report["npl_ratio"].get(c, 0.0),
                                int(ecl.get(c, 0)), int(allowance.get(c, 0)), report["charge_offs"].get(c))
                 for c in sorted(set(frame["currency"].to_list())))
    return PortfolioData(now_iso(), report, kpis)


def _currency_kpis(frame: pl.DataFrame, currency: str, npl: float, ecl_minor: int, allowance_minor: int,
                   charge_offs: dict[str, int] | None) -> CurrencyKpis:
    live = frame.filter(pl.col("status").is_in(LIVE))
    outstanding_minor = int(live["principal_outstanding_minor"].sum())
    statuses = frame.group_by("status").len().sort("status")
    return CurrencyKpis(
        currency=currency, loans=frame.height, loans_live=live.height,
        loans_by_status={str(s): int(n) for s, n in statuses.iter_rows()},
        disbursed_minor=int(frame["principal_disbursed_minor"].sum()),
        principal_outstanding_minor=outstanding_minor,
        receivable_minor=int(live["receivable_minor"].sum()),
        overdue_loans=int(live.filter(pl.col("days_past_due") > 0).height),
        npl_ratio=npl, ecl_minor=ecl_minor, allowance_minor=allowance_minor,
        written_off_minor=int(frame["principal_written_off_minor"].sum()),
        coverage=ecl_minor / outstanding_minor if outstanding_minor else 0.0,
        charge_offs=ChargeOffs(charge_offs["charged_off_minor"], charge_offs["claim_written_off_minor"],
                               charge_offs["recovered_minor"], charge_offs["net_charge_off_minor"])
        if charge_offs else None,
    )


# --------------------------------------------------------------------------- decisions and outcomes


@dataclass(frozen=True)
class DecisionBook:
    """Stored decisions as columns, with the booked loan's outcome, and their feature rows."""

    frame: pl.DataFrame
    features: list[dict[str, Any]]
    truncated: bool


def performance_window_days(target: str | None) -> int:
    """The performance window of a target from its name: `*_12m` → 365 days, `*_6m` → 183,
    `*_90d` → 90, `*_2y` → 730; MATURITY_DAYS (12 months) when the name does not say."""
    found = re.search(r"_(\d{1,4})(m|mo|d|y)$", (target or "").lower())
    if found is None:
        return MATURITY_DAYS
    count, unit = int(found.group(1)), found.group(2)
    days = count if unit == "d" else 365 * count if unit == "y" else -(-count * 365 // 12)  # ceil
    return days if 1 <= days <= WINDOW_DAYS_MAX else MATURITY_DAYS


def read_decisions(conn: Connection, as_of: date, *, since: date | None = None,
                   window_days: int = MATURITY_DAYS) -> DecisionBook:
    """Decisions (acting and shadow) of applications applied on or before `as_of` (and on or after
    `since`), newest DECISIONS_MAX, joined to their loans' maturity and outcome as of `as_of` over
    a performance window of `window_days`."""
    stored = ReportRepository(conn).newest_decisions(DECISIONS_MAX + 1)
    rows = [r for r in stored if _applied_on(r.input) <= as_of and (since is None or _applied_on(r.input) >= since)]
    truncated = len(rows) > DECISIONS_MAX
    rows = rows[:DECISIONS_MAX]
    frame = pl.DataFrame({
        "application_id": [r.application_id for r in rows], "arm": [r.arm for r in rows],
        "acting": [bool(r.acting) for r in rows], "outcome": [r.outcome for r in rows],
        "pd": [float(r.pd) for r in rows], "rate_annual": [float(r.rate_annual) for r in rows],
        "model_version": [r.model_version for r in rows], "applied_on": [_applied_on(r.input) for r in rows],
        **{name: [_applicant(r.input, name) for r in rows] for name in FAIRNESS_GROUPS},
    }, schema=DECISION_SCHEMA)
    return DecisionBook(_with_outcomes(conn, frame, as_of, window_days), [dict(r.input["features"]) for r in rows],
                        truncated)


def _applied_on(inputs: dict[str, Any]) -> date:
    return date.fromisoformat(str(inputs["document"]["applied_on"]))


def _applicant(inputs: dict[str, Any], name: str) -> str | None:
    applicant = inputs["document"]["applicant"]
    if name == "age_band":
        age = applicant.get("age")
        return None if age is None else age_band(int(age))
    value = applicant.get(name)
    return None if value is None else str(value)


def age_band(age: int) -> str:
    assert 0 <= age < 150, age
    return "<25" if age < 25 else "25-34" if age < 35 else "35-44" if age < 45 else "45-59" if age < 60 else "60+"


def _with_outcomes(conn: Connection, frame: pl.DataFrame, as_of: date,
                   window_days: int = MATURITY_DAYS) -> pl.DataFrame:
    apps = [str(a) for a in frame["application_id"].unique().to_list()]
    loan_of = {a: loan_id_for(a, "") for a in apps} | loan_ids_of(conn, apps)
    ids = list(loan_of.values())
    found = [(o.loan_id, o.status, o.disbursed_on, o.days_past_due) for o in ReportRepository(conn).loan_outcomes(ids)]
    book = pl.DataFrame(found, schema={"loan_id": pl.String, "status": pl.String, "disbursed_on": pl.Date,
                                       "days_past_due": pl.Int64}, orient="row")
    assert 1 <= window_days <= WINDOW_DAYS_MAX, window_days
    horizon = as_of - timedelta(days=window_days)
    ever = set(_ever_past_due(conn, book["loan_id"].to_list(), as_of, _window_ends(book, window_days)))
    in_window = (pl.col("disbursed_on") > horizon).fill_null(False)  # today's DPD still falls in the window
    book = book.with_columns(
        (pl.col("status").is_in(["closed", "written_off"]) | (pl.col("disbursed_on") <= horizon)).fill_null(False)
        .alias("matured"),
        ((pl.col("status") == "written_off") | (in_window & (pl.col("days_past_due") > BAD_DPD_DAYS))
         | pl.col("loan_id").is_in(list(ever))).alias("bad_now"),
        pl.col("disbursed_on").is_not_null().alias("booked"),
    )
    joined = frame.with_columns(pl.col("application_id").replace_strict(loan_of, return_dtype=pl.String)
                                .alias("loan_id")).join(
        book.select("loan_id", "booked", "matured", "bad_now"), on="loan_id", how="left")
    return joined.with_columns(
        pl.col("booked").fill_null(False), pl.col("matured").fill_null(False),
        pl.when(pl.col("matured")).then(pl.col("bad_now")).otherwise(None).alias("bad"),
    ).drop("bad_now")


def _window_ends(book: pl.DataFrame, window_days: int) -> dict[str, date]:
    """Each disbursed loan's last day of the performance window."""
    ends = book.filter(pl.col("disbursed_on").is_not_null()).select(
        "loan_id", (pl.col("disbursed_on") + pl.duration(days=window_days)).alias("end"))
    return {str(loan): end for loan, end in ends.iter_rows()}


def _ever_past_due(conn: Connection, loan_ids: list[str], as_of: date,
                   window_ends: dict[str, date] | None = None) -> list[str]:
    """The loans among `loan_ids` ever more than BAD_DPD_DAYS past due by `as_of` — and, with
    `window_ends`, by the end of each loan's performance window: an installment crosses on its
    due date + BAD_DPD_DAYS + 1, so only installments due early enough can cross in the window."""
    if not loan_ids:
        return []
    wanted = pl.col("loan_id").is_in(loan_ids)
    paid_dates = installment_paid_dates(read_installments(conn).filter(wanted), read_payments(conn).filter(wanted))
    if window_ends is not None:
        last_due = pl.col("loan_id").replace_strict(
            {k: v - timedelta(days=BAD_DPD_DAYS + 1) for k, v in window_ends.items()}, default=None,
            return_dtype=pl.Date)
        paid_dates = paid_dates.filter(pl.col("due_date") <= last_due)
    found: list[str] = ever_past_due(paid_dates, BAD_DPD_DAYS, as_of)["loan_id"].to_list()
    return found


# --------------------------------------------------------------------------- models


def models_data(engine: Engine, as_of: date | None = None, registry_dir: str | Path | None = None) -> dict[str, Any]:
    """Development metrics, drift, realized performance and champion/challenger outcomes."""
    day = report_day(engine, as_of)
    registry = Registry(registry_dir or default_registry_dir())
    version = registry.champion()
    if version is None:
        raise ReportDataError("registry", f"no champion model in {registry.root}; train and promote one first")
    try:
        credit = registry.load(version)
        manifest = read_manifest(registry.path(version))
    except ArtifactError as exc:
        raise ReportDataError("registry", str(exc)) from exc
    window_days = performance_window_days(credit.target)
    with engine.connect() as conn:
        book = read_decisions(conn, day, window_days=window_days)
    development = {k: v for k, v in manifest.get("metrics", {}).items() if isinstance(v, int | float)}
    drift = drift_section(credit, version, book, day)
    realized = realized_section(book, version, development, window_days, credit.target)
    arms = [a.to_json() for a in arms_section(book)]
    out = {
        "kind": "models", "generated_at": now_iso(), "as_of": day.isoformat(),
        "model": {"version": version, "kind": manifest.get("kind"), "created_at": manifest.get("created_at"),
                  "target": manifest.get("target"), "features": len(manifest.get("features", [])),
                  "data_fingerprint": manifest.get("data_fingerprint"),
                  "content_sha256": manifest.get("content_sha256")},
        "development": development, "drift": drift, "realized": realized, "arms": arms,
        "shadow": challenger_comparison(engine).to_json(), "decisions_read": book.frame.height,
        "truncated": book.truncated,
    }
    out["status"] = worst([drift["status"], realized["status"]])
    return out


def drift_section(credit: CreditModel, version: str, book: DecisionBook, as_of: date) -> dict[str, Any]:
    """PSI of the champion's score and CSI of each feature: recent applications vs development.
    "Recent" is the RECENT_DAYS ending at the latest application on or before `as_of` (a book
    whose intake paused still shows the drift of its last intake, with the window's dates)."""
    frame = book.frame.with_row_index("row").filter(pl.col("acting"))
    latest = frame["applied_on"].max() if frame.height else None
    end = latest if isinstance(latest, date) else as_of
    recent = frame.filter(pl.col("applied_on") > end - timedelta(days=RECENT_DAYS))
    window = {"from": (end - timedelta(days=RECENT_DAYS - 1)).isoformat(), "to": end.isoformat(),
              "applications": recent.height}
    reference = credit.explain_sample
    if recent.height == 0 or reference is None:
        why = "no applications in the window" if recent.height == 0 else "the model keeps no development sample"
        return {"window": window, "status": "insufficient_data", "note": why, "score": None, "features": []}
    current = _feature_frame([book.features[i] for i in recent["row"].to_list()], reference)
    features = [{"column": s.column, "index": s.index, "status": s.status}
                for s in stability_report(reference, current, list(reference.columns))]
    scored = recent.filter(pl.col("model_version") == version)
    score = _score_psi(credit, scored["pd"].to_numpy()) if scored.height else None
    statuses = [str(f["status"]) for f in features] + ([str(score["status"])] if score else [])
    small = recent.height < DRIFT_ROWS_MIN
    note = f"fewer than {DRIFT_ROWS_MIN} applications: the indices are noisy" if small else ""
    return {"window": window, "status": "insufficient_data" if small else worst(statuses), "score": score,
            "features": features, "reference_rows": reference.height, "note": note}


def _feature_frame(rows: list[dict[str, Any]], reference: pl.DataFrame) -> pl.DataFrame:
    """Stored feature rows with the development sample's column types (strict=False: a value that
    does not fit becomes null, which the stability index counts in its own bin)."""
    return pl.DataFrame([pl.Series(name, [r.get(name) for r in rows], dtype=reference[name].dtype, strict=False)
                         for name in reference.columns])


def _score_psi(credit: CreditModel, pds: Any) -> dict[str, Any] | None:
    if not credit.dev_score_edges:
        return None
    shares = bin_shares(pd_to_score(np.asarray(pds, dtype=np.float64)), credit.dev_score_edges)
    index = psi(credit.dev_score_shares, shares)
    return {"column": "score", "index": index, "status": status_of(index), "applications": len(pds),
            "edges": credit.dev_score_edges, "development_shares": credit.dev_score_shares, "current_shares": shares}


def realized_section(book: DecisionBook, version: str, development: dict[str, float],
                     window_days: int = MATURITY_DAYS, target: str | None = None) -> dict[str, Any]:
    """Realized AUC (with its DeLong interval) / KS / calibration of the champion on its matured
    booked loans vs development, judged by `performance_status`."""
    done = book.frame.filter(pl.col("acting") & pl.col("matured") & (pl.col("model_version") == version))
    base = {"matured_loans": done.height, "bad_loans": int(done["bad"].sum() or 0),
            "performance_window_days": window_days,
            "definition": f"performance window {window_days} days (the target {target or 'default_12m'}); "
                          f"bad = written off or DPD > {BAD_DPD_DAYS} within the window; matured = closed, "
                          f"written off or {window_days}+ days on book; an AUC drop alerts only when significant "
                          f"(development AUC above the realized DeLong 95% upper bound) with {BADS_MIN}+ bads; "
                          "the realized AUC covers approved loans only, a narrower PD range than development, "
                          "so some drop is expected"}
    try:
        current = performance(done["bad"].cast(pl.Int8).to_numpy(), done["pd"].to_numpy())
    except DriftInputError as exc:
        return {**base, "status": "insufficient_data", "note": exc.message, "current": None, "calibration": []}
    alerts, status = performance_status(current, development)
    small = done.height < REALIZED_LOANS_MIN or status == "insufficient_data"
    note = (f"fewer than {REALIZED_LOANS_MIN} matured loans or {BADS_MIN} bad or good ones: the metrics are "
            "noisy, shown but not judged") if small else ""
    return {**base, "status": "insufficient_data" if small else status, "alerts": [] if small else alerts,
            "current": current, "note": note,
            "auc_change": current["auc"] - development["auc"] if "auc" in development else None,
            "ks_change": current["ks"] - development["ks"] if "ks" in development else None,
            "calibration": calibration_table(done["bad"].cast(pl.Int8).to_numpy(), done["pd"].to_numpy())}


def performance_status(current: dict[str, Any], development: dict[str, float]) -> tuple[list[str], str]:
    """`monitoring.drift.judge_performance` against the development metrics: insufficient_data
    below BADS_MIN bads or goods; alert when the AUC fell by more than AUC_DROP_ALERT *and* the
    development AUC lies above the realized AUC's DeLong 95 % upper bound, or the calibration
    error doubled with a PD decile outside its Jeffreys interval; watch for a drop beyond
    AUC_DROP_WATCH or either without its significance; else stable."""
    return judge_performance(current, development.get("auc"), development.get("ece"), AUC_DROP_ALERT,
                             AUC_DROP_WATCH, BADS_MIN)


@dataclass(frozen=True, slots=True)
class ArmOutcome:
    """One acting arm and model version: approvals, bookings and the bad rate of matured loans."""

    arm: str
    model_version: str
    applications: int
    approved: int
    booked: int
    matured: int
    bad: int
    avg_pd: float | None
    avg_rate_annual_approved: float | None
    approval_rate: float
    approval_rate_ci95: tuple[float, float]
    bad_rate: float | None
    bad_rate_ci95: tuple[float, float]

    def to_json(self) -> dict[str, Any]:
        return {"arm": self.arm, "model_version": self.model_version, "applications": self.applications,
                "approved": self.approved, "booked": self.booked, "matured": self.matured, "bad": self.bad,
                "avg_pd": self.avg_pd, "avg_rate_annual_approved": self.avg_rate_annual_approved,
                "approval_rate": self.approval_rate, "approval_rate_ci95": self.approval_rate_ci95,
                "bad_rate": self.bad_rate, "bad_rate_ci95": self.bad_rate_ci95}


def arms_section(book: DecisionBook) -> tuple[ArmOutcome, ...]:
    """Per acting arm and model version: approval rate, booked loans, bad rate of matured ones."""
    acting = book.frame.filter(pl.col("acting"))
    grouped = acting.group_by("arm", "model_version").agg(
        pl.len().alias("applications"), (pl.col("outcome") == "approve").sum().alias("approved"),
        pl.col("booked").sum().alias("booked"), pl.col("matured").sum().alias("matured"),
        pl.col("bad").fill_null(False).sum().alias("bad"), pl.col("pd").mean().alias("avg_pd"),
        pl.col("rate_annual").filter(pl.col("outcome") == "approve").mean().alias("avg_rate_annual_approved"),
    ).sort("arm", "model_version")
    out = []
    for r in grouped.to_dicts():
        n, approved, matured, bad = int(r["applications"]), int(r["approved"]), int(r["matured"]), int(r["bad"])
        out.append(ArmOutcome(r["arm"], r["model_version"], n, approved, int(r["booked"]), matured, bad, r["avg_pd"],
                              r["avg_rate_annual_approved"], approved / n, wilson(approved, n),
                              bad / matured if matured else None, wilson(bad, matured)))
    return tuple(out)


# --------------------------------------------------------------------------- fairness


@dataclass(frozen=True, slots=True)
class FairnessReport:
    """The fairness report's document; `audit` is `monitoring.fairness.audit`'s result as it comes.
    Without decisions (`audit` None, from the book) the two definitions are left out of the document;
    `from_table` (an audit of a `--data` table) keeps that shell's key order (note before audit)."""

    generated_at: str
    as_of: str | None
    since: str | None
    source: str
    group: str
    decisions: int
    truncated: bool
    audit: dict[str, Any] | None
    note: str
    outcome_definition: str | None = None
    price_definition: str | None = None
    from_table: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "fairness", "generated_at": self.generated_at, "as_of": self.as_of,
                               "since": self.since, "source": self.source, "group": self.group,
                               "decisions": self.decisions, "truncated": self.truncated}
        if self.from_table:
            out |= {"note": self.note, "audit": self.audit}
        else:
            out |= {"audit": self.audit, "note": self.note}
        if self.outcome_definition is not None or self.price_definition is not None:
            out |= {"outcome_definition": self.outcome_definition, "price_definition": self.price_definition}
        return out


def fairness_data(engine: Engine, as_of: date | None = None, group: str = "gender", *, since: date | None = None,
                  reference_group: str | None = None, seed: int = 0) -> FairnessReport:
    """The fairness audit of the acting decisions: approval, price and realized bad rate by group."""
    if group not in FAIRNESS_GROUPS:
        raise ReportDataError("group", f"must be one of {', '.join(FAIRNESS_GROUPS)}, got {group!r}")
    day = report_day(engine, as_of)
    with engine.connect() as conn:
        book = read_decisions(conn, day, since=since)
    acting = book.frame.filter(pl.col("acting")).with_columns(
        pl.when(pl.col("outcome") == "approve").then(pl.col("rate_annual")).otherwise(None).alias("price"))
    generated_at, since_iso = now_iso(), since.isoformat() if since else None
    if acting.height == 0:
        return FairnessReport(generated_at, day.isoformat(), since_iso, "book", group, acting.height, book.truncated,
                              None, "no decisions in the period")
    cols = AuditColumns("outcome", group, "bad", "price", "approve", reference_group)
    return FairnessReport(generated_at, day.isoformat(), since_iso, "book", group, acting.height, book.truncated,
                          audit(acting, cols, seed=seed), "",
                          outcome_definition=f"bad = written off or DPD > {BAD_DPD_DAYS} (matured booked loans)",
                          price_definition="annual rate of approved offers")


def fairness_from_frame(frame: pl.DataFrame, cols: AuditColumns, *, source: str, seed: int = 0) -> FairnessReport:
    """The same audit over any table (`--data FILE`)."""
    return FairnessReport(now_iso(), None, None, source, cols.group, frame.height, False,
                          audit(frame, cols, seed=seed), "", outcome_definition=cols.outcome or "",
                          price_definition=cols.price or "", from_table=True)


# --------------------------------------------------------------------------- stress


@dataclass(frozen=True, slots=True)
class StressReport:
    """The stress scenarios of `services.stress.run_stress` as they come, tagged for rendering."""

    generated_at: str
    result: StressResult

    def to_json(self) -> dict[str, Any]:
        return {"kind": "stress", "generated_at": self.generated_at, **self.result.to_json()}


def stress_data(engine: Engine, as_of: date | None = None) -> StressReport:
    """The stress scenarios of `services.stress.run_stress` as they come, tagged for rendering."""
    return StressReport(now_iso(), run_stress(engine, as_of))
