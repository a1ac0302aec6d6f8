"""The annotators' review web app (FastAPI): flagged pairs in, verdicts out to the `review` table."""

from polyforge.review.app import create_app

__all__ = ["create_app"]
