"""One applicant and its applications, newest first. A partner names its own applicants (its
references, routes_origination) and sees only those and the applications it brought with them:
another partner's applicant, under any id, is to it exactly an unknown id (404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from lendstack.api.common import EngineDep, PageDep, with_display
from lendstack.api.routes_origination import not_found, reader_of
from lendstack.api.security import principal_of
from lendstack.errors import NotFound
from lendstack.services import origination

router = APIRouter(prefix="/v1")


@router.get("/applicants/{applicant_id}", tags=["applications"])
def applicant(applicant_id: Annotated[str, Path(max_length=128)], request: Request, engine: EngineDep,
              page: PageDep, status: Annotated[str | None, Query(max_length=32)] = None) -> dict[str, Any]:
    """The applicant (type, segment, region) and a page of its applications (filter by `status`)."""
    reader = reader_of(principal_of(request))
    try:
        found = origination.applicant_view(engine, reader, applicant_id, status, page.limit + 1, page.offset)
    except NotFound as exc:
        raise not_found(exc) from None
    person = found.applicant
    return {"applicant_id": applicant_id, "applicant_type": person.applicant_type, "segment": person.segment,
            "region": person.region, "created_at": person.created_at.isoformat(),
            **page.wrap([with_display(item.to_json(term=True), item.currency) for item in found.applications])}
