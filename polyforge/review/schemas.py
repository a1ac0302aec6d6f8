"""The review API's types: what `/api/...` returns and accepts (described at `/docs` when served with `--api-docs`)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from polyforge.review.params import JsonCount, JsonRowId, ShortText, Text
from polyforge.storage.accounts import Viewer
from polyforge.storage.assignments import DEFAULT_OVERLAP
from polyforge.storage.reviews import MAX_NOTE_CHARS
from polyforge.terms import PairStatus

# The judge routes an annotator can work through: its flagged pairs, or audit samples of its decisions.
ReviewedStatus = Literal[PairStatus.flagged, PairStatus.accepted, PairStatus.rejected]

class ScoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    criterion: str
    score: float
    weight: float
    decided_by: str
    rationale: str | None
    spread: float | None


class ExecutionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    candidate: int
    chosen: bool
    status: str
    reason: str
    stdout: str
    stderr: str
    tests: str


class TurnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    round: int
    language: str
    role: str
    text: str


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pair_id: int
    annotator: str
    verdict: Literal["accept", "reject"]
    note: str | None
    adjudication: bool = Field(description="An admin's ruling, which decides the pair.")
    scores: dict[str, int] = Field(default_factory=dict, description="The annotator's own criterion scores.")
    seconds: float | None = Field(None, description="How long the pair was open before the verdict, if known.")

    @classmethod
    def of(cls, review) -> "ReviewOut":
        return cls(id=review.id, pair_id=review.pair_id, annotator=review.annotator, verdict=review.verdict,
                   note=review.note, adjudication=review.adjudication, seconds=review.seconds,
                   scores={score.criterion: score.score for score in review.scores})


class RevisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pair_id: int
    field: Literal["instruction", "answer"]
    text: str
    author: str


class RevisionIn(BaseModel):
    field: Literal["instruction", "answer"]
    text: Text = Field(description="The corrected text, whole.")


class AssignIn(BaseModel):
    overlap: int = Field(DEFAULT_OVERLAP, strict=True, ge=1, le=50, description="Annotators per pair.")
    status: ReviewedStatus = PairStatus.flagged
    campaign: JsonRowId | None = None
    language: ShortText | None = None
    limit: JsonCount | None = Field(None, description="Assign at most this many pairs (the first by id).")
    sample: JsonCount | None = Field(None, description="Assign a random sample of this many pairs (an audit).")
    seed: int = Field(0, strict=True, ge=0, le=2**63 - 1, description="The random seed of `sample`.")


class PairOut(BaseModel):
    id: int
    campaign_id: int
    language: str
    status: str = Field(description="The judge's route: accepted, rejected, flagged; or duplicate, contaminated, failed.")
    origin: str
    instruction: str = Field(description="As last corrected (by the annotator herself, for an annotator), else as "
                                         "the model wrote it.")
    answer: str = Field(description="As last corrected (by the annotator herself, for an annotator), else as the "
                                    "model wrote it.")
    original_instruction: str
    original_answer: str
    final_score: float | None
    flag_reason: str | None
    execution_status: str | None
    source_path: str
    code: str
    scores: list[ScoreOut]
    executions: list[ExecutionOut]
    discussion: list[TurnOut]
    reviews: list[ReviewOut] = Field(description="Every verdict for an admin; an annotator's own for an annotator.")
    revisions: list[RevisionOut] = Field(description="Every correction for an admin; an annotator's own for an "
                                                     "annotator.")


class ReviewIn(BaseModel):
    verdict: Literal["accept", "reject"]
    note: Text | None = Field(default=None, max_length=MAX_NOTE_CHARS, description="Why, in a few words (optional).")
    scores: dict[ShortText, Annotated[int, Field(strict=True)]] = Field(
        default_factory=dict, max_length=64, description=(
        "Your own scores (1-10) of the checklist criteria the judge scored on this pair, by criterion (optional): "
        "agreement per criterion is measured on them."))
    seconds: float | None = Field(None, strict=True, ge=0, le=86_400, allow_inf_nan=False, description=(
        "How long the pair was in front of the annotator before this verdict (optional): the admin page shows each "
        "annotator's pace."))


class UserOut(BaseModel):
    name: str
    role: str
    tokens: int


def visible_reviews(pair, viewer: Viewer) -> list:
    """An admin sees every verdict; an annotator only their own, so that verdicts stay independent."""
    return list(pair.reviews) if viewer.is_admin else [review for review in pair.reviews
                                                          if review.user_id == viewer.user_id]


def visible_revisions(pair, viewer: Viewer) -> list:
    """An admin sees every correction; an annotator only her own, so that another's edit cannot hint at his
    verdict."""
    return list(pair.revisions) if viewer.is_admin else [revision for revision in pair.revisions
                                                            if revision.user_id == viewer.user_id]


def shown_texts(pair, revisions: list) -> tuple[str, str]:
    """The pair's (instruction, answer) as last corrected among `revisions` (in id order), else as the model wrote
    them; over every revision, what exports use."""
    latest = {revision.field: revision.text for revision in revisions}
    return latest.get("instruction", pair.instruction), latest.get("answer", pair.answer)


def pair_out(pair, viewer: Viewer) -> PairOut:
    """The pair for the API, as `viewer` may see it."""
    revisions = visible_revisions(pair, viewer)
    texts = shown_texts(pair, revisions)
    return PairOut(
        id=pair.id, campaign_id=pair.campaign_id, language=pair.language, status=pair.status, origin=pair.origin,
        instruction=texts[0], answer=texts[1],
        original_instruction=pair.instruction, original_answer=pair.answer,
        final_score=pair.final_score, flag_reason=pair.flag_reason,
        execution_status=pair.execution_status, source_path=pair.snippet.path, code=pair.snippet.code,
        scores=[ScoreOut.model_validate(score) for score in pair.scores],
        executions=[ExecutionOut.model_validate(run) for run in pair.executions],
        discussion=[TurnOut.model_validate(turn) for turn in (pair.discussion.turns if pair.discussion else [])],
        reviews=[ReviewOut.of(review) for review in visible_reviews(pair, viewer)],
        revisions=[RevisionOut.model_validate(revision) for revision in revisions],
    )
