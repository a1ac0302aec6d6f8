"""Corpora of code files as sources: Parquet and JSON Lines shards and saved datasets, in The Stack v2's layout by
default, with the license allow-list and provenance per row."""

import asyncio
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sqlalchemy import select

from doubles import ScriptedBackend, pipeline_script, uniform_scores
from polyforge.config import ConfigError, IngestConfig, SourceConfig, load_config
from polyforge.generation.campaign import CampaignRunner
from polyforge.ingest import IngestError, ingest
from polyforge.storage import Pair, Snippet, open_engine, session_factory


def python_function(index: int) -> str:
    return (f"def scale_{index}(values, factor={index + 2}):\n    result = []\n    for value in values:\n"
            f"        result.append(value * factor + {index})\n    return result\n")


def js_function(index: int) -> str:
    return (f"function offset{index}(items) {{\n  const out = [];\n  for (const item of items) {{\n"
            f"    out.push(item + {index * 3});\n  }}\n  return out;\n}}\n")


def stack_row(index: int, licenses, language="Python", repo=None):
    """A row as The Stack v2 lays it out (with a few of its other columns)."""
    content = js_function(index) if language == "JavaScript" else python_function(index)
    suffix = ".js" if language == "JavaScript" else ".py"
    return {"blob_id": f"{index:040x}", "repo_name": repo or f"owner{index % 3}/project{index % 3}",
            "path": f"src/module_{index}{suffix}", "content": content, "detected_licenses": licenses,
            "license_type": "permissive", "language": language, "length_bytes": len(content)}


def write_shards(folder, rows_per_shard):
    folder.mkdir(parents=True, exist_ok=True)
    for number, rows in enumerate(rows_per_shard):
        pq.write_table(pa.Table.from_pylist(rows), folder / f"train-{number:05d}.parquet")
    return folder


def corpus(folder):
    """Three shards: allowed rows in Python and JavaScript, one GPL row, one without a license, one unlabelled."""
    return write_shards(folder, [
        [stack_row(0, ["MIT"]), stack_row(1, ["Apache-2.0"]), stack_row(2, ["GPL-3.0-only"])],
        [stack_row(3, ["MIT"], "JavaScript"), stack_row(4, [])],
        [stack_row(5, ["MIT", "Apache-2.0"], language=None)],
    ])


def test_parquet_shards_are_ingested_with_the_allow_list_and_provenance(tmp_path):
    shards = corpus(tmp_path / "stack")
    config = IngestConfig(workers=1, license_allowlist=["MIT", "Apache-2.0"])
    report = ingest([SourceConfig(files=shards)], config)
    by_path = {snippet.path: snippet for snippet in report.snippets}
    assert set(by_path) == {"src/module_0.py", "src/module_1.py", "src/module_3.js", "src/module_5.py"}
    assert by_path["src/module_1.py"].source == "owner1/project1" and by_path["src/module_1.py"].start_line == 1
    assert by_path["src/module_3.js"].language == "JavaScript"
    assert by_path["src/module_5.py"].language == "Python"  # no language in the row: identified from the file
    summary = report.sources[0]
    assert summary.location == str(shards) and summary.files == 4
    assert summary.skipped["license GPL-3.0-only not allowed"] == 1 and summary.skipped["no license"] == 1
    assert summary.skipped.examples["no license"] == f"{shards / 'train-00001.parquet'}:2"


def test_a_glob_and_a_json_lines_shard_with_its_own_field_names(tmp_path):
    folder = tmp_path / "dump"
    folder.mkdir()
    rows = [{"text": python_function(index), "file": f"a/{index}.py", "repository": "me/mine"} for index in range(3)]
    (folder / "part-0.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    (folder / "notes.txt").write_text("not a shard")
    source = SourceConfig.model_validate({"files": str(folder / "*.jsonl"), "fields": {
        "content": "text", "path": "file", "repo": "repository", "license": None, "language": None}})
    report = ingest([source], IngestConfig(workers=1))
    assert sorted(snippet.path for snippet in report.snippets) == ["a/0.py", "a/1.py", "a/2.py"]
    assert {snippet.source for snippet in report.snippets} == {"me/mine"}


def test_a_folder_saved_by_datasets(tmp_path):
    from datasets import Dataset

    Dataset.from_list([stack_row(index, ["MIT"]) for index in range(4)]).save_to_disk(str(tmp_path / "saved"))
    report = ingest([SourceConfig(files=tmp_path / "saved")], IngestConfig(workers=1))
    assert len(report.snippets) == 4


def test_a_missing_field_is_named(tmp_path):
    write_shards(tmp_path / "s", [[{"content": python_function(0), "path": "x.py"}]])
    with pytest.raises(IngestError, match=r"no field 'detected_licenses' \(the file's license\).*license: null"):
        ingest([SourceConfig(files=tmp_path / "s")], IngestConfig(workers=1))


def test_a_source_without_shards_is_reported_and_the_others_go_on(tmp_path):
    shards = corpus(tmp_path / "stack")
    report = ingest([SourceConfig(files=tmp_path / "empty" / "*.parquet"), SourceConfig(files=shards)],
                    IngestConfig(workers=1))
    assert "no shards found" in report.problems[0] and len(report.snippets) == 6


def test_fields_belong_to_the_kind_of_source():
    with pytest.raises(ValueError, match="content"):
        SourceConfig.model_validate({"files": "x.parquet", "fields": {"instruction": "prompt"}})
    assert SourceConfig.model_validate({"instructions": "t.jsonl", "fields": {"instruction": "p"}}).fields.instruction


def test_a_campaign_ingests_a_parquet_corpus_from_its_config(tmp_path, criteria):
    corpus(tmp_path / "data" / "stack")
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump({
        "name": "corpus", "output_dir": "out", "database_url": f"sqlite:///{tmp_path / 'c.db'}",
        "sources": [{"files": "data/stack/train-*.parquet"}], "ingest": {"license_allowlist": ["MIT", "Apache-2.0"]},
        "budgets": {"max_pairs": 4}, "concurrency": 2, "memory": {"enabled": False},
        "execution": {"enabled": False},
    }))
    config = load_config(path)
    assert config.sources[0].location == str(tmp_path / "data" / "stack" / "train-*.parquet")
    backend = ScriptedBackend(pipeline_script(lambda messages: uniform_scores(9, criteria)))
    result = asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())
    assert result.new_pairs == 4
    engine = open_engine(config.database_url, create=False)
    with session_factory(engine)() as session:
        snippets = session.scalars(select(Snippet)).all()
        assert sorted(s.path for s in snippets) == ["src/module_0.py", "src/module_1.py", "src/module_3.js",
                                                    "src/module_5.py"]
        assert {s.source for s in snippets} == {"owner0/project0", "owner1/project1", "owner2/project2"}
        assert len(session.scalars(select(Pair)).all()) == 4
    engine.dispose()


def test_a_bad_source_kind_is_a_config_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "sources": [{"files": "a.parquet", "path": "."}]}))
    with pytest.raises(ConfigError, match="exactly one of"):
        load_config(path)
