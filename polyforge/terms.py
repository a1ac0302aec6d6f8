"""The shared vocabulary of a campaign: what a pair's status, a pair's origin and a campaign's status
can be. Stored in the database as their string values; every module names them through these enums."""

from __future__ import annotations

from enum import StrEnum


class PairStatus(StrEnum):
    """What became of a work item's pair."""

    accepted = "accepted"  # the judge (or an annotator) admitted it to the training data
    flagged = "flagged"  # borderline or disputed: an annotator decides
    rejected = "rejected"  # judged and refused
    duplicate = "duplicate"  # its instruction was too close to one in the agent's memory; never answered
    # its instruction, or every answer, shares a word n-gram with a benchmark's text: never judged or exported
    contaminated = "contaminated"
    failed = "failed"  # the item could not be finished (a reply that never parsed, a budget exceeded)

    @classmethod
    def judged(cls) -> tuple[PairStatus, ...]:
        """The statuses of pairs that reached the judge: their instruction was novel and answered."""
        return cls.accepted, cls.flagged, cls.rejected


# A pair that a cheap gate dropped before the judge is rejected, and its error says why after this prefix.
GATE = "gate: "
# A contaminated item's error (and a candidate's screening reason) starts so, then says what overlapped which benchmark.
CONTAMINATED = "contaminated: "
# A gate's reason for a text holding secrets or personal data starts so, then says which text and which kinds.
SENSITIVE = "sensitive data: "
# The ingest step that redacts or drops snippets holding secrets or personal data (its counts: `found`, by label).
SENSITIVE_STEP = "secrets and personal data"


# The line that closes a fenced code block, where the answer stage stops. An opening fence normally carries its
# language (```python) and so does not match; a bare one does (README: "Answers end with their code block").
CODE_BLOCK_END = "\n```\n"


class PairOrigin(StrEnum):
    """How a pair's instruction came about."""

    single = "single"  # one agent wrote it alone
    discussion = "discussion"  # its agent revised it after peers of other languages critiqued it
    transfer = "transfer"  # a peer carried a discussed task over into its own language


class PreferenceKind(StrEnum):
    """What a DPO preference rests on."""

    execution = "execution"  # the chosen answer passed its tests, the rejected one did not (or a gate dropped it)
    judge = "judge"  # the judge's scores alone (recorded only with judge.preferences_from_scores)
    annotator = "annotator"  # an annotator's correction over the original answer
    repair = "repair"  # the chosen answer passed its tests as the fix of the rejected one, written from the sandbox's
    # output on it (kept in the preference's `reason`)


class CampaignStatus(StrEnum):
    """Where a campaign stands."""

    running = "running"  # a run is under way, or was killed outright (the next run resumes it)
    finished = "finished"  # its last run went through every scheduled item
    interrupted = "interrupted"  # stopped by Ctrl+C or SIGTERM; the same command resumes it
    ingested = "ingested"  # snippets stored by `polyforge ingest`, no generation yet
