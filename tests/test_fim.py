"""Fill-in-the-middle samples: line-level cuts of the answers' code, exported like the other datasets."""

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from factories import campaign_with_snippets, pair
from polyforge.cli import app
from polyforge.storage import open_engine, session_factory
from polyforge.export import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, ExportFilter, export, fim_split, iter_fim_records

CODE = "".join(f"line {number}\n" for number in range(12))


def test_a_split_cuts_at_lines_and_puts_the_code_back_together():
    for seed in range(200):
        prefix, middle, suffix = fim_split(CODE, seed)
        assert prefix + middle + suffix == CODE
        assert 1 <= middle.count("\n") <= 4  # one line up to a third of the twelve
        assert all(part == "" or part.endswith("\n") for part in (prefix, middle, suffix))
    assert fim_split(CODE, 7) == fim_split(CODE, 7)
    assert len({fim_split(CODE, seed) for seed in range(50)}) > 10
    assert fim_split("one\ntwo\n", 1) is None


def fim_db(url):
    engine = open_engine(url)
    with session_factory(engine)() as session:
        campaign, snippets = campaign_with_snippets(session, 3)
        session.add_all([
            pair(campaign, snippets[0], "Python", "accepted", "Add.",
                 answer="Adds.\n```python\ndef add(a, b):\n    total = a + b\n    return total\n```"),
            pair(campaign, snippets[1], "Python", "accepted", "Talk.", answer="No code in this answer."),
            pair(campaign, snippets[2], "Go", "rejected", "Sub.",
                 answer="```go\nfunc sub(a, b int) int {\n\treturn a - b\n}\n```"),
        ])
        session.commit()
    return engine


def test_samples_come_from_the_selected_answers_code(tmp_path):
    engine = fim_db(f"sqlite:///{tmp_path / 'fim.db'}")
    with session_factory(engine)() as session:
        accepted = list(iter_fim_records(session))
        everything = list(iter_fim_records(session, ExportFilter(("accepted", "rejected"))))
        parquet = export(session, tmp_path / "fim.parquet", "fim-parquet", ExportFilter(("accepted", "rejected")))
    engine.dispose()
    (record,) = accepted  # the answer without code gives no sample
    assert record["prefix"] + record["middle"] + record["suffix"] == "def add(a, b):\n    total = a + b\n    return total\n"
    assert record["text"] == (f"{FIM_PREFIX}{record['prefix']}{FIM_SUFFIX}{record['suffix']}"
                              f"{FIM_MIDDLE}{record['middle']}")
    assert record["language"] == "Python" and record["source"]["path"] == "m0.py" and "messages" not in record
    assert sorted(r["language"] for r in everything) == ["Go", "Python"]
    table = pq.read_table(parquet.data_path)
    assert table.num_rows == 2 and {"text", "prefix", "middle", "suffix", "language"} <= set(table.column_names)
    assert "fill-in-the-middle" in parquet.card_path.read_text()


def test_polyforge_export_writes_fim_jsonl(tmp_path):
    fim_db(f"sqlite:///{tmp_path / 'fim.db'}").dispose()
    result = CliRunner().invoke(app, ["export", str(tmp_path / "fim.db"), "--out", str(tmp_path / "fim.jsonl"),
                                      "--format", "fim-jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "fim.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["text"].startswith(FIM_PREFIX)
