"""Storage: SQLAlchemy models, database setup and exports."""

from polyforge.storage.db import DatabaseNotFound, database_url, existing_database_url, open_engine, session_factory
from polyforge.storage.models import Base, Campaign, JudgeScore, Pair, Preference, Snippet

__all__ = [
    "Base",
    "Campaign",
    "DatabaseNotFound",
    "JudgeScore",
    "Pair",
    "Preference",
    "Snippet",
    "database_url",
    "existing_database_url",
    "open_engine",
    "session_factory",
]
