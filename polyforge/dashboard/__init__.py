"""A campaign's dashboard for data scientists: one HTML page with server-rendered charts (matplotlib SVG, embedded
as images), served by the review app and written to a self-contained file by `polyforge report --html`."""

from polyforge.dashboard.page import STYLE_CSP_SOURCE, campaign_dashboard

__all__ = ["STYLE_CSP_SOURCE", "campaign_dashboard"]
