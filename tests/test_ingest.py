import pytest

from polyforge.ingest import IngestError, SourceNotFound, ingest


def test_sample_repo_gives_function_snippets_in_seven_languages(sample_repo):
    report = ingest([sample_repo])
    languages = {s.language for s in report.snippets}
    assert languages == {"Python", "JavaScript", "C", "Rust", "Go", "Java", "Shell"}
    by_name = {(s.language, s.code.splitlines()[-1].strip()) for s in report.snippets}
    assert ("Go", "}") in by_name
    gcd = next(s for s in report.snippets if "gcd(" in s.code)
    assert gcd.kind == "function_definition"
    assert gcd.code.startswith("/* Greatest common divisor")  # the doc comment comes along
    java = [s for s in report.snippets if s.language == "Java"]
    assert {s.kind for s in java} == {"method_declaration"} and len(java) == 3
    assert report.skipped_files["not code"] == 1  # the README


def test_parse_failures_duplicates_and_limits_are_counted(tmp_path):
    (tmp_path / "ok.py").write_text("def a(x):\n    y = x + 1\n    return y\n")
    (tmp_path / "copy.py").write_text("def a(x):\n        y = x + 1\n        return y\n")  # same code, re-indented
    (tmp_path / "broken.py").write_text("def broken(:\n    return\n")
    (tmp_path / "big.py").write_text("def big():\n" + "    x = 1\n" * 600)
    (tmp_path / "short.c").write_text("int one(void) { return 1; }\nint two(void) {\n  return 2; }\n")
    (tmp_path / "latin1.c").write_bytes("/* caf\xe9 */ int f(void) { return 1; }\n".encode("latin-1"))
    report = ingest([tmp_path], max_snippet_tokens=200)
    stats = report.languages["Python"]
    assert stats.files == 4 and stats.snippets == 1
    assert stats.dropped["parse failure"] == 1 and stats.dropped["exact duplicate"] == 1
    assert stats.dropped["too long"] == 1
    assert report.skipped_files["not UTF-8"] == 1
    assert report.languages["C"].dropped["too short"] == 2 and report.languages["C"].snippets == 0
    assert any("broken.py" in problem for problem in report.problems)


def test_language_filter_and_errors(sample_repo, tmp_path):
    report = ingest([sample_repo], languages=["rust", "Go"])
    assert {s.language for s in report.snippets} == {"Rust", "Go"}
    with pytest.raises(IngestError, match="unknown language.*Cobolt"):
        ingest([sample_repo], languages=["Cobolt"])
    with pytest.raises(SourceNotFound, match="missing"):
        ingest([tmp_path / "missing"])
