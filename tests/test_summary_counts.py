"""The campaign summary: counts per status (contaminated included) and the models that made the pairs."""

from factories import campaign_with_snippets, pair
from polyforge.storage import database_url, session_scope
from polyforge.storage.report import campaign_models, language_summaries, total_summary
from polyforge.terms import PairStatus


def test_the_summary_counts_contaminated_pairs(tmp_path):
    url = database_url(tmp_path / "db")
    with session_scope(url) as session:
        campaign, snippets = campaign_with_snippets(session, 3)
        session.add_all([pair(campaign, snippets[0], "Python", PairStatus.contaminated, error="contaminated: x"),
                         pair(campaign, snippets[1], "Python", PairStatus.accepted, final_score=8.0),
                         pair(campaign, snippets[2], "Python", PairStatus.contaminated, error="contaminated: y")])
        session.flush()
        [row] = language_summaries(session, campaign.id)
        total = total_summary(session, campaign.id)
    assert (row.generated, row.accepted, row.contaminated, row.duplicate) == (3, 1, 2, 0)
    assert total.contaminated == 2


def test_the_summary_names_the_generator_and_the_judge(tmp_path):
    url = database_url(tmp_path / "db")
    with session_scope(url) as session:
        campaign, snippets = campaign_with_snippets(session, 2)
        session.add_all([pair(campaign, snippets[0], "Python", PairStatus.accepted, judge_model="Qwen-J"),
                         pair(campaign, snippets[1], "Python", PairStatus.duplicate)])
        session.flush()
        assert campaign_models(session, campaign.id) == (["m"], ["Qwen-J"])
