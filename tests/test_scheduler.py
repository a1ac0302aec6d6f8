"""The schedule streams pending snippets from the database page by page, in the order the policy gives."""

from collections import Counter

from factories import pair, snippet
from polyforge.generation import scheduler
from polyforge.generation.scheduler import SchedulePolicy, pick_peers, plan_work
from polyforge.storage import Campaign, database, database_url


def test_the_streamed_schedule_interleaves_languages_under_caps_and_the_limit(tmp_path, monkeypatch):
    """Three languages, an earlier run's pairs, a cap of 5 per language, a limit of 8, pages of 2 rows."""
    monkeypatch.setattr(scheduler, "PAGE_ROWS", 2)
    with database(database_url(tmp_path / "db")) as sessions:
        with sessions() as session:
            campaign = Campaign(name="c", config={})
            # ids interleave across languages: Python, Go, Python, Go, ... then the two Rust snippets
            rows = {"Python": [], "Go": [], "Rust": []}
            for index in range(16):
                language = "Python" if index % 2 == 0 else "Go" if index < 13 else "Rust"
                row = snippet(campaign, index, language)
                row.content_hash = f"{index + 1:07x}" + "0" * 57
                rows[language].append(row)
            python, go, rust = rows["Python"], rows["Go"], rows["Rust"]
            done = [pair(campaign, python[0], "Python", "accepted"), pair(campaign, python[1], "Python", "rejected"),
                    pair(campaign, go[0], "Go", "accepted"),
                    pair(campaign, python[0], "Go", "accepted", origin="transfer")]  # not counted by the cap
            session.add_all([campaign, *python, *go, *rust, *done])
            session.commit()
            ids = {language: [row.id for row in group] for language, group in rows.items()}
            hashes = {row.id: row.content_hash for group in rows.values() for row in group}

            policy = SchedulePolicy(seed=3, per_language=5, discussion_share=1.0, peers_per_item=1)
            schedule = plan_work(session, campaign.id, 8, policy)

        # quotas: Go 5 - 1 done = 4, Python 5 - 2 done = 3, Rust its 2 snippets; turns in name order
        expected_order = [("Go", ids["Go"][1]), ("Python", ids["Python"][2]), ("Rust", ids["Rust"][0]),
                          ("Go", ids["Go"][2]), ("Python", ids["Python"][3]), ("Rust", ids["Rust"][1]),
                          ("Go", ids["Go"][3]), ("Python", ids["Python"][4])]
        assert schedule.total == 8 and schedule.languages == {"Go", "Python", "Rust"}
        items = list(schedule.items(sessions))
        assert [(item.language, item.snippet_id) for item in items] == expected_order
        assert [item.seed for item in items] == [3 + int(hashes[snippet_id][:7], 16) for _, snippet_id in expected_order]

        # peers: the fewest pairs first, from the tally of stored pairs (Go 2, Python 2, Rust 0) that each pick adds to
        assert [item.peers for item in items[:2]] == [("Rust",), ("Rust",)]
        tally = Counter({"Go": 2, "Python": 2})
        assert [item.peers for item in items] == [
            tuple(pick_peers(item.language, ["Go", "Python", "Rust"], 1.0, 1, item.seed, tally)) for item in items]
        assert list(schedule.items(sessions)) == items  # taking the items again draws the same


def test_a_small_limit_needs_agents_only_for_the_first_languages(tmp_path):
    with database(database_url(tmp_path / "db")) as sessions:
        with sessions() as session:
            campaign = Campaign(name="c", config={})
            session.add_all([campaign] + [snippet(campaign, index, language) for index, language
                                          in enumerate(["Rust", "Go", "Python", "Go"])])
            session.commit()
            schedule = plan_work(session, campaign.id, 2, SchedulePolicy())
            assert (schedule.total, schedule.languages) == (2, {"Go", "Python"})
            assert plan_work(session, campaign.id, 2, SchedulePolicy(discussion_share=0.5, peers_per_item=1)
                             ).languages == {"Go", "Python", "Rust"}  # any language may be a peer
