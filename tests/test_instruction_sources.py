"""Instruction datasets as a campaign's source: the config, reading JSON Lines, Parquet and `datasets` folders with
a field mapping, the errors a bad row gives, and campaigns (scripted backends) that answer, test and judge the
given tasks, store each pair with its row's id and export it as `source_id`."""

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from polyforge.cli import app
from polyforge.config import CampaignConfig, ConfigError, SourceConfig, load_config
from polyforge.generation.campaign import CampaignRunner
from polyforge.ingest import IngestError, IngestReport
from polyforge.ingest.instructions import stream_instructions
from polyforge.storage import ExecutionRecord, Pair, Snippet, database_url, session_scope
from sandbox_support import requires_sandbox

MAPPING = {"instruction": "task", "language": "lang", "id": "task_id"}
TASKS = [
    {"task_id": "t-1", "lang": "python", "task": "Write a Python function `total(xs)` that sums a list.",
     "notes": "extra fields are ignored"},
    {"task_id": "t-2", "lang": "Go", "task": "Write a Go function `Total(xs []int) int` that sums a slice.",
     "notes": ""},
    {"task_id": "t-3", "lang": "sh", "task": "Write a Bash function `total` that prints the sum of its arguments.",
     "notes": ""},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_saved_dataset(path: Path, rows: list[dict]) -> Path:
    from datasets import Dataset

    Dataset.from_list(rows).save_to_disk(str(path))
    return path


WRITERS = {"tasks.jsonl": write_jsonl, "tasks.parquet": write_parquet, "tasks-hf": write_saved_dataset}


def read(path: Path, fields: dict | None = MAPPING, languages=None) -> tuple[list, IngestReport]:
    report = IngestReport()
    source = SourceConfig(instructions=path, **({"fields": fields} if fields is not None else {}))
    return list(stream_instructions([source], report, languages)), report


def write_config(folder: Path, text: str) -> Path:
    config = folder / "campaign.yaml"
    config.write_text(text, encoding="utf-8")
    return config


# The config


def test_an_instructions_source_takes_a_path_beside_the_config_and_default_field_names(tmp_path):
    config = load_config(write_config(tmp_path, "sources: [{instructions: data/tasks.jsonl}]\n"))
    source = config.sources[0]
    assert source.instructions == tmp_path / "data" / "tasks.jsonl" and source.path is None and source.url is None
    assert (source.fields.instruction, source.fields.language, source.fields.id) == ("instruction", "language", "id")
    assert source.location == str(tmp_path / "data" / "tasks.jsonl")


@pytest.mark.parametrize("sources, message", [
    ("[{path: repo, instructions: tasks.jsonl}]", "give exactly one of 'path' (a local folder), 'url' (a git URL), "
                                                  "'files' (a corpus of code files) or 'instructions'"),
    ("[{url: https://example.com/r.git, instructions: tasks.jsonl}]", "give exactly one of"),
    ("[{fields: {instruction: prompt}}]", "give exactly one of"),
    ("[{path: repo, fields: {instruction: prompt}}]", "'fields' names the columns of a dataset: give it with 'instructions' or 'files'"),
    ("[{instructions: tasks.jsonl, fields: {text: prompt}}]", "sources.0.fields.text: unknown key"),
    ("[{instructions: tasks.jsonl, fields: {instruction: ''}}]", "sources.0.fields.instruction: String should have "
                                                                 "at least 1 character"),
    ("[{instructions: tasks.jsonl, fields: {id: [a, b]}}]", "sources.0.fields.id: Input should be a valid string"),
])
def test_a_bad_source_or_mapping_is_a_config_error_naming_the_key(tmp_path, sources, message):
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, f"sources: {sources}\n"))
    assert message in str(error.value)


# Reading datasets


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_rows_become_instruction_snippets_through_the_field_mapping(tmp_path, name):
    path = WRITERS[name](tmp_path / name, TASKS)
    records, report = read(path)
    assert [r.language for r in records] == ["Python", "Go", "Shell"]  # names and aliases, normalised
    assert [r.source_id for r in records] == [r.path for r in records] == ["t-1", "t-2", "t-3"]
    assert [r.code for r in records] == [task["task"] for task in TASKS]  # the text exactly as given
    assert [r.start_line for r in records] == [1, 2, 3]
    assert {r.kind for r in records} == {"instruction"} and {r.source for r in records} == {str(path)}
    assert len({r.content_hash for r in records}) == 3 and all(r.tokens > 5 for r in records)
    assert report.sources[0].rows == 3 and report.sources[0].location == str(path)
    assert {language: stats.snippets for language, stats in report.languages.items()} == \
        {"Python": 1, "Go": 1, "Shell": 1}


def test_default_field_names_need_no_mapping(tmp_path):
    rows = [{"id": 7, "language": "Rust", "instruction": "Write `fn total(xs: &[i64]) -> i64`."}]
    records, _ = read(write_jsonl(tmp_path / "tasks.jsonl", rows), fields=None)
    assert [(r.language, r.source_id, r.code) for r in records] == [("Rust", "7", rows[0]["instruction"])]


def test_repeats_and_rows_of_languages_not_selected_are_counted_and_skipped(tmp_path):
    rows = [TASKS[0], {**TASKS[0], "task_id": "copy"}, TASKS[1], {**TASKS[2], "lang": "klingon"}, TASKS[2]]
    records, report = read(write_jsonl(tmp_path / "tasks.jsonl", rows), languages=["Python", "Go"])
    assert [r.source_id for r in records] == ["t-1", "t-2"]
    step = report.steps["read instructions"]
    assert (step.seen, step.kept, dict(step.dropped)) == (5, 2, {"exact duplicate": 1, "language not selected": 2})
    assert report.languages["Python"].dropped == {"exact duplicate": 1}
    skipped = report.sources[0].skipped
    assert dict(skipped) == {"language not selected": 2} and skipped.examples == {"language not selected": "row 4"}


def test_json_lines_rows_are_numbered_by_line_and_ids_may_be_numbers(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n" + json.dumps({**TASKS[0], "task_id": 41}) + "\n\n" + json.dumps(TASKS[1]) + "\n")
    records, _ = read(path)
    assert [(r.start_line, r.source_id) for r in records] == [(2, "41"), (4, "t-2")]


@pytest.mark.parametrize("row, message", [
    ({"task_id": "x", "lang": "Go", "prompt": "Sum."}, "row 2 has no field 'task' (the task's instruction); the "
                                                       "row's fields: task_id, lang, prompt"),
    ({"task_id": "x", "task": "Sum."}, "row 2 has no field 'lang' (the task's language); the row's fields: "
                                       "task_id, task"),
    ({"lang": "Go", "task": "Sum."}, "row 2 has no field 'task_id' (the task's id)"),
    ({"task_id": "x", "lang": "Go", "task": None}, "row 2: field 'task' (the task's instruction) holds nothing (null)"),
    ({"task_id": "x", "lang": "Go", "task": "  "}, "row 2: field 'task' (the task's instruction) is empty"),
    ({"task_id": "x", "lang": "klingon", "task": "Sum."}, "row 2: unknown language 'klingon' in field 'lang'"),
])
def test_a_bad_row_stops_the_ingest_naming_the_file_the_row_and_the_field(tmp_path, row, message):
    path = write_jsonl(tmp_path / "tasks.jsonl", [TASKS[0], row])
    with pytest.raises(IngestError) as error:
        read(path)
    assert f"{path}: {message}" in str(error.value)


def test_a_parquet_file_without_a_mapped_column_names_the_first_row_and_its_fields(tmp_path):
    path = write_parquet(tmp_path / "tasks.parquet", [{"task_id": "a", "prompt": "Sum.", "lang": "Go"}])
    with pytest.raises(IngestError, match=r"row 1 has no field 'task' .* fields: task_id, prompt, lang"):
        read(path)


def unreadable_dataset(folder: Path, what: str) -> Path:
    if what == "missing":
        return folder / "missing.jsonl"
    if what == "csv":
        return write_jsonl(folder / "tasks.csv", TASKS)
    if what == "plain folder":
        (folder / "plain").mkdir()
        return folder / "plain"
    path = folder / "tasks.jsonl"
    path.write_text(json.dumps(TASKS[0]) + "\n" + ("[1, 2]" if what == "list" else "{no json") + "\n")
    return path


@pytest.mark.parametrize("what, message", [
    ("missing", "no such file or folder"),
    ("csv", "not a dataset format Polyforge reads"),
    ("plain folder", "not a folder written by datasets' save_to_disk"),
    ("list", "line 2: expected a JSON object, found list"),
    ("bad json", "line 2: not valid JSON"),
])
def test_an_unreadable_dataset_is_an_ingest_error_naming_it(tmp_path, what, message):
    path = unreadable_dataset(tmp_path, what)
    with pytest.raises(IngestError) as error:
        read(path)
    assert f"{path}: {message}" in str(error.value)


def test_a_dataset_of_several_splits_asks_for_one_split(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_list(TASKS), "test": Dataset.from_list(TASKS)}).save_to_disk(
        str(tmp_path / "splits"))
    with pytest.raises(IngestError, match="several splits"):
        read(tmp_path / "splits")
    records, _ = read(tmp_path / "splits" / "train")
    assert len(records) == 3


def test_polyforge_run_prints_the_bad_row_not_a_traceback(tmp_path):
    path = write_jsonl(tmp_path / "tasks.jsonl", [TASKS[0], {"task_id": "x", "lang": "Go", "prompt": "Sum."}])
    config = write_config(tmp_path, "name: bad-row\noutput_dir: out\nsources:\n  - instructions: tasks.jsonl\n"
                                    "    fields: {instruction: task, language: lang, id: task_id}\n"
                                    "memory: {enabled: false}\nexecution: {enabled: false}\n")
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert f"{path}: row 2 has no field 'task' (the task's instruction); the row's fields: task_id, lang, prompt" \
        in result.output


# Campaigns


def campaign_config(tmp_path: Path, dataset: Path, **overrides) -> CampaignConfig:
    return CampaignConfig.model_validate({
        "name": "given", "output_dir": str(tmp_path / "out"), "database_url": database_url(tmp_path / "out"),
        "sources": [{"instructions": str(dataset), "fields": MAPPING}], "concurrency": 2,
        "memory": {"enabled": False}, "execution": {"enabled": False}, **overrides})


def run(config: CampaignConfig, backend: ScriptedBackend):
    return asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())


def test_a_campaign_answers_and_judges_the_given_tasks_and_exports_their_ids(tmp_path, criteria):
    dataset = write_jsonl(tmp_path / "tasks.jsonl", TASKS)
    backend = ScriptedBackend(pipeline_script(lambda messages: uniform_scores(8, criteria)))
    config = campaign_config(tmp_path, dataset)
    result = run(config, backend)
    assert result.new_pairs == 3

    stages = [stage_of(messages) for messages, _ in backend.calls]
    assert "instruction" not in stages and {"answer", "classify", "judge"} <= set(stages)
    asked = [messages[1]["content"].split("\n\nAnswer in ")[0] for messages, _ in backend.calls
             if stage_of(messages) == "answer"]
    assert sorted(asked) == sorted(task["task"] for task in TASKS)  # each task reached the answer stage as written
    with session_scope(config.database_url) as session:
        pairs = session.scalars(select(Pair).order_by(Pair.id)).all()
        by_id = {pair.snippet.source_id: pair for pair in pairs}
        assert set(by_id) == {"t-1", "t-2", "t-3"}
        for task in TASKS:
            pair = by_id[task["task_id"]]
            assert pair.instruction == task["task"] and pair.answer and pair.final_score is not None
            assert pair.sampling["mode"] == "given" and pair.snippet.kind == "instruction"
            assert "instruction" not in pair.templates and {"answer", "judge"} <= set(pair.templates)
            assert pair.tokens["instruction"]["calls"] == 0
        assert [snippet.source for snippet in session.scalars(select(Snippet))] == [str(dataset)] * 3

    statuses = ["--status", "accepted", "--status", "flagged", "--status", "rejected"]
    exported = {}
    for kind in ("sft-jsonl", "sft-parquet"):
        out = tmp_path / f"export.{kind}"
        outcome = CliRunner().invoke(app, ["export", str(tmp_path / "out"), "--out", str(out), "--format", kind,
                                           *statuses])
        assert outcome.exit_code == 0, outcome.output
        exported[kind] = out
    sft = [json.loads(line) for line in exported["sft-jsonl"].read_text().splitlines()]
    assert {row["source_id"]: row["messages"][0]["content"] for row in sft} == \
        {task["task_id"]: task["task"] for task in TASKS}
    assert len(sft) == 3
    import pyarrow.parquet as pq

    assert sorted(pq.read_table(exported["sft-parquet"]).column("source_id").to_pylist()) == ["t-1", "t-2", "t-3"]


def test_every_record_kind_carries_the_source_id():
    from polyforge.export.fim import FIM_SCHEMA
    from polyforge.export.records import DPO_SCHEMA, SFT_SCHEMA, dpo_record, sft_record
    from polyforge.storage import Preference

    snippet = Snippet(source="tasks.jsonl", path="t-9", start_line=3, end_line=3, source_id="t-9")
    pair = Pair(id=1, campaign_id=1, language="Go", status="accepted", final_score=8.0, templates={})
    preference = Preference(prompt="Sum.", chosen="a", rejected="b", chosen_score=8.0, rejected_score=3.0, reason="")
    assert sft_record(pair, snippet, "Sum.", "a")["source_id"] == "t-9"
    assert dpo_record(preference, pair, snippet, "Sum.")["source_id"] == "t-9"
    assert all(schema.field("source_id").type == "string" for schema in (SFT_SCHEMA, DPO_SCHEMA, FIM_SCHEMA))


def test_a_resumed_campaign_answers_the_rest_of_the_dataset(tmp_path, criteria):
    dataset = write_jsonl(tmp_path / "tasks.jsonl", TASKS)
    backend = ScriptedBackend(pipeline_script(lambda messages: uniform_scores(7, criteria)))
    assert run(campaign_config(tmp_path, dataset, budgets={"max_pairs": 2}), backend).new_pairs == 2
    assert run(campaign_config(tmp_path, dataset, budgets={"max_pairs": 10}), backend).new_pairs == 1
    with session_scope(database_url(tmp_path / "out")) as session:
        ids = [pair.snippet.source_id for pair in session.scalars(select(Pair))]
    assert sorted(ids) == ["t-1", "t-2", "t-3"]


@requires_sandbox
def test_the_tester_writes_tests_for_the_given_task(tmp_path, criteria):
    dataset = write_jsonl(tmp_path / "tasks.jsonl", TASKS[:1])
    backend = ScriptedBackend(pipeline_script(lambda messages: uniform_scores(8, criteria)))
    run(campaign_config(tmp_path, dataset, execution={"enabled": True}), backend)
    tester_prompts = [messages[1]["content"] for messages, _ in backend.calls if stage_of(messages) == "tester"]
    assert len(tester_prompts) == 1 and TASKS[0]["task"] in tester_prompts[0]
    with session_scope(database_url(tmp_path / "out")) as session:
        (record,) = session.scalars(select(ExecutionRecord)).all()
        assert record.status == "passed" and record.pair.snippet.source_id == "t-1"
