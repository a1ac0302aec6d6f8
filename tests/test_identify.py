import json
from pathlib import Path

import pytest
import tree_sitter_language_pack
import yaml
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.ingest.identify import identify_content, languages_for_extension
from polyforge.languages import language_by_name, language_table
from polyforge.ingest.snippets import definitions_query
from polyforge.sandbox.mceval import bundled_mceval

CASES = Path(__file__).parent / "data" / "identify"


def test_every_grammar_and_definition_in_the_language_table_exists():
    for language in language_table().languages.values():
        if language.grammar is None:
            continue
        grammar = tree_sitter_language_pack.get_language(language.grammar)
        kinds = {grammar.node_kind_for_id(i) for i in range(grammar.node_kind_count)}
        missing = (language.definitions | set(language.joined.values())) - kinds
        assert not missing, f"{language.name}: {language.grammar} has no node types {missing}"
        definitions_query(language)  # the query over those node types compiles


@pytest.mark.parametrize("name,expected", yaml.safe_load((CASES / "labels.yaml").read_text()).items())
def test_labelled_ambiguous_extensions(name, expected):
    assert len(languages_for_extension(name)) > 1  # these really are the hard cases
    assert identify_content(name, (CASES / name).read_bytes()).detected == expected


def test_reasons_name_the_strategy_and_non_code_has_no_language():
    assert identify_content("tool", b"#!/usr/bin/env python3\nprint(1)\n").reason == "shebang"
    assert identify_content("Makefile", b"all:\n\techo hi\n").reason == "file name"
    vim = identify_content("notes.txt", b"local x = 1\n-- vim: set filetype=lua:\n")
    assert (vim.language.name, vim.reason) == ("Lua", "modeline")
    assert identify_content("main.rs", b"fn main() {}\n").language.name == "Rust"
    readme = identify_content("README.md", b"# Title\n\nSome prose.\n")
    assert readme.language is None and readme.detected == "Markdown" and "not code" in readme.reason
    unknown = identify_content("data.unknownext", b"\x01\x02 stuff")
    assert unknown.language is None and unknown.detected is None


def test_languages_are_found_by_alias_and_unlisted_code_is_cut_in_blocks():
    assert language_by_name("cpp").name == "C++" and language_by_name("COQ").name == "Rocq Prover"
    awk = identify_content("sum.awk", b"{ total += $1 }\nEND { print total }\n").language
    assert awk.name == "Awk" and not awk.has_grammar


def test_identify_command_prints_one_json_object_per_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "query.sql").write_text((CASES / "plpgsql_func.sql").read_text())
    (tmp_path / "notes.md").write_text("# notes\n")
    result = CliRunner().invoke(app, ["identify", str(tmp_path), str(tmp_path / "missing.py")])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(row["path"]).name: row for row in rows}
    assert by_name["query.sql"]["language"] == "PLpgSQL" and ".sql is shared" in by_name["query.sql"]["reason"]
    assert by_name["notes.md"]["language"] is None
    assert by_name["missing.py"] == {"path": str(tmp_path / "missing.py"), "language": None,
                                     "reason": "no such file or folder"}
    assert result.exit_code == 1  # a missing path is an error, after every other file is printed


def test_mceval_accuracy_meets_the_targets():
    """97% on unambiguous extensions, 90% on shared ones, over McEval's 40 languages."""
    correct = {True: 0, False: 0}
    total = {True: 0, False: 0}
    for stem, row in yaml.safe_load((Path(__file__).parent / "data" / "mceval_languages.yaml").read_text()).items():
        for number, line in enumerate((bundled_mceval() / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()):
            record = json.loads(line)
            name = f"task{number}{row['extension']}"
            ambiguous = len(languages_for_extension(name)) > 1
            code = (record["prompt"] + record.get("canonical_solution", "")).encode()
            correct[ambiguous] += identify_content(name, code).detected == row["language"]
            total[ambiguous] += 1
    assert total[False] > 1000 and total[True] > 500
    assert correct[False] / total[False] >= 0.97 and correct[True] / total[True] >= 0.90
