"""`polyforge judge ...`: the judge measured against annotators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from polyforge.checklists.calibration import CalibrationError, calibrate, read_verdicts
from polyforge.cli.common import USER_ERRORS, DatabaseSource, console, database_url_of, fail
from polyforge.cli.views import print_calibration
from polyforge.storage import session_scope
from polyforge.storage.judgments import judged_pairs, review_verdicts

app = typer.Typer(help="The judge: calibration against annotators.", no_args_is_help=True)


@app.command("calibrate")
def judge_calibrate(
    source: DatabaseSource,
    verdicts: Annotated[Optional[Path], typer.Option(
        help="CSV with columns pair_id and verdict (accept or reject); default: the database's review table.")] = None,
    campaign: Annotated[Optional[int], typer.Option(help="Only pairs of this campaign id.")] = None,
) -> None:
    """Compare the judge's routing with annotator verdicts and fit suggested checklist weights."""
    url = database_url_of(source)
    try:
        with session_scope(url, create=False) as session:
            labels = read_verdicts(verdicts) if verdicts else review_verdicts(session)
            if not labels:
                raise CalibrationError("no annotator verdicts: the review table is empty; pass --verdicts CSV")
            rows = judged_pairs(session, labels, campaign)
        report = calibrate(rows, labels)
    except USER_ERRORS as exc:
        fail(str(exc))
    unknown = len(labels) - len(rows)
    if unknown:
        console.print(f"[yellow]{unknown} verdict(s) name pairs not in the database; ignored[/]")
    print_calibration(report)
