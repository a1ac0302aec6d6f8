"""Storage: SQLAlchemy models, database setup and the campaign lifecycle."""

from polyforge.storage.db import (
    DatabaseNotFound,
    UnusableDatabase,
    database,
    database_url,
    existing_database_url,
    open_engine,
    session_factory,
    session_scope,
)
from polyforge.storage.models import (
    Base,
    Campaign,
    ChecklistVersion,
    Discussion,
    DiscussionTurn,
    ExecutionRecord,
    JudgeScore,
    Pair,
    Preference,
    PromptVersion,
    Review,
    Snippet,
)

__all__ = [
    "Base",
    "Campaign",
    "ChecklistVersion",
    "DatabaseNotFound",
    "Discussion",
    "DiscussionTurn",
    "ExecutionRecord",
    "JudgeScore",
    "Pair",
    "Preference",
    "PromptVersion",
    "Review",
    "Snippet",
    "UnusableDatabase",
    "database",
    "database_url",
    "existing_database_url",
    "open_engine",
    "session_factory",
    "session_scope",
]
