"""The ingest steps one at a time: licenses, .gitignore rules, benchmark files, shingles, cutting."""

from collections import Counter

import pytest

from polyforge.ingest.decontamination import BenchmarkError, BenchmarkNgrams
from polyforge.languages import language_by_name
from polyforge.ingest.licenses import license_of_text
from polyforge.ingest.shingles import ngram_hashes, word_hashes
from polyforge.ingest.snippets import cut_snippets
from polyforge.ingest.sources import Source, WalkLimits, read_file, walk


def test_licenses_are_named_by_spdx_id():
    assert license_of_text("                Apache License\n          Version 2.0, January 2004\n") == "Apache-2.0"
    assert license_of_text("GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007") == "LGPL-3.0"
    assert license_of_text("// SPDX-License-Identifier: MIT OR Apache-2.0\n") == "MIT OR Apache-2.0"
    assert license_of_text("All rights reserved.") is None


def test_gitignore_rules_nest_and_negate(tmp_path):
    (tmp_path / ".gitignore").write_text("*.gen.py\nout/\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".gitignore").write_text("!keep.gen.py\n")
    for name in ("a.py", "b.gen.py", "pkg/keep.gen.py", "pkg/drop.gen.py", "out/x.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    source = Source(str(tmp_path), tmp_path)
    assert sorted(walk(source, WalkLimits())) == [".gitignore", "a.py", "pkg/.gitignore", "pkg/keep.gen.py"]
    assert source.skipped["ignored by .gitignore"] == 3
    assert len(list(walk(Source(str(tmp_path), tmp_path), WalkLimits(respect_gitignore=False)))) == 7


def test_file_skips_name_their_reason(tmp_path):
    (tmp_path / "big.py").write_text("x = 1\n" * 100)
    (tmp_path / "min.c").write_text("int a;" * 200)
    limits = WalkLimits(max_file_bytes=500)
    assert read_file(tmp_path, "big.py", limits) == "too large"
    assert read_file(tmp_path, "min.c", WalkLimits()) == "minified"
    assert read_file(tmp_path, "gone.py", limits).startswith("unreadable")


def test_benchmark_files_and_ngrams(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\nnot json\n')
    with pytest.raises(BenchmarkError, match=r"bad.jsonl:2: not a JSON object"):
        BenchmarkNgrams().add_jsonl(bad)
    good = tmp_path / "mbpp.jsonl"
    good.write_text('{"id": 7, "code": "def remove_occ(s, ch): return s.replace(ch, \\"\\", 1).rstrip(ch)"}\n')
    benchmarks = BenchmarkNgrams(n=10)
    benchmarks.add_jsonl(good)  # 10 words: def remove_occ s ch return s replace ch 1 rstrip
    copied = "x = 1\ndef remove_occ(s, ch):\n    return s.replace(ch, '', 1).rstrip(ch)\n"
    assert benchmarks.overlap(word_hashes(copied)) == "mbpp"
    assert benchmarks.overlap(word_hashes(copied.replace("rstrip", "strip"))) is None


def test_shingle_hashes_ignore_case_and_layout_only():
    assert (word_hashes("Return  X+1") == word_hashes("return x + 1")).all()
    assert not (word_hashes("return x") == word_hashes("return y")).all()
    words = word_hashes("a b c d e f")
    assert len(ngram_hashes(words, 5)) == 2 and len(ngram_hashes(words, 10)) == 1


def test_dart_functions_keep_their_body_and_comments():
    source = "// Adds one.\n// Really.\nint inc(int x) {\n  return x + 1;\n}\n\nclass A {\n  int m() => 1;\n}\n"
    dropped = Counter()
    cuts = cut_snippets(source, language_by_name("Dart"), 1024, 3, dropped)
    assert [(c.start_line, c.end_line, c.kind) for c in cuts] == [(1, 5, "function_signature"), (7, 9, "class_definition")]


def test_haskell_signatures_join_their_equations_with_the_haddock_above():
    source = "module M where\n\n-- | Sum of squares.\nsumSquares :: [Int] -> Int\nsumSquares xs = sum [x * x | x <- xs]\n"
    cuts = cut_snippets(source, language_by_name("Haskell"), 1024, 3, Counter())
    assert [(c.start_line, c.end_line, c.kind) for c in cuts] == [(3, 5, "signature")]
