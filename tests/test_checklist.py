import pytest

from polyforge.checklists import ChecklistError, load_checklist
from polyforge.terms import PairStatus


def test_default_has_the_nine_points(checklist):
    assert [c.id for c in checklist.criteria] == [
        "qa_consistency", "qa_relevance", "qa_difficulty", "code_exists", "code_correctness",
        "best_practices", "code_clarity", "code_comments", "easy_to_learn",
    ]
    assert len(checklist.content_hash) == 16


def test_final_score_is_the_weighted_mean(checklist, criteria):
    scores = dict.fromkeys(criteria, 5)
    scores["code_correctness"] = 10  # weight 2 of a total 9
    assert checklist.final_score(scores) == pytest.approx(5 + 5 * 2 / 9)
    with pytest.raises(ValueError, match="missing"):
        checklist.final_score({"qa_consistency": 3})


def test_routing_thresholds(checklist):
    accept, reject = checklist.thresholds.accept, checklist.thresholds.reject
    assert checklist.route(accept) is PairStatus.accepted
    assert checklist.route(accept - 0.01) is PairStatus.flagged
    assert checklist.route(reject) is PairStatus.flagged
    assert checklist.route(reject - 0.01) is PairStatus.rejected


def test_custom_checklist_file_and_its_errors(tmp_path):
    good = tmp_path / "mine.yaml"
    good.write_text("name: mine\nthresholds: {accept: 5, reject: 2}\ncriteria:\n"
                    "  - {id: works, title: Works, check: It works., weight: 1}\n")
    assert load_checklist(good).criteria[0].id == "works"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nthresholds: {accept: 2, reject: 5}\ncriteria:\n"
                   "  - {id: works, title: Works, check: It works., weight: 1}\n")
    with pytest.raises(ChecklistError, match="reject must not exceed"):
        load_checklist(bad)
    with pytest.raises(ChecklistError, match="not found.*default"):
        load_checklist("no-such-checklist")


def test_overrides_are_named_in_the_yaml_and_checked(checklist, tmp_path):
    assert {c.id: c.override for c in checklist.criteria if c.override} == {
        "code_exists": "parser", "code_correctness": "sandbox",
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nthresholds: {accept: 5, reject: 2}\ncriteria:\n"
                   "  - {id: works, title: Works, check: It works., weight: 1, override: compiler}\n")
    with pytest.raises(ChecklistError, match=r"criteria.0.override\n  Input should be 'parser' or 'sandbox'"):
        load_checklist(bad)
