"""Reports people read: JSON-able report data in, one self-contained HTML page out (inline SVG
charts, no scripts, no external assets), and that page as PDF through WeasyPrint.

Pure rendering: the data is gathered by `lendstack.services.report_data` (and
`services.audit_bundle`); this package never touches the database, the services or the web.
"""

from lendstack.reporting.render import REPORT_KINDS, ReportRenderError, render_html, render_pdf

__all__ = ["REPORT_KINDS", "ReportRenderError", "render_html", "render_pdf"]
