"""Security headers on every answer of the API and the console (one ASGI middleware, outermost of
the app's own, so refusals from the other middleware carry them too).

- Content-Security-Policy, by what the answer is:
  * the console (everything outside /v1): scripts only from this origin (/static: htmx, ECharts,
    console.js; no inline script and no inline event handler in the templates), styles from this
    origin plus inline ones (a few `style=` attributes, htmx's indicator style, the reports' inline
    CSS in their sandboxed srcdoc frame, which inherits this policy), images from here or data: URIs;
  * the API's JSON: nothing at all may load (`default-src 'none'`): a JSON answer opened in a
    browser runs nothing;
  * /v1/docs (Swagger UI, served by FastAPI from the jsDelivr CDN): its own policy allowing that
    CDN path for its script and style, and its one inline script by its sha256 (computed from the
    page as sent, so no 'unsafe-inline' for scripts anywhere).
- frame-ancestors 'none' and X-Frame-Options: DENY (no clickjacking in a frame), X-Content-Type-Options:
  nosniff, Referrer-Policy: no-referrer (console URLs hold application and loan ids),
  Cross-Origin-Opener-Policy: same-origin.
- Cache-Control: no-store on everything but /static: console pages and API answers hold personal
  data, and no browser, proxy or shared-computer cache should keep a copy.
- A route that sets one of these headers itself keeps its own (e.g. the bare report page's stricter CSP).

HSTS is left to the TLS proxy in front (this process does not know whether it is reached over HTTPS)."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/v1"
DOCS_PATH = "/v1/docs"
STATIC_PREFIX = "/static/"
DOCS_BODY_MAX_BYTES = 64 * 1024  # the Swagger page is ~1 KiB; anything bigger is not hashed
SWAGGER_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"

CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "font-src 'self'; connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
API_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
DOCS_CSP = (f"default-src 'none'; script-src {SWAGGER_CDN} {{hashes}}; style-src {SWAGGER_CDN} 'unsafe-inline'; "
            "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")

COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def csp_for(path: str) -> str:
    if path.startswith(API_PREFIX + "/") or path == API_PREFIX:
        return API_CSP
    return CONSOLE_CSP


def docs_csp(html: bytes) -> str:
    """The docs page's policy: its inline scripts allowed by hash, as sent."""
    scripts = _INLINE_SCRIPT.findall(html)
    assert len(scripts) <= 16, "the Swagger page has one inline script"
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts]
    return DOCS_CSP.format(hashes=" ".join(hashes)).replace("  ", " ")


def headers_for(path: str, existing: list[tuple[bytes, bytes]], csp: str) -> list[tuple[bytes, bytes]]:
    """`existing` plus the security headers it lacks: a route that set one of them itself (a report
    page's stricter CSP, a download's Cache-Control) keeps its own."""
    present = {name.lower() for name, _ in existing}
    wanted = _wanted(csp, not path.startswith(STATIC_PREFIX))
    return existing + [(name, value) for name, value in wanted if name not in present]


@lru_cache(maxsize=16)  # a bound: the console, API and docs policies
def _wanted(csp: str, no_store: bool) -> tuple[tuple[bytes, bytes], ...]:
    # Built once per policy (the hot API path answers with the same few): a handful of policies in all.
    extra = ((b"cache-control", b"no-store"),) if no_store else ()
    return (*COMMON, (b"content-security-policy", csp.encode()), *extra)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == DOCS_PATH:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = headers_for(path, list(message.get("headers", [])), csp_for(path))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffers the (small) docs page to hash its inline script before the headers go out."""
        start: Message = {}
        body = bytearray()
        started = False

        async def buffer(message: Message) -> None:
            nonlocal start, started
            if message["type"] == "http.response.start":
                start = message
                return
            if started or message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            more = bool(message.get("more_body", False))
            if more and len(body) <= DOCS_BODY_MAX_BYTES:
                return
            # Complete (or too big to be the docs page: then nothing inline runs).
            csp = docs_csp(bytes(body)) if len(body) <= DOCS_BODY_MAX_BYTES else API_CSP
            start["headers"] = headers_for(DOCS_PATH, list(start.get("headers", [])), csp)
            started = True
            await send(start)
            await send({"type": "http.response.body", "body": bytes(body), "more_body": more})

        await self.app(scope, receive, buffer)
