"""SQLAlchemy 2.0 typed models of the review app: annotators' verdicts, scores, assignments and corrections, and the
accounts that give them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from polyforge.storage.models import Base, Pair, utcnow


class Review(Base):
    """An annotator's verdict on a pair, or an admin's adjudication (what the review queue collects, and
    calibration reads). Rows are only ever added: a second look is a new row, the first stays."""

    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id"), index=True)
    annotator: Mapped[str] = mapped_column(String(100), doc="The name of the user who gave the verdict.")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", name="fk_review_user_id_app_user"), index=True,
        doc="The logged-in user who gave the verdict; None for verdicts stored before accounts, or whose user was removed.")
    verdict: Mapped[str] = mapped_column(String(20), doc="accept or reject.")
    note: Mapped[str | None] = mapped_column(Text)
    adjudication: Mapped[bool] = mapped_column(
        default=False, server_default=false(),
        doc="An admin's ruling, which decides the pair over the annotators' verdicts.")
    seconds: Mapped[float | None] = mapped_column(
        default=None, doc="How long the annotator had the pair open before this verdict; None when not known (a "
                          "bulk verdict, a script that did not say).")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    pair: Mapped[Pair] = relationship(back_populates="reviews")
    scores: Mapped[list[ReviewScore]] = relationship(back_populates="review", cascade="all, delete-orphan",
                                                     order_by="ReviewScore.id")


class ReviewScore(Base):
    """An annotator's own score of one checklist criterion, given with a verdict (optional): what agreement per
    criterion is measured on."""

    __tablename__ = "review_score"
    __table_args__ = (UniqueConstraint("review_id", "criterion", name="uq_review_score_criterion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id"), index=True)
    criterion: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(doc="1 to 10, the judge's scale.")

    review: Mapped[Review] = relationship(back_populates="scores")


class Assignment(Base):
    """A pair handed to an annotator: with overlap, each pair goes to several, who review it independently."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("pair_id", "user_id", name="uq_assignment_pair_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PairRevision(Base):
    """An annotator's correction of a pair's instruction or answer; the latest of each field is the text exports
    use, and `Pair` keeps the model's original."""

    __tablename__ = "pair_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id"), index=True)
    field: Mapped[str] = mapped_column(String(20), doc="instruction or answer.")
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100), doc="The name of the user who wrote it.")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", name="fk_pair_revision_user_id_app_user"), default=None,
        doc="The user who wrote it; None once that user is removed.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    pair: Mapped[Pair] = relationship(back_populates="revisions")


class User(Base):
    """An account of the review app: an annotator or an admin, who logs in with a password or an API token.
    (The table is not named `user`, a reserved word in PostgreSQL.)"""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20), doc="annotator or admin.")
    password_hash: Mapped[str] = mapped_column(String(200), doc="argon2id, with its parameters and salt.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")
    sessions: Mapped[list[WebSession]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    """A token a script sends as `Authorization: Bearer ...`; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(back_populates="tokens")


class WebSession(Base):
    """A browser's login: the SHA-256 of its cookie, and the CSRF token its forms must carry."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="sessions")
