"""Annotators' corrections of a pair's instruction or answer: stored as revisions with their author, read back as
the pair's current text (SQL expressions shared by exports and the review app), and turned into a preference
(the corrected answer over the model's original) for DPO."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from polyforge.storage.models import Pair, Preference
from polyforge.storage.review_models import PairRevision
from polyforge.terms import PreferenceKind

FIELDS = ("instruction", "answer")
MAX_TEXT_CHARS = 200_000


class RevisionError(ValueError):
    """A correction that cannot be stored; the message says which field and why."""


def latest_revision(field: str):
    """The latest correction of `field` of the pair, or None."""
    return (select(PairRevision.text).where(PairRevision.pair_id == Pair.id, PairRevision.field == field)
            .order_by(PairRevision.id.desc()).limit(1).correlate(Pair).scalar_subquery())


def current_instruction():
    """The pair's instruction as last corrected, else as the model wrote it."""
    return func.coalesce(latest_revision("instruction"), Pair.instruction)


def current_answer():
    """The pair's answer as last corrected, else as the model wrote it."""
    return func.coalesce(latest_revision("answer"), Pair.answer)


def current_texts(session: Session, pair_id: int) -> tuple[str, str]:
    """The pair's (instruction, answer) as exports see them."""
    return tuple(session.execute(select(current_instruction(), current_answer()).where(Pair.id == pair_id)).one())


def add_revision(session: Session, pair_id: int, field: str, text: str, author: str,
                 user_id: int | None = None) -> PairRevision | None:
    """Store a correction and commit it; None when the text is what the author last wrote (or, before her first
    correction, what the model wrote): nothing to store.

    A corrected answer also becomes the pair's correction preference: chosen the corrected answer, rejected the
    model's original, replacing the one an earlier correction made."""
    if field not in FIELDS:
        raise RevisionError(f"field: {field!r} is not one of {', '.join(FIELDS)}")
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise RevisionError(f"{field}: the corrected text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise RevisionError(f"{field}: {len(text)} characters, more than the {MAX_TEXT_CHARS} allowed")
    pair = session.get(Pair, pair_id)
    if pair is None:
        raise LookupError(f"no pair {pair_id} in this database")
    now = current_texts(session, pair_id)
    # Unchanged against the author's own last correction (else the model's text), never against another
    # annotator's: a refusal would tell her that someone else had written exactly this (blind review).
    own = session.scalar(select(PairRevision.text).where(
        PairRevision.pair_id == pair_id, PairRevision.field == field, PairRevision.author == author)
        .order_by(PairRevision.id.desc()).limit(1))
    if text == (own if own is not None else getattr(pair, field)):
        return None
    revision = PairRevision(pair_id=pair_id, field=field, text=text, author=author, user_id=user_id)
    session.add(revision)
    session.flush()
    if field == "answer":
        session.execute(delete(Preference).where(Preference.pair_id == pair_id, Preference.revision_id.is_not(None)))
        if text != pair.answer:
            session.add(Preference(pair_id=pair_id, prompt=now[0], chosen=text, rejected=pair.answer,
                                   chosen_score=None, rejected_score=pair.final_score, revision_id=revision.id,
                                   kind=PreferenceKind.annotator, reason=f"corrected by annotator {author}"))
    session.commit()
    return revision
