"""The campaign dashboard page: figures from `polyforge.storage.report`, charts from `charts`, one Jinja template.
The same HTML is served by the review app and saved by `polyforge report --html`: its styles are inline (allowed
by their hash in the app's Content-Security-Policy) and its charts are `data:` images, so the file stands alone."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import jinja2
from sqlalchemy.orm import Session

from polyforge.dashboard import charts
from polyforge.storage.endpoint_usage import endpoint_usage
from polyforge.storage.models import Campaign
from polyforge.storage.report import (
    acceptance_funnel,
    criterion_distributions,
    coverage_counts,
    final_scores_by_language,
    flag_reason_counts,
    language_summaries,
)
from polyforge.storage.spending import stage_costs
from polyforge.storage.synergy import synergy
from polyforge.terms import CampaignStatus

HERE = Path(__file__).parent
CSS = (HERE / "dashboard.css").read_text()
# The CSP source that allows exactly the page's inline stylesheet and nothing else inline.
STYLE_CSP_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode() + "'"
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)


def coverage_by_topic(counts: Counter) -> tuple[list[str], list[str], dict[tuple[str, str], int]]:
    """(topics, languages, (topic, language) -> pairs) from coverage counts per (language, topic, difficulty)."""
    cells: Counter = Counter()
    for (language, topic, _difficulty), count in counts.items():
        cells[(topic, language)] += count
    return sorted({topic for topic, _ in cells}), sorted({language for _, language in cells}), dict(cells)


def campaign_dashboard(session: Session, campaign: Campaign, refresh_s: int | None = None) -> str:
    """The dashboard of `campaign` as one HTML document; with `refresh_s`, a running campaign's page reloads itself
    that often (a meta refresh, no script)."""
    funnel = acceptance_funnel(session, campaign.id)
    scores = final_scores_by_language(session, campaign.id)
    criteria = criterion_distributions(session, campaign.id)
    topics, languages, cells = coverage_by_topic(coverage_counts(session, campaign.id))
    flags = flag_reason_counts(session, campaign.id)
    summaries = language_summaries(session, campaign.id)
    per_accepted = {row.language: row.tokens / row.accepted for row in summaries if row.accepted}
    # A campaign's cost is model time: the seconds its calls took, spread over the pairs that made it.
    seconds_per_accepted = {row.language: row.seconds / row.accepted for row in summaries if row.accepted}
    plots = {
        "funnel": charts.horizontal_bars({step.step: step.items for step in funnel}, "items"),
        "scores": charts.score_histograms(scores) if scores else None,
        "criteria": charts.criterion_ranges([(row.criterion, row.mean, row.std) for row in criteria])
        if criteria else None,
        "coverage": charts.heatmap(topics, languages, cells) if cells else None,
        "flags": charts.horizontal_bars(flags, "flagged pairs") if flags else None,
        "tokens": charts.horizontal_bars({k: round(v) for k, v in per_accepted.items()}, "tokens per accepted pair")
        if per_accepted else None,
    }
    running = campaign.status == CampaignStatus.running
    return TEMPLATES.get_template("dashboard.html").render(
        campaign=campaign, css=CSS, plots=plots, funnel=funnel, criteria=criteria, flags=flags,
        summaries=summaries, per_accepted=per_accepted, seconds_per_accepted=seconds_per_accepted, stages=stage_costs(session, campaign.id),
        endpoints=endpoint_usage(session, campaign.id), synergy=synergy(session, campaign.id),
        refresh_s=refresh_s if running else None,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
