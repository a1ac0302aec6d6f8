"""The campaigns and their dashboards, for admins: their counts move with review's final verdicts, which an
annotator reviewing blind must not watch. A dashboard is drawn at most once per refresh (`DrawnPages`)."""

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from polyforge.dashboard import STYLE_CSP_SOURCE, campaign_dashboard
from polyforge.review.dependencies import Db, Who, admins_only
from polyforge.review.page_cache import DrawnPages
from polyforge.review.pages import page
from polyforge.review.params import RowId
from polyforge.storage import Campaign
from polyforge.storage.report import campaign_progress

DASHBOARD_REFRESH_S = 30
# The dashboard: its own inline stylesheet (by hash) and its charts as data: images; nothing else.
DASHBOARD_CSP = (f"default-src 'none'; style-src {STYLE_CSP_SOURCE}; img-src data:; form-action 'none'; "
                 "frame-ancestors 'none'; base-uri 'none'")


def add_routes(app: FastAPI) -> None:
    dashboards = DrawnPages(max_age_s=DASHBOARD_REFRESH_S)  # it reloads itself no more often

    @app.get("/campaigns", response_class=HTMLResponse)
    def campaigns_page(request: Request, db: Db, who: Who):
        """Every campaign, each linking to its dashboard."""
        admins_only(who)
        return page(request, "campaigns.html", {"campaigns": campaign_progress(db), "filters": ""})

    @app.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
    def dashboard_page(db: Db, who: Who, campaign_id: RowId):
        """A campaign's dashboard: funnel, scores, criteria, coverage, flags, tokens and endpoints (reloading
        itself while the campaign runs)."""
        admins_only(who)
        campaign = db.get(Campaign, campaign_id)
        if campaign is None:
            raise HTTPException(404, f"no campaign {campaign_id} in this database; /campaigns lists them")
        # Keyed by status too: a campaign that starts or finishes is drawn anew (its page reloads only while running).
        html = dashboards.get((campaign_id, campaign.status),
                              lambda: campaign_dashboard(db, campaign, refresh_s=DASHBOARD_REFRESH_S))
        return HTMLResponse(html, headers={"content-security-policy": DASHBOARD_CSP})
