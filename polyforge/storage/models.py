"""SQLAlchemy 2.0 typed models: the schema of a campaign's results (review and account tables: review_models.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from polyforge.terms import CampaignStatus, PairOrigin, PreferenceKind

if TYPE_CHECKING:  # the review tables point back at pairs; SQLAlchemy finds them by name at run time
    from polyforge.storage.review_models import PairRevision, Review


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON}


class Campaign(Base):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict] = mapped_column(doc="The validated campaign config, as JSON.")
    status: Mapped[str] = mapped_column(String(20), default=CampaignStatus.running,
                                        doc="A CampaignStatus: running, finished, interrupted or ingested.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    snippets: Mapped[list[Snippet]] = relationship(back_populates="campaign", cascade="all, delete-orphan")
    pairs: Mapped[list[Pair]] = relationship(back_populates="campaign", cascade="all, delete-orphan")


class Snippet(Base):
    """A piece of source code cut by ingestion: the raw material of one work item."""

    __tablename__ = "snippet"
    __table_args__ = (UniqueConstraint("campaign_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    language: Mapped[str] = mapped_column(String(40), index=True)
    path: Mapped[str] = mapped_column(Text, doc="Path inside its source.")
    source: Mapped[str] = mapped_column(Text, doc="The source folder or repository.")
    start_line: Mapped[int]
    end_line: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40), doc="The tree-sitter node type, e.g. function_definition.")
    code: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(
        Text, default=None, doc="The row's id in an instruction dataset (sources: instructions); None for code.")

    campaign: Mapped[Campaign] = relationship(back_populates="snippets")
    pairs: Mapped[list[Pair]] = relationship(back_populates="snippet")


class Pair(Base):
    """An instruction-answer pair with its verdict and full provenance."""

    __tablename__ = "pair"
    __table_args__ = (
        Index("ix_pair_campaign_status", "campaign_id", "status"),
        # One pair per snippet and language in a campaign: a resumed or retried item can never count twice.
        UniqueConstraint("campaign_id", "snippet_id", "language", name="uq_pair_item"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    snippet_id: Mapped[int] = mapped_column(ForeignKey("snippet.id"), index=True)
    language: Mapped[str] = mapped_column(String(40))
    instruction: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), doc="accepted, rejected, flagged, duplicate, contaminated or failed.")
    topic: Mapped[str | None] = mapped_column(String(80), doc="Coverage topic the classifier gave the instruction.")
    difficulty: Mapped[str | None] = mapped_column(String(20))
    final_score: Mapped[float | None]
    score_spread: Mapped[float | None] = mapped_column(
        default=None, doc="Standard deviation of one judge's sample final scores (the larger judge's, in an ensemble)."
    )
    flag_reason: Mapped[str | None] = mapped_column(
        Text, doc="Why the pair is in the review queue: every reason, '; '-joined."
    )
    error: Mapped[str | None] = mapped_column(Text, doc="What failed, for status 'failed' or a judge failure.")
    execution_status: Mapped[str | None] = mapped_column(
        String(20), doc="The sandbox verdict of the answer under generated tests (passed, failed, ...); None: not run.")
    model: Mapped[str] = mapped_column(String(200), doc="The model that wrote the instruction and answer.")
    judge_model: Mapped[str | None] = mapped_column(String(200))
    sampling: Mapped[dict] = mapped_column(doc="Sampling parameters per stage.")
    templates: Mapped[dict] = mapped_column(doc="Prompt template name -> content hash.")
    checklist_hash: Mapped[str | None] = mapped_column(String(64))
    judge_samples: Mapped[list | None] = mapped_column(
        JSON, default=None, doc="Every judge sample: model, judge index, scores, final score, error."
    )
    tokens: Mapped[dict] = mapped_column(doc="Stage -> {prompt, completion} tokens.")
    total_tokens: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(default=0.0, doc="Model seconds spent on the item, all stages.")
    origin: Mapped[str] = mapped_column(
        String(16), default=PairOrigin.single, server_default=PairOrigin.single.value,
        doc="A PairOrigin: single, discussion or transfer.")
    discussion_id: Mapped[int | None] = mapped_column(
        ForeignKey("discussion.id"), index=True, default=None, doc="The discussion this pair came from, if any.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="pairs")
    snippet: Mapped[Snippet] = relationship(back_populates="pairs")
    discussion: Mapped[Discussion | None] = relationship(back_populates="pairs")
    scores: Mapped[list[JudgeScore]] = relationship(back_populates="pair", cascade="all, delete-orphan")
    preferences: Mapped[list[Preference]] = relationship(back_populates="pair", cascade="all, delete-orphan")
    executions: Mapped[list[ExecutionRecord]] = relationship(back_populates="pair", cascade="all, delete-orphan")
    reviews: Mapped[list[Review]] = relationship(back_populates="pair", order_by="Review.id")
    revisions: Mapped[list[PairRevision]] = relationship(back_populates="pair", order_by="PairRevision.id")


class Discussion(Base):
    """A cross-lingual discussion of one work item's drafted instruction, with its transcript.

    The proposer's pair (origin 'discussion') and the pairs its peers' transfers became (origin
    'transfer') point here.
    """

    __tablename__ = "discussion"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    proposer_language: Mapped[str] = mapped_column(String(40))
    peer_languages: Mapped[list] = mapped_column(JSON)
    rounds: Mapped[int] = mapped_column(doc="Critique-and-revise rounds completed.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    turns: Mapped[list[DiscussionTurn]] = relationship(
        back_populates="discussion", cascade="all, delete-orphan", order_by="DiscussionTurn.position")
    pairs: Mapped[list[Pair]] = relationship(back_populates="discussion")


class DiscussionTurn(Base):
    """One message of a discussion's transcript."""

    __tablename__ = "discussion_turn"
    __table_args__ = (UniqueConstraint("discussion_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussion.id"), index=True)
    position: Mapped[int] = mapped_column(doc="Order in the transcript, from 0 (the draft).")
    round: Mapped[int] = mapped_column(doc="0 for the draft; 1.. for critiques, revisions and transfers.")
    language: Mapped[str] = mapped_column(String(40), doc="The agent that spoke.")
    role: Mapped[str] = mapped_column(String(20), doc="draft, critique, revision or transfer.")
    text: Mapped[str] = mapped_column(Text)
    template_hash: Mapped[str] = mapped_column(String(64))

    discussion: Mapped[Discussion] = relationship(back_populates="turns")


class JudgeScore(Base):
    """One checklist criterion's score for one pair."""

    __tablename__ = "judge_score"
    __table_args__ = (UniqueConstraint("pair_id", "criterion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id"), index=True)
    criterion: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(doc="Mean over the judge samples, or the rule's score when overridden.")
    weight: Mapped[float]
    rationale: Mapped[str | None] = mapped_column(Text)
    spread: Mapped[float | None] = mapped_column(default=None, doc="Standard deviation over the judge samples.")
    decided_by: Mapped[str] = mapped_column(
        String(20), default="judge", server_default="judge", doc="'judge', or the rule that overrode it: 'parser' or 'sandbox'."
    )

    pair: Mapped[Pair] = relationship(back_populates="scores")


class Preference(Base):
    """A DPO example: for one prompt, an answer preferred over another, and why."""

    __tablename__ = "preference"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    chosen: Mapped[str] = mapped_column(Text)
    rejected: Mapped[str] = mapped_column(Text)
    chosen_score: Mapped[float | None]
    rejected_score: Mapped[float | None]
    reason: Mapped[str] = mapped_column(
        Text, doc="Why chosen beat rejected, e.g. 'judge score 7.1 vs 3.4'; for a repair, what the sandbox said of the "
        "rejected answer's run, which the chosen one was written to fix.")
    kind: Mapped[str] = mapped_column(
        String(16), default=PreferenceKind.execution, server_default=PreferenceKind.judge.value,
        doc="A PreferenceKind: execution (chosen passed its tests, rejected did not), repair (chosen passed as the "
        "fix of rejected), judge (scores alone) or annotator (a correction over the original).")
    revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("pair_revision.id", name="fk_preference_revision_id_pair_revision"), default=None,
        doc="The annotator's correction this preference comes from (corrected over original); None: the judge's.")

    pair: Mapped[Pair] = relationship(back_populates="preferences")


class ExecutionRecord(Base):
    """One candidate answer run in the sandbox with the tests the tester agent wrote for its pair."""

    __tablename__ = "execution"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair.id"), index=True)
    candidate: Mapped[int] = mapped_column(doc="Index of the candidate answer among those sampled.")
    chosen: Mapped[bool] = mapped_column(doc="Whether this candidate became the pair's answer.")
    language: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), doc="passed, failed, compile_error, runtime_error, timeout, ...")
    reason: Mapped[str] = mapped_column(Text, default="")
    exit_code: Mapped[int | None]
    stdout: Mapped[str] = mapped_column(Text, doc="Cut to its last 4000 characters.")
    stderr: Mapped[str] = mapped_column(Text, doc="Cut to its last 4000 characters.")
    seconds: Mapped[float]
    flaky: Mapped[bool] = mapped_column(default=False)
    tests: Mapped[str] = mapped_column(Text, doc="The generated test code it ran with.")

    pair: Mapped[Pair] = relationship(back_populates="executions")


class PromptVersion(Base):
    """A prompt template's content under its hash: the text behind `Pair.templates`."""

    __tablename__ = "prompt_version"
    __table_args__ = (UniqueConstraint("name", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    first_used_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChecklistVersion(Base):
    """A checklist file's content under its hash: the text behind `Pair.checklist_hash`."""

    __tablename__ = "checklist_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[str] = mapped_column(Text)
    first_used_at: Mapped[datetime] = mapped_column(default=utcnow)
