"""How each annotator works: the time per verdict (from opening the pair's page to sending the verdict), and how
often their verdicts agree with their co-annotators' and with the sandbox, so that a rushed reviewer shows on the
admin page.

The page's open time rides in the verdict form as a stamp signed with the session's CSRF token, so that the time
recorded is the server's and an annotator cannot claim to have looked longer than she did."""

from __future__ import annotations

import hashlib
import hmac
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polyforge.storage.verdicts import annotator_work

MAX_OPEN_S = 3600.0  # a page open longer was left open, not worked on: its time is not recorded
RUSHED_S = 10.0  # a verdict sooner than this after opening the pair is a glance, not a review


def opened_stamp(secret: str, pair_id: int, now: float | None = None) -> str:
    """The stamp the pair page puts in its verdict form: when it was opened, signed for this pair and session."""
    opened = f"{time.time() if now is None else now:.3f}"
    return f"{opened}.{_signature(secret, pair_id, opened)}"


def seconds_open(stamp: str, secret: str | None, pair_id: int, now: float | None = None) -> float | None:
    """Seconds since the page that sent `stamp` was opened; None when the stamp is missing, forged, from another
    pair or session, or older than MAX_OPEN_S."""
    whole, dot, fraction_and_signature = stamp.partition(".")
    fraction, _, signature = fraction_and_signature.partition(".")
    opened = f"{whole}.{fraction}"
    if not secret or not dot or not hmac.compare_digest(signature, _signature(secret, pair_id, opened)):
        return None
    elapsed = (time.time() if now is None else now) - float(opened)
    return round(elapsed, 1) if 0 <= elapsed <= MAX_OPEN_S else None


def _signature(secret: str, pair_id: int, opened: str) -> str:
    return hmac.new(secret.encode(), f"{pair_id}:{opened}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass
class AnnotatorPace:
    annotator: str
    verdicts: int
    timed: int  # verdicts whose time is known
    median_s: float | None
    rushed: int  # timed verdicts given in under RUSHED_S
    shared: int  # comparisons with a co-annotator's verdict on the same pair
    agreed: int
    sandboxed: int  # verdicts on pairs whose chosen answer the sandbox ran
    sandbox_agreed: int  # of those: accepted a passing answer, or rejected a failing one

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.shared if self.shared else None

    @property
    def sandbox_agreement(self) -> float | None:
        return self.sandbox_agreed / self.sandboxed if self.sandboxed else None


def annotator_pace(session: Session, campaign_id: int | None = None) -> list[AnnotatorPace]:
    """Each annotator's pace and agreement, by name, over their latest verdict on each pair."""
    rows = annotator_work(session, campaign_id)
    by_pair: dict[int, dict[str, str]] = defaultdict(dict)
    for pair_id, annotator, verdict, _, _ in rows:
        by_pair[pair_id][annotator] = verdict
    paces: dict[str, AnnotatorPace] = {}
    seconds: dict[str, list[float]] = defaultdict(list)
    for pair_id, annotator, verdict, took, execution in rows:
        pace = paces.setdefault(annotator, AnnotatorPace(annotator, 0, 0, None, 0, 0, 0, 0, 0))
        pace.verdicts += 1
        if took is not None:
            seconds[annotator].append(took)
            pace.rushed += took < RUSHED_S
        others = [other for name, other in by_pair[pair_id].items() if name != annotator]
        pace.shared += len(others)
        pace.agreed += sum(other == verdict for other in others)
        if execution is not None:
            pace.sandboxed += 1
            pace.sandbox_agreed += (verdict == "accept") == (execution == "passed")
    for annotator, taken in seconds.items():
        paces[annotator].timed, paces[annotator].median_s = len(taken), statistics.median(taken)
    return [paces[name] for name in sorted(paces)]
