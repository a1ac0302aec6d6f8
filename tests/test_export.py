"""Exports: SFT and DPO rows in JSONL, Parquet and HF folders, filters, mixtures and the dataset card."""

import asyncio
import json

import pytest

from doubles import ScriptedBackend, judged_language, two_candidates_script
from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignRunner
from polyforge.storage import open_engine, session_factory
from polyforge.export import ExportError, ExportFilter, export

SCORES = {"Python": 9, "Go": 7, "C": 5, "Rust": 2}  # accepted, accepted, flagged, rejected


@pytest.fixture
def campaign_db(sample_repo, tmp_path, db_url, criteria):
    """A campaign over four languages, two candidates per instruction (one good, one bad)."""

    def judge_score(messages, has_code):
        return SCORES[judged_language(messages)] if has_code else 1

    config = CampaignConfig.model_validate({
        "name": "export", "output_dir": str(tmp_path), "database_url": db_url,
        "sources": [{"path": str(sample_repo)}], "languages": list(SCORES), "budgets": {"max_pairs": 12},
        "concurrency": 1, "sampling": {"candidates": 2}, "memory": {"enabled": False}, "execution": {"enabled": False},
        "judge": {"preferences_from_scores": True},  # no tests run: only the judge can tell the candidates apart
    })
    backend = ScriptedBackend(two_candidates_script(judge_score, criteria))
    asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())
    engine = open_engine(db_url, create=False)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sft_jsonl_has_messages_provenance_and_a_card(campaign_db, tmp_path):
    result = export(campaign_db, tmp_path / "x" / "sft.jsonl", "sft-jsonl", ExportFilter())
    rows = read_jsonl(result.data_path)
    assert result.rows == len(rows) == 6  # Python and Go, three snippets each
    for row in rows:
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert row["status"] == "accepted" and row["language"] in {"Python", "Go"}
        assert row["source"]["path"] and row["source"]["start_line"] <= row["source"]["end_line"]
        assert set(row["templates"]) == {"instruction", "classify", "answer", "judge"}
    card = result.card_path.read_text()
    assert result.card_path.name == "sft.README.md"
    # judge scores 9 (Python) and 7 (Go) on eight criteria; the parser sets code_exists to 10 (the block parses)
    mean = ((9 * 8 + 10) / 9 + (7 * 8 + 10) / 9) / 2
    assert "rows: 6" in card and "| Python | 3 |" in card and f"| mean | {mean:.3f} |" in card
    assert not list(tmp_path.glob("x/*.partial"))


def test_filters_by_status_score_language_and_campaign(campaign_db, tmp_path):
    every = ExportFilter(("accepted", "flagged", "rejected"))
    assert export(campaign_db, tmp_path / "a.jsonl", "sft-jsonl", every).rows == 12
    assert export(campaign_db, tmp_path / "b.jsonl", "sft-jsonl",
                  ExportFilter(("accepted", "flagged", "rejected"), min_score=6)).rows == 6
    rows = read_jsonl(export(campaign_db, tmp_path / "c.jsonl", "sft-jsonl",
                             ExportFilter(("flagged", "rejected"), languages=("C",))).data_path)
    assert {r["language"] for r in rows} == {"C"} and {r["status"] for r in rows} == {"flagged"}
    assert export(campaign_db, tmp_path / "d.jsonl", "sft-jsonl", ExportFilter(campaign_id=999)).rows == 0


def test_mixture_follows_the_shares(campaign_db, tmp_path):
    spec = ExportFilter(("accepted", "flagged", "rejected"), mixture={"Python": 2, "C": 1})
    rows = read_jsonl(export(campaign_db, tmp_path / "m.jsonl", "sft-jsonl", spec).data_path)
    counts = {lang: sum(r["language"] == lang for r in rows) for lang in ("Python", "C")}
    assert counts == {"Python": 3, "C": 1}  # Python has 3 rows: 3 / (2/3) caps the export at 4.5 rows
    with pytest.raises(ExportError, match=r"Haskell.*no pairs match the filters"):
        export(campaign_db, tmp_path / "n.jsonl", "sft-jsonl", ExportFilter(mixture={"Haskell": 1}))


def test_dpo_rows_pair_the_better_candidate_against_the_worse(campaign_db, tmp_path):
    rows = read_jsonl(export(campaign_db, tmp_path / "dpo.jsonl", "dpo-jsonl",
                             ExportFilter(("accepted", "flagged", "rejected"))).data_path)
    assert len(rows) == 12  # every pair beat its bad candidate, which the code-block gate dropped unjudged
    for row in rows:
        assert "```" in row["chosen"][0]["content"] and row["rejected"][0]["content"] == "I would not know."
        assert row["prompt"][0]["role"] == "user" and row["chosen_score"] >= 2 and row["rejected_score"] is None
        assert row["reason"].endswith(f"vs gate: no {row['language']} code block") and row["kind"] == "judge"


def test_parquet_and_hf_exports_load_with_datasets(campaign_db, tmp_path):
    from datasets import load_dataset, load_from_disk

    parquet = export(campaign_db, tmp_path / "sft.parquet", "sft-parquet", ExportFilter())
    loaded = load_dataset("parquet", data_files=str(parquet.data_path), split="train")
    assert loaded.num_rows == 6 and loaded[0]["messages"][0]["role"] == "user"
    assert json.loads(loaded[0]["templates"])["judge"]

    folder = export(campaign_db, tmp_path / "dpo_hf", "dpo-hf", ExportFilter(("accepted", "flagged", "rejected")))
    dataset = load_from_disk(str(folder.data_path))
    assert dataset.num_rows == 12 and set(dataset.column_names) >= {"prompt", "chosen", "rejected"}
    assert (folder.data_path / "README.md").is_file()

    jsonl = export(campaign_db, tmp_path / "sft.jsonl", "sft-jsonl", ExportFilter())
    assert load_dataset("json", data_files=str(jsonl.data_path), split="train").num_rows == 6


def test_unknown_format_is_refused(campaign_db, tmp_path):
    with pytest.raises(ExportError, match="unknown format 'csv'"):
        export(campaign_db, tmp_path / "x.csv", "csv", ExportFilter())
