"""Database setup: SQLite (WAL) by default, any SQLAlchemy URL (PostgreSQL) otherwise."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

from polyforge.storage.models import Base

DB_FILENAME = "polyforge.db"


class DatabaseNotFound(FileNotFoundError):
    pass


def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL for a URL, a .db file, or a campaign output folder holding polyforge.db."""
    text = str(target)
    if "://" in text:
        return text
    path = Path(target)
    if path.is_dir() or not path.suffix:
        path = path / DB_FILENAME
    return f"sqlite:///{path.resolve()}"


def existing_database_url(target: str | Path) -> str:
    """Like `database_url`, but a SQLite file must already exist (for reading commands)."""
    url = database_url(target)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise DatabaseNotFound(
            f"no Polyforge database at {target} (expected a campaign output folder holding {DB_FILENAME}, "
            "a .db file, or a database URL)"
        )
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (status, export, the review app) work while a campaign writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_engine(url: str, create: bool = True) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        Base.metadata.create_all(engine)
    return engine


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
