"""OPTIONS and 405 answers that say which methods a path takes (RFC 9110 `Allow`).

Routing alone gets this wrong: FastAPI has no OPTIONS handler, and a path served by several routes
(GET and POST /v1/webhooks/subscriptions) answered 405 with the methods of the first route only.

Installed innermost (inside authentication and the rate limit): a caller learns a path's methods only
with a valid key. OPTIONS changes nothing and reads no record, so any role may ask. HEAD is not
served (405 with `Allow`): it would bypass the permission matrix, which names GET."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lendstack.api.problems import problem_response

API_PREFIX = "/v1"
ALLOW_LENGTH_MAX = 200  # bytes: every HTTP method once fits well inside


def allowed_methods(api: FastAPI, scope: Scope) -> list[str]:
    """The methods of the routes of the most specific template matching the path, plus OPTIONS; [] if none.

    Most specific = fewest parameters: /v1/models/rollback (POST) is its own resource, although
    /v1/models/{version} (GET) matches its path too."""
    by_template: dict[str, set[str]] = {}
    for route in api.router.routes:
        match, _child = route.matches(scope)
        if match is not Match.NONE:
            template = str(getattr(route, "path", ""))
            by_template.setdefault(template, set()).update(getattr(route, "methods", None) or ())
    if not by_template:
        return []
    specific = min(by_template, key=lambda template: (template.count("{"), template))
    methods = by_template[specific]
    if not methods:
        return []
    # HEAD only where a route really serves it (Starlette adds it to plain GET routes, FastAPI does not).
    return sorted(methods | {"OPTIONS"})


def _allow_header(methods: list[str]) -> tuple[str, str]:
    value = ", ".join(methods)
    assert 0 < len(value) <= ALLOW_LENGTH_MAX
    return "allow", value


class Options:
    """OPTIONS on a known path: 204 with `Allow`. Any 405: `Allow` lists every route's methods."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app, self.api = app, api
        self._shadowed: dict[str, frozenset[str]] | None = None  # built on the first request: routes are final

    def shadowed(self) -> dict[str, frozenset[str]]:
        """Paths without parameters that a parameterised route matches too, with their own methods.

        GET /v1/models/rollback would reach GET /v1/models/{version} (and answer 422 on the version):
        the path is its own resource, which takes POST only, so the answer is 405."""
        if self._shadowed is None:
            static: dict[str, set[str]] = {}
            for route in self.api.router.routes:
                path = str(getattr(route, "path", ""))
                if path.startswith(API_PREFIX) and "{" not in path:
                    static.setdefault(path, set()).update(getattr(route, "methods", None) or ())
            self._shadowed = {path: frozenset(methods) for path, methods in static.items()
                              if len(self._templates_matching(path)) > 1}
        return self._shadowed

    def _templates_matching(self, path: str) -> set[str]:
        scope: Scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
        return {str(getattr(route, "path", "")) for route in self.api.router.routes
                if route.matches(scope)[0] is not Match.NONE}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            methods = allowed_methods(self.api, scope)
            if methods:
                name, value = _allow_header(methods)
                await send({"type": "http.response.start", "status": 204,
                            "headers": [(name.encode(), value.encode("latin-1"))]})
                await send({"type": "http.response.body", "body": b""})
                return
        own = self.shadowed().get(str(scope["path"]))
        if own is not None and scope["method"] not in own:
            response = problem_response(405, "http", "Method Not Allowed", None,
                                        dict([_allow_header(allowed_methods(self.api, scope))]))
            await response(scope, receive, send)
            return

        async def send_allow(message: Message) -> None:
            # Only a 405 pays for the scan: the hot path is untouched.
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(self.api, scope)
                if methods:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    name, value = _allow_header(methods)
                    message = {**message, "headers": [*headers, (name.encode(), value.encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, send_allow)


def install_options(app: FastAPI) -> None:
    app.add_middleware(Options, api=app)
