"""The annotators' web app: the queue of flagged pairs, one pair with everything the judge saw, a verdict.

HTML pages for people and a JSON API (`/api/...`, described at `/docs` when an admin serves it with
`--api-docs`) for tools; both store verdicts in the `review` table, where calibration and exports read them,
under the logged-in user. Every route but the login page and static files needs a login (`security.Guard`).
The routes live in one module per job: logging in (`auth_routes`), the pairs (`pair_routes`), admins' work
(`admin_routes`), campaign dashboards (`campaign_routes`), similar pairs (`similar_routes`).
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from polyforge.review import admin_routes, api_docs, auth_routes, campaign_routes, pair_routes, similar_routes
from polyforge.review.pages import HERE
from polyforge.review.security import Guard, LoginThrottle, WebSettings
from polyforge.review.similar import SimilarPairs
from polyforge.storage import open_engine, session_factory


def create_app(database_url: str, settings: WebSettings = WebSettings(), similar: SimilarPairs | None = None
               ) -> FastAPI:
    """The app over one existing database, served as `settings` say (`similar`: its similar-pairs banks, by default
    on the shared embedder, loaded on first use)."""
    sessions = session_factory(open_engine(database_url, create=False))
    # The API's description only when an admin serves it, and then without FastAPI's CDN-loaded pages.
    app = FastAPI(title="Polyforge review", description="Annotators resolve the pairs the judge flagged. "
                  "Scripts authenticate with `Authorization: Bearer TOKEN` (`polyforge review users token NAME`).",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json" if settings.api_docs else None)
    app.add_middleware(Guard, settings=settings, sessions=sessions)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.settings, app.state.sessions = settings, sessions
    app.state.throttle = LoginThrottle(settings.login_failures, settings.login_failures_per_address,
                                       settings.login_window_s, settings.login_max_wait_s)
    for routes in (auth_routes, pair_routes, admin_routes, campaign_routes):
        routes.add_routes(app)
    similar_routes.add_routes(app, similar or SimilarPairs())
    if settings.api_docs:
        api_docs.add_routes(app)
    return app
