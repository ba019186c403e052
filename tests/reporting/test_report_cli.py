"""`lendstack report`: files written whole (HTML, PDF), --json, and bad input that names the
field, exits 2 and writes no file."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lendstack.cli.main import app
from tests.reporting.book import AS_OF, BookFacts
from tests.reporting.test_reports_book import loans_with, yuan

runner = CliRunner()


def invoke(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["report", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def on_book(book: BookFacts, monkeypatch: pytest.MonkeyPatch) -> BookFacts:
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", book.engine.url.render_as_string(hide_password=False))
    return book


@pytest.fixture
def empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    return tmp_path


def test_portfolio_html_with_json_summary(on_book: BookFacts, tmp_path: Path) -> None:
    out = tmp_path / "portfolio.html"
    code, doc = invoke("portfolio", "--out", str(out), "--as-of", AS_OF.isoformat())
    assert code == 0, doc
    page = out.read_text(encoding="utf-8")
    assert doc["format"] == "html" and doc["bytes"] == len(page.encode("utf-8"))
    outstanding = sum(loan.principal_outstanding_minor for loan in loans_with(on_book, "current", "late"))
    assert doc["data"]["kpis"][0]["principal_outstanding_minor"] == outstanding
    assert f">{yuan(outstanding)}<" in page and page.startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".portfolio")] == []  # no temp file left


def test_models_pdf_is_a_real_multi_page_pdf(on_book: BookFacts, tmp_path: Path) -> None:
    if on_book.engine.dialect.name != "sqlite":
        pytest.skip("one PDF is enough: WeasyPrint takes seconds")
    out = tmp_path / "models.pdf"
    code, doc = invoke("models", "--out", str(out), "--registry", str(on_book.registry))
    assert code == 0, doc
    body = out.read_bytes()
    pages = pdf_pages(body)
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    assert pages > 1 and len(body) > 20_000 and doc["format"] == "pdf" and doc["bytes"] == len(body)


def pdf_pages(body: bytes) -> int:
    """Page objects, also inside compressed object streams (no PDF library needed)."""
    text = body
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S):
        try:
            text += zlib.decompress(match.group(1))
        except zlib.error:
            continue  # an image or font stream that is not deflated
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", text))


def test_fairness_from_a_data_file(empty_db: Path) -> None:
    rows = ["decision,gender,bad"] + [f"approve,f,{i % 2}" for i in range(6)] + ["decline,f,"] * 4 + \
        [f"approve,m,{int(i == 0)}" for i in range(8)] + ["decline,m,"] * 2
    data = empty_db / "decisions.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = empty_db / "fair.html"
    code, doc = invoke("fairness", "--out", str(out), "--data", str(data), "--decision", "decision",
                       "--outcome", "bad", "--reference-group", "m")
    assert code == 0, doc
    page = out.read_text(encoding="utf-8")
    assert ">60.00%<" in page and ">80.00%<" in page  # f: 6 of 10, m: 8 of 10
    assert f">{0.6 / 0.8:.3f}<" in page  # the disparate-impact ratio of f against m
    assert doc["data"]["audit"]["reference_group"] == "m" and doc["data"]["audit"]["flagged_groups"] == ["f"]


BAD: list[tuple[str, list[str], str]] = [
    ("unknown kind", ["balance", "--out", "{tmp}/x.html"], "kind"),
    ("missing folder", ["portfolio", "--out", "{tmp}/nowhere/x.html"], "out"),
    ("out is a folder", ["portfolio", "--out", "{tmp}"], "out"),
    ("bad date", ["portfolio", "--out", "{tmp}/x.html", "--as-of", "2026-13-01"], "as_of"),
    ("bad group", ["fairness", "--out", "{tmp}/x.html", "--group", "religion"], "group"),
    ("no champion", ["models", "--out", "{tmp}/x.html", "--registry", "{tmp}/no-models"], "registry"),
    ("bad quarter", ["audit", "--out", "{tmp}/x.html", "--quarter", "2026Q5"], "quarter"),
    ("data without --decision", ["fairness", "--out", "{tmp}/x.html", "--data", "{tmp}/d.csv"], "decision"),
    ("missing data file", ["fairness", "--out", "{tmp}/x.html", "--data", "{tmp}/none.csv", "--decision", "d"],
     "data"),
    ("missing column", ["fairness", "--out", "{tmp}/x.html", "--data", "{tmp}/d.csv", "--decision", "decision",
                        "--outcome", "defaulted"], "defaulted"),
]


@pytest.mark.parametrize(("case", "args", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_field_and_writes_nothing(empty_db: Path, case: str, args: list[str],
                                                      field: str) -> None:
    (empty_db / "d.csv").write_text("decision,gender\napprove,f\ndecline,m\n", encoding="utf-8")
    before = sorted(p.name for p in empty_db.rglob("*"))
    code, doc = invoke(*[a.replace("{tmp}", str(empty_db)) for a in args])
    assert code == 2, (case, doc)
    assert doc["error"]["field"] == field, doc
    after = sorted(p.name for p in empty_db.rglob("*") if p.name != "empty.db" and not p.name.startswith("empty.db"))
    assert after == [n for n in before if not n.startswith("empty.db")], case
