"""Reading HTML form fields with errors that name the field (FormError has .field, like the domain errors)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request

from lendstack.errors import LendstackError


class FormError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def form_text(form: FormData, name: str, *, required: bool = False, length_max: int = 200) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise FormError(name, "must be text")
    value = value.strip()
    if required and not value:
        raise FormError(name, "is required")
    if len(value) > length_max:
        raise FormError(name, f"must be at most {length_max} characters")
    return value


def form_int(form: FormData, name: str, *, required: bool, low: int, high: int) -> int | None:
    assert low <= high
    text = form_text(form, name, required=required, length_max=20)
    if not text:
        return None
    if not text.lstrip("-").isdigit():
        raise FormError(name, f"must be a whole number, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise FormError(name, f"must be between {low} and {high}, got {value}")
    return value
