"""The similar pairs of a pair (`similar.SimilarPairs`): a page to tick some and give them one bulk verdict (the
queue's /bulk, with its confirmation), and the same list in the API."""

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from polyforge.review.dependencies import Db, Who, loaded_pair
from polyforge.review.pages import page
from polyforge.review.params import RowId
from polyforge.review.similar import SimilarPair, SimilarPairs
from polyforge.terms import PairStatus


def add_routes(app: FastAPI, similar: SimilarPairs) -> None:
    @app.get("/api/pairs/{pair_id}/similar", response_model=list[SimilarPair])
    def api_similar(db: Db, who: Who, pair_id: RowId):
        """The pairs most similar to this one on the same judge's route, most similar first (for an annotator: of
        those assigned to her)."""
        pair = loaded_pair(db, who, pair_id)
        return similar.of(db, pair, None if who.is_admin else who.user_id)

    @app.get("/pairs/{pair_id}/similar", response_class=HTMLResponse)
    def similar_page(request: Request, db: Db, who: Who, pair_id: RowId):
        pair = loaded_pair(db, who, pair_id)
        found = similar.of(db, pair, None if who.is_admin else who.user_id)
        status = "" if pair.status == PairStatus.flagged else urlencode({"status": pair.status})
        return page(request, "similar.html", {"pair": pair, "similar": found, "filters": status})
