"""The staff console: server-rendered pages (Jinja2 + htmx) and charts (Apache ECharts) over the service layer."""
