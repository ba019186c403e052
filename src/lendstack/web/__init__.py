"""The staff console: server-rendered pages (Jinja2 + htmx) and charts (Apache ECharts) over the service layer.

`create_site(engine)` serves the open API and the console together."""

from __future__ import annotations

from lendstack.web.site import CONSOLE_ROUTERS, create_site

__all__ = ["CONSOLE_ROUTERS", "create_site"]
