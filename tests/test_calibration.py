"""`polyforge judge calibrate` on a small labelled CSV: agreement figures and fitted weights."""

import math

import pytest
from typer.testing import CliRunner

from polyforge.checklists.calibration import CalibrationError, calibrate, read_verdicts
from polyforge.cli import app
from polyforge.storage import Campaign, JudgeScore, Pair, Snippet, open_engine, session_factory
from polyforge.storage.judgments import judged_pairs

# pair id: (judge's route, final score, annotator verdict)
PAIRS = {
    1: ("accepted", 8.0, "accept"),
    2: ("accepted", 7.0, "accept"),
    3: ("accepted", 7.5, "reject"),
    4: ("rejected", 2.0, "reject"),
    5: ("rejected", 3.0, "reject"),
    6: ("rejected", 3.5, "accept"),
    7: ("flagged", 5.0, "accept"),
    8: ("flagged", 5.0, "reject"),
}


def criterion_scores(verdict: str, criteria) -> dict[str, float]:
    """qa_consistency predicts the verdict perfectly, easy_to_learn goes against it, the rest are flat."""
    scores = dict.fromkeys(criteria, 5.0)
    scores["qa_consistency"] = 9.0 if verdict == "accept" else 2.0
    scores["easy_to_learn"] = 2.0 if verdict == "accept" else 8.0
    return scores


@pytest.fixture
def labelled(tmp_path, db_url, checklist, criteria):
    engine = open_engine(db_url)
    weights = {c.id: c.weight for c in checklist.criteria}
    with session_factory(engine)() as session:
        campaign = Campaign(name="c", config={})
        for pair_id, (status, final, verdict) in PAIRS.items():
            snippet = Snippet(campaign=campaign, language="Python", path="a.py", source=".", start_line=pair_id,
                              end_line=pair_id, kind="function_definition", code="pass", tokens=1,
                              content_hash=f"h{pair_id}")
            session.add(Pair(
                id=pair_id, campaign=campaign, snippet=snippet, language="Python", instruction="i", answer="a",
                status=status, final_score=final, model="m", sampling={}, templates={}, tokens={},
                checklist_hash=checklist.content_hash,
                scores=[JudgeScore(criterion=c, score=s, weight=weights[c])
                        for c, s in criterion_scores(verdict, criteria).items()],
            ))
        session.commit()
    engine.dispose()
    csv_path = tmp_path / "verdicts.csv"
    csv_path.write_text("pair_id,verdict\n" + "".join(f"{i},{v}\n" for i, (_, _, v) in PAIRS.items()))
    return db_url, csv_path


def load_rows(db_url, verdicts):
    engine = open_engine(db_url, create=False)
    with session_factory(engine)() as session:
        rows = judged_pairs(session, verdicts)
    engine.dispose()
    return rows


def test_agreement_figures(labelled):
    folder, csv_path = labelled
    verdicts = read_verdicts(csv_path)
    report = calibrate(load_rows(folder, verdicts), verdicts)
    assert (report.labelled, report.decided, report.flagged, report.flagged_accepted) == (8, 6, 2, 1)
    # decided pairs: judge A A A R R R vs annotators A A R R R A
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.kappa == pytest.approx((4 / 6 - 0.5) / 0.5)  # chance agreement 0.5
    # ranks of the final scores 8 6 7 1 2 3 4.5 4.5 against tied verdict ranks 6.5 / 2.5
    assert report.spearman == pytest.approx(14 / math.sqrt(41.5 * 32))


def test_weights_fitted_from_the_verdicts(labelled, criteria):
    folder, csv_path = labelled
    verdicts = read_verdicts(csv_path)
    report = calibrate(load_rows(folder, verdicts), verdicts)
    by_criterion = {w.criterion: w for w in report.weights}
    assert list(by_criterion) == criteria
    assert by_criterion["qa_consistency"].current == 1.5
    assert by_criterion["qa_consistency"].coefficient > 0.1
    assert by_criterion["easy_to_learn"].coefficient < -0.1 and by_criterion["easy_to_learn"].suggested == 0
    best = max(report.weights, key=lambda w: w.suggested)
    assert best.criterion == "qa_consistency" and best.suggested > best.current
    assert sum(w.suggested for w in report.weights) == pytest.approx(sum(w.current for w in report.weights))
    assert report.fit_accuracy == 1.0


def test_single_class_verdicts_report_agreement_but_fit_no_weights(labelled):
    folder, _ = labelled
    verdicts = dict.fromkeys(PAIRS, True)
    report = calibrate(load_rows(folder, verdicts), verdicts)
    assert report.accuracy == pytest.approx(3 / 6)
    assert all(w.suggested is None for w in report.weights) and report.fit_accuracy is None
    assert any("all the same" in note for note in report.notes)


def test_cli_prints_agreement_and_weights(labelled):
    folder, csv_path = labelled
    with csv_path.open("a") as handle:
        handle.write("999,accept\n")  # a pair that is not in the database
    result = CliRunner().invoke(app, ["judge", "calibrate", str(folder), "--verdicts", str(csv_path)])
    assert result.exit_code == 0, result.output
    assert "1 verdict(s) name pairs not in the database" in result.output
    assert "Cohen's kappa" in result.output and "0.333" in result.output and "0.667" in result.output
    assert "qa_consistency" in result.output and "suggested" in result.output


@pytest.mark.parametrize(("text", "message"), [
    ("id,verdict\n1,accept\n", r"missing column\(s\) \['pair_id'\]"),
    ("pair_id,verdict\n1,accept\n2,maybe\n", r"verdicts.csv:3: verdict must be accept or reject.*'maybe'"),
    ("pair_id,verdict\nx,accept\n", r"verdicts.csv:2: pair_id must be an integer"),
    ("pair_id,verdict\n1,accept\n1,reject\n", "pair 1 has conflicting verdicts"),
    ("pair_id,verdict\n", "no verdicts found"),
])
def test_bad_verdict_files_are_named_with_the_line(tmp_path, text, message):
    path = tmp_path / "verdicts.csv"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=message):
        read_verdicts(path)


def test_cli_reports_a_bad_file_without_traceback(labelled, tmp_path):
    folder, _ = labelled
    result = CliRunner().invoke(app, ["judge", "calibrate", str(folder), "--verdicts", str(tmp_path / "none.csv")])
    assert result.exit_code == 2 and "verdicts file not found" in result.output and "Traceback" not in result.output
