"""Reports in the console through create_site, on SQLite and PostgreSQL: the index lists the kinds the
role may read; each kind renders for its roles in English and Chinese and is 403 for the rest (the audit
bundle: admin, auditor and risk manager only); the embedded report is the one `lendstack report` writes;
the PDF downloads; bad input names the field with 422; a book without a champion model says why the
models report cannot be made."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from lendstack.api.permissions import MATRIX
from lendstack.cli.main import app as cli
from lendstack.money import Money
from lendstack.reporting import REPORT_KINDS
from lendstack.services import staff
from lendstack.services.decisions import accept_offer
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan
from lendstack.web import create_site
from lendstack.web.auth import SESSION_COOKIE
from lendstack.web.routes_reports import report_route
from tests.web.conftest import TODAY, Login, decide_until

BOOK_DAY = TODAY + timedelta(days=60)
GENERATED = re.compile(r"generated 生成于 [0-9T:+-]+")  # the one line that differs between two renderings
TITLES = {"portfolio": ("Portfolio report", "资产组合报告"), "models": ("Model monitoring report", "模型监控报告"),
          "fairness": ("Fairness audit", "公平性审计"), "stress": ("Stress test report", "压力测试报告"),
          "audit": ("Quarterly audit bundle", "季度审计报告")}


@pytest.fixture
def book(engine: Engine, registry_dir: Path, documents: list[dict[str, Any]]) -> Engine:
    """Decided applications (one accepted and disbursed) and two more loans, one never paying; end of
    day closed 60 days on."""
    found = decide_until(engine, registry_dir, documents, {"approve", "decline"})
    loan_id = accept_offer(engine, found["approve"], TODAY, "reports-accept")["loan_id"]
    disburse_loan(engine, loan_id, TODAY, "reports-disburse")
    for name, major in (("R1", 12_000), ("R2", 30_000)):
        book_loan(engine, loan_id=name, product="consumer_cny_12m", amount=Money(major * 100, "CNY"), term=12,
                  on=TODAY, key=f"book-{name}")
        disburse_loan(engine, name, TODAY, f"disb-{name}")
    run_eod(engine, BOOK_DAY, hooks=False)
    return engine


def srcdoc(page: str) -> str:
    found = re.search(r'srcdoc="([^"]*)"', page)
    assert found is not None, "no embedded report"
    return html.unescape(found.group(1))


def test_reports_render_for_their_roles_in_both_languages(login_as: Login, book: Engine) -> None:
    for index, role in enumerate(staff.STAFF_ROLES):
        client = login_as(role)
        readable = [k for k in REPORT_KINDS if role in MATRIX[("GET", report_route(k))]]
        assert ("audit" in readable) == (role in ("admin", "auditor", "risk_manager"))
        languages = ("en", "zh-CN") if role == "admin" else (("en", "zh-CN")[index % 2],)
        for lang in languages:
            client.cookies.set("ls_lang", lang)
            listing = client.get("/console/reports")
            assert listing.status_code == 200 and 'data-testid="nav-reports"' in listing.text
            assert re.findall(r'<li data-testid="report-(\w+)"', listing.text) == readable
            for kind in REPORT_KINDS:
                page = client.get(report_route(kind))
                if kind not in readable:
                    assert page.status_code == 403, (role, kind)
                    continue
                assert page.status_code == 200, (role, kind, page.text[:500])
                assert f'<html lang="{lang}">' in page.text and page.headers["cache-control"] == "no-store"
                word = {"en": "Download PDF", "zh-CN": "下载 PDF"}[lang]
                assert word in page.text and 'sandbox srcdoc="' in page.text
                assert all(title in srcdoc(page.text) for title in TITLES[kind])  # bilingual, as the CLI's


def test_the_console_shows_the_report_the_cli_writes(login_as: Login, book: Engine, registry_dir: Path,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = login_as("risk_manager")
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", book.url.render_as_string(hide_password=False))
    for kind, args in (("portfolio", []), ("stress", []), ("fairness", ["--group", "region"]),
                       ("models", ["--registry", str(registry_dir)])):
        out = tmp_path / f"{kind}.html"
        written = CliRunner().invoke(cli, ["report", kind, "--out", str(out), *args])
        assert written.exit_code == 0, written.output
        query = "?group=region" if kind == "fairness" else ""
        page = client.get(report_route(kind) + query)
        assert page.status_code == 200
        expected = GENERATED.sub("", out.read_text(encoding="utf-8"))
        assert GENERATED.sub("", srcdoc(page.text)) == expected, kind
        bare = client.get(report_route(kind) + (query + "&" if query else "?") + "format=html")
        assert bare.status_code == 200 and GENERATED.sub("", bare.text) == expected
        assert "default-src 'none'" in bare.headers["content-security-policy"]


def test_pdf_download(login_as: Login, book: Engine) -> None:
    client = login_as("auditor")
    page = client.get(report_route("portfolio"))
    link = html.unescape(re.search(r'href="([^"]+)"[^>]*data-testid="report-pdf"', page.text).group(1))  # type: ignore[union-attr]
    assert link == "/console/reports/portfolio?format=pdf"
    pdf = client.get(link)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 5_000
    assert pdf.headers["content-disposition"] == f'attachment; filename="lendstack-portfolio-{BOOK_DAY}.pdf"'
    assert client.get(report_route("audit") + "?format=pdf").status_code == 200  # the auditor's own bundle
    assert login_as("credit_officer").get(report_route("audit") + "?format=pdf").status_code == 403


BAD_QUERIES = [
    ("portfolio", "as_of=2026-13-01", "as_of"),
    ("portfolio", "as_of=yesterday", "as_of"),
    ("stress", f"as_of={date(2025, 1, 1)}", "as_of"),  # before the book's last closed day
    ("fairness", "group=income", "group"),
    ("audit", "quarter=2026Q5", "quarter"),
    ("portfolio", "format=xlsx", "format"),
]


def test_bad_input_names_the_field(login_as: Login, engine: Engine) -> None:
    book_loan(engine, loan_id="B1", product="consumer_cny_12m", amount=Money(5_000_00, "CNY"), term=12, on=TODAY,
              key="book-B1")
    disburse_loan(engine, "B1", TODAY, "disb-B1")
    run_eod(engine, TODAY + timedelta(days=3), hooks=False)
    client = login_as("admin")
    for kind, query, field in BAD_QUERIES:
        answer = client.get(f"{report_route(kind)}?{query}")
        assert answer.status_code == 422, (query, answer.text[:500])
        assert 'data-testid="form-error"' in answer.text and f"<code>{field}</code>" in answer.text, query
        assert "srcdoc" not in answer.text and 'data-testid="report-pdf"' not in answer.text
    assert client.get(f"{report_route('stress')}?as_of={TODAY + timedelta(days=3)}").status_code == 200  # the edge


def test_models_report_without_a_champion_says_why(engine: Engine, tmp_path: Path) -> None:
    staff.create_user(engine, "riskone", "correct horse battery", "risk_manager")
    user = staff.get_user(engine, "riskone")
    assert user is not None
    with TestClient(create_site(engine, registry_dir=tmp_path / "empty")) as client:
        client.cookies.set(SESSION_COOKIE, staff.start_session(engine, user))
        page = client.get(report_route("models"))
        assert page.status_code == 200 and 'data-testid="form-error"' in page.text and "champion" in page.text
        assert "srcdoc" not in page.text
        assert client.get(report_route("portfolio")).status_code == 200  # the rest still stands
