"""One applicant and its applications, newest first. A partner names its own applicants (its
references, routes_origination) and sees only those and the applications it brought with them:
another partner's applicant, under any id, is to it exactly an unknown id (404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select

from lendstack.api.common import EngineDep, PageDep, with_display
from lendstack.api.problems import Problem
from lendstack.api.security import principal_of
from lendstack.store.tables_origination import applicants, applications

router = APIRouter(prefix="/v1")


@router.get("/applicants/{applicant_id}", tags=["applications"])
def applicant(applicant_id: Annotated[str, Path(max_length=128)], request: Request, engine: EngineDep,
              page: PageDep, status: Annotated[str | None, Query(max_length=32)] = None) -> dict[str, Any]:
    """The applicant (type, segment, region) and a page of its applications (filter by `status`)."""
    principal = principal_of(request)
    a, c = applicants.c, applications.c
    person_query = select(a.applicant_id, a.applicant_type, a.segment, a.region, a.created_at)
    if principal.is_partner:
        person_query = person_query.where(a.partner_id == principal.partner_id, a.reference == applicant_id)
    else:
        person_query = person_query.where(a.applicant_id == applicant_id)
    shown = c.reference if principal.is_partner else c.application_id  # a partner's ids are its references
    with engine.connect() as conn:
        person = conn.execute(person_query).first()
        if person is None:
            raise Problem(404, "not-found", f"no applicant {applicant_id!r}", field="applicant_id")
        query = (select(shown.label("application_id"), c.status, c.product_id, c.partner_id, c.applied_on,
                        c.currency, c.requested_amount_minor, c.requested_term_months)
                 .where(c.applicant_id == person.applicant_id).order_by(c.applied_on.desc(), shown))
        if principal.is_partner:
            query = query.where(c.partner_id == principal.partner_id)
        if status is not None:
            query = query.where(c.status == status)
        rows = conn.execute(query.limit(page.limit + 1).offset(page.offset)).all()
    return {"applicant_id": applicant_id, "applicant_type": person.applicant_type, "segment": person.segment,
            "region": person.region, "created_at": person.created_at.isoformat(),
            **page.wrap([with_display(dict(r._mapping), r.currency) for r in rows])}
