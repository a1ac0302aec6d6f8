import subprocess
from pathlib import Path

import pytest
from repo_fixture import build_fixture_repo
from sqlalchemy import select
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.cli.common import console
from polyforge.config import IngestConfig
from polyforge.ingest import IngestError, ingest
from polyforge.storage import Snippet, open_engine, session_factory
from polyforge.storage.run_models import IngestLanguageStat, IngestRun

ONE_PROCESS = IngestConfig(workers=1)


@pytest.fixture(scope="module")
def messy_repo(tmp_path_factory) -> Path:
    return build_fixture_repo(tmp_path_factory.mktemp("fixture"))


def test_sample_repo_gives_function_and_class_snippets_in_seven_languages(sample_repo):
    report = ingest([sample_repo], ONE_PROCESS)
    languages = {s.language for s in report.snippets}
    assert languages == {"Python", "JavaScript", "C", "Rust", "Go", "Java", "Shell"}
    gcd = next(s for s in report.snippets if "gcd(" in s.code)
    assert gcd.kind == "function_definition"
    assert gcd.code.startswith("/* Greatest common divisor")  # the doc comment comes along
    java = [s for s in report.snippets if s.language == "Java"]
    assert [s.kind for s in java] == ["class_declaration"]  # the class fits in 1024 tokens: cut whole
    assert report.skipped_files["not code"] == 1  # the README


def test_too_long_definitions_are_split_into_their_inner_ones(tmp_path):
    methods = "".join(f"    def m{i}(self, x):\n        y = x * {i} + {i}\n        return y - {i}\n\n" for i in range(30))
    (tmp_path / "big.py").write_text("class Big:\n" + methods)
    report = ingest([tmp_path], IngestConfig(workers=1, max_snippet_tokens=120, min_snippet_tokens=5,
                                             min_code_chars=10))
    assert {s.kind for s in report.snippets} == {"function_definition"} and len(report.snippets) == 30
    (tmp_path / "big.py").write_text("def huge():\n" + "    x = 1\n" * 400)
    report = ingest([tmp_path], IngestConfig(workers=1, max_snippet_tokens=120))
    assert report.languages["Python"].dropped["too long"] == 1 and not report.snippets


def test_languages_without_a_grammar_are_cut_into_marked_blocks(tmp_path):
    (tmp_path / "sum.awk").write_text("# sum the first column\n{\n    total += $1\n    rows++\n}\n\n"
                                      "END {\n    print \"total\", total\n    print \"rows\", rows\n}\n")
    report = ingest([tmp_path], IngestConfig(workers=1, min_snippet_tokens=3, min_code_chars=5))
    assert [(s.language, s.kind, s.start_line, s.end_line) for s in report.snippets] == [
        ("Awk", "block", 1, 5), ("Awk", "block", 7, 10)]


def test_parse_failures_and_duplicates_are_counted(tmp_path):
    body = "def a(x):\n    '''Add one and two.'''\n    y = x + 1\n    z = y + 2\n    return y * z\n"
    (tmp_path / "ok.py").write_text(body)
    (tmp_path / "copy.py").write_text(body.replace("    ", "        "))  # same code, re-indented
    (tmp_path / "broken.py").write_text("def broken(:\n    return\n")
    report = ingest([tmp_path], ONE_PROCESS)
    stats = report.languages["Python"]
    assert stats.files == 3 and stats.snippets == 1
    assert stats.dropped == {"parse failure": 1, "exact duplicate": 1}
    assert report.steps["cut snippets"].dropped == {"parse failure": 1}


def test_language_filter_and_unknown_language(sample_repo):
    report = ingest([sample_repo], ONE_PROCESS, languages=["rust", "Go"])
    assert {s.language for s in report.snippets} == {"Rust", "Go"}
    with pytest.raises(IngestError, match="unknown language.*Cobolt"):
        ingest([sample_repo], ONE_PROCESS, languages=["Cobolt"])


def test_messy_repo_every_skip_and_drop_is_counted_by_reason(messy_repo):
    report = ingest([messy_repo], ONE_PROCESS)
    [source] = report.sources
    assert source.error is None and source.license == "MIT" and len(source.commit) == 40
    assert source.skipped["too large"] == 1  # the 50 MB file
    assert source.skipped["not UTF-8"] == 1 and source.skipped["binary"] == 1 and source.skipped["empty"] == 1
    assert source.skipped["minified"] == 1 and source.skipped["generated"] == 1
    # Linguist counts the vendor/ folder and the .gitignore file as vendored
    assert source.skipped["vendored"] == 2 and source.skipped["symlink"] == 1
    assert source.skipped["ignored by .gitignore"] == 2  # build_out/ and debug.log
    python = report.languages["Python"]
    # the function and class of the re-indented copy, and the class of the near copy (left unchanged)
    assert python.dropped["exact duplicate"] == 3
    assert python.dropped["near duplicate"] >= 1
    assert python.dropped["benchmark overlap (HumanEval)"] == 1
    assert not any("has_close_elements" in s.code for s in report.snippets)
    # the ambiguous extensions came out as their languages, and each kept snippet is labelled
    for language in ("Objective-C", "MATLAB", "Prolog", "F#", "Verilog", "Rocq Prover", "PLpgSQL", "Apex", "R"):
        assert report.languages[language].files >= 2, language
    assert report.languages["Awk"].snippets > 0 and report.languages["TypeScript"].snippets > 0
    assert "XML" not in report.languages  # Qt translation files are not code
    assert len({s.language for s in report.snippets}) >= 15


def test_worker_processes_give_the_same_result_as_one_process(messy_repo):
    alone = ingest([messy_repo], ONE_PROCESS)
    pooled = ingest([messy_repo], IngestConfig(workers=2))
    assert [s.content_hash for s in pooled.snippets] == [s.content_hash for s in alone.snippets]
    assert pooled.languages == alone.languages


def test_filters_follow_the_config(messy_repo, tmp_path):
    benchmark = tmp_path / "bench.jsonl"
    benchmark.write_text('{"task_id": 1, "solution": "func Clamp7(v, lo, hi int) int {\\n\\tv = v - 12\\n"}\n')
    config = IngestConfig(workers=1, decontaminate_humaneval=False, decontaminate_mceval=False,
                          decontamination_sets=[benchmark], near_duplicate_threshold=1.0, downsample={"Lua": 0.5})
    report = ingest([messy_repo], config, languages=["Python", "Go", "Lua"])
    python, go, lua = report.languages["Python"], report.languages["Go"], report.languages["Lua"]
    assert go.dropped == {"benchmark overlap (bench)": 1}  # only the copy with those ten words
    assert "near duplicate" not in python.dropped
    assert any("has_close_elements" in s.code for s in report.snippets)  # HumanEval and McEval checks are off
    assert 0 < lua.dropped["downsampled"] < 20 and lua.snippets + lua.dropped["downsampled"] == 20
    with pytest.raises(IngestError, match="missing.jsonl: benchmark file not found"):
        ingest([messy_repo], IngestConfig(workers=1, decontamination_sets=[tmp_path / "missing.jsonl"]))


def test_license_allowlist_skips_other_repositories(messy_repo, sample_repo):
    report = ingest([messy_repo, sample_repo], IngestConfig(workers=1, license_allowlist=["MIT"]))
    assert report.sources[0].error is None
    assert "license unknown is not in ingest.license_allowlist" in report.sources[1].error
    assert {s.source for s in report.snippets} == {str(messy_repo)}


def test_bad_sources_give_clear_messages_and_the_others_go_on(tmp_path, sample_repo):
    empty = tmp_path / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", str(empty)], check=True)
    sources = [str(tmp_path / "missing"), f"file://{tmp_path}/nowhere.git", f"file://{empty}", str(sample_repo)]
    report = ingest(sources, ONE_PROCESS)
    assert len(report.snippets) == 20
    missing, unreachable, empty_repo, _ = (source.error for source in report.sources)
    assert "missing: no such folder" in missing
    assert "nowhere.git: cannot clone" in unreachable and "check the URL" in unreachable
    assert "the repository is empty" in empty_repo
    assert len(report.problems) == 3


def test_git_url_is_cloned_shallowly_and_its_commit_recorded(tmp_path):
    repo = build_fixture_repo(tmp_path, copies=3, with_huge_file=False)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    report = ingest([f"file://{repo}"], ONE_PROCESS, languages=["Go"])
    [source] = report.sources
    assert (source.commit, source.license) == (head, "MIT")
    assert {s.source for s in report.snippets} == {f"file://{repo}"} and len(report.snippets) == 3


def test_ingest_command_prints_and_stores_the_per_language_table(messy_repo, tmp_path, monkeypatch):
    monkeypatch.setattr(console, "width", 300)  # one line per header, whatever the terminal
    db = tmp_path / "ingest.db"
    result = CliRunner().invoke(app, ["ingest", str(messy_repo), str(tmp_path / "missing"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "ingest: per language" in result.output and "exact duplicate" in result.output
    assert "license MIT" in result.output and "missing: no such folder" in result.output
    assert "too large 1 (e.g. huge.py)" in result.output and "not UTF-8 1 (e.g. c/latin1.c)" in result.output
    assert "symlink 1 (e.g. loop/back)" in result.output
    engine = open_engine(f"sqlite:///{db}", create=False)
    with session_factory(engine)() as session:
        run = session.scalar(select(IngestRun))
        rows = {row.language: row for row in session.scalars(select(IngestLanguageStat))}
        stored = session.scalars(select(Snippet)).all()
    assert run.sources[0]["license"] == "MIT" and run.sources[1]["error"]
    assert run.sources[0]["skip_examples"]["binary"] == "image.png"
    assert run.steps["exact dedup"]["dropped"]["exact duplicate"] == rows["Python"].dropped["exact duplicate"]
    assert sum(row.snippets for row in rows.values()) == len(stored) > 100
    assert rows["Python"].files > 20 and rows["Python"].tokens == sum(s.tokens for s in stored if s.language == "Python")
    for row in rows.values():
        assert f"│ {row.language}" in result.output


def test_an_unexpected_failure_on_one_file_is_reported_and_the_rest_go_on(sample_repo, monkeypatch):
    from polyforge.ingest import worker

    real_cut = worker.cut_snippets

    def cut_or_fail(text, language, *args):
        if language.name == "Go":
            raise RecursionError("maximum recursion depth exceeded")
        return real_cut(text, language, *args)

    monkeypatch.setattr(worker, "cut_snippets", cut_or_fail)
    report = ingest([sample_repo], ONE_PROCESS)
    assert report.skipped_files["failed"] == 1 and "Go" not in report.languages
    assert report.problems == [f"{sample_repo}: go/mathx.go: RecursionError: maximum recursion depth exceeded"]
    assert len({s.language for s in report.snippets}) == 6
