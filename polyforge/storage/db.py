"""Database setup: SQLite (WAL) by default, any SQLAlchemy URL (PostgreSQL) otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import ArgumentError, DatabaseError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

DB_FILENAME = "polyforge.db"


class DatabaseNotFound(FileNotFoundError):
    pass


class UnusableDatabase(ValueError):
    """A database that exists but cannot be used (not a database at all, or unreachable); the message
    names it and says why."""


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


def alembic_config(url: str) -> Config:
    """Alembic settings for our migrations folder; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_schema(engine: Engine) -> None:
    """Bring the database to the newest schema (creates it when empty). Safe to call every time."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_engine(url: str, create: bool = True) -> Engine:
    """An engine on `url`, its schema migrated to the newest version. Without `create` (reading
    commands), a database that holds no Polyforge schema is left as it is, not filled with tables."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as exc:  # an unknown dialect, a malformed URL, a driver not installed
        raise UnusableDatabase(f"{url}: not a database URL that can be opened here ({exc}); name a campaign output "
                               "folder, its polyforge.db, or a URL such as postgresql+psycopg://user@host/dbname"
                               ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        if create or _outdated(engine):
            upgrade_schema(engine)  # a no-op at the newest version; older databases gain the new columns
    except DatabaseError as exc:
        engine.dispose()
        raise UnusableDatabase(f"{engine.url.render_as_string()} is not a Polyforge database, or cannot be read "
                               f"({exc.orig}); name a campaign output folder, its polyforge.db, or a database URL"
                               ) from exc
    return engine


def _outdated(engine: Engine) -> bool:
    """Whether the database holds a Polyforge schema older than the newest. A database without one, or
    whose first migration another process is still running, is not (a reader must not race a writer)."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return False
    return current != ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def database(url: str, create: bool = True) -> Iterator[sessionmaker]:
    """Sessions on the database at `url` (migrated as `open_engine` does); its connections are closed on exit,
    whatever happens inside."""
    engine = open_engine(url, create)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def session_scope(url: str, create: bool = True) -> Iterator[Session]:
    """One session on the database at `url`, for a caller that needs just one; closed with its engine on exit."""
    with database(url, create) as sessions, sessions() as session:
        yield session


def readable_database_url(target: str | Path) -> str:
    """Like `existing_database_url`, for commands that read a campaign's data: the database must also open
    (UnusableDatabase names a file that is not a database) and hold Polyforge's tables (not an empty or a
    foreign database)."""
    url = existing_database_url(target)
    with session_scope(url, create=False) as session:
        present = inspect(session.connection()).has_table("campaign")
    if not present:
        raise UnusableDatabase(f"{target} is not a Polyforge database: it holds no Polyforge tables; name a campaign "
                               "output folder, its polyforge.db, or a database URL")
    return url
