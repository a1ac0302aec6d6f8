"""The language table is data (polyforge/sandbox/languages.yaml): what a row holds, and the errors a bad row gives."""

from __future__ import annotations

import pytest

from polyforge.sandbox.languages import LANGUAGES, UNAVAILABLE, LanguageTableError, language, load_table

ROW = """
languages:
- name: Brainfuck
  aliases: [bf]
  source: main.bf
  run: [bf, main.bf]
  hello: '+.'
  %s
"""


def test_every_row_loads_with_its_support_files_read():
    assert len(LANGUAGES) >= 32
    assert "AssertionError" in language("JavaScript").support_files[".strict_assert.js"]
    assert "object Scala213Compat" in language("Scala").compat_files["Scala213Compat.scala"]
    assert "public static class Debug" in language("C#").support_files["strict_debug.cs"]
    assert language("Scheme").run == language("Racket").run  # one entry shared through a YAML anchor
    assert language("F#").run == language("C#").run == language("Visual Basic").run  # the .NET anchor
    assert language("C#").home_name == "dotnet" and language("C#").compile != language("F#").compile
    assert isinstance(language("Python").aliases, tuple) and isinstance(language("Go").packages["apt"], tuple)


def test_languages_without_a_toolchain_say_why():
    assert set(UNAVAILABLE) == {"Julia", "Dart", "PowerShell", "Swift"}
    assert not set(UNAVAILABLE) & {lang.name for lang in LANGUAGES}


def test_an_unknown_key_names_the_row_and_the_keys_a_row_takes():
    with pytest.raises(LanguageTableError, match=r"row 1 \(Brainfuck\): unknown key\(s\) compiler; a row takes: name"):
        load_table(ROW % "compiler: [bfc]")


def test_a_missing_support_file_names_the_row_and_the_folder():
    with pytest.raises(LanguageTableError, match=r"Brainfuck\), compat_files: no support file 'nope.bf' in "
                                                 r"polyforge/sandbox/support/"):
        load_table(ROW % "compat_files: {x.bf: nope.bf}")


def test_a_row_missing_a_required_key_says_which():
    with pytest.raises(LanguageTableError, match=r"Brainfuck\).*missing 1 required .*'hello'"):
        load_table(ROW.replace("  hello: '+.'\n", "") % "")
