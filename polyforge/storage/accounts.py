"""Accounts of the review app: users with a role and an argon2 password hash, API tokens for scripts, and the
browser sessions of logged-in users.

Secrets never reach the database in clear: passwords are hashed with argon2id (argon2-cffi), tokens and
session cookies (random, 256 bits) by SHA-256, which is enough for values nobody chose.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, joinedload

from polyforge.storage.review_models import ApiToken, Assignment, PairRevision, Review, User, WebSession

ROLES = ("annotator", "admin")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "pf_"

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when a name is unknown, so that a wrong name takes as long as a wrong password."""
    return _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A user that cannot be added, found or changed; the message names it and says why."""


@dataclass(frozen=True)
class Viewer:
    """Who sends a request: the user, and how they proved it (a session with its CSRF token, or a token)."""

    user_id: int
    name: str
    role: str
    csrf_token: str | None = None  # set for a browser session; None for an API token

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    """UTC without tzinfo: what SQLite and PostgreSQL (timestamp without time zone) both give back."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters, please")
    return password


def check_new_user(session: Session, name: str, role: str) -> str:
    """The name, stripped, when a user of that name and role can be added (before asking for a password)."""
    name = name.strip()
    if not name or len(name) > 100 or any(char.isspace() for char in name):
        raise AccountError(f"user name {name!r}: 1 to 100 characters, no spaces")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: not one of {', '.join(ROLES)}")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise AccountError(f"user {name} already exists (remove it first to start over)")
    return name


def add_user(session: Session, name: str, role: str, password: str) -> User:
    """Create a user and commit it."""
    user = User(name=check_new_user(session, name, role), role=role,
                password_hash=_hasher.hash(check_password(password)))
    session.add(user)
    session.commit()
    return user


def list_users(session: Session) -> list[tuple[User, int]]:
    """Every user by name, with how many API tokens they hold."""
    return [(user, len(user.tokens)) for user in session.scalars(select(User).order_by(User.name))]


def _named(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise AccountError(f"no user {name} in this database (`polyforge review users list` shows them)")
    return user


def remove_user(session: Session, name: str) -> None:
    """Delete a user with their tokens, sessions and assignments; their verdicts and corrections stay, under their
    name."""
    user = _named(session, name)
    session.execute(update(Review).where(Review.user_id == user.id).values(user_id=None))
    session.execute(update(PairRevision).where(PairRevision.user_id == user.id).values(user_id=None))
    session.execute(delete(Assignment).where(Assignment.user_id == user.id))
    session.delete(user)
    session.commit()


def new_token(session: Session, name: str) -> str:
    """A new API token for the user, returned once: only its hash is stored."""
    user = _named(session, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=_digest(token)))
    session.commit()
    return token


def authenticate_password(session: Session, name: str, password: str) -> User | None:
    """The user when the password is theirs, else None (a wrong name costs the same time as a wrong password)."""
    user = session.scalar(select(User).where(User.name == name.strip()))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.commit()
    return user


def viewer_for_token(session: Session, token: str, lifetime: timedelta | None = None) -> Viewer | None:
    """Who the token belongs to; None when it is unknown, or older than `lifetime` (None: tokens never expire)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or (lifetime is not None and row.created_at <= _now() - lifetime):
        return None
    row.last_used_at = _now()
    session.commit()
    return Viewer(row.user.id, row.user.name, row.user.role)


def start_session(session: Session, user: User, lifetime: timedelta) -> str:
    """Log the user in: a new session, whose cookie value is returned (only its hash is stored). The user's
    older sessions end: a login rotates the session, and a cookie taken before it opens nothing."""
    cookie = secrets.token_urlsafe(32)
    session.execute(delete(WebSession).where((WebSession.expires_at <= _now()) | (WebSession.user_id == user.id)))
    session.add(WebSession(user=user, token_hash=_digest(cookie), csrf_token=secrets.token_urlsafe(32),
                           expires_at=_now() + lifetime))
    session.commit()
    return cookie


def viewer_for_session(session: Session, cookie: str) -> Viewer | None:
    row = session.scalar(select(WebSession).options(joinedload(WebSession.user))
                         .where(WebSession.token_hash == _digest(cookie), WebSession.expires_at > _now()))
    if row is None:
        return None
    return Viewer(row.user.id, row.user.name, row.user.role, row.csrf_token)


def end_session(session: Session, cookie: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _digest(cookie)))
    session.commit()
